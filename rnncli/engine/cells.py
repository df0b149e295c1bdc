"""Recurrent cells as pure step functions (PyTorch's equations and gate order).

The input projection is hoisted out of the time loop (see ``recurrent.py``), so a step
receives ``a_t = x_t W_ih^T + b`` (N, G·H) and only adds the recurrent term
``hh_t = h_{t-1} W_hh^T (+ b_hh for GRU)``. With gates split in row blocks of H:

RNN  (G=1)   h_t = act(a_t + h_{t-1} W_hh^T),                     act ∈ {tanh, relu}
LSTM (G=4)   [i, f, g, o] = a_t + h_{t-1} W_hh^T
             i, f, o = σ(·);  g = tanh(·)
             c_t = f ⊙ c_{t-1} + i ⊙ g;   h_t = o ⊙ tanh(c_t)
GRU  (G=3)   [a_r, a_z, a_n] = a_t   (= x_t W_ih^T + b_ih)
             [hh_r, hh_z, hh_n] = h_{t-1} W_hh^T + b_hh
             r = σ(a_r + hh_r);  z = σ(a_z + hh_z)
             n = tanh(a_n + r ⊙ hh_n)
             h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

State is a tuple: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM.

``step_forward(a_t, state, W_hh_T, b_hh, h_out=None, keep_cache=True) -> (state, cache)`` takes the recurrent
weights transposed, ``W_hh_T`` = W_hh^T (H, G·H), made contiguous once per sequence by the time
loop (BLAS then runs the per-step GEMM h_{t-1} W_hh^T on a contiguous operand rather than a transposed
view, with the same bits; benchmarks/README.md has the measurement). It writes h_t into ``h_out`` (N, H) when given, the time loop's output slice for
step t; it is the state's h. With ``keep_cache=False`` (the forward-only loop) it returns no cache and
computes σ without an ``np.errstate`` of its own: the loop ignores overflow once for all its steps, and
the arithmetic, so the result, is the same.
``step_backward(d_state, cache, W_hh, da_t, dhh_t) -> d_state_prev`` writes ∂L/∂a_t into
``da_t`` (N, G·H) and ∂L/∂hh_t into ``dhh_t`` (N, G·H), the time loop's slices for step t,
which it turns into weight gradients with GEMMs over many steps at once. The two differ only
for the GRU, whose reset gate multiplies the hidden part of the candidate; for the other
cells the loop passes one array as both. Backward never mutates its other inputs.

σ'(x) = σ(1 - σ) and tanh'(x) = 1 - tanh², so backward needs only the activated gates, which
the LSTM and GRU cache gate-major, (G, N, H) (see ``_blocks``). The updates are in place
(``out=``, ``*=``): a step allocates little besides its results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from rnncli.engine.functional import sigmoid, sigmoid_unguarded

State = tuple[np.ndarray, ...]


class RNNCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    h: np.ndarray  # (N, H) activation output (a view of the loop's outputs)


class LSTMCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    c_prev: np.ndarray  # (N, H)
    gates: np.ndarray  # (4, N, H) activated [i, f, g, o], gate-major (see _blocks)
    tanh_c: np.ndarray  # (N, H)


class GRUCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    gates: np.ndarray  # (3, N, H) activated [r, z, n], gate-major
    hh_n: np.ndarray  # (N, H) h_{t-1} W_hn^T + b_hn, the part the reset gate scales


def _sigmoid_grad_times(out, s, *factors):
    """out = s(1 - s) ⊙ factors[0] ⊙ …: σ' of a gate from its activated value s, times the chain-rule
    factors, in place (left to right, so the rounding is that of the written product)."""
    np.subtract(1.0, s, out=out)
    out *= s
    for factor in factors:
        out *= factor


def _blocks(x, G):
    """(N, G·H) → a (G, N, H) view: the G column blocks of x, gate by gate.

    The LSTM and GRU keep their gates gate-major, in contiguous (G, N, H) arrays, reading their inputs
    through this view: NumPy's ufuncs run faster on a contiguous (N, H) block than on a strided column
    block of an (N, G·H) array (benchmarks/README.md), and a step applies a few dozen of them.
    """
    return x.reshape(x.shape[0], G, -1).transpose(1, 0, 2)


def _batch_major(x, out):
    """(G, N, H) gate-major → ``out`` (N, G·H), e.g. the time loop's slice of dA."""
    _blocks(out, x.shape[0])[...] = x


# ----------------------------------------------------------------------------- RNN


def rnn_tanh_step_forward(a_t, state, W_hh_T, b_hh=None, h_out=None, keep_cache=True):
    (h_prev,) = state
    z = h_prev @ W_hh_T
    z += a_t
    h = np.tanh(z, out=h_out)
    return (h,), RNNCache(h_prev, h) if keep_cache else None


