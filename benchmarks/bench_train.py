#!/usr/bin/env python
"""Training-step throughput of rnncli's NumPy engine, side by side with the identical PyTorch model.

    python benchmarks/bench_train.py                 # full run (a few minutes on 2 cores)
    python benchmarks/bench_train.py --quick         # smoke run (< 2 minutes)
    python benchmarks/bench_train.py --workloads W1,W2 --cells lstm --no-torch --json
    python benchmarks/bench_train.py --profile       # cProfile of our engine: the hotspots, nothing else

A step is forward, loss, backward and one Adam update (lr 1e-3), float32, on full-length random
batches (no padding) drawn from a seeded generator. Both sides start from the same weights (ours,
copied into PyTorch through ``rnncli.tools.export.torch_state_dict``; the first losses are compared), use
the same batches and the same number of BLAS threads. Each (workload, cell) runs warm-up steps on
both sides, then ``repeats`` interleaved chunks of k steps (ours, torch, torch, ours, ...); the
figure reported is the median step time over the chunks, as tokens (N·T) per second.

Workloads (embedding → RNN/LSTM/GRU, batch_first → linear head):

    W1     sentiment  V 16,000  D 128  H 128        N 64  T 32   many-to-one, 1 logit + BCE
    W1-bi  W1 with a bidirectional layer (summary [h_fwd last, h_bwd first])
    W2     char-LM    V 65      D 64   H 256        N 32  T 100  softmax CE over 65 at every step
    W3     tagging    V 20,000  D 100  H 128 (bi)   N 32  T 25   softmax CE over 18 tags at every step

Memory: tracemalloc's peaks during one of our steps (NumPy reports its buffers to tracemalloc), of
forward + backward and of the Adam update, against the activations BPTT must keep (see
:func:`activation_bytes`); and PyTorch's RSS growth during one step in a fresh process (full runs;
``--rss`` measures ours that way too, as a cross-check).

Results go to stdout (a table, or JSON with --json); progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_predict, when run as a script from anywhere

from rnncli.engine.cells import _blocks  # noqa: E402
from rnncli.engine.optim import make_optimizer  # noqa: E402
from rnncli.engine.parallel import blas_threads  # noqa: E402
from rnncli.models import ModelSpec, init_params, loss_and_grads  # noqa: E402
from rnncli.tasks import model_spec  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
LR = 1e-3
OPTIMIZER_TITLE = {"adam": "Adam", "lazy_adam": "LazyAdam; PyTorch: sparse embedding + SparseAdam"}
OPTIMIZER = "adam"  # --lazy: "lazy_adam" here, and nn.Embedding(sparse=True) with SparseAdam in PyTorch
SEED = 1234
POOL = 4  # distinct random batches, cycled


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    vocab: int
    embed: int
    hidden: int
    batch: int
    length: int
    task: str  # classify (many-to-one, 2 classes → 1 logit + BCE) | lm | tag (many-to-many, softmax CE)
    classes: int
    bidirectional: bool = False

    @property
    def tokens(self) -> int:
        return self.batch * self.length

    def spec(self, cell: str) -> ModelSpec:
        return model_spec(dict(vocab_size=self.vocab, num_classes=self.classes, task=self.task, cell=cell,
                         embedding_dim=self.embed, hidden_size=self.hidden, bidirectional=self.bidirectional))

    def describe(self) -> str:
        bi = " bi" if self.bidirectional else ""
        return (f"{self.title}: V {self.vocab:,} D {self.embed} H {self.hidden}{bi}, N {self.batch} T {self.length}, "
                f"{'many-to-one' if self.task == 'classify' else f'many-to-many ({self.classes} classes)'}")


WORKLOADS = {
    "W1": Workload("W1", "sentiment", 16_000, 128, 128, 64, 32, "classify", 2),
    "W1-bi": Workload("W1-bi", "sentiment, bidirectional", 16_000, 128, 128, 64, 32, "classify", 2, True),
    "W2": Workload("W2", "char-LM", 65, 64, 256, 32, 100, "lm", 65),
    "W3": Workload("W3", "tagging", 20_000, 100, 128, 32, 25, "tag", 18, True),
}

# ours ÷ PyTorch, from the current performance issue: the LSTM ≥ 1.0 (where the BLAS floor allows it), the GRU and
# the vanilla RNN ≥ 1.3, on every workload.
TARGETS = {
    **{(w, "lstm"): 1.0 for w in ("W1", "W1-bi", "W2", "W3")},
    **{(w, c): 1.3 for w in ("W1", "W1-bi", "W2", "W3") for c in ("rnn", "gru")},
}
MEMORY_TARGET = 2.0  # peak step memory (less the gradient tensors) ≤ 2× the activations BPTT keeps


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- threads


def blas_info() -> dict:
    """NumPy's BLAS library and its thread count, without threadpoolctl.

    1. ask the loaded OpenBLAS itself (``rnncli.engine.parallel.blas_threads``: ctypes on the very copy
       NumPy uses);
    2. else the environment variables that library reads (OPENBLAS_NUM_THREADS, …, OMP_NUM_THREADS);
    3. else the CPUs this process may run on (OpenBLAS's own default).
    Nothing is set or changed.
    """
    info = {"library": "unknown", "version": None, "threads": None, "source": None}
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["library"], info["version"] = cfg.get("name", "unknown"), cfg.get("version")
    except Exception:  # NumPy < 1.26 has no mode="dicts"
        pass
    blas = blas_threads()
    if blas.available:
        info["threads"], info["source"] = blas.get(), f"{blas.getter}() in {Path(blas.path).name}"
        return info
    lib = info["library"].lower()
    names = (("MKL_NUM_THREADS", "OMP_NUM_THREADS") if "mkl" in lib
             else ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"))
    for var in names:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            info["threads"], info["source"] = int(value), f"${var}"
            return info
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    info["threads"], info["source"] = n, "CPUs available (no thread variable set)"
    return info


def simd_info() -> dict:
    """NumPy's SIMD levels, as ``numpy.show_runtime()`` prints them: the build's baseline, the dispatched
    extensions this CPU has (found) and lacks, and the highest one found (the kernels ufuncs run)."""
    try:
        from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
    except ImportError:  # NumPy < 2
        return {"baseline": [], "found": [], "not_found": [], "level": "unknown"}
    found = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    return {"baseline": list(__cpu_baseline__), "found": found,
            "not_found": [f for f in __cpu_dispatch__ if not __cpu_features__.get(f)],
            "level": (found or list(__cpu_baseline__) or ["unknown"])[-1]}


# ---------------------------------------------------------------------------- the models


def make_batches(wl: Workload, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """POOL batches of full-length random ids (never <pad>/<unk>), an all-true mask, and targets."""
    out = []
    for _ in range(POOL):
        ids = rng.integers(2, wl.vocab, size=(wl.batch, wl.length), dtype=np.int64)
        mask = np.ones((wl.batch, wl.length), dtype=bool)
        if wl.task == "classify":
            targets = rng.integers(0, 2, size=wl.batch, dtype=np.int64)
        else:
            targets = rng.integers(0, wl.classes, size=(wl.batch, wl.length), dtype=np.int64)
        out.append((ids, mask, targets))
    return out


class Ours:
    """rnncli's model and Adam: one step = loss_and_grads + optimizer.step."""

    def __init__(self, wl: Workload, cell: str, batches):
        self.spec = wl.spec(cell)
        self.params = init_params(self.spec, np.random.default_rng(SEED), dtype=np.float32)
        self.opt = make_optimizer(OPTIMIZER, self.params, lr=LR)
        self.batches, self.i = batches, 0

    def initial_loss(self) -> float:
        from rnncli.models.sequence import forward, loss_from_logits

        ids, mask, targets = self.batches[0]
        return float(loss_from_logits(forward(self.params, self.spec, ids, mask)[0], targets, self.spec, mask)[0])

    def step(self) -> float:
        ids, mask, targets = self.batches[self.i % POOL]
        self.i += 1
        loss, grads, _, _ = loss_and_grads(self.params, self.spec, ids, mask, targets)
        self.opt.step(self.params, grads)
        return loss


class OptimizerAlone:
    """Our optimizer's step alone, on a fixed set of gradients of the workload: the part of a step that is
    no matrix product and that no forward or backward change can remove (Adam reads and writes every
    parameter, its two moments and the gradient)."""

    def __init__(self, ours: Ours):
        ids, mask, targets = ours.batches[0]
        self.grads = loss_and_grads(ours.params, ours.spec, ids, mask, targets)[1]
        self.params = {k: v.copy() for k, v in ours.params.items()}
        self.opt = make_optimizer(OPTIMIZER, self.params, lr=LR)

    def step(self) -> None:
        self.opt.step(self.params, self.grads)


class Torch:
    """The same model in PyTorch (rnncli.tools.export's module, unpacked: there is no padding).

    On a CPU, PyTorch runs a float32 ``nn.LSTM`` (and only the LSTM) through oneDNN's RNN primitive
    (``aten::mkldnn_rnn_layer`` and its backward: one fused kernel per layer and direction) whenever
    ``torch.backends.mkldnn`` is enabled, as it is by default. ``onednn=False`` runs the step with it
    disabled: PyTorch's own loop of one product and separate elementwise kernels per step, the way our
    engine works.
    """

    def __init__(self, wl: Workload, cell: str, batches, ours: Ours | None, onednn: bool = True):
        import torch
        from torch import nn

        self.torch = torch
        self.onednn = onednn
        torch.manual_seed(SEED)
        self.wl, self.dirs = wl, 2 if wl.bidirectional else 1
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        out = 1 if wl.task == "classify" else wl.classes
        model = nn.Module()
        model.embedding = nn.Embedding(wl.vocab, wl.embed, sparse=OPTIMIZER == "lazy_adam")
        model.rnn = kind(wl.embed, wl.hidden, batch_first=True, bidirectional=wl.bidirectional)
        model.head = nn.Linear(wl.hidden * self.dirs, out)
        self.model = model.float()
        self.loaded = False
        if ours is not None:  # start from our weights, so both sides compute the same function
            try:
                from rnncli.tools.export import torch_state_dict

                state = torch_state_dict(ours.params, ours.spec)
                model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
                self.loaded = True
            except Exception as exc:  # the export API is not what this script expects: time anyway
                progress(f"  note: could not copy our weights into PyTorch ({type(exc).__name__}: {exc})")
        if OPTIMIZER == "lazy_adam":  # PyTorch's way to the same rule: a sparse embedding and SparseAdam for it
            dense = [p for name, p in model.named_parameters() if not name.startswith("embedding.")]
            self.opts = [torch.optim.SparseAdam(list(model.embedding.parameters()), lr=LR),
                         torch.optim.Adam(dense, lr=LR)]
        else:
            self.opts = [torch.optim.Adam(model.parameters(), lr=LR)]
        self.loss_fn = nn.BCEWithLogitsLoss() if wl.task == "classify" else nn.CrossEntropyLoss()
        self.batches = []
        for ids, _, targets in batches:
            t = torch.from_numpy(targets)
            self.batches.append((torch.from_numpy(ids), t.float() if wl.task == "classify" else t.reshape(-1)))
        self.i = 0

    def _loss(self, ids, targets):
        y, h_n = self.model.rnn(self.model.embedding(ids))
        if self.wl.task == "classify":  # h_n of the top layer, [forward, backward]
            h_n = h_n[0] if isinstance(h_n, tuple) else h_n
            logits = self.model.head(self.torch.cat(list(h_n[-self.dirs:]), dim=1))[:, 0]
        else:
            logits = self.model.head(y).reshape(-1, self.wl.classes)
        return self.loss_fn(logits, targets)

    def initial_loss(self) -> float:
        with self.torch.no_grad(), self.torch.backends.mkldnn.flags(enabled=self.onednn):
            return float(self._loss(*self.batches[0]))

    def step(self) -> float:
        ids, targets = self.batches[self.i % POOL]
        self.i += 1
        for opt in self.opts:
            opt.zero_grad(set_to_none=True)
        with self.torch.backends.mkldnn.flags(enabled=self.onednn):  # backward follows forward's path
            loss = self._loss(ids, targets)
        loss.backward()
        for opt in self.opts:
            opt.step()
        return float(loss.detach())


# -------------------------------------------------------------------------------- floor

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FLOOR_TARGET = 1.25  # our step ÷ the step's matrix products alone, from the performance issue


class Floor:
    """The matrix products one training step cannot avoid, alone: the same shapes, operand orientations,
    dtype and BLAS threads as our engine (``rnncli.engine.recurrent`` and the linear head), on random data.

    Per direction of the (one-layer) stack, with G·H gate rows:

        projection   X (N·T, D) @ W_ih^T               or E (V, D) @ W_ih^T when V < N·T (the engine
                                                        projects the table then: recurrent._project)
        forward      T × h_{t-1} (N, H) @ W_hh^T (H, G·H)
        backward     T × dG_t (N, G·H) @ W_hh (G·H, H)
        dW_hh        dHH^T (G·H, N·T) @ H_prev (N·T, H)   (one GEMM: the engine sums it in chunks)
        input side   dA^T @ X and dA @ W_ih             or the per-id sums' dP^T @ E and dP @ W_ih
                                                        when ids repeat (recurrent._project_backward)
    and the head: F @ W^T, dY^T @ F and dY @ W, with F the N final states (many-to-one) or the N·T outputs.
    Everything else a step does (activations, masking, the loss, the embedding scatter, Adam) is what
    ``ours ÷ floor`` counts as above the floor.
    """

    def __init__(self, wl: Workload, cell: str, torch_mm: bool = False):
        from rnncli.engine.recurrent import MIN_ID_REPEATS

        rng = np.random.default_rng(SEED)
        f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32) * 0.1  # noqa: E731
        N, T, D, H, V = wl.batch, wl.length, wl.embed, wl.hidden, wl.vocab
        GH, dirs = GATES[cell] * H, 2 if wl.bidirectional else 1
        rows_in = V if V < N * T else N * T  # the projection's rows
        rows_id = V if V * MIN_ID_REPEATS <= N * T else N * T  # the input side's rows in backward
        F_rows, C = (N, 1) if wl.task == "classify" else (N * T, wl.classes)
        self.T, self.dirs = T, dirs
        self.X, self.Xid, self.W_ih = f32(rows_in, D), f32(rows_id, D), f32(GH, D)
        self.W_hh, self.W_hh_T = f32(GH, H), np.ascontiguousarray(f32(GH, H).T)
        self.h, self.dG = f32(N, H), f32(N, GH)
        self.dHH, self.H_prev, self.dA = f32(N * T, GH), f32(N * T, H), f32(rows_id, GH)
        self.F, self.W, self.dY = f32(F_rows, H * dirs), f32(C, H * dirs), f32(F_rows, C)
        self.gemms = dirs * (2 * T + 4) + 3
        self.dot = np.dot
        if torch_mm:  # the same products through PyTorch's BLAS: what its step can build on
            import torch

            for name, value in list(vars(self).items()):
                if isinstance(value, np.ndarray):
                    setattr(self, name, torch.from_numpy(value))
            self.dot = torch.mm

    def step(self) -> None:
        dot = self.dot
        for _ in range(self.dirs):
            dot(self.X, self.W_ih.T)
            for _ in range(self.T):
                dot(self.h, self.W_hh_T)
            for _ in range(self.T):
                dot(self.dG, self.W_hh)
            dot(self.dHH.T, self.H_prev)
            dot(self.dA.T, self.Xid)
            dot(self.dA, self.W_ih)
        dot(self.F, self.W.T)
        dot(self.dY.T, self.F)
        dot(self.dY, self.W)


