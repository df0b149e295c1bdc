"""``rnn gradcheck``: analytic gradients against centred finite differences, in float64.

For every case a small random model and a random padded (or unpadded) batch are built;
for every parameter tensor the analytic gradient from BPTT is compared with
(L(θ+h) - L(θ-h)) / 2h, and the error is reported as max|a - n| / max(|a|, |n|)
over the tensor (see ``engine/gradcheck.py``). A case fails above the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.gradcheck import numeric_grad, rel_error
from rnncli.models import ModelSpec, init_params, loss_and_grads, model_for
from rnncli.tasks import CELLS, TASKS, task_of

DEFAULT_TOLERANCE = 1e-5


@dataclass
class CaseResult:
    case: str
    max_rel_error: float
    worst_param: str
    checked: int  # number of parameter entries compared
    passed: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def case_name(spec: ModelSpec, padded: bool, teacher_forcing: float = 1.0) -> str:
    act = f"-{spec.activation}" if spec.cell == "rnn" else ""
    direction = "bi" if spec.bidirectional else "uni"
    if spec.architecture == "encoder_decoder":
        extras = (["attention"] if spec.attention else []) + (
            [f"teacher-forcing-{teacher_forcing:g}"] if teacher_forcing < 1 else [])
        return " ".join([spec.task, f"{spec.cell}{act}", f"{direction}-encoder", f"L{spec.num_layers}",
                         "padded" if padded else "unpadded", *extras])
    extras = [f"pool-{spec.pooling}"] if spec.pooling != "last" else []
    extras += ["h0"] if spec.learn_h0 else []
    extras += [f"dropout-{spec.dropout:g}"] if spec.dropout else []
    extras += ["+".join(name for name, _ in spec.word_features)] if spec.word_features else []
    extras += ["feed-condition"] if spec.feed_condition else []
    return " ".join([spec.task, f"{spec.cell}{act}", direction, f"L{spec.num_layers}", spec.input,
                     "padded" if padded else "unpadded", *extras])


def default_cases() -> list[tuple[ModelSpec, bool]]:
    """Every task's cases (:meth:`rnncli.tasks.Task.gradcheck_cases`): first each task's matrix (task ×
    cell × direction × {1, 2} layers × {padded, unpadded}), then each task's own additions (pooling,
    learned initial state and dropout; real-valued features; word features; the encoder–decoder)."""
    matrices, additions = [], []
    for task in TASKS.values():
        matrix, extra = task.gradcheck_cases(CELLS)
        matrices += matrix
        additions += extra
    return matrices + additions


def sampling_cases() -> list[tuple[ModelSpec, bool, float]]:
    """Cases that sample inputs during the forward pass (seq2seq's decoder fed its own predictions):
    (spec, padded, teacher_forcing)."""
    return [case for task in TASKS.values() for case in task.gradcheck_sampling_cases(CELLS)]


def random_batch(spec: ModelSpec, rng: np.random.Generator, N: int = 3, T: int = 5, padded: bool = True):
    """Token ids (N, T) (features (N, T, D) for input "features"), mask (N, T) and targets of the task's
    shape (:meth:`rnncli.tasks.Task.random_targets`); padded rows have lengths T, …, 1."""
    lengths = np.linspace(T, 1, N).round().astype(int) if padded else np.full(N, T)
    mask = np.arange(T)[None, :] < lengths[:, None]
    if spec.input == "features":  # real-valued inputs, 0 at padding
        ids = rng.standard_normal((N, T, spec.feature_dim)) * mask[:, :, None]
    else:
        ids = rng.integers(1, spec.vocab_size, size=(N, T))  # includes <unk> = 1
        if spec.word_features:  # (N, T, 1 + K): the word, then each feature's id
            ids = np.stack([ids] + [rng.integers(1, size, size=(N, T)) for _, size in spec.word_features], axis=-1)
        ids[~mask] = 0
    task = task_of(spec.task)
    return task.random_inputs(spec, rng, ids), mask, task.random_targets(spec, rng, mask, padded)


def check_case(spec: ModelSpec, padded: bool, seed: int = 0, max_entries: int | None = None,
               tolerance: float = DEFAULT_TOLERANCE, teacher_forcing: float = 1.0) -> CaseResult:
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, np.float64)
    for name, p in params.items():
        if name.endswith(("h0", "c0")):  # start learned states away from 0
            params[name] = rng.standard_normal(p.shape)
        elif spec.architecture == "encoder_decoder":
            # larger weights than the initialisation's, whose nearly uniform attention has gradients near
            # the finite differences' rounding noise; at most 2/√fan_in, so that large models do not saturate
            params[name] = rng.standard_normal(p.shape) * min(1.0, 2.0 / np.sqrt(p.shape[-1]))
    ids, mask, targets = random_batch(spec, rng, padded=padded)
    # Dropout (and sampled decoder inputs) draw the same masks and choices in every evaluation:
    # a fresh generator with one seed.
    random = spec.dropout or teacher_forcing < 1
    dropout = (lambda: np.random.default_rng(seed + 1)) if random else (lambda: None)
    _, grads, _, cache = loss_and_grads(params, spec, ids, mask, targets, dropout_rng=dropout(),
                                        teacher_forcing=teacher_forcing)

    def loss() -> float:  # with the pass above's sampled decoder inputs (seq2seq), not new argmaxes
        return model_for(spec).loss(params, spec, ids, mask, targets, dropout(), teacher_forcing, cache)

    worst, worst_name, checked = 0.0, "", 0
    for name, p in params.items():
        idx, numeric = numeric_grad(loss, p, max_entries=max_entries, rng=rng)
        err = rel_error(grads[name].reshape(-1)[idx], numeric)
        checked += idx.size
        if err >= worst:
            worst, worst_name = err, name
    return CaseResult(case_name(spec, padded, teacher_forcing), worst, worst_name, checked, worst <= tolerance)


def check_spec_from_config(spec: ModelSpec, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE) -> list[CaseResult]:
    """The config's own architecture at its own sizes (up to 50 sampled entries per tensor), padded and not."""
    return [check_case(spec, padded, seed, max_entries=50, tolerance=tolerance) for padded in (True, False)]
