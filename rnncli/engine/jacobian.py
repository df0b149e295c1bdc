"""State Jacobians of the cells, and the Lyapunov spectrum of their products along a trajectory.

BPTT multiplies the gradient by one Jacobian per step, ∂L/∂s_{t-1} = J_tᵀ ∂L/∂s_t, with

    J_t = ∂s_t/∂s_{t-1}    (S, S): the state s is h (S = H) for RNN and GRU, (h, c) (S = 2H) for LSTM,

so ‖∂L/∂s_t‖ over a span of τ steps scales like the singular values of J_{t+τ} ⋯ J_{t+1}. Closed forms,
from a step's cache (``cells.py``; W_g is gate g's (H, H) block of W_hh, d_x a diagonal matrix, σ' = σ(1 − σ)):

RNN   J = d_φ'(a_t) W_hh,  φ'(a) = 1 − h_t² (tanh) or [a > 0] (relu)
LSTM  ∂c_t/∂h = d_(c_{t-1} σ'_f) W_f + d_(g σ'_i) W_i + d_(i (1 − g²)) W_g;   ∂c_t/∂c = d_f
      ∂h_t/∂h = d_(tanh c_t σ'_o) W_o + d_(o (1 − tanh² c_t)) ∂c_t/∂h;          ∂h_t/∂c = d_(o (1 − tanh² c_t) f)
GRU   ∂r/∂h = d_σ'_r W_r;  ∂z/∂h = d_σ'_z W_z;  ∂n/∂h = d_(1 − n²) (d_r W_n + d_(hh_n) ∂r/∂h)
      J = d_z + d_(1 − z) ∂n/∂h + d_(h_{t-1} − n) ∂z/∂h

A padded step carries the state unchanged: J_t = I there.

**Lyapunov spectrum** (Benettin et al. 1980; Engelken, Wolf & Abbott 2020): start from k orthonormal
directions Q_0 (S, k); at every step Q̃ = J_t Q_{t-1} = Q_t R_t (QR). Then

    λ_i = (1/L) Σ_t log |R_t[i, i]|   (nats per timestep, L the sequence's real length)

are the exponential rates at which the product J_L ⋯ J_1 stretches or shrinks its k leading directions,
λ_1 ≥ λ_2 ≥ …, without ever forming the product. For a constant J = W they are log |eig_i(W)|.
:class:`ProductSpectrum` forms it, for the singular values σ_i(J_τ ⋯ J_1) over a few spans τ.
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.cells import Cell


def _rows(d: np.ndarray, W: np.ndarray) -> np.ndarray:
    """diag(d) W for every example: d (N, H), W (H, H) → (N, H, H)."""
    return d[:, :, None] * W[None]


def state_jacobian(cell: Cell, cache, W_hh: np.ndarray) -> np.ndarray:
    """J_t = ∂s_t/∂s_{t-1} (N, S, S) of one step, from its cache; rows and columns ordered (h, c)."""
    H = W_hh.shape[1]
    W = [W_hh[g * H : (g + 1) * H] for g in range(cell.gates)]
    if cell.name == "rnn_tanh":
        return _rows(1.0 - cache.h * cache.h, W[0])
    if cell.name == "rnn_relu":
        return _rows((cache.h > 0).astype(W_hh.dtype), W[0])
    if cell.name == "lstm":
        i, f, g, o = cache.gates
        N = f.shape[0]
        J = np.empty((N, 2 * H, 2 * H), dtype=W_hh.dtype)
        dh_dh, dh_dc, dc_dh, dc_dc = J[:, :H, :H], J[:, :H, H:], J[:, H:, :H], J[:, H:, H:]
        np.multiply((cache.c_prev * f * (1.0 - f))[:, :, None], W[1], out=dc_dh)
        dc_dh += _rows(g * i * (1.0 - i), W[0])
        dc_dh += _rows(i * (1.0 - g * g), W[2])
        through_c = o * (1.0 - cache.tanh_c * cache.tanh_c)
        np.multiply(through_c[:, :, None], dc_dh, out=dh_dh)
        dh_dh += _rows(cache.tanh_c * o * (1.0 - o), W[3])
        dh_dc.fill(0.0)
        dc_dc.fill(0.0)
        diag = np.arange(H)
        dh_dc[:, diag, diag] = through_c * f
        dc_dc[:, diag, diag] = f
        return J
    if cell.name == "gru":
        r, z, n = cache.gates
        dr_dh = _rows(r * (1.0 - r), W[0])
        dz_dh = _rows(z * (1.0 - z), W[1])
        dn = 1.0 - n * n
        dn_dh = _rows(dn * r, W[2]) + (dn * cache.hh_n)[:, :, None] * dr_dh
        J = (1.0 - z)[:, :, None] * dn_dh + (cache.h_prev - n)[:, :, None] * dz_dh
        diag = np.arange(H)
        J[:, diag, diag] += z
        return J
    raise ValueError(f"no Jacobian for cell {cell.name!r}")


def step_jacobians(cell: Cell, steps: list, mask: np.ndarray, W_hh: np.ndarray):
    """J_t for every step of one direction's time loop (its cache's ``steps`` and ``mask`` (N, T, 1), in
    processing order), with J_t = I for the examples padded at t. Yields (N, S, S) arrays."""
    for t, cache in enumerate(steps):
        J = state_jacobian(cell, cache, W_hh)
        pad = mask[:, t, 0] == 0
        if pad.any():
            J[pad] = np.eye(J.shape[1], dtype=J.dtype)
        yield J


def _orthonormal_to(x: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (N, S) minus its components along the orthonormal rows of basis (N, j, S) (twice, which is
    enough in floating point), scaled to length 1, and the length it had. A remainder below 1e-10 of
    x's own length is rounding noise: the Krylov space is exhausted, and the row becomes zero."""
    before = np.sqrt(np.einsum("ns,ns->n", x, x))
    for _ in range(2):
        x = x - np.einsum("nj,njs->ns", np.einsum("njs,ns->nj", basis, x), basis)
    size = np.sqrt(np.einsum("ns,ns->n", x, x))
    size = np.where(size > 1e-10 * before, size, 0.0)
    return x / np.where(size > 0, size, 1.0)[:, None] * (size > 0)[:, None], size


