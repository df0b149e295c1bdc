"""``rnn grad-norms``: how large the gradient is at every timestep, to see it vanish or explode.

What is measured, for every layer k and direction of the stack, at every token position t:

    g_t = ∂ℓ/∂h_t    the whole gradient that arrives at the hidden state h_t during BPTT:
                     from step t+1 (through W_hh), from the layer's output at t (the layer
                     above, or the head) and, at the last step, from the summary.
    ‖∂ℓ/∂c_t‖        LSTM only: the whole gradient at the cell state c_t, from c_{t+1} (the
                     path the forget gate scales) and through h_t = o_t ⊙ tanh(c_t).

ℓ is each example's own loss: the batch's mean loss times N, so the numbers do not depend on
the batch size (for tag and lm, whose loss is a mean over tokens, it is that mean times N).
Each ‖g_t‖ is averaged over the examples that have a real token at t (padding is skipped),
then over the batches. The pass runs in float64 without dropout and changes no weight.

Summary figures, per layer and direction, in the order BPTT visits the steps (forward
direction: from t = T back to t = 1; reverse direction: from t = 1 on to t = T):

    ratio    ‖g‖ at the last step BPTT reaches / ‖g‖ where it starts;
             forward direction: ‖∂ℓ/∂h_1‖ / ‖∂ℓ/∂h_T‖
    rate     the factor by which ‖g‖ changes per step back: exp(slope) of the least-squares
             line through log ‖g_t‖ against the number of steps back (< 1 decays, > 1 grows)
    verdict  vanishing  if ratio < 1e-2   (the gradient loses more than two orders of magnitude)
             exploding  if ratio > 1e2    (or a norm is not finite)
             stable     otherwise

The report's own ratio, rate and verdict are those of the layer and direction whose ratio is
farthest from 1. The figures describe how a gradient travels back through time when the loss
sits at the end (classify/regress with pooling last); with per-step losses (tag, lm) or
mean/max/concat pooling every step also gets a direct gradient, so expect ratios near 1 there.

Per parameter tensor: ‖∂ℓ/∂θ‖ (of the batch's mean loss, as training uses it, averaged over
the batches), ‖θ‖ and their ratio, the relative size of one plain gradient step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli.errors import DataError, RunError, UsageError
from rnncli.models import ModelSpec, loss_and_grads
from rnncli.rundir import RunDir
from rnncli.tasks import Dataset, task_of
from rnncli.training.prepare import initial_params, prepare

VANISHING_BELOW = 1e-2  # ratio under this: vanishing
EXPLODING_ABOVE = 1e2  # ratio over this (or a non-finite norm): exploding
DIRECTIONS = ("forward", "reverse")


def verdict_of(ratio: float) -> str:
    """vanishing / stable / exploding from the ratio ‖g‖(last step reached) / ‖g‖(first)."""
    if not math.isfinite(ratio) or ratio > EXPLODING_ABOVE:
        return "exploding"
    if ratio < VANISHING_BELOW:
        return "vanishing"
    return "stable"


def fit_rate(norms_in_bptt_order) -> float:
    """exp(slope) of log ‖g‖ against steps back, over the finite positive norms; nan with < 2 of them."""
    g = np.asarray(norms_in_bptt_order, dtype=np.float64)
    steps = np.arange(len(g), dtype=np.float64)
    ok = np.isfinite(g) & (g > 0)
    if ok.sum() < 2:
        return math.nan
    slope = np.polyfit(steps[ok], np.log(g[ok]), 1)[0]
    return float(np.exp(slope))


def flow_ratio(norms_in_bptt_order) -> float:
    """‖g‖ at the last step reached / ‖g‖ at the first; inf for 0 → positive, 0 for 0 → 0."""
    g = np.asarray(norms_in_bptt_order, dtype=np.float64)
    if len(g) == 0:
        return math.nan
    first, last = g[0], g[-1]
    if not (math.isfinite(first) and math.isfinite(last)):
        return math.inf
    if first == 0:
        return math.inf if last > 0 else 0.0
    return float(last / first)


def _sig(x: float, digits: int = 4):
    """A float rounded to ``digits`` significant digits (None for NaN), to keep JSON short."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if not math.isfinite(x) or x == 0:
        return float(x)
    return float(f"{x:.{digits}g}")


