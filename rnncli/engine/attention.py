"""Additive (Bahdanau) attention of decoder states over encoder outputs, with masking.

Shapes: N batch, M decoder steps, S source steps, F encoder output size (H · directions),
H decoder hidden size, A attention size. For decoder outputs h (N, M, H), encoder outputs
Y (N, S, F) and the source mask m (N, S):

    K      = Y W_kᵀ                              (N, S, A)   keys, computed once per batch
    Q      = h W_qᵀ                              (N, M, A)   queries
    E      = tanh(Q[:, :, None] + K[:, None] + b)  (N, M, S, A)
    e      = E v                                  (N, M, S)   scores
    α      = softmax over s of e, where m = 0 → α = 0          (N, M, S)
    c      = α Y                                  (N, M, F)   context vectors

The scores are Bahdanau et al. (2015)'s; they are computed from the decoder's output at
step t (Luong et al. 2015's placement), so the decoder itself still runs as one masked
time loop and the context only feeds the output layer. Parameters: ``attn.W_q`` (A, H),
``attn.W_k`` (A, F), ``attn.b`` (A,), ``attn.v`` (A,).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def keys_forward(Y: np.ndarray, W_k: np.ndarray) -> np.ndarray:
    """K = Y W_kᵀ: (N, S, F) → (N, S, A), one 2-D GEMM."""
    N, S, F = Y.shape
    return np.dot(Y.reshape(N * S, F), W_k.T).reshape(N, S, -1)


def keys_backward(dK: np.ndarray, Y: np.ndarray, W_k: np.ndarray):
    """Gradients of K = Y W_kᵀ: returns dY, dW_k."""
    N, S, A = dK.shape
    dK2 = dK.reshape(N * S, A)
    return np.dot(dK2, W_k).reshape(Y.shape), np.dot(dK2.T, Y.reshape(N * S, -1))


class AttentionCache(NamedTuple):
    h: np.ndarray  # (N, M, H) queries' source
    E: np.ndarray  # (N, M, S, A) tanh activations
    alpha: np.ndarray  # (N, M, S) weights


def attention_forward(h, K, Y, src_mask, W_q, b, v):
    """Context vectors c (N, M, F) and weights α (N, M, S) for decoder outputs h (N, M, H)."""
    N, M, H = h.shape
    Q = np.dot(h.reshape(N * M, H), W_q.T).reshape(N, M, -1)
    E = np.tanh(Q[:, :, None, :] + K[:, None, :, :] + b)
    e = E @ v  # (N, M, S)
    e = np.where(src_mask[:, None, :], e, -np.inf)
    e = e - e.max(axis=2, keepdims=True)
    alpha = np.exp(e)
    alpha /= alpha.sum(axis=2, keepdims=True)
    c = alpha @ Y  # (N, M, S) @ (N, S, F)
    return c, AttentionCache(h, E, alpha)


def attention_backward(dc, cache: AttentionCache, Y, W_q, v):
    """Backward of :func:`attention_forward`.

    Returns dh (N, M, H), dK (N, S, A), dY (N, S, F) (the part through c only), dW_q, db, dv.
    """
    h, E, alpha = cache
    N, M, H = h.shape
    # c = α Y
    d_alpha = dc @ Y.transpose(0, 2, 1)  # (N, M, S)
    dY = alpha.transpose(0, 2, 1) @ dc  # (N, S, F)
    # α = softmax(e): de = α ⊙ (dα - Σ_s α dα); masked positions have α = 0, so de = 0 there
    de = alpha * (d_alpha - (alpha * d_alpha).sum(axis=2, keepdims=True))
    # e = E v
    dv = np.einsum("nms,nmsa->a", de, E)
    # E = tanh(Q + K + b)
    d_pre = de[..., None] * v * (1.0 - E * E)  # (N, M, S, A)
    db = d_pre.sum(axis=(0, 1, 2))
    dQ = d_pre.sum(axis=2)  # (N, M, A)
    dK = d_pre.sum(axis=1)  # (N, S, A)
    # Q = h W_qᵀ
    A = dQ.shape[-1]
    dQ2 = dQ.reshape(N * M, A)
    dh = np.dot(dQ2, W_q).reshape(N, M, H)
    dW_q = np.dot(dQ2.T, h.reshape(N * M, H))
    return dh, dK, dY, dW_q, db, dv
