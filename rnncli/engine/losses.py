"""Losses, each returning (mean loss, ∂loss/∂input). Weights w (0/1 masks) select terms.

Binary cross-entropy on logits z, targets y ∈ {0, 1}:
    ℓ = -[y log σ(z) + (1-y) log(1-σ(z))] = softplus(z) - y z,     ∂ℓ/∂z = σ(z) - y
Softmax cross-entropy on logits z (…, C), integer targets y:
    ℓ = -log softmax(z)_y,                                         ∂ℓ/∂z = softmax(z) - onehot(y)
Mean squared error on predictions z, real targets y:
    ℓ = (z - y)²,                                                  ∂ℓ/∂z = 2 (z - y)
The mean is Σ w ℓ / Σ w (Σ w = number of terms counted).
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.functional import log_sigmoid, log_softmax, sigmoid


def _weights(shape, w, dtype):
    w = np.ones(shape, dtype=dtype) if w is None else w.astype(dtype)
    return w, max(float(w.sum()), 1.0)


def bce_with_logits(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """z, y, w of the same shape; returns (loss, dz)."""
    w, count = _weights(z.shape, w, z.dtype)
    y = y.astype(z.dtype)
    per = -(y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z))
    loss = float((w * per).sum() / count)
    dz = (sigmoid(z) - y) * w / count
    return loss, dz


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """z (..., C) logits, y (...) int targets, w (...) weights; returns (loss, dz)."""
    w, count = _weights(y.shape, w, z.dtype)
    idx = y[..., None].astype(np.int64)
    logp = log_softmax(z)
    loss = float(-(w * np.take_along_axis(logp, idx, axis=-1)[..., 0]).sum() / count)
    dz = np.exp(logp)  # softmax(z)
    np.put_along_axis(dz, idx, np.take_along_axis(dz, idx, axis=-1) - 1.0, axis=-1)  # - onehot(y)
    dz *= (w / count)[..., None]
    return loss, dz


def mean_squared_error(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """z, y, w of the same shape; returns (loss, dz)."""
    w, count = _weights(z.shape, w, z.dtype)
    diff = z - y.astype(z.dtype)
    loss = float((w * diff * diff).sum() / count)
    return loss, 2.0 * diff * w / count