def time_call(fn, seconds: float = 0.2, repeats: int = 5) -> float:
    """Median seconds per call of fn over ``repeats`` runs of ≈``seconds`` each."""
    fn()
    t0 = time.perf_counter()
    fn()
    k = max(1, round(seconds / max(time.perf_counter() - t0, 1e-7)))
    return statistics.median(chunk_time(fn, k) for _ in range(repeats))


def orientations(wl: Workload, cell: str, use_torch: bool) -> dict:
    """The per-step recurrent products in both orientations, µs each: forward h_{t-1} W_hh^T (N, H)·(H, G·H),
    as the engine runs it, and W_hh h_{t-1}^T (G·H, H)·(H, N), the feature-major form; backward dG W_hh
    (N, G·H)·(G·H, H) and W_hh^T dG^T. With PyTorch, the same four through torch.mm."""
    rng = np.random.default_rng(SEED)
    N, H, GH = wl.batch, wl.hidden, GATES[cell] * wl.hidden
    f32 = lambda *shape: np.ascontiguousarray(rng.standard_normal(shape), dtype=np.float32)  # noqa: E731
    h, W, dG = f32(N, H), f32(GH, H), f32(N, GH)
    arrays = {"h": h, "W_T": np.ascontiguousarray(W.T), "W": W, "h_T": np.ascontiguousarray(h.T),
              "dG": dG, "dG_T": np.ascontiguousarray(dG.T)}
    products = {"forward h·W_hh^T": ("h", "W_T"), "forward W_hh·h^T": ("W", "h_T"),
                "backward dG·W_hh": ("dG", "W"), "backward W_hh^T·dG^T": ("W_T", "dG_T")}
    row = {"workload": wl.name, "cell": cell, "N": N, "H": H, "GH": GH, "numpy_us": {}, "torch_us": {}}
    for name, (a, b) in products.items():
        row["numpy_us"][name] = 1e6 * time_call(lambda a=arrays[a], b=arrays[b]: np.dot(a, b))
    if use_torch:
        import torch

        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        for name, (a, b) in products.items():
            row["torch_us"][name] = 1e6 * time_call(lambda a=tensors[a], b=tensors[b]: torch.mm(a, b))
    row["step_us"] = {name: 1e6 * time_call(fn) for name, fn in gate_sums(h, W, f32(N, GH), GATES[cell])[1].items()}
    return row