@dataclass
class LayerNorms:
    """Per-step gradient norms of one layer and direction (index i is position t = i + 1)."""

    layer: int
    direction: str  # "forward" | "reverse"
    h: list[float]  # mean ‖∂ℓ/∂h_t‖ over examples with a real token at t
    c: list[float] | None  # LSTM: mean ‖∂ℓ/∂c_t‖
    examples: list[int]  # how many examples have a real token at t
    ratio: float = math.nan
    rate: float = math.nan
    verdict: str = "stable"

    @property
    def name(self) -> str:
        return f"l{self.layer} {self.direction}"

    def bptt_order(self) -> list[float]:
        return self.h[::-1] if self.direction == "forward" else list(self.h)

    def summarise(self) -> "LayerNorms":
        self.ratio = flow_ratio(self.bptt_order())
        self.rate = fit_rate(self.bptt_order())
        self.verdict = verdict_of(self.ratio)
        return self

    def to_dict(self, digits: int | None = None) -> dict:
        r = (lambda v: _sig(v, digits)) if digits else (lambda v: v)
        d = {"layer": self.layer, "direction": self.direction, "ratio": r(self.ratio), "rate": r(self.rate),
             "verdict": self.verdict, "h": [r(v) for v in self.h]}
        if self.c is not None:
            d["c"] = [r(v) for v in self.c]
        if not digits:
            d["examples"] = self.examples
        return d


@dataclass
class ParamNorm:
    name: str
    grad_norm: float  # ‖∂L/∂θ‖ of the batch's mean loss, averaged over batches
    param_norm: float  # ‖θ‖
    ratio: float  # grad_norm / param_norm (nan when θ = 0)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class GradNormReport:
    """The result of :func:`grad_norms`."""

    source: str  # what was measured: "configs/x.yaml at initialisation" or a run directory
    data: str
    task: str
    cell: str
    batches: int
    examples: int
    steps: int  # T: the longest sequence
    loss: float  # mean loss over the batches
    layers: list[LayerNorms] = field(default_factory=list)
    params: list[ParamNorm] = field(default_factory=list)

    @property
    def summary(self) -> LayerNorms:
        """The layer and direction whose ratio is farthest from 1 (orders of magnitude)."""
        def distance(layer: LayerNorms) -> float:
            r = layer.ratio
            if math.isnan(r):
                return -1.0
            return math.inf if r <= 0 or not math.isfinite(r) else abs(math.log10(r))
        return max(self.layers, key=distance)

    def to_dict(self) -> dict:
        s = self.summary
        return {
            "source": self.source, "data": self.data, "task": self.task, "cell": self.cell,
            "batches": self.batches, "examples": self.examples, "steps": self.steps, "loss": self.loss,
            "ratio": s.ratio, "rate": s.rate, "verdict": s.verdict, "summary_layer": s.name,
            "thresholds": {"vanishing_below": VANISHING_BELOW, "exploding_above": EXPLODING_ABOVE},
            "layers": [layer.to_dict() for layer in self.layers],
            "params": [p.to_dict() for p in self.params],
        }

    def epoch_record(self) -> dict:
        """The compact form stored per epoch in metrics.jsonl (4 significant digits)."""
        s = self.summary
        return {"ratio": _sig(s.ratio), "rate": _sig(s.rate), "verdict": s.verdict, "summary_layer": s.name,
                "examples": self.examples, "layers": [layer.to_dict(digits=4) for layer in self.layers]}

    def csv_rows(self) -> list[dict]:
        """One row per position, layer and direction (long format)."""
        rows = []
        for layer in self.layers:
            for i, h in enumerate(layer.h):
                rows.append({"t": i + 1, "layer": layer.layer, "direction": layer.direction, "h_norm": h,
                             "c_norm": layer.c[i] if layer.c is not None else "", "examples": layer.examples[i]})
        return rows


# ------------------------------------------------------------------------ computing


def _accumulate(total: np.ndarray, add: np.ndarray) -> np.ndarray:
    """total + add, growing total to add's length (batches are padded to their own longest)."""
    if len(add) > len(total):
        total = np.concatenate([total, np.zeros(len(add) - len(total))])
    total[: len(add)] += add
    return total


