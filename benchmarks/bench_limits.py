#!/usr/bin/env python
"""Where the training step's limits are: Adam against the BLAS floor, BLAS threads and bits, both directions at once.

    python benchmarks/bench_limits.py [--quick] [--json] [--plain] [--workloads W1,W1-bi,W2,W3] [--cells rnn,lstm,gru]

Three measurements behind the performance goals that the engine does not meet (benchmarks/README.md, "Where
the limits are"), on the workloads of bench_train.py:

    adam   the step's matrix products alone (bench_train.Floor), Adam's step alone over the workload's
           parameters and gradients (bench_train.OptimizerAlone), and the memory traffic Adam cannot avoid: one
           blockwise pass that reads every parameter, gradient and both moments and writes the parameter and
           the moments (m += g, v += g, p += m), nothing else. A step of ours ÷ its floor ≤ 1.25 leaves
           0.25 × floor for everything that is not a product; (floor + Adam) ÷ floor says whether Adam
           alone already takes more.
    bits   each kind of product a step runs (the input projection, the per-step recurrent products forward
           and backward, dW_hh) at NumPy's BLAS thread count and at one thread: whether the two give the
           same bits. Running a bidirectional layer's two directions at once needs the BLAS at one thread
           per direction, so wherever they differ it would change what training computes.
    pairs  one layer's two directions, forward and backward (recurrent.direction_forward and
           direction_backward on random pre-activations), one after the other as training runs them;
           at once on two threads with the BLAS at one thread (parallel.one_blas_thread and parallel.pair,
           as scoring runs them); and at once with the BLAS left at its thread count. The speed-ups, and
           whether each gives the bits of one after the other.

Medians of ``--repeats`` (5; --quick 2) timed runs per figure, the sides alternating. Nothing is set in the
environment; the BLAS's thread count is changed through OpenBLAS's own API for the one-thread sides and set
back after each.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_predict import make_table  # noqa: E402
from bench_train import (  # noqa: E402
    CELLS, FLOOR_TARGET, GATES, SEED, WORKLOADS, Floor, OptimizerAlone, Ours, _commit, _cpu_name, _emit, _loadavg,
    blas_info, make_batches, progress, simd_info, time_call,
)
from rnncli.engine import parallel, recurrent  # noqa: E402
from rnncli.engine.cells import get_cell  # noqa: E402

SETTLE_S = 0.2  # pause before each timed run: the BLAS's idle threads spin for a while after a product


def _traffic(p, g, m, v) -> None:
    """The reads and writes of an Adam update and no more: p, g, m and v in, p, m and v out."""
    m += g
    v += g
    p += m


def adam_row(wl, cell: str, repeats: int, chunk_s: float) -> dict:
    ours = Ours(wl, cell, make_batches(wl, np.random.default_rng(SEED)))
    adam, floor = OptimizerAlone(ours), Floor(wl, cell)
    params = {k: v.copy() for k, v in adam.params.items()}
    moments = [{k: np.zeros_like(v) for k, v in params.items()} for _ in range(2)]

    def traffic():
        for k, p in params.items():
            parallel.blockwise(_traffic, p, adam.grads[k], moments[0][k], moments[1][k])

    times = {"floor": [], "adam": [], "traffic": []}
    sides = {"floor": floor.step, "adam": adam.step, "traffic": traffic}
    for r in range(repeats):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            time.sleep(SETTLE_S)
            times[name].append(time_call(sides[name], chunk_s, 1))
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {"workload": wl.name, "cell": cell, "floor_ms": ms["floor"], "adam_ms": ms["adam"],
            "traffic_ms": ms["traffic"], "allowance_ms": (FLOOR_TARGET - 1) * ms["floor"],
            "floor_plus_adam": (ms["floor"] + ms["adam"]) / ms["floor"],
            "parameters": int(sum(p.size for p in params.values()))}


def bits_rows(wl, cell: str, blas) -> list[dict]:
    """Each product kind at the BLAS's thread count and at one thread: the same bits or not."""
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    N, T, D, H = wl.batch, wl.length, wl.embed, wl.hidden
    GH = GATES[cell] * H
    products = {
        "projection X·W_ih^T": (f32(N * T, D), f32(D, GH)),
        "forward h·W_hh^T": (f32(N, H), f32(H, GH)),
        "backward dG·W_hh": (f32(N, GH), f32(GH, H)),
        "dW_hh dHH^T·H_prev": (f32(GH, N * T), f32(N * T, H)),
    }
    threads = blas.get()
    rows = []
    for name, (a, b) in products.items():
        many = a @ b
        blas.set(1)
        try:
            one = a @ b
        finally:
            blas.set(threads)
        rows.append({"workload": wl.name, "cell": cell, "product": name,
                     "shape": f"{a.shape[0]}×{a.shape[1]}·{b.shape[0]}×{b.shape[1]}",
                     "same_bits": bool(np.array_equal(many, one)),
                     "max_rel_diff": float(np.max(np.abs(many - one)) / np.max(np.abs(many)))})
    return rows