def gate_sums(h, W, a, G: int) -> tuple[np.ndarray, dict]:
    """Three ways to form one step's gate pre-activations a_t + h_{t-1} W_hh^T in the engine's gate-major
    (G, N, H) layout (``rnncli.engine.cells``): the (G, N, H) array they write, and a callable for each: as the engine does it (one product, then the
    sum through column-block views of both operands); the feature-major product W_hh h^T, with the transposes
    it needs around it while the gates stay batch-major; and one product per gate (a stacked matmul of the
    (G, H, H) weight blocks) written straight into the gate-major array, then a_t added."""
    N, H = h.shape
    W_T, gates = np.ascontiguousarray(W.T), np.empty((G, N, H), dtype=h.dtype)
    W_blocks = np.ascontiguousarray(W_T.reshape(H, G, H).transpose(1, 0, 2))  # (G, H, H): W_g^T

    def engine():
        np.add(_blocks(a, G), _blocks(np.dot(h, W_T), G), out=gates)

    def feature_major():
        np.add(_blocks(a, G), _blocks(np.dot(W, np.ascontiguousarray(h.T)).T, G), out=gates)

    def per_gate():
        np.matmul(h, W_blocks, out=gates)
        np.add(gates, _blocks(a, G), out=gates)

    return gates, {"engine: h·W_hh^T, then + a_t": engine, "W_hh·h^T with transposes": feature_major,
            "per gate h·W_g^T, then + a_t": per_gate}


