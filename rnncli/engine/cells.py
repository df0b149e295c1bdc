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

``step_forward(a_t, state, W_hh, b_hh) -> (state, cache)``
``step_backward(d_state, cache, W_hh) -> (da_t, dhh_t, d_state_prev)`` where ``da_t`` is
∂L/∂a_t (N, G·H) and ``dhh_t`` is ∂L/∂hh_t (N, G·H): the time loop turns them into
weight gradients with one GEMM each after the loop. They differ only for the GRU,
whose reset gate multiplies the hidden part of the candidate. Backward never mutates
its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from rnncli.engine.functional import sigmoid

State = tuple[np.ndarray, ...]


class RNNCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    h: np.ndarray  # (N, H) activation output


class LSTMCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    c_prev: np.ndarray  # (N, H)
    gates: np.ndarray  # (N, 4H) activated [i, f, g, o]
    tanh_c: np.ndarray  # (N, H)


class GRUCache(NamedTuple):
    h_prev: np.ndarray  # (N, H)
    gates: np.ndarray  # (N, 3H) activated [r, z, n]
    hh_n: np.ndarray  # (N, H) h_{t-1} W_hn^T + b_hn, the part the reset gate scales


# ----------------------------------------------------------------------------- RNN


def rnn_tanh_step_forward(a_t, state, W_hh, b_hh=None):
    (h_prev,) = state
    h = a_t + h_prev @ W_hh.T
    np.tanh(h, out=h)
    return (h,), RNNCache(h_prev, h)


def rnn_relu_step_forward(a_t, state, W_hh, b_hh=None):
    (h_prev,) = state
    h = a_t + h_prev @ W_hh.T
    np.maximum(h, 0.0, out=h)
    return (h,), RNNCache(h_prev, h)


def rnn_tanh_step_backward(d_state, cache: RNNCache, W_hh):
    (dh,) = d_state
    dz = dh * (1.0 - cache.h * cache.h)  # inverts h = tanh(z)
    return dz, dz, (dz @ W_hh,)  # inverts z = a_t + h_prev W_hh^T


def rnn_relu_step_backward(d_state, cache: RNNCache, W_hh):
    (dh,) = d_state
    dz = dh * (cache.h > 0)  # inverts h = relu(z)
    return dz, dz, (dz @ W_hh,)


# ---------------------------------------------------------------------------- LSTM


def lstm_step_forward(a_t, state, W_hh, b_hh=None):
    h_prev, c_prev = state
    H = h_prev.shape[1]
    gates = a_t + h_prev @ W_hh.T  # pre-activations [i, f, g, o]
    ifo = sigmoid(gates)  # σ everywhere, then overwrite the g block with tanh
    ifo[:, 2 * H : 3 * H] = np.tanh(gates[:, 2 * H : 3 * H])
    i, f, g, o = ifo[:, :H], ifo[:, H : 2 * H], ifo[:, 2 * H : 3 * H], ifo[:, 3 * H :]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return (h, c), LSTMCache(h_prev, c_prev, ifo, tanh_c)


def lstm_step_backward(d_state, cache: LSTMCache, W_hh):
    dh, dc = d_state
    H = dh.shape[1]
    gates = cache.gates
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    do = dh * cache.tanh_c  # h = o ⊙ tanh(c)
    dc = dc + dh * o * (1.0 - cache.tanh_c * cache.tanh_c)
    d_pre = np.empty_like(gates)
    d_pre[:, :H] = dc * g * i * (1.0 - i)  # c = f c_prev + i g, i = σ(·)
    d_pre[:, H : 2 * H] = dc * cache.c_prev * f * (1.0 - f)  # f = σ(·)
    d_pre[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)  # g = tanh(·)
    d_pre[:, 3 * H :] = do * o * (1.0 - o)  # o = σ(·)
    dh_prev = d_pre @ W_hh  # gates = a_t + h_prev W_hh^T
    return d_pre, d_pre, (dh_prev, dc * f)


def lstm_cell_state_grad(d_state, cache: LSTMCache):
    """∂L/∂c_t in total, from ∂L/∂(h_t, c_t) of the state tuple: the c part plus what reaches c_t
    through h_t = o ⊙ tanh(c_t) (the ``dc`` of :func:`lstm_step_backward`). For diagnostics."""
    dh, dc = d_state
    H = dh.shape[1]
    return dc + dh * cache.gates[:, 3 * H :] * (1.0 - cache.tanh_c * cache.tanh_c)


# ----------------------------------------------------------------------------- GRU


def gru_step_forward(a_t, state, W_hh, b_hh):
    (h_prev,) = state
    H = h_prev.shape[1]
    hh = h_prev @ W_hh.T + b_hh  # [hh_r, hh_z, hh_n]
    gates = sigmoid(a_t[:, : 2 * H] + hh[:, : 2 * H])
    r, z = gates[:, :H], gates[:, H:]
    hh_n = hh[:, 2 * H :]
    n = np.tanh(a_t[:, 2 * H :] + r * hh_n)
    h = n + z * (h_prev - n)  # = (1 - z) n + z h_prev
    return (h,), GRUCache(h_prev, np.concatenate([gates, n], axis=1), hh_n)


def gru_step_backward(d_state, cache: GRUCache, W_hh):
    (dh,) = d_state
    H = dh.shape[1]
    r, z, n = cache.gates[:, :H], cache.gates[:, H : 2 * H], cache.gates[:, 2 * H :]
    h_prev = cache.h_prev
    da = np.empty_like(cache.gates)
    dn_pre = dh * (1.0 - z) * (1.0 - n * n)  # h = (1-z) n + z h_prev, n = tanh(·)
    da[:, 2 * H :] = dn_pre
    da[:, :H] = dn_pre * cache.hh_n * r * (1.0 - r)  # n_pre = a_n + r hh_n, r = σ(·)
    da[:, H : 2 * H] = dh * (h_prev - n) * z * (1.0 - z)  # z = σ(·)
    dhh = da.copy()
    dhh[:, 2 * H :] = dn_pre * r  # hh_n enters n_pre scaled by r
    dh_prev = dh * z + dhh @ W_hh  # hh = h_prev W_hh^T + b_hh
    return da, dhh, (dh_prev,)


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