class Directions:
    """One layer's two directions, forward and backward through time, on random pre-activations."""

    def __init__(self, wl, cell: str):
        self.cell = get_cell(cell)
        rng = np.random.default_rng(SEED)
        N, T, H, G = wl.batch, wl.length, wl.hidden, self.cell.gates
        self.mask = np.ones((N, T), dtype=np.float32)
        self.parts = []
        for _ in range(2):
            A = rng.standard_normal((N, T, G * H)).astype(np.float32)
            W_hh = (rng.standard_normal((G * H, H)) / np.sqrt(H)).astype(np.float32)
            b_hh = np.zeros(G * H, dtype=np.float32) if self.cell.hidden_bias else None
            d_out = rng.standard_normal((N, T, H)).astype(np.float32)
            self.parts.append((A, W_hh, b_hh, d_out))
        self.zeros = tuple(np.zeros((N, H), dtype=np.float32) for _ in range(self.cell.state_size))

    def run(self, d: int):
        A, W_hh, b_hh, d_out = self.parts[d]
        out, _, cache = recurrent.direction_forward(A, self.mask, W_hh, b_hh, self.cell, self.zeros)
        dA, dW_hh, _, _ = recurrent.direction_backward(d_out, self.zeros, cache, W_hh, self.cell)
        return out, dA, dW_hh

    def one_after_the_other(self):
        return [self.run(0), self.run(1)]

    def at_once_one_blas_thread(self):
        """Inside :func:`parallel.one_blas_thread`, which the caller holds for all its runs, as training would."""
        return list(parallel.pair(lambda: self.run(0), lambda: self.run(1)))

    def at_once(self, pool: ThreadPoolExecutor):
        future = pool.submit(self.run, 1)
        first = self.run(0)
        return [first, future.result()]


def pairs_row(wl, cell: str, repeats: int, chunk_s: float, pool: ThreadPoolExecutor) -> dict:
    dirs = Directions(wl, cell)
    sides = {"one_after_the_other": dirs.one_after_the_other, "at_once_blas_1": dirs.at_once_one_blas_thread,
             "at_once_blas_n": lambda: dirs.at_once(pool)}
    contexts = {name: parallel.one_blas_thread if name == "at_once_blas_1" else contextlib.nullcontext
                for name in sides}
    reference = dirs.one_after_the_other()
    same = {}
    for name, fn in sides.items():
        with contexts[name]():
            same[name] = all(np.array_equal(x, y) for got, ref in zip(fn(), reference) for x, y in zip(got, ref))
    times = {name: [] for name in sides}
    for r in range(repeats):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            time.sleep(SETTLE_S)  # the BLAS's idle threads stop spinning before the next side starts
            with contexts[name]():
                times[name].append(time_call(sides[name], chunk_s, 1))
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    base = ms["one_after_the_other"]
    return {"workload": wl.name, "cell": cell, "rows": wl.batch, "steps": wl.length, **{f"{k}_ms": v for k, v in ms.items()},
            "speedup_blas_1": base / ms["at_once_blas_1"], "speedup_blas_n": base / ms["at_once_blas_n"],
            "same_bits_blas_1": same["at_once_blas_1"], "same_bits_blas_n": same["at_once_blas_n"]}