def grad_norms(params: dict, spec: ModelSpec, batches: list, source: str = "", data: str = "") -> GradNormReport:
    """Per-step gradient norms over ``batches`` (:class:`rnncli.tasks.Batch`), in float64.

    lm windows marked ``carry`` start from the previous window's final state, as in training.
    """
    if not batches:
        raise DataError(f"{data or 'the data'} gives no batch to measure.", hint="pass a file with at least one example.")
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    stack = spec.stack
    keys = [(k, d) for k, d, _ in stack.layer_names()]
    lstm = stack.cell_type.state_size == 2
    h_sum = {key: np.zeros(0) for key in keys}
    c_sum = {key: np.zeros(0) for key in keys}
    count = np.zeros(0)
    grad_sum = {k: 0.0 for k in p64}
    loss_sum, examples, state = 0.0, 0, None
    for batch in batches:
        record: dict = {}
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads, _, cache = loss_and_grads(p64, spec, batch.ids, batch.mask, batch.targets,
                                                   state if batch.carry else None, None, record)
        state = cache.finals
        m = np.asarray(batch.mask, dtype=np.float64)
        N = m.shape[0]
        with np.errstate(over="ignore", invalid="ignore"):
            for key in keys:
                h_sum[key] = _accumulate(h_sum[key], (record[key]["h"] * N * m).sum(axis=0))
                if lstm:
                    c_sum[key] = _accumulate(c_sum[key], (record[key]["c"] * N * m).sum(axis=0))
            for k, g in grads.items():
                grad_sum[k] += float(np.sqrt(np.sum(g * g)))
        count = _accumulate(count, m.sum(axis=0))
        loss_sum += float(loss)
        examples += N
    seen = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        layers = [
            LayerNorms(
                k, DIRECTIONS[d],
                [float(v) for v in h_sum[(k, d)][seen] / count[seen]],
                [float(v) for v in c_sum[(k, d)][seen] / count[seen]] if lstm else None,
                [int(v) for v in count[seen]],
            ).summarise()
            for k, d in keys
        ]
    params_out = []
    for k, p in p64.items():
        pn = float(np.sqrt(np.sum(p * p)))
        gn = grad_sum[k] / len(batches)
        params_out.append(ParamNorm(k, gn, pn, gn / pn if pn > 0 else math.nan))
    return GradNormReport(source, data, spec.task, cell_name(spec), len(batches), examples, int(seen.sum()),
                          loss_sum / len(batches), layers, params_out)


def cell_name(spec: ModelSpec) -> str:
    return f"rnn-{spec.activation}" if spec.cell == "rnn" else spec.cell


def probe_batches(task: str, data: Dataset, batch_size: int, num_batches: int, bptt: int = 100) -> list:
    """The first ``num_batches`` batches of ``data`` in file order (no shuffling)."""
    return task_of(task).batches(data, batch_size, bptt=bptt)[:num_batches]


def check_vocabulary_overlap(data: Dataset, path: str) -> None:
    """A token model fed data in which no token is known was given the wrong file."""
    if data.feature_dim or data.stream is not None and len(data.stream) == 0:
        return
    ids = data.stream if data.stream is not None else [i for seq in data.ids for i in seq]
    if len(ids) and not any(i > 1 for i in ids):
        raise DataError(f"{path}: none of its tokens is in the model's vocabulary, so it cannot be data for this model.",
                        hint="pass the kind of data the model was trained on (its data.train file is an example).")


@dataclass
class Probe:
    """What a diagnostic measures: a model's weights and the batches to run it on."""

    params: dict
    spec: ModelSpec
    batches: list
    source: str  # "configs/x.yaml at initialisation (seed 0)" or "runs/x (trained, 8 epochs)"
    data: str


def one_stack(task: str, source, command: str) -> None:
    """Diagnostics measure the sequence model; say so before any data is read for another one."""
    if task_of(task).architecture != "sequence":
        raise UsageError(f"{source} describes a {task} model; {command} measures one recurrent stack that reads "
                         f"the input, and a {task} model is built otherwise.",
                         hint="use `rnn gradcheck --config FILE` to check its gradients.")