def rnn_relu_step_forward(a_t, state, W_hh_T, b_hh=None, h_out=None, keep_cache=True):
    (h_prev,) = state
    z = h_prev @ W_hh_T
    z += a_t
    h = np.maximum(z, 0.0, out=h_out)
    return (h,), RNNCache(h_prev, h) if keep_cache else None


def rnn_tanh_step_backward(d_state, cache: RNNCache, W_hh, da, dhh):
    (dh,) = d_state
    np.multiply(cache.h, cache.h, out=da)  # inverts h = tanh(z): dz = dh (1 - h²)
    np.subtract(1.0, da, out=da)
    da *= dh
    return _rnn_backward_tail(da, dhh, W_hh)


def rnn_relu_step_backward(d_state, cache: RNNCache, W_hh, da, dhh):
    (dh,) = d_state
    np.greater(cache.h, 0.0, out=da)  # inverts h = relu(z): dz = dh [h > 0]
    da *= dh
    return _rnn_backward_tail(da, dhh, W_hh)


def _rnn_backward_tail(dz, dhh, W_hh):
    if dhh is not dz:
        dhh[...] = dz
    return (dz @ W_hh,)  # inverts z = a_t + h_prev W_hh^T


# ---------------------------------------------------------------------------- LSTM


def lstm_step_forward(a_t, state, W_hh_T, b_hh=None, h_out=None, keep_cache=True):
    h_prev, c_prev = state
    N, H = h_prev.shape
    if N == 1 and not keep_cache:
        return _lstm_one_row(a_t, h_prev, c_prev, W_hh_T, h_out), None
    gates = np.empty((4, N, H), dtype=a_t.dtype)  # gate-major (see _blocks), activated in place below
    np.add(_blocks(a_t, 4), _blocks(h_prev @ W_hh_T, 4), out=gates)  # pre-activations [i, f, g, o]
    i, f, g, o = gates
    sig = sigmoid if keep_cache else sigmoid_unguarded
    sig(gates[:2], out=gates[:2])
    np.tanh(g, out=g)
    sig(o, out=o)
    c = f * c_prev
    c += i * g
    tanh_c = np.tanh(c)
    h = np.multiply(o, tanh_c, out=h_out)
    return (h, c), LSTMCache(h_prev, c_prev, gates, tanh_c) if keep_cache else None


def _lstm_one_row(a_t, h_prev, c_prev, W_hh_T, h_out):
    """The forward-only LSTM step of one row (one text, as `rnn serve` sees them). Its gates' column blocks
    are contiguous, and on one row a ufunc call costs more than its arithmetic, so: no gate-major copy,
    g activated first, then one σ call over all four blocks (σ(g) is computed and not used). i, f and o
    are the same σ of the same values, so the result has the same bits."""
    H = h_prev.shape[1]
    gates = h_prev @ W_hh_T
    gates += a_t  # [i, f, g, o]
    g = np.tanh(gates[:, 2 * H : 3 * H])
    sigmoid_unguarded(gates, out=gates)
    c = gates[:, H : 2 * H] * c_prev
    c += gates[:, :H] * g
    h = np.tanh(c, out=h_out)
    h *= gates[:, 3 * H :]
    return h, c


def lstm_step_backward(d_state, cache: LSTMCache, W_hh, da, dhh):
    dh, dc = d_state
    gates, tanh_c = cache.gates, cache.tanh_c
    i, f, g, o = gates
    d_gates = np.empty_like(gates)
    di, df, dg, do = d_gates
    # c̄ = ∂L/∂c_t in total = dc + dh ⊙ o ⊙ (1 - tanh² c_t)        (h = o ⊙ tanh(c_t))
    dc_total = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, dc_total, out=dc_total)
    dc_total *= o
    dc_total *= dh
    dc_total += dc
    # do = dh ⊙ tanh c_t ⊙ o(1 - o)                               (o = σ(·))
    _sigmoid_grad_times(do, o, tanh_c, dh)
    # di = c̄ ⊙ g ⊙ i(1 - i),  df = c̄ ⊙ c_{t-1} ⊙ f(1 - f)         (c = f c_{t-1} + i g)
    _sigmoid_grad_times(di, i, g, dc_total)
    _sigmoid_grad_times(df, f, cache.c_prev, dc_total)
    # dg = c̄ ⊙ i ⊙ (1 - g²)                                        (g = tanh(·))
    np.multiply(g, g, out=dg)
    np.subtract(1.0, dg, out=dg)
    dg *= i
    dg *= dc_total
    _batch_major(d_gates, out=da)
    dh_prev = da @ W_hh  # gates = a_t + h_prev W_hh^T
    dc_total *= f  # c_t = f ⊙ c_{t-1} + …: what flows on to c_{t-1}
    if dhh is not da:
        dhh[...] = da
    return dh_prev, dc_total