def print_tables(result: dict, plain: bool) -> None:
    env = result["environment"]
    print(f"rnncli limits benchmark, {env['date']}, commit {env['rnncli_commit']}  ({env['cpu']}, {env['cpus']} CPUs, "
          f"NumPy SIMD up to {env['simd']['level']}; NumPy {env['numpy']} with {env['blas']['threads']} BLAS threads)")
    print(f"load average {env['loadavg_start']} at the start, {env['loadavg_end']} at the end")
    table = make_table(plain)
    if result["adam"]:
        table(f"Adam against the BLAS floor, ms (median of {result['repeats']}); the floor's target leaves "
              f"{FLOOR_TARGET - 1:.2f} × floor for all that is not a product",
              ["workload", "cell", "parameters", "floor", "allowance", "Adam", "traffic", "(floor + Adam) ÷ floor",
               f"≤ {FLOOR_TARGET:.2f}× possible"],
              [[r["workload"], r["cell"], f"{r['parameters']:,}", f"{r['floor_ms']:.1f}", f"{r['allowance_ms']:.1f}",
                f"{r['adam_ms']:.1f}", f"{r['traffic_ms']:.1f}", f"{r['floor_plus_adam']:.2f}×",
                "no" if r["floor_plus_adam"] > FLOOR_TARGET else "not by Adam"] for r in result["adam"]], left=2)
    if result["bits"]:
        table(f"The step's products at {env['blas']['threads']} BLAS threads and at 1: the same bits?",
              ["workload", "cell", "product", "shape", "same bits", "max rel. diff"],
              [[r["workload"], r["cell"], r["product"], r["shape"], "yes" if r["same_bits"] else "no",
                f"{r['max_rel_diff']:.1e}"] for r in result["bits"]], left=4)
    if result["pairs"]:
        table(f"One layer's two directions, forward and backward, ms (median of {result['repeats']}): one after the "
              "other, at once with the BLAS at 1 thread, at once with the BLAS at its threads",
              ["workload", "cell", "rows", "steps", "one after the other", "at once, BLAS 1", "speed-up", "same bits",
               "at once, BLAS n", "speed-up", "same bits"],
              [[r["workload"], r["cell"], r["rows"], r["steps"], f"{r['one_after_the_other_ms']:.1f}",
                f"{r['at_once_blas_1_ms']:.1f}", f"{r['speedup_blas_1']:.2f}×", "yes" if r["same_bits_blas_1"] else "no",
                f"{r['at_once_blas_n_ms']:.1f}", f"{r['speedup_blas_n']:.2f}×",
                "yes" if r["same_bits_blas_n"] else "no"] for r in result["pairs"]], left=2)
    for note in result["notes"]:
        print(note)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 repeats of short runs, W1-bi and W3 only")
    p.add_argument("--workloads", help="comma-separated, from " + ", ".join(WORKLOADS) + " (default: all)")
    p.add_argument("--cells", default=",".join(CELLS), help="comma-separated, from " + ", ".join(CELLS))
    p.add_argument("--only", default="adam,bits,pairs", help="which measurements (default adam,bits,pairs)")
    p.add_argument("--repeats", type=int, help="timed runs per figure (default 5; --quick 2)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    p.add_argument("--plain", action="store_true", help="plain-text tables")
    args = p.parse_args(argv)
    import datetime as dt
    import os

    workloads = [WORKLOADS[w] for w in (args.workloads or ("W1-bi,W3" if args.quick else ",".join(WORKLOADS))).split(",")]
    cells = args.cells.split(",")
    only = set(args.only.split(","))
    repeats = args.repeats or (2 if args.quick else 5)
    chunk_s = 0.05 if args.quick else 0.3
    blas = parallel.blas_threads()
    env = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cpu": _cpu_name(), "cpus": os.cpu_count(),
           "simd": simd_info(), "numpy": np.__version__, "blas": blas_info(), "rnncli_commit": _commit(),
           "loadavg_start": _loadavg()}
    result = {"environment": env, "repeats": repeats, "adam": [], "bits": [], "pairs": [], "notes": []}
    started = time.perf_counter()
    threads_settable = blas.available and parallel.num_threads() >= 2 and blas.get() >= 2
    if not threads_settable and only & {"bits", "pairs"}:
        result["notes"].append("bits and pairs need NumPy's OpenBLAS at 2 threads or more, whose thread count can be "
                               "set (rnncli.engine.parallel.BlasThreads): skipped.")
    with ThreadPoolExecutor(1) as pool:
        for wl in workloads:
            for cell in cells:
                if "adam" in only:
                    progress(f"{wl.name} {cell}: Adam against the floor …")
                    result["adam"].append(adam_row(wl, cell, repeats, chunk_s))
                if "bits" in only and threads_settable:
                    seen = {(r["product"], r["shape"]) for r in result["bits"]}  # W1-bi's are W1's products
                    result["bits"] += [r for r in bits_rows(wl, cell, blas) if (r["product"], r["shape"]) not in seen]
                if "pairs" in only and threads_settable and wl.bidirectional:
                    progress(f"{wl.name} {cell}: both directions at once …")
                    result["pairs"].append(pairs_row(wl, cell, repeats, chunk_s, pool))
    return _emit(result, args, started, print_tables)


if __name__ == "__main__":
    sys.exit(main())
