"""``rnn gradcheck``: analytic gradients against centred finite differences, in float64.

For every case a small random model and a random padded (or unpadded) batch are built;
for every parameter tensor the analytic gradient from BPTT is compared with
(L(θ+h) - L(θ-h)) / 2h, and the error is reported as max|a - n| / max(|a|, |n|)
over the tensor (see ``engine/gradcheck.py``). A case fails above the tolerance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from rnncli.engine.gradcheck import numeric_grad, rel_error
from rnncli.model import ModelSpec, forward, init_params, loss_and_grads, loss_from_logits

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


def case_name(spec: ModelSpec, padded: bool) -> str:
    act = f"-{spec.activation}" if spec.cell == "rnn" else ""
    direction = "bi" if spec.bidirectional else "uni"
    return (f"{spec.cell}{act} {direction} L{spec.num_layers} {spec.input} "
            f"C{spec.num_classes} {'padded' if padded else 'unpadded'}")


def default_cases() -> list[tuple[ModelSpec, bool]]:
    """Every cell × direction × {1, 2} layers × {padded, unpadded}, with both inputs and heads covered."""
    cases = []
    cells = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
    for (cell, act), bi, layers, padded in itertools.product(cells, [False, True], [1, 2], [True, False]):
        # alternate input encodings and heads so both appear with every cell
        onehot = (layers + padded) % 2 == 0
        classes = 3 if bi == padded else 2
        spec = ModelSpec(vocab_size=8, num_classes=classes, cell=cell, activation=act,
                         input="onehot" if onehot else "embedding", embedding_dim=3, hidden_size=3,
                         num_layers=layers, bidirectional=bi)
        cases.append((spec, padded))
    return cases


def random_batch(spec: ModelSpec, rng: np.random.Generator, N: int = 3, T: int = 5, padded: bool = True):
    """Token ids (N, T), mask (N, T) and class targets (N,); padded rows have lengths T, …, 1."""
    lengths = np.linspace(T, 1, N).round().astype(int) if padded else np.full(N, T)
    mask = np.arange(T)[None, :] < lengths[:, None]
    ids = rng.integers(1, spec.vocab_size, size=(N, T))  # includes <unk> = 1
    ids[~mask] = 0
    return ids, mask, rng.integers(0, spec.num_classes, size=N)


def check_case(spec: ModelSpec, padded: bool, seed: int = 0, max_entries: int | None = None,
               tolerance: float = DEFAULT_TOLERANCE) -> CaseResult:
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, np.float64)
    ids, mask, targets = random_batch(spec, rng, padded=padded)
    _, grads, _ = loss_and_grads(params, spec, ids, mask, targets)

    def loss() -> float:
        logits, _ = forward(params, spec, ids, mask)
        return loss_from_logits(logits, targets, spec)[0]

    worst, worst_name, checked = 0.0, "", 0
    for name, p in params.items():
        idx, numeric = numeric_grad(loss, p, max_entries=max_entries, rng=rng)
        err = rel_error(grads[name].reshape(-1)[idx], numeric)
        checked += idx.size
        if err >= worst:
            worst, worst_name = err, name
    return CaseResult(case_name(spec, padded), worst, worst_name, checked, worst <= tolerance)


def check_spec_from_config(spec: ModelSpec, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE) -> list[CaseResult]:
    """The config's own architecture at its own sizes (up to 50 sampled entries per tensor), padded and not."""
    return [check_case(spec, padded, seed, max_entries=50, tolerance=tolerance) for padded in (True, False)]
