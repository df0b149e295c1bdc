"""Numerically stable elementwise functions.

    sigmoid(x)     = 1 / (1 + e^-x)      computed as (1 + tanh(x/2)) / 2, which never overflows
    log_sigmoid(x) = -softplus(-x)       = min(x, 0) - log1p(e^-|x|)
    log_softmax(x) = x - max(x) - log Σ e^(x - max(x))   along the last axis
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function; exact identity σ(x) = (1 + tanh(x/2)) / 2 avoids exp overflow."""
    out = np.multiply(x, 0.5)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


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
