"""Losses, each returning (mean loss, ∂loss/∂input). Weights w (0/1 masks) select terms.

Binary cross-entropy on logits z, targets y ∈ {0, 1}, positive weight p (PyTorch's pos_weight, 1 by default):
    ℓ = -[p y log σ(z) + (1-y) log(1-σ(z))],                       ∂ℓ/∂z = σ(z) (1 - y + p y) - p y
Softmax cross-entropy on logits z (…, C), integer targets y:
    ℓ = -log softmax(z)_y,                                         ∂ℓ/∂z = softmax(z) - onehot(y)
Mean squared error on predictions z, real targets y:
    ℓ = (z - y)²,                                                  ∂ℓ/∂z = 2 (z - y)
The mean is Σ w ℓ / Σ w: with 0/1 masks, the mean over the terms counted; with class weights
w = weight[y] · mask, PyTorch's weighted mean (``CrossEntropyLoss(weight=...)``).

Label smoothing ε (Szegedy et al. 2016; PyTorch's ``label_smoothing``) replaces onehot(y) by
q = (1 - ε) onehot(y) + ε/C:
    ℓ = -Σ_c q_c log softmax(z)_c,                                 ∂ℓ/∂z = softmax(z) - q
and for one sigmoid output (two classes) y by (1 - ε) y + ε/2, the same distribution.
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.functional import log_sigmoid, log_softmax, sigmoid


def _weights(shape, w, dtype):
    w = np.ones(shape, dtype=dtype) if w is None else w.astype(dtype)
    total = float(w.sum())
    return w, total if total > 0 else 1.0


def bce_with_logits(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, pos_weight: float = 1.0,
                    smoothing: float = 0.0):
    """z, y, w of the same shape; returns (loss, dz)."""
    w, count = _weights(z.shape, w, z.dtype)
    y = y.astype(z.dtype)
    if smoothing:
        y = y * z.dtype.type(1.0 - smoothing) + z.dtype.type(smoothing / 2)
    if pos_weight == 1.0:  # the plain form, bit for bit as before pos_weight existed
        per = -(y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z))
        dz = (sigmoid(z) - y) * w / count
    else:
        p = z.dtype.type(pos_weight)
        per = -(p * y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z))
        dz = (sigmoid(z) * (1.0 - y + p * y) - p * y) * w / count
    loss = float((w * per).sum() / count)
    return loss, dz


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, smoothing: float = 0.0):
    """z (..., C) logits, y (...) int targets, w (...) weights, smoothing ε; returns (loss, dz)."""
    w, count = _weights(y.shape, w, z.dtype)
    idx = y[..., None].astype(np.int64)
    logp = log_softmax(z)
    nll = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
    dz = np.exp(logp)  # softmax(z)
    if smoothing:  # ℓ = (1 - ε) nll + ε · mean_c(-log p_c)
        C = z.shape[-1]
        nll = (1.0 - smoothing) * nll - (smoothing / C) * logp.sum(axis=-1)
        dz -= z.dtype.type(smoothing / C)
        np.put_along_axis(dz, idx, np.take_along_axis(dz, idx, axis=-1) - z.dtype.type(1.0 - smoothing), axis=-1)
    else:
        np.put_along_axis(dz, idx, np.take_along_axis(dz, idx, axis=-1) - 1.0, axis=-1)  # - onehot(y)
    loss = float((w * nll).sum() / count)
    dz *= (w / count)[..., None]
    return loss, dz


def mean_squared_error(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """z, y, w of the same shape; returns (loss, dz)."""
    w, count = _weights(z.shape, w, z.dtype)
    diff = z - y.astype(z.dtype)
    loss = float((w * diff * diff).sum() / count)
    return loss, 2.0 * diff * w / count