def lstm_cell_state_grad(d_state, cache: LSTMCache):
    """∂L/∂c_t in total, from ∂L/∂(h_t, c_t) of the state tuple: the c part plus what reaches c_t
    through h_t = o ⊙ tanh(c_t) (the c̄ of :func:`lstm_step_backward`). For diagnostics."""
    dh, dc = d_state
    return dc + dh * cache.gates[3] * (1.0 - cache.tanh_c * cache.tanh_c)


# ----------------------------------------------------------------------------- GRU


def gru_step_forward(a_t, state, W_hh_T, b_hh, h_out=None, keep_cache=True):
    (h_prev,) = state
    N, H = h_prev.shape
    hh = h_prev @ W_hh_T
    hh += b_hh  # [hh_r, hh_z, hh_n]
    gates = np.empty((3, N, H), dtype=hh.dtype)  # activated [r, z, n], gate-major (see _blocks)
    rz = np.add(_blocks(a_t[:, : 2 * H], 2), _blocks(hh[:, : 2 * H], 2), out=gates[:2])
    (sigmoid if keep_cache else sigmoid_unguarded)(rz, out=rz)
    r, z, n = gates
    hh_n = hh[:, 2 * H :]
    if keep_cache:
        hh_n = np.ascontiguousarray(hh_n)  # the cache keeps this third of hh alone, not all of it
    np.multiply(r, hh_n, out=n)
    n += a_t[:, 2 * H :]
    np.tanh(n, out=n)
    h = np.subtract(h_prev, n, out=h_out)
    h *= z
    h += n  # = (1 - z) n + z h_prev
    return (h,), GRUCache(h_prev, gates, hh_n) if keep_cache else None


def gru_step_backward(d_state, cache: GRUCache, W_hh, da, dhh):
    (dh,) = d_state
    H = dh.shape[1]
    r, z, n = cache.gates
    d_gates = np.empty_like(cache.gates)
    dr, dz, dn = d_gates
    # dn = dh ⊙ (1 - z) ⊙ (1 - n²)             h = (1-z) n + z h_prev, n = tanh(·)
    one_minus_z = np.subtract(1.0, z)
    np.multiply(n, n, out=dn)
    np.subtract(1.0, dn, out=dn)
    dn *= one_minus_z
    dn *= dh
    # dz = dh ⊙ (h_prev - n) ⊙ z(1 - z)         z = σ(·)
    np.subtract(cache.h_prev, n, out=dz)
    dz *= one_minus_z
    dz *= z
    dz *= dh
    # dr = dn ⊙ hh_n ⊙ r(1 - r)                 n_pre = a_n + r ⊙ hh_n, r = σ(·)
    _sigmoid_grad_times(dr, r, cache.hh_n, dn)
    _batch_major(d_gates, out=da)
    _batch_major(d_gates[:2], out=dhh[:, : 2 * H])
    np.multiply(dn, r, out=dhh[:, 2 * H :])  # hh_n enters n_pre scaled by r
    dh_prev = dhh @ W_hh  # hh = h_prev W_hh^T + b_hh
    dh_prev += np.multiply(dh, z, out=one_minus_z)
    return (dh_prev,)


# -------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Cell:
    """What the time loop needs to know about a cell type."""

    name: str
    gates: int  # G: row blocks of W_ih / W_hh
    state_size: int  # 1 for (h,), 2 for (h, c)
    hidden_bias: bool  # True when b_hh is kept separately (GRU)
    step_forward: Callable
    step_backward: Callable
    cell_state_grad: Callable | None = None  # LSTM: (d_state, cache) -> total ∂L/∂c_t (diagnostics only)


CELLS: dict[str, Cell] = {
    "rnn_tanh": Cell("rnn_tanh", 1, 1, False, rnn_tanh_step_forward, rnn_tanh_step_backward),
    "rnn_relu": Cell("rnn_relu", 1, 1, False, rnn_relu_step_forward, rnn_relu_step_backward),
    "lstm": Cell("lstm", 4, 2, False, lstm_step_forward, lstm_step_backward, lstm_cell_state_grad),
    "gru": Cell("gru", 3, 1, True, gru_step_forward, gru_step_backward),
}


def get_cell(cell: str, activation: str = "tanh") -> Cell:
    """Look up a cell by the config's ``model.cell`` and ``model.activation``."""
    key = f"rnn_{activation}" if cell == "rnn" else cell
    return CELLS[key]