def probe_config(cfg, data: str | None = None, num_batches: int = 1, batch_size: int | None = None,
                 command: str = "grad-norms") -> Probe:
    """The model ``cfg`` describes, at initialisation (train.seed), on ``data`` (default data.train)."""
    one_stack(cfg.task, cfg.source, command)
    prepared = prepare(cfg)
    if data is None:
        dataset, data = prepared.train, cfg.data.train
    else:
        task = task_of(cfg.task)
        dataset = task.encode(cfg, task.read(cfg, data), prepared.vocab, prepared.labels, data,
                              prepared.spec.feature_dim or None, prepared.word_features)
        check_vocabulary_overlap(dataset, data)
    batches = probe_batches(cfg.task, dataset, batch_size or cfg.train.batch_size, num_batches, cfg.train.bptt)
    return Probe(initial_params(cfg, prepared.spec, prepared), prepared.spec, batches,
                 f"{cfg.source} at initialisation (seed {cfg.train.seed})", data)


def probe_run(run, data: str | None = None, num_batches: int = 1, batch_size: int | None = None,
              command: str = "grad-norms") -> Probe:
    """A trained run (:class:`rnncli.rundir.Run`) on ``data`` (default: its data.train)."""
    one_stack(run.spec.task, run.path, command)
    cfg = run.config
    if data is None:
        data = cfg.data.train
        if not data:
            raise DataError(f"{run.path}'s config names no training data.", hint="pass --data FILE.")
    dataset = run.encode(task_of(cfg.task).read(cfg, data), data)
    check_vocabulary_overlap(dataset, data)
    batches = probe_batches(cfg.task, dataset, batch_size or cfg.train.batch_size, num_batches, cfg.train.bptt)
    return Probe(run.params, run.spec, batches, f"{run.path} (trained, {run.meta.get('epochs_done')} epochs)", data)


def measure(probe: Probe) -> GradNormReport:
    """:func:`grad_norms` of a probe."""
    return grad_norms(probe.params, probe.spec, probe.batches, probe.source, probe.data)


# -------------------------------------------------------------------------- history


@dataclass
class GradNormHistory:
    """The per-epoch records ``rnn train --grad-norms`` wrote to metrics.jsonl."""

    run: str
    epochs: list[dict]  # {"epoch", "train_loss", "grad_norms": {...}}

    def to_dict(self) -> dict:
        return {"run": self.run, "epochs": self.epochs}

    def csv_rows(self) -> list[dict]:
        rows = []
        for e in self.epochs:
            for layer in e["grad_norms"]["layers"]:
                for i, h in enumerate(layer["h"]):
                    rows.append({"epoch": e["epoch"], "t": i + 1, "layer": layer["layer"],
                                 "direction": layer["direction"], "h_norm": h,
                                 "c_norm": layer["c"][i] if "c" in layer else ""})
        return rows


def history(run_dir: str | Path) -> GradNormHistory:
    """Read the grad-norm records of a run's metrics.jsonl."""
    epochs = [{"epoch": rec.get("epoch"), "train_loss": rec.get("train_loss"), "grad_norms": rec["grad_norms"]}
              for rec in RunDir(run_dir).read_metrics() if isinstance(rec, dict) and "grad_norms" in rec]
    if not epochs:
        raise RunError(
            f"{run_dir} recorded no gradient norms during training.",
            hint="train with `rnn train --config FILE --grad-norms` (or train.log_grad_norms: true), "
            "or measure the trained model now with `rnn grad-norms --model RUN`.",
        )
    return GradNormHistory(str(run_dir), epochs)


# ------------------------------------------------------------------------ heatmaps


def log_grid(series: list[list[float]], width: int = 60) -> tuple[list[list[float | None]], list[int]]:
    """log10 of each series, averaged into at most ``width`` columns of equal spans of t.

    Returns (grid, first position of each column, 1-based). Zeros and non-finite values are None.
    """
    T = max((len(s) for s in series), default=0)
    cols = max(1, min(width, T))
    edges = np.linspace(0, T, cols + 1).round().astype(int)
    grid = []
    for s in series:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.asarray(s, dtype=np.float64))
        row = []
        for a, b in zip(edges[:-1], edges[1:]):
            chunk = logs[a:b]
            chunk = chunk[np.isfinite(chunk)]
            row.append(float(chunk.mean()) if chunk.size else None)
        grid.append(row)
    return grid, [int(a) + 1 for a in edges[:-1]]
