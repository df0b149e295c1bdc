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


DROPOUTS = (("dropout", "dropout"), ("input-dropout", "input_dropout"), ("output-dropout", "output_dropout"),
            ("word-dropout", "word_dropout"))


def _regularised(spec: ModelSpec) -> list[str]:
    """The case-name words of a model's dropouts: one word when every dropout is on at the same rate."""
    rates = [getattr(spec, field) for _, field in DROPOUTS]
    if rates[0] and len(set(rates)) == 1:
        words = [f"every-dropout-{rates[0]:g}"]
    else:
        words = [f"{name}-{rate:g}" for (name, _), rate in zip(DROPOUTS, rates) if rate]
    return words + (["variational"] if spec.variational else [])


def case_name(spec: ModelSpec, padded: bool, teacher_forcing: float = 1.0) -> str:
    act = f"-{spec.activation}" if spec.cell == "rnn" else ""
    direction = "bi" if spec.bidirectional else "uni"
    if spec.architecture == "encoder_decoder":
        extras = (["attention"] if spec.attention else []) + (
            [f"teacher-forcing-{teacher_forcing:g}"] if teacher_forcing < 1 else [])
        return " ".join([spec.task, f"{spec.cell}{act}", f"{direction}-encoder", f"L{spec.num_layers}",
                         "padded" if padded else "unpadded", *extras, *_regularised(spec)])
    extras = [f"pool-{spec.pooling}"] if spec.pooling != "last" else []
    extras += ["h0"] if spec.learn_h0 else []
    extras += _regularised(spec)
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
        if spec.word_features:  # (N, T, 1 + K [+ L]): the word, then each feature's id [, its characters' ids]
            columns = [ids] + [rng.integers(1, size, size=(N, T)) for _, size in spec.table_features]
            if spec.char_vocab_size:  # words of 1 to 4 characters
                chars = rng.integers(1, spec.char_vocab_size, size=(4, N, T))
                columns += list(chars * (np.arange(4)[:, None, None] < rng.integers(1, 5, size=(N, T))))
            ids = np.stack(columns, axis=-1)
        ids[~mask] = 0
    task = task_of(spec.task)
    return task.random_inputs(spec, rng, ids), mask, task.random_targets(spec, rng, mask, padded)


def check_case(spec: ModelSpec, padded: bool, seed: int = 0, max_entries: int | None = None,
               tolerance: float = DEFAULT_TOLERANCE, teacher_forcing: float = 1.0,
               label_smoothing: float = 0.0, adversarial: float = 0.0) -> CaseResult:
    """One model against finite differences; ``label_smoothing`` is train.label_smoothing's ε, ``adversarial``
    train.adversarial's: the objective is then L(x) + L(x + r), with the analytic pass's r held constant."""
    smoothing = {"label_smoothing": label_smoothing} if label_smoothing else {}
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
    random = spec.stochastic or teacher_forcing < 1
    dropout = (lambda: np.random.default_rng(seed + 1)) if random else (lambda: None)
    _, grads, _, cache = loss_and_grads(params, spec, ids, mask, targets, dropout_rng=dropout(),
                                        teacher_forcing=teacher_forcing, adversarial=adversarial, **smoothing)

    def loss() -> float:  # with the pass above's sampled decoder inputs (seq2seq), not new argmaxes
        value = model_for(spec).loss(params, spec, ids, mask, targets, dropout(), teacher_forcing, cache, **smoothing)
        if adversarial:
            value += model_for(spec).loss(params, spec, ids, mask, targets, dropout(), perturb=cache.adversarial,
                                          **smoothing)
        return value

    worst, worst_name, checked = 0.0, "", 0
    for name, p in params.items():
        idx, numeric = numeric_grad(loss, p, max_entries=max_entries, rng=rng)
        err = rel_error(grads[name].reshape(-1)[idx], numeric)
        checked += idx.size
        if err >= worst:
            worst, worst_name = err, name
    name = case_name(spec, padded, teacher_forcing) + (f" label-smoothing-{label_smoothing:g}" if label_smoothing else "") \
        + (f" adversarial-{adversarial:g}" if adversarial else "")
    return CaseResult(name, worst, worst_name, checked, worst <= tolerance)


def check_spec_from_config(spec: ModelSpec, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE,
                           label_smoothing: float = 0.0, adversarial: float = 0.0) -> list[CaseResult]:
    """The config's own architecture at its own sizes (up to 50 sampled entries per tensor), padded and not,
    with its dropouts, its train.label_smoothing and its train.adversarial."""
    return [check_case(spec, padded, seed, max_entries=50, tolerance=tolerance, label_smoothing=label_smoothing,
                       adversarial=adversarial)
            for padded in (True, False)]
