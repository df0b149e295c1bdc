"""Feed-forward layers around the recurrent stack.

Embedding   X = E[ids]              E (V, D), ids (N, T) int  ->  X (N, T, D)
            dE[v] = Σ_{(n,t): ids[n,t]=v} dX[n, t]
Linear      Y = X W^T + b           W (O, F), b (O,), X (..., F)  ->  Y (..., O)
"""

from __future__ import annotations

import numpy as np


def embedding_forward(E: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return E[ids]


def embedding_backward(dX: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Scatter-add rows of dX into a (V, D) gradient; repeated ids accumulate."""
    D = dX.shape[-1]
    dE = np.zeros((vocab_size, D), dtype=dX.dtype)
    np.add.at(dE, ids.reshape(-1), dX.reshape(-1, D))
    return dE


def linear_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return X @ W.T + b


def linear_backward(dY: np.ndarray, X: np.ndarray, W: np.ndarray):
    """Returns dX, dW, db for Y = X W^T + b (any leading axes)."""
    O, F = W.shape
    dY2 = dY.reshape(-1, O)
    dW = dY2.T @ X.reshape(-1, F)
    db = dY2.sum(axis=0)
    return dY @ W, dW, db