# ------------------------------------------------------------------------------- timing


def chunk_time(step, k: int) -> float:
    """Mean seconds per step over k consecutive steps."""
    t0 = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - t0) / k


def onednn_lstm() -> bool:
    """Whether PyTorch's float32 CPU LSTM runs through oneDNN here (see :class:`Torch`)."""
    import torch

    return bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)


def steps_for(seconds_per_step: float, chunk_s: float) -> int:
    return max(1, min(50, round(chunk_s / max(seconds_per_step, 1e-6))))


def bench_pair(wl: Workload, cell: str, use_torch: bool, repeats: int, warmup: int, chunk_s: float,
               budget_s: float, settle_s: float, min_repeats: int, floor: bool = True) -> dict:
    """Median step time of each side over ``repeats`` interleaved chunks (fewer, but at least
    ``min_repeats``, when the steps are so slow that the chunks would overrun ``budget_s``); with
    ``floor``, the step's matrix products alone (:class:`Floor`) are a side too."""
    batches = make_batches(wl, np.random.default_rng(SEED))
    ours = Ours(wl, cell, batches)
    sides = {"ours": ours}
    row = {"workload": wl.name, "cell": cell, "tokens_per_step": wl.tokens,
           "target": TARGETS.get((wl.name, cell)), "floor_target": FLOOR_TARGET if floor else None}
    if floor:
        sides["floor"] = Floor(wl, cell)
        sides["optimizer"] = OptimizerAlone(ours)
        row["floor_gemms"] = sides["floor"].gemms
    if use_torch:
        tch = Torch(wl, cell, batches, ours)
        sides["torch"] = tch
        if cell == "lstm" and onednn_lstm():  # PyTorch's LSTM without its fused kernel, for comparison
            sides["torch_native"] = Torch(wl, cell, batches, ours, onednn=False)
        if floor:
            sides["torch_floor"] = Floor(wl, cell, torch_mm=True)
        if tch.loaded:
            a, b = ours.initial_loss(), tch.initial_loss()
            row["initial_loss"] = {"ours": a, "torch": b}
            row["parity_rel_diff"] = abs(a - b) / max(abs(b), 1e-12)
            if row["parity_rel_diff"] > 1e-3:
                progress(f"  WARNING: initial losses differ: ours {a:.6f}, torch {b:.6f}: not the same model?")
    # warm-up steps (excluded from the figures); the last one, timed, sizes the chunks
    k, first = {}, {}
    for name, side in sides.items():
        for _ in range(warmup - 1):
            side.step()
        first[name] = chunk_time(side.step, 1)
        k[name] = steps_for(first[name], chunk_s)
    per_repeat = sum(k[n] * first[n] + settle_s for n in sides)
    n_rep = min(repeats, max(int(budget_s // per_repeat), min_repeats))
    if n_rep < repeats:
        progress(f"  note: slow steps ({', '.join(f'{n} {first[n]:.2f} s' for n in sides)}): "
                 f"{n_rep} repeats instead of {repeats}")
    times = {name: [] for name in sides}
    order = list(sides)
    for r in range(n_rep):
        for name in (order if r % 2 == 0 else order[::-1]):  # interleave: ours, torch, torch, ours, …
            gc.collect()
            time.sleep(settle_s)  # let the other library's spinning worker threads go idle
            times[name].append(chunk_time(sides[name].step, k[name]))
    row["repeats"] = n_rep
    for name, ts in times.items():
        med = statistics.median(ts)
        row[name] = {"step_ms": med * 1e3, "tokens_per_s": wl.tokens / med, "steps_per_chunk": k[name],
                     "chunks_ms": [t * 1e3 for t in ts], "spread": (max(ts) - min(ts)) / med}
    if use_torch:
        row["ratio"] = row["ours"]["tokens_per_s"] / row["torch"]["tokens_per_s"]
        # the same ratio from each repeat's pair of chunks, which shared the machine's load of the moment
        row["ratio_paired_median"] = statistics.median(t / o for o, t in zip(times["ours"], times["torch"]))
        row["pass"] = None if row["target"] is None else bool(row["ratio"] >= row["target"])
    if "torch_native" in sides:
        row["ratio_native"] = row["ours"]["tokens_per_s"] / row["torch_native"]["tokens_per_s"]
        row["onednn_speedup"] = row["torch_native"]["step_ms"] / row["torch"]["step_ms"]
    if floor:
        row["over_floor"] = row["ours"]["step_ms"] / row["floor"]["step_ms"]
        row["floor_pass"] = bool(row["over_floor"] <= FLOOR_TARGET)
        # forward + backward alone against the floor: the step less its optimizer update
        row["fb_over_floor"] = (row["ours"]["step_ms"] - row["optimizer"]["step_ms"]) / row["floor"]["step_ms"]
        if use_torch:  # below 1: PyTorch's whole step is faster than our BLAS's products alone
            row["torch_over_floor"] = row["torch"]["step_ms"] / row["floor"]["step_ms"]
            row["torch_over_torch_floor"] = row["torch"]["step_ms"] / row["torch_floor"]["step_ms"]
            row["floor_over_torch_floor"] = row["floor"]["step_ms"] / row["torch_floor"]["step_ms"]
    return row


# ------------------------------------------------------------------------------- memory

# floats per sequence, per step and per direction, that backward needs (float32 = 4 bytes each):
#   rnn   h_t                                       (tanh' = 1 - h², h_{t-1} is the previous h)
#   lstm  [i, f, g, o] activated (4H), c_t, tanh(c_t), h_t
#   gru   [r, z, n] activated (3H), hh_n = W_hn h_{t-1} + b_hn (H), h_t
STATE_FLOATS = {"rnn": 1, "lstm": 7, "gru": 5}


def activation_bytes(wl: Workload, cell: str) -> dict:
    """The activations BPTT must keep for one batch, analytically (float32)."""
    N, T, dirs = wl.batch, wl.length, 2 if wl.bidirectional else 1
    parts = {
        "embedding outputs X (N·T·D)": N * T * wl.embed,
        f"recurrent ({STATE_FLOATS[cell]}H per step{' × 2 directions' if dirs == 2 else ''})":
            dirs * N * T * STATE_FLOATS[cell] * wl.hidden,
        "head probabilities": N * T * wl.classes if wl.task != "classify" else N,
    }
    return {"bytes": 4 * sum(parts.values()), "parts": {k: 4 * v for k, v in parts.items()}}


def memory_ours(wl: Workload, cell: str) -> dict:
    """tracemalloc peaks above the steady state (weights, Adam's m and v, the batches) during one step:
    of forward + loss + backward (loss_and_grads), and of the optimizer step (with the gradients and the
    forward cache still alive, as in ``rnn train``)."""
    ours = Ours(wl, cell, make_batches(wl, np.random.default_rng(SEED)))  # Adam's m and v exist already
    ids, mask, targets = ours.batches[0]
    gc.collect()
    tracemalloc.start()
    try:
        loss, grads, logits, cache = loss_and_grads(ours.params, ours.spec, ids, mask, targets)
        peak_fb, after_fb = tracemalloc.get_traced_memory()[1], tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        ours.opt.step(ours.params, grads)
        peak_opt = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del loss, grads, logits, cache
    grads = sum(p.nbytes for p in ours.params.values())  # the gradient dict holds one array per parameter
    act = activation_bytes(wl, cell)
    peak = max(peak_fb, peak_opt)
    return {"workload": wl.name, "cell": cell, "activations_bytes": act["bytes"], "activation_parts": act["parts"],
            "peak_bytes": peak, "peak_forward_backward_bytes": peak_fb, "kept_after_backward_bytes": after_fb,
            "peak_optimizer_bytes": peak_opt, "grad_bytes": grads,
            "ratio_total": peak / act["bytes"], "ratio_wo_grads": (peak - grads) / act["bytes"],
            "ratio_fb_wo_grads": (peak_fb - grads) / act["bytes"],
            "pass": bool((peak - grads) / act["bytes"] <= MEMORY_TARGET)}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss_child(wl_name: str, cells: str, side: str, threads: int) -> None:
    """In a fresh process, per cell in turn: RSS growth (peak VmHWM − VmRSS before) during one step
    after a warm-up step. Prints {cell: bytes} as JSON."""
    wl = WORKLOADS[wl_name]
    batches = make_batches(wl, np.random.default_rng(SEED))
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
    out = {}
    for cell in cells.split(","):
        model = Torch(wl, cell, batches, None) if side == "torch" else Ours(wl, cell, batches)
        model.step()  # PyTorch's Adam creates its state on the first step; OpenBLAS its buffers on the first GEMM
        gc.collect()
        before = _status_kb("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS (Linux ≥ 4.0)
            fh.write("5")
        model.step()
        out[cell] = (_status_kb("VmHWM") - before) * 1024
        del model
        gc.collect()
    print(json.dumps(out))


def memory_rss(wl: Workload, cells: list[str], side: str, threads: int) -> dict:
    """{cell: RSS growth in bytes} for one workload, measured in one fresh process (see rss_child)."""
    # A fixed mmap threshold (a glibc setting, not a BLAS one) makes every large buffer its own mapping,
    # unmapped on free, so that RSS follows what is live instead of what malloc keeps for reuse; a model
    # measured earlier in the same process therefore leaves (almost) nothing behind.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_rss-child", wl.name, ",".join(cells), side, str(threads)]
    if OPTIMIZER == "lazy_adam":
        cmd.append("--lazy")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        progress(f"  note: RSS probe failed for {wl.name} {side}: {proc.stderr.strip()[-300:]}")
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ profile


def profile_ours(wl: Workload, cell: str, steps: int, top: int) -> dict:
    """cProfile over ``steps`` of our training steps (after one warm-up): the top functions by own time."""
    import cProfile
    import pstats

    ours = Ours(wl, cell, make_batches(wl, np.random.default_rng(SEED)))
    ours.step()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(steps):
        ours.step()
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    total = stats.total_tt
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in stats.stats.items():
        where = f"{Path(file).name}:{line}" if line else file
        rows.append({"function": f"{func} ({where})" if line else func, "calls_per_step": nc / steps,
                     "own_s_per_step": tt / steps, "own_share": tt / total,
                     "cum_s_per_step": ct / steps})
    rows.sort(key=lambda r: -r["own_s_per_step"])
    return {"workload": wl.name, "cell": cell, "steps": steps, "profiled_step_ms": 1e3 * wall / steps,
            "top": rows[:top]}


# ------------------------------------------------------------------------------- output


def fmt_rate(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def fmt_mb(b) -> str:
    return "—" if b is None else f"{b / 2**20:.1f}"


def print_tables(result: dict, plain: bool = False) -> None:
    from bench_predict import make_table, print_predict

    table = make_table(plain)
    env = result["environment"]
    print(f"rnncli training benchmark, {env['date']}, commit {env.get('rnncli_commit')}  "
          f"({env['cpu']}, {env['cpus']} CPUs, NumPy SIMD up to {env['simd']['level']}; "
          f"NumPy {env['numpy']} on {env['blas']['library']} with {env['blas']['threads']} BLAS threads"
          + (f"; PyTorch {env['torch']} with torch.set_num_threads({env['torch_threads']})" if env.get("torch") else
             "; PyTorch not used") + ")")
    load = f"load average {env.get('loadavg_start')} at the start, {env.get('loadavg_end')} at the end"
    st = result["settings"]
    if "profile" in result or "orientations" in result:
        print(load)
    else:
        print(f"median of up to {st['repeats']} interleaved chunks per side (≈{st['chunk_s']} s each), after "
              f"{st['warmup']} warm-up steps; tokens/s = N·T / step time; ratio = ours ÷ torch tokens/s, from the medians; "
              f"paired = the median of the repeats' ratios (each from two adjacent chunks); "
              f"spread = (slowest − fastest chunk) / median, the larger side's; {load}")
    if "orientations" in result:
        rows = [[r["workload"], r["cell"], f"{r['N']}×{r['H']}→{r['GH']}"]
                + [f"{r['numpy_us'][k]:.0f}" for k in r["numpy_us"]]
                + [f"{r['torch_us'][k]:.0f}" if r["torch_us"] else "—" for k in r["numpy_us"]] for r in result["orientations"]]
        names = list(result["orientations"][0]["numpy_us"]) if result["orientations"] else []
        table("The per-step recurrent products, µs each (median): NumPy's BLAS, then torch.mm",
              ["workload", "cell", "N×H→G·H"] + names + [f"torch {n}" for n in names], rows, left=3)
        steps = list(result["orientations"][0]["step_us"]) if result["orientations"] else []
        rows = [[r["workload"], r["cell"], f"{r['N']}×{r['H']}→{r['GH']}"] + [f"{r['step_us'][k]:.0f}" for k in steps]
                for r in result["orientations"]]
        table("One step's gate pre-activations a_t + h_{t-1}·W_hh^T into gate-major (G, N, H), three ways, "
              "µs each (median)", ["workload", "cell", "N×H→G·H"] + steps, rows, left=3)
        return
    if "profile" in result:
        for p in result["profile"]:
            rows = [[r["function"], f"{r['own_share'] * 100:.1f}%", f"{r['own_s_per_step'] * 1e3:.2f}",
                     f"{r['cum_s_per_step'] * 1e3:.2f}", f"{r['calls_per_step']:,.0f}"] for r in p["top"]]
            table(f"{p['workload']} {p['cell']}: cProfile over {p['steps']} steps ({p['profiled_step_ms']:.0f} ms/step "
                  "under the profiler)", ["function", "own share", "own ms/step", "cum ms/step", "calls/step"], rows)
        return
    rows = []
    for r in result["training"]:
        tgt = r.get("target")
        verdict = ("—" if tgt is None else "n/a") if r.get("pass") is None else ("pass" if r["pass"] else "FAIL")
        rows.append([r["workload"], r["cell"], fmt_rate(r["ours"]["tokens_per_s"]),
                     fmt_rate(r["torch"]["tokens_per_s"]) if "torch" in r else "—",
                     f"{r['ratio']:.2f}×" if "ratio" in r else "—",
                     f"{r['ratio_paired_median']:.2f}×" if "ratio_paired_median" in r else "—",
                     f"≥ {tgt:.2f}×" if tgt else "—", verdict,
                     f"{r['ours']['step_ms']:.1f}", f"{r['torch']['step_ms']:.1f}" if "torch" in r else "—",
                     r["repeats"], f"{100 * max(r[s]['spread'] for s in ('ours', 'torch') if s in r):.0f}%"])
    table(f"Training steps (forward + loss + backward + {OPTIMIZER_TITLE[OPTIMIZER]})",
          ["workload", "cell", "ours tok/s", "torch tok/s", "ratio", "paired", "target", "result", "ours ms/step",
           "torch ms/step", "repeats", "spread"], rows, left=2)
    natives = [r for r in result["training"] if "ratio_native" in r]
    if natives:
        rows = [[r["workload"], r["cell"], f"{r['ours']['step_ms']:.1f}", f"{r['torch']['step_ms']:.1f}",
                 f"{r['torch_native']['step_ms']:.1f}", f"{r['ratio']:.2f}×", f"{r['ratio_native']:.2f}×",
                 f"{r['onednn_speedup']:.2f}×", f"{100 * r['torch_native']['spread']:.0f}%"] for r in natives]
        table("The LSTM against PyTorch with and without oneDNN's fused RNN kernel (torch.backends.mkldnn)",
              ["workload", "cell", "ours ms/step", "torch ms/step", "torch w/o oneDNN ms", "ours ÷ torch",
               "ours ÷ torch w/o oneDNN", "oneDNN's gain", "spread w/o oneDNN"], rows, left=2)
    floors = [r for r in result["training"] if "over_floor" in r]
    if floors:
        rows = [[r["workload"], r["cell"], f"{r['ours']['step_ms']:.1f}", f"{r['floor']['step_ms']:.1f}",
                 r["floor_gemms"], f"{r['over_floor']:.2f}×", f"≤ {r['floor_target']:.2f}×",
                 "pass" if r["floor_pass"] else "FAIL", f"{r['optimizer']['step_ms']:.1f}",
                 f"{r['fb_over_floor']:.2f}×",
                 f"{r['torch_floor']['step_ms']:.1f}" if "torch_floor" in r else "—",
                 f"{r['torch_over_torch_floor']:.2f}×" if "torch_floor" in r else "—",
                 f"{r['floor_over_torch_floor']:.2f}×" if "torch_floor" in r else "—",
                 f"{100 * max(r[s]['spread'] for s in ('floor', 'torch_floor') if s in r):.0f}%"] for r in floors]
        table("Each step against its BLAS floor: the step's matrix products alone, same shapes and threads, "
              "through NumPy's BLAS (floor) and through PyTorch's (torch floor)",
              ["workload", "cell", "ours ms/step", "floor ms/step", "GEMMs", "ours ÷ floor", "target", "result",
               f"{OPTIMIZER_TITLE[OPTIMIZER].split(';')[0]} ms", "(ours − it) ÷ floor", "torch floor ms",
               "torch ÷ torch floor", "floor ÷ torch floor", "floor spread"], rows, left=2)
    if result.get("memory"):
        rows = []
        for m in result["memory"]:
            rows.append([m["workload"], m["cell"], fmt_mb(m["activations_bytes"]), fmt_mb(m["grad_bytes"]),
                         fmt_mb(m["peak_forward_backward_bytes"]), fmt_mb(m["peak_optimizer_bytes"]),
                         f"{m['ratio_fb_wo_grads']:.2f}×", f"{m['ratio_wo_grads']:.2f}×",
                         "pass" if m["pass"] else "FAIL", fmt_mb(m.get("ours_rss_delta_bytes")),
                         fmt_mb(m.get("torch_rss_delta_bytes"))])
        table("Peak memory of one training step, ours (tracemalloc, MiB above weights + Adam state); "
              "target: (peak − grads) ≤ 2× activations",
              ["workload", "cell", "activations", "grads", "peak fwd+bwd", "peak Adam step", "(fwd+bwd − grads)/act",
               "(peak − grads)/act", "result", "ours RSS Δ", "torch RSS Δ"], rows, left=2)
    if result.get("predict"):
        print_predict(result["predict"], table)


# --------------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and a smaller predict model: a smoke run")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, from " + ", ".join(WORKLOADS))
    p.add_argument("--cells", default=",".join(CELLS), help="comma-separated, from rnn, lstm, gru")
    p.add_argument("--no-torch", action="store_true", help="time our engine only")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--plain", action="store_true", help="plain-text tables instead of rich's")
    p.add_argument("--json-out", metavar="PATH", help="also write the JSON document to PATH (with the tables on stdout)")
    p.add_argument("--repeats", type=int, help="interleaved chunks per side (default 7; --quick 3)")
    p.add_argument("--warmup", type=int, help="warm-up steps per side, excluded (default 2; --quick 1; at least 1)")
    p.add_argument("--chunk", type=float, help="seconds per timed chunk (default 0.5; --quick 0.15)")
    p.add_argument("--budget", type=float,
                   help="seconds of timed chunks per workload and cell, beyond which repeats are cut "
                        "(default 20; --quick 1.5)")
    p.add_argument("--settle", type=float,
                   help="seconds of sleep before each chunk, so that idle BLAS/OpenMP threads stop spinning "
                        "(default 0.2; --quick 0.05)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory measurements (--quick measures the first selected cell only)")
    p.add_argument("--rss", action=argparse.BooleanOptionalAction, default=None,
                   help="RSS growth during one step, in a fresh process per workload and cell: --rss for both "
                        "sides, --no-rss for neither (default: PyTorch's only, in a full run; none with --quick)")
    p.add_argument("--no-predict", action="store_true", help="skip the rnn predict benchmark")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the BLAS floor (the step's matrix products alone, timed as a third side)")
    p.add_argument("--lazy", action="store_true",
                   help="train.optimizer lazy_adam (embedding rows of the batch only) against PyTorch's sparse "
                        "nn.Embedding with SparseAdam for it and Adam for the rest")
    p.add_argument("--profile", action="store_true",
                   help="only profile our engine (cProfile) on each selected workload and cell")
    p.add_argument("--orientations", action="store_true",
                   help="only time the per-step recurrent products in both orientations (h·W_hh^T and W_hh·h^T, "
                        "dG·W_hh and W_hh^T·dG^T), with NumPy and with torch.mm")
    p.add_argument("--profile-steps", type=int, default=3)
    p.add_argument("--profile-top", type=int, default=12)
    p.add_argument("--_rss-child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in args.workloads.split(","):
        if name not in WORKLOADS:
            p.error(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    for name in args.cells.split(","):
        if name not in CELLS:
            p.error(f"unknown cell {name!r}; choose from {', '.join(CELLS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    global OPTIMIZER
    OPTIMIZER = "lazy_adam" if args.lazy else "adam"
    if args._rss_child:
        wl, cells, side, threads = args._rss_child
        rss_child(wl, cells, side, int(threads))
        return 0
    started = time.perf_counter()
    workloads = [WORKLOADS[w] for w in args.workloads.split(",")]
    cells = args.cells.split(",")
    repeats = args.repeats or (3 if args.quick else 7)
    warmup = max(1, args.warmup if args.warmup is not None else (1 if args.quick else 2))
    chunk_s = args.chunk or (0.15 if args.quick else 0.5)
    budget_s = args.budget or (1.5 if args.quick else 20.0)
    settle_s = args.settle if args.settle is not None else (0.05 if args.quick else 0.2)

    blas = blas_info()  # before torch is imported: only NumPy's BLAS is loaded
    env = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
           "numpy": np.__version__, "blas": blas, "simd": simd_info(), "cpus": os.cpu_count(), "cpu": _cpu_name(),
           "platform": platform.platform(), "loadavg_start": _loadavg(), "rnncli_commit": _commit()}
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
        except ImportError:
            progress("PyTorch is not installed (pip install -e '.[torch]'): reporting our figures alone.")
            use_torch = False
    if use_torch:
        torch.set_num_threads(blas["threads"])
        env.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   torch_interop_threads=torch.get_num_interop_threads())
    progress(f"NumPy {np.__version__}: {blas['library']} {blas['version'] or ''}, {blas['threads']} BLAS threads "
             f"({blas['source']})")
    if use_torch:
        progress(f"PyTorch {torch.__version__}: torch.set_num_threads({blas['threads']}) → "
                 f"torch.get_num_threads() = {torch.get_num_threads()}")
    result = {"environment": env,
              "settings": {"quick": args.quick, "repeats": repeats, "warmup": warmup, "chunk_s": chunk_s,
                           "budget_s": budget_s, "settle_s": settle_s,
                           "lr": LR, "optimizer": OPTIMIZER, "seed": SEED, "dtype": "float32", "batches_cycled": POOL},
              "workloads": {w.name: asdict(w) | {"description": w.describe()} for w in workloads}}

    if args.orientations:
        result["orientations"] = []
        for wl in workloads:
            for cell in cells:
                progress(f"products of {wl.name} {cell}")
                result["orientations"].append(orientations(wl, cell, use_torch))
        return _emit(result, args, started)

    if args.profile:
        result["profile"] = []
        for wl in workloads:
            for cell in cells:
                progress(f"profiling {wl.name} {cell} ({args.profile_steps} steps)")
                result["profile"].append(profile_ours(wl, cell, args.profile_steps, args.profile_top))
        return _emit(result, args, started)

    sections = result["section_seconds"] = {}
    t_section = time.perf_counter()
    result["training"] = []
    for wl in workloads:
        progress(f"{wl.name} {wl.describe()}")
        for cell in cells:
            t0 = time.perf_counter()
            row = bench_pair(wl, cell, use_torch, repeats, warmup, chunk_s, budget_s, settle_s,
                             min_repeats=1 if args.quick else 3, floor=not args.no_floor)
            result["training"].append(row)
            msg = f"  {cell:4s} ours {row['ours']['tokens_per_s']:>9,.0f} tok/s"
            if use_torch:
                msg += f", torch {row['torch']['tokens_per_s']:>9,.0f} tok/s, ratio {row['ratio']:.2f}"
            if "ratio_native" in row:
                msg += f" ({row['ratio_native']:.2f} without oneDNN)"
            if "over_floor" in row:
                msg += f", ours ÷ floor {row['over_floor']:.2f}"
            progress(msg + f"  ({time.perf_counter() - t0:.1f} s)")

    sections["training"] = time.perf_counter() - t_section
    if not args.no_memory:
        t_section = time.perf_counter()
        rss_torch = use_torch and (args.rss if args.rss is not None else not args.quick)
        rss_ours = bool(args.rss)
        if not Path("/proc/self/clear_refs").exists():
            rss_torch = rss_ours = False
        rss = rss_torch or rss_ours
        result["memory"] = []
        progress("peak memory (tracemalloc" + (", and RSS in fresh processes)" if rss else ")"))
        mem_cells = cells[:1] if args.quick else cells  # tracemalloc slows a step several times over
        for wl in workloads:
            rss_by_side = {side: memory_rss(wl, mem_cells, side, blas["threads"])
                           for side, on in (("ours", rss_ours), ("torch", rss_torch)) if on}
            for cell in mem_cells:
                m = memory_ours(wl, cell)
                for side, got in rss_by_side.items():
                    m[f"{side}_rss_delta_bytes"] = got.get(cell)
                result["memory"].append(m)
                progress(f"  {wl.name} {cell}: peak {m['peak_bytes'] / 2**20:.1f} MiB, activations "
                         f"{m['activations_bytes'] / 2**20:.1f} MiB, (peak − grads)/act {m['ratio_wo_grads']:.2f}")
        sections["memory"] = time.perf_counter() - t_section

    if not args.no_predict:
        from bench_predict import bench_predict

        t_section = time.perf_counter()
        result["predict"] = bench_predict(quick=args.quick, log=progress)
        sections["predict"] = time.perf_counter() - t_section
    return _emit(result, args, started)


def _commit() -> str | None:
    """The checked-out commit of this repository, read from .git (uncommitted edits are not visible here)."""
    try:
        git = HERE.parent / ".git"
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return None


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _emit(result: dict, args, started: float, print_tables=print_tables) -> int:
    """The end of a benchmark: its time and load in ``result``, then ``result`` as tables (``print_tables``) or
    as JSON (``args.json``; also to ``args.json_out`` where the script has that option)."""
    result["seconds"] = time.perf_counter() - started
    result["environment"]["loadavg_end"] = _loadavg()
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in result.get("section_seconds", {}).items())
    progress(f"done in {result['seconds']:.0f} s" + (f" ({parts})" if parts else ""))
    if getattr(args, "json_out", None):
        Path(args.json_out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_tables(result, args.plain)
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