def spectral_norm(J: np.ndarray, v: np.ndarray | None = None, rtol: float = 1e-6, max_steps: int = 64,
                  check_every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """‖J_n‖₂ for every J_n of J (N, S, S), by Golub–Kahan–Lanczos bidiagonalisation with full
    reorthogonalisation, started from ``v`` (N, S), the previous step's leading right singular vectors
    (a slowly changing J_t then needs few steps). It stops when the largest singular value of the
    bidiagonal B changes by less than ``rtol`` (relative) for every n, after at most ``max_steps``
    (exact, to rounding, once the steps reach S). Returns (norms (N,), the vectors to start from next)."""
    N, S, _ = J.shape
    m = min(max_steps, S)
    V = np.zeros((N, m, S), dtype=J.dtype)
    U = np.zeros((N, m, S), dtype=J.dtype)
    B = np.zeros((N, m, m), dtype=J.dtype)
    v, _ = _orthonormal_to(np.ones((N, S), dtype=J.dtype) if v is None else v, V[:, :0])
    JT = J.transpose(0, 2, 1)
    sigma = np.zeros(N, dtype=J.dtype)
    for j in range(m):
        V[:, j] = v
        u, B[:, j, j] = _orthonormal_to(np.matmul(J, v[:, :, None])[:, :, 0], U[:, :j])
        U[:, j] = u
        if (j + 1) % check_every == 0 or j + 1 == m:
            previous, sigma = sigma, np.linalg.svd(B[:, : j + 1, : j + 1], compute_uv=False)[:, 0]
            if j + 1 == m or np.all(np.abs(sigma - previous) <= rtol * sigma):
                break
        v, B[:, j, j + 1] = _orthonormal_to(np.matmul(JT, u[:, :, None])[:, :, 0], V[:, : j + 1])
    k = j + 1
    _, sigma, Yt = np.linalg.svd(B[:, :k, :k])
    return sigma[:, 0], np.einsum("nj,njs->ns", Yt[:, 0], V[:, :k])


def lyapunov(jacobians, lengths: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The top-``k`` Lyapunov exponents of every example's trajectory (N, k), nats per step, largest first.

    jacobians: iterable of (N, S, S), J_t in processing order (padded steps: I, which adds log 1 = 0);
    lengths (N,): the real steps of each example. Q_0 is drawn from ``rng``, the same for every example."""
    Q, total = None, None
    for J in jacobians:
        if Q is None:
            N, S = J.shape[0], J.shape[1]
            Q0, _ = np.linalg.qr(rng.standard_normal((S, min(k, S))))
            Q = np.broadcast_to(Q0, (N,) + Q0.shape).astype(J.dtype)
            total = np.zeros((N, Q0.shape[1]))
        Q, R = np.linalg.qr(np.matmul(J, Q))
        with np.errstate(divide="ignore"):
            total += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
    if total is None:
        return np.zeros((len(lengths), 0))
    return np.sort(total / np.maximum(lengths, 1)[:, None], axis=1)[:, ::-1]


class ProductSpectrum:
    """log σ_i(J_τ ⋯ J_1), i ≤ k, of chosen examples at chosen spans τ (counted in real steps): exact, from
    the SVD of the product itself, which is kept scaled to unit Frobenius norm with its log scale apart
    (over a few hundred steps the raw product would over- or underflow)."""

    def __init__(self, rows: int, S: int, spans, k: int, dtype=np.float64):
        self.P = np.broadcast_to(np.eye(S, dtype=dtype), (rows, S, S)).copy()
        self.log_scale = np.zeros(rows)
        self.steps = np.zeros(rows, dtype=int)
        self.spans, self.k = set(spans), k
        self.found: dict[int, list[np.ndarray]] = {}  # τ → log σ_1 … σ_k of every example that reached it

    def update(self, J: np.ndarray, real: np.ndarray) -> None:
        """One step: J (rows, S, S), ``real`` (rows,) whether the step is real for each example."""
        idx = np.flatnonzero(real)
        if not len(idx):
            return
        P = np.matmul(J[idx], self.P[idx])
        size = np.sqrt(np.einsum("nij,nij->n", P, P))
        self.P[idx] = P / np.where(size > 0, size, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            self.log_scale[idx] += np.log(size)
        self.steps[idx] += 1
        for tau in set(self.steps[idx]) & self.spans:
            rows = idx[self.steps[idx] == tau]
            with np.errstate(divide="ignore"):
                sigma = np.log(np.linalg.svd(self.P[rows], compute_uv=False)[:, : self.k])
            self.found.setdefault(int(tau), []).extend(sigma + self.log_scale[rows, None])
