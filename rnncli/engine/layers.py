"""Feed-forward layers around the recurrent stack.

Embedding   X = E[ids]              E (V, D), ids (N, T) int  ->  X (N, T, D)
            dE[v] = Σ_{(n,t): ids[n,t]=v} dX[n, t]
Linear      Y = X W^T + b           W (O, F), b (O,), X (..., F)  ->  Y (..., O)
Dropout     Y = X ⊙ keep / (1 - p)   keep ~ Bernoulli(1 - p), training only (inverted: nothing to undo
            at evaluation); dX = dY ⊙ keep / (1 - p)
Word dropout  each real token id becomes <unk> with probability p, training only (no gradient: ids)
"""

from __future__ import annotations

import numpy as np

SCATTER_ROWS = 256  # rows gathered at a time by embedding_backward: a small transient copy, not all of dX


def embedding_forward(E: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return E[ids]


def embedding_backward(dX: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Scatter-add rows of dX into a (V, D) gradient; repeated ids accumulate.

    The ids are sorted (stably) so that equal ids form runs. A run of one row is copied;
    longer runs are summed by ``np.add.reduceat``, in order. Same sums as ``np.add.at``, and faster:
    ``reduceat`` pays per run, and most runs in a batch are single tokens.
    """
    D = dX.shape[-1]
    dE = np.zeros((vocab_size, D), dtype=dX.dtype)
    flat_ids = ids.reshape(-1)
    if not flat_ids.size:
        return dE
    order = np.argsort(flat_ids, kind="stable")
    sorted_ids = flat_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    lengths = np.diff(np.r_[starts, sorted_ids.size])
    rows = dX.reshape(-1, D)
    single = lengths == 1
    single_ids, single_rows = sorted_ids[starts[single]], order[starts[single]]
    for s in range(0, single_ids.size, SCATTER_ROWS):  # in slices: the gathered rows are a copy
        dE[single_ids[s : s + SCATTER_ROWS]] = rows[single_rows[s : s + SCATTER_ROWS]]
    if not single.all():
        in_runs = np.repeat(~single, lengths)  # the sorted positions that belong to longer runs
        multi_order = order[in_runs]
        multi_starts = np.r_[0, np.cumsum(lengths[~single])[:-1]]
        dE[sorted_ids[starts[~single]]] = np.add.reduceat(rows[multi_order], multi_starts, axis=0)
    return dE


def sum_rows_by_id(rows: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """out[v] = Σ_{i: ids[i] = v} rows[i] for rows (M, F), ids (M,) → (size, F), for ids that repeat
    often (a few distinct ids over many rows, e.g. characters): one sort, then each id's rows
    gathered and summed in turn, so the transient copy is one id's rows, never all of them."""
    out = np.zeros((size, rows.shape[1]), dtype=rows.dtype)
    if not ids.size:
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], ids.size]):
        np.sum(rows[order[a:b]], axis=0, out=out[sorted_ids[a]])
    return out


def linear_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Any leading axes, computed as one 2-D GEMM (NumPy's stacked matmul is much slower)."""
    Y = np.dot(X.reshape(-1, W.shape[1]), W.T)
    Y += b
    return Y.reshape(*X.shape[:-1], W.shape[0])


def linear_backward(dY: np.ndarray, X: np.ndarray, W: np.ndarray):
    """Returns dX, dW, db for Y = X W^T + b (any leading axes)."""
    O, F = W.shape
    dY2 = dY.reshape(-1, O)
    dW = np.dot(dY2.T, X.reshape(-1, F))
    db = dY2.sum(axis=0)
    return np.dot(dY2, W).reshape(X.shape), dW, db


def dropout_mask(rng: np.random.Generator, shape: tuple, p: float, dtype, variational: bool = False) -> np.ndarray:
    """The multiplier keep / (1 - p) of inverted dropout for an array of ``shape``.

    variational: for (N, T, F) sequences, one mask per sequence and feature, (N, 1, F), which
    broadcasts over the T timesteps (Gal & Ghahramani 2016); an (N, F) array has no time axis,
    and its mask is the same either way.
    """
    dtype = np.dtype(dtype)
    draw = (shape[0], 1, shape[2]) if variational and len(shape) == 3 else shape
    return (rng.random(draw) >= p).astype(dtype) / dtype.type(1.0 - p)


def word_dropout(ids: np.ndarray, p: float, rng: np.random.Generator, unk: int = 1, first: int = 2) -> np.ndarray:
    """A copy of ``ids`` in which each id ≥ ``first`` (a real token: not <pad>, <unk> or another special
    below it) becomes ``unk`` with probability p; padding and specials are never touched."""
    drop = (rng.random(ids.shape) < p) & (ids >= first)
    return np.where(drop, unk, ids)


def adversarial_perturbation(d_x: np.ndarray, mask: np.ndarray, eps: float) -> np.ndarray:
    """Miyato et al. (2017)'s adversarial perturbation of each sequence's input x (N, T, D):

        r_n = ε g_n / ‖g_n‖₂,    g_n = ∂L/∂x_n over the real steps of sequence n (0 at padding)

    the first-order direction that raises the loss most for a perturbation of norm ε. A sequence whose
    gradient is 0 gets r = 0. g is first divided by its largest entry, so that squaring tiny float32
    gradients cannot underflow to a zero norm."""
    g = d_x * mask[:, :, None]
    peak = np.abs(g).max(axis=(1, 2), keepdims=True)
    g = np.divide(g, peak, out=np.zeros_like(g), where=peak > 0)
    norm = np.sqrt(np.einsum("ntd,ntd->n", g, g))[:, None, None]
    return g * np.divide(g.dtype.type(eps), norm, out=np.zeros_like(norm), where=norm > 0)


def output_dropout(features: np.ndarray, spec, rng: np.random.Generator | None):
    """The head's input after ``spec.output_dropout`` (training only: ``rng`` given), and the multiplier
    (None when nothing was dropped): (features ⊙ keep, keep)."""
    if rng is None or not spec.output_dropout:
        return features, None
    keep = dropout_mask(rng, features.shape, spec.output_dropout, features.dtype, spec.variational)
    return features * keep, keep
