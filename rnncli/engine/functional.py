"""Numerically stable elementwise functions.

    sigmoid(x)     = 1 / (1 + e^-x)      e^-x may overflow to inf for x ≪ 0, and 1/inf = 0 is the right limit
    log_sigmoid(x) = -softplus(-x)       = min(x, 0) - log1p(e^-|x|)
    log_softmax(x) = x - max(x) - log Σ e^(x - max(x))   along the last axis
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function, into ``out`` when given (``out`` may be ``x`` itself).

    Computed from e^-x rather than from the identity (1 + tanh(x/2)) / 2: NumPy's exp is
    vectorised where its float32 tanh is not (benchmarks/README.md compares them), and
    1 / (1 + e^-x) keeps full relative precision for x ≪ 0, where the tanh form rounds to 0.
    """
    with np.errstate(over="ignore"):  # e^-x = inf for x < -88 (float32): σ = 1/inf = 0, exactly the limit
        return sigmoid_unguarded(x, out)


def sigmoid_unguarded(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`sigmoid`'s arithmetic (the same bits) without its ``np.errstate``, whose entry and exit cost
    about as much as the four ufunc calls on a small array: for a loop that ignores overflow once for all
    its steps (the forward-only time loop)."""
    out = np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) without overflow for large |x|."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log softmax along the last axis."""
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """softmax along the last axis."""
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)
