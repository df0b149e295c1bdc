"""THE time loop, shared by every cell, direction and layer, with exact masking.

One direction of one layer, for right-padded batches with ``mask`` m (N, T) of 0/1:

    A        = X W_ih^T + b                       (N, T, G·H)   hoisted out of the loop
    s̃_t      = cell(A_t, s_{t-1})                 state tuple, (h,) or (h, c)
    s_t      = m_t ⊙ s̃_t + (1 - m_t) ⊙ s_{t-1}    a padded step keeps the state
    out_t    = m_t ⊙ h̃_t                          outputs at padded steps are 0

so the final state is the state at each sequence's last real token. The reverse direction
runs the same loop on ``A[:, ::-1]`` and ``mask[:, ::-1]``: pads come first and leave the
initial state unchanged, then the sequence is read backwards. Without a cache (scoring), a batch
sorted by length runs each step on its real rows alone, a contiguous range, with the same results
(``active_ranges``): PyTorch's packed sequences do the same. A bidirectional layer's two directions are
independent: without a cache, on batches of ``PAIR_MIN_ROWS`` rows or more, and inside
``parallel.one_blas_thread`` (scoring), they run at once on two cores (``parallel.pair``).

The weight gradients are GEMMs over many steps at once: dW_hh over chunks of steps during
the backward loop, the input side over all steps after it:

    dW_hh = Σ_t dHH_t^T h_{t-1}      db_hh = Σ_t dHH_t  (GRU only)
    dW_ih = Σ_t dA_t^T x_t           db    = Σ_t dA_t       dX = dA W_ih

Memory: each h_t is stored once, in the layer's output array (the step caches hold views of
it, and both directions of a bidirectional layer write their halves of one array), and BPTT
keeps ∂L/∂A plus a few chunk-sized buffers.

A stack of L layers feeds each layer's outputs (forward and reverse concatenated on the
feature axis when bidirectional, (N, T, 2H)) to the next. Layer 0 takes either dense
features X (N, T, D) or, for one-hot input, token ids (N, T): x_t W_ih^T for a one-hot
x_t is a column of W_ih, so the projection is a gather (ids 0 ``<pad>`` and 1 ``<unk>``
encode as the zero vector, hence W_ih has V-2 columns). When X is an embedding lookup E[ids]
and the vocabulary is small against the batch (characters), the same idea applies: A is
gathered from the projected table E W_ih^T + b, and ∂L/∂A is summed per id before the
weight gradients (``_project``, ``_project_backward``).

Dropout (training only) is inverted: x ⊙ keep/(1-p), keep ~ Bernoulli(1-p). ``dropout`` acts
between layers, on each layer's outputs but the last's (PyTorch's ``dropout``), and
``input_dropout`` on layer 0's input (dense features or embeddings, not one-hot ids). With
``variational`` each mask is drawn once per sequence and feature, (N, 1, F), and shared by every
timestep (Gal & Ghahramani 2016); otherwise each entry (N, T, F) has its own.

Parameter names (``prefix`` = "rnn"): ``rnn.l{k}[_reverse].W_ih`` (G·H, D_k),
``.W_hh`` (G·H, H), ``.b`` (G·H) for RNN/LSTM, or ``.b_ih`` and ``.b_hh`` for GRU; with a
learned initial state also ``.h0`` (H,) and, for the LSTM, ``.c0`` (H,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnncli.engine import layers, parallel
from rnncli.engine.cells import Cell, State, get_cell

ONEHOT_OFFSET = 2  # ids below this (<pad>, <unk>) are the zero vector in one-hot input


@dataclass(frozen=True)
class StackSpec:
    """Shape of a recurrent stack."""

    cell: str  # "rnn" | "lstm" | "gru"
    input_size: int  # D of layer 0 (for one-hot input: V - 2)
    hidden_size: int  # H
    num_layers: int = 1
    bidirectional: bool = False
    activation: str = "tanh"  # vanilla RNN only
    onehot: bool = False  # layer 0 receives int ids instead of features
    dropout: float = 0.0  # between layers, training only
    learn_h0: bool = False  # initial state is a parameter instead of zeros
    input_dropout: float = 0.0  # on layer 0's input (not one-hot), training only
    variational: bool = False  # dropout masks shared over time: one per sequence and feature

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    @property
    def cell_type(self) -> Cell:
        return get_cell(self.cell, self.activation)

    def layer_names(self, prefix: str = "rnn") -> list[tuple[int, int, str]]:
        """(layer, direction, name prefix) in PyTorch's order: l0, l0_reverse, l1, …"""
        return [
            (k, d, f"{prefix}.l{k}{'_reverse' if d else ''}")
            for k in range(self.num_layers)
            for d in range(self.directions)
        ]

    def param_shapes(self, prefix: str = "rnn") -> dict[str, tuple[int, ...]]:
        G, H = self.cell_type.gates, self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for k, _, name in self.layer_names(prefix):
            D = self.input_size if k == 0 else self.output_size
            shapes[f"{name}.W_ih"] = (G * H, D)
            shapes[f"{name}.W_hh"] = (G * H, H)
            if self.cell_type.hidden_bias:
                shapes[f"{name}.b_ih"] = (G * H,)
                shapes[f"{name}.b_hh"] = (G * H,)
            else:
                shapes[f"{name}.b"] = (G * H,)
            if self.learn_h0:
                for s in self.state_names:
                    shapes[f"{name}.{s}"] = (H,)
        return shapes

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h0", "c0")[: self.cell_type.state_size]


# ------------------------------------------------------------------ one direction


class DirectionCache(NamedTuple):
    steps: list  # per-step cell caches, in processing order (each holds h_prev, the h entering the step)
    mask: np.ndarray  # (N, T, 1) in processing order, the params' dtype
    full: np.ndarray  # (T,) bool: every sequence is real at this step, so masking is the identity


# Batch rows from which scoring runs a bidirectional layer's two directions at once (parallel.pair):
# with fewer, each step's calls are too short for two threads to overlap much: the gain was small, and
# on 32 rows or fewer the pair was slower than one direction after the other (benchmarks/README.md).
PAIR_MIN_ROWS = 128

# Rows of the time-chunks in which direction_backward accumulates dW_hh: N·k rows of k steps
# make one well-shaped GEMM, while the chunk buffers stay small (no (N, T, ·) copy of h_{t-1}).
CHUNK_ROWS = 256


def direction_forward(
    A: np.ndarray, mask: np.ndarray, W_hh: np.ndarray, b_hh, cell: Cell, state0: State,
    out: np.ndarray | None = None, keep_cache: bool = True, W_hh_T: np.ndarray | None = None,
) -> tuple[np.ndarray, State, DirectionCache | None]:
    """Run one direction over time, in the order given.

    A (N, T, G·H) pre-activations from the input; mask (N, T); state0 tuple of (N, H).
    out: where to write the outputs (N, T, H), any view (the stack passes its half of the
    layer's output, reversed for the reverse direction); by default a new array.
    W_hh_T: W_hh^T as a contiguous array when the caller has it (see :func:`with_transposes`); by
    default it is made here.
    Returns outputs (N, T, H), final state tuple, cache (None without ``keep_cache``: inference,
    where each step's gates are freed as soon as the next step has its state).

    Each step writes h_t straight into ``out[:, t]``, and the step caches hold views of it:
    h_t is stored once. A padded step keeps the previous state exactly (``np.where``) and
    then zeroes its rows of the output.
    """
    N, T, _ = A.shape
    H = W_hh.shape[1]
    if out is None:
        out = np.empty((N, T, H), dtype=A.dtype)
    if W_hh_T is None:
        W_hh_T = np.ascontiguousarray(W_hh.T)  # (H, G·H): see cells.py
    if not keep_cache:
        with np.errstate(over="ignore"):  # σ's e^-x = inf for x < -88 (float32): σ = 0, exactly the limit
            return _forward_only(A, mask, W_hh_T, b_hh, cell, state0, out)
    m, pad, full = _step_masks(mask, A.dtype)
    steps = []
    state = state0
    for t in range(T):
        state, cache = _masked_step(A, t, state, W_hh_T, b_hh, cell, out, full, pad, m, True)
        steps.append(cache)
    return out, state, DirectionCache(steps, m, full)


def _step_masks(mask: np.ndarray, dtype):
    """The masked loop's views of mask (N, T): m (N, T, 1) in ``dtype``, pad (N, T, 1) bool (a padded step),
    and full (T,), where every row is real and masking is the identity."""
    return mask.astype(dtype)[:, :, None], ~mask.astype(bool)[:, :, None], mask.all(axis=0)


def _masked_step(A, t, state, W_hh_T, b_hh, cell: Cell, out, full, pad, m, keep_cache: bool):
    """Step t of the masked loop: a padded row keeps its previous state exactly (``np.where``), and its
    output is zeroed. Returns (state, the cell's cache)."""
    new_state, cache = cell.step_forward(A[:, t], state, W_hh_T, b_hh, out[:, t], keep_cache)
    if not full[t]:
        new_state = tuple(np.where(pad[:, t], s_prev, s_new) for s_new, s_prev in zip(new_state, state))
        out[:, t] *= m[:, t]
    return new_state, cache


def _forward_only(A, mask, W_hh_T, b_hh, cell: Cell, state0: State, out: np.ndarray):
    """:func:`direction_forward` without caches: over the real rows alone when the batch has padding and
    allows it (:func:`active_ranges`), else the masked loop, which masks nothing where there is no padding
    (one text, or texts of one length). Returns (outputs, final state, None)."""
    ranges = None if mask.all() else active_ranges(mask)  # no padding: no per-step bookkeeping of ranges
    if ranges is not None:
        return out, _forward_ranges(A, ranges, W_hh_T, b_hh, cell, state0, out), None
    m, pad, full = _step_masks(mask, A.dtype)
    state = state0
    for t in range(A.shape[1]):
        state, _ = _masked_step(A, t, state, W_hh_T, b_hh, cell, out, full, pad, m, False)
    return out, state, None


TRANSPOSED = ".W_hh_T"  # the suffix of the keys with_transposes adds


def scoring_threads(spec, batch_size: int):
    """The context in which scoring runs its batches (``Task.score``): for a model with a bidirectional stack
    (its words' or its characters') and batches of ``PAIR_MIN_ROWS`` or more, :func:`parallel.one_blas_thread`,
    so that :func:`stack_forward` runs each layer's two directions at once; otherwise it changes nothing."""
    paired = spec.bidirectional or spec.char_hidden_size > 0
    return parallel.one_blas_thread(paired and batch_size >= PAIR_MIN_ROWS)


def with_transposes(params: dict) -> dict:
    """``params`` and, for every recurrent layer, W_hh^T as a contiguous array under ``<layer>.W_hh_T``: a
    new dict for a forward-only pass over many batches (scoring, prediction), so that the time loop does
    not copy W_hh^T again for every batch. The weights must not change while it is in use. A layer that
    already has its transpose keeps it, so a call nested in another (seq2seq scoring, then decoding) copies
    nothing again.
    """
    return params | {name[: -len(".W_hh")] + TRANSPOSED: np.ascontiguousarray(W.T) for name, W in params.items()
                     if name.endswith(".W_hh") and name[: -len(".W_hh")] + TRANSPOSED not in params}


def active_ranges(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """The rows [lo, hi) that are real at each step of ``mask`` (N, T), when at every step they are one
    contiguous range and every row's real steps are one contiguous run; else None.

    That is the case for the batches of similar lengths that scoring and prediction make (sorted by
    length, right-padded: the reverse direction sees them left-padded), so :func:`_forward_ranges` can skip
    the padded rows of every step instead of computing and then masking them.
    """
    real = mask.astype(bool)
    N, T = real.shape
    count, lo = real.sum(axis=0), real.argmax(axis=0)
    rows = np.arange(N)[:, None]
    if not np.array_equal(real, (rows >= lo) & (rows < lo + count)):
        return None
    run, first = real.sum(axis=1)[:, None], real.argmax(axis=1)[:, None]
    steps = np.arange(T)[None, :]
    if not np.array_equal(real, (steps >= first) & (steps < first + run)):
        return None
    return [(int(a), int(a + n)) if n else (0, 0) for a, n in zip(lo, count)]


def _forward_ranges(A, ranges, W_hh_T, b_hh, cell: Cell, state0: State, out: np.ndarray) -> State:
    """The forward-only loop of :func:`direction_forward` over the real rows alone (``active_ranges``).

    The state of the rows [lo, hi) that are real at step t enters the cell as views of the previous step's
    results; a row that starts (the reverse direction of a shorter text) joins with its initial state, and a
    row that ends leaves its state as its final one. The same arithmetic as the masked loop for every real
    row, without the padded rows' work or the masking; padded outputs are 0. Returns the final state.
    """
    finals = tuple(s.copy() for s in state0)  # rows with no real step keep their initial state
    lo, hi = 0, 0
    state = tuple(s[:0] for s in state0)  # the states of rows [lo, hi)
    for t, (lo_t, hi_t) in enumerate(ranges):
        if (lo_t, hi_t) != (lo, hi):
            for f, s in zip(finals, state):  # rows that end here keep their last state
                f[lo : min(lo_t, hi)] = s[: max(min(lo_t, hi) - lo, 0)]
                f[max(hi_t, lo) : hi] = s[max(hi_t, lo) - lo :]
            k0 = min(max(lo, lo_t), hi_t)  # rows [k0, k1) carry on; the others of [lo_t, hi_t) start here
            k1 = max(k0, min(hi, hi_t))
            if k0 == lo_t and k1 == hi_t:
                state = tuple(s[k0 - lo : k1 - lo] for s in state)
            else:
                state = tuple(np.concatenate([s0[lo_t:k0], s[k0 - lo : k1 - lo], s0[k1:hi_t]])
                              for s0, s in zip(state0, state))
            lo, hi = lo_t, hi_t
        if hi - lo < len(out):
            out[:lo, t] = 0.0
            out[hi:, t] = 0.0
        if hi > lo:
            state, _ = cell.step_forward(A[lo:hi, t], state, W_hh_T, b_hh, out[lo:hi, t], keep_cache=False)
    for f, s in zip(finals, state):
        f[lo:hi] = s
    return finals


def direction_backward(
    d_out: np.ndarray | None, d_final: State, cache: DirectionCache, W_hh: np.ndarray, cell: Cell,
    record: dict | None = None, dA: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, State]:
    """Backpropagate through one direction's time loop.

    d_out (N, T, H) ∂L/∂outputs, or None when no output has a gradient (many-to-one);
    d_final: ∂L/∂final state tuple. dA: where to write ∂L/∂A (N, T, G·H), by default a new
    array; it may be ``d_out`` itself (G = 1), whose step t is read before dA_t is written.
    Returns dA, dW_hh, db_hh (GRU, else None), d_state0.

    dW_hh = Σ_t dHH_t^T h_{t-1} is summed in chunks of k steps as the loop goes (one GEMM
    of N·k rows each, ``CHUNK_ROWS``), from small buffers of the chunk's dHH_t and h_{t-1}.

    record: when a dict is given, it receives ``"h"``, the per-example L2 norms (N, T) of
    ∂L/∂h_t, everything that reaches h_t (from step t+1, the final state and the output at
    t), and for the LSTM ``"c"``, the norms of the total ∂L/∂c_t (from c_{t+1} and through
    h_t = o_t ⊙ tanh(c_t)). Processing order; 0 at padded steps. Recording changes no
    result; None (the default) costs nothing.
    """
    (N, H), T = d_final[0].shape, len(cache.steps)
    GH = W_hh.shape[0]
    dtype = d_final[0].dtype
    if dA is None:
        dA = np.empty((N, T, GH), dtype=dtype)
    k = max(1, min(T, -(-CHUNK_ROWS // N)))
    dHH_chunk = np.empty((k, N, GH), dtype=dtype)  # time-major in the chunk: each step's slice is contiguous
    h_prev_chunk = np.empty((k, N, H), dtype=dtype)
    dW_hh = np.zeros((GH, H), dtype=dtype)
    db_hh = np.zeros(GH, dtype=dtype) if cell.hidden_bias else None
    d_state = tuple(d_final)
    if record is not None:
        norms = [np.zeros((N, T), dtype=dtype) for _ in d_state]
    for t in range(T - 1, -1, -1):
        m_t = cache.mask[:, t]
        # s_t = m s̃_t + (1-m) s_{t-1};  out_t = m h̃_t   (with m = 1 everywhere: s_t = s̃_t, out_t = h̃_t)
        if cache.full[t]:
            d_new = d_state if d_out is None else (d_state[0] + d_out[:, t],) + d_state[1:]
        else:
            d_new = tuple(m_t * ds for ds in d_state)
            if d_out is not None:
                d_new = (d_new[0] + m_t * d_out[:, t],) + d_new[1:]
        if record is not None:
            parts = d_new[:1] + ((cell.cell_state_grad(d_new, cache.steps[t]),) if len(d_new) == 2 else ())
            for norm, g in zip(norms, parts):
                norm[:, t] = np.sqrt(np.einsum("nh,nh->n", g, g))
        j = t % k  # the chunk of steps [t - j, t - j + k) fills from its end
        d_prev = cell.step_backward(d_new, cache.steps[t], W_hh, dA[:, t], dHH_chunk[j])
        h_prev_chunk[j] = cache.steps[t].h_prev
        if j == 0:
            rows = min(k, T - t) * N
            dHH2 = dHH_chunk[: rows // N].reshape(rows, GH)
            dW_hh += np.dot(dHH2.T, h_prev_chunk[: rows // N].reshape(rows, H))
            if db_hh is not None:
                db_hh += dHH2.sum(axis=0)
        if cache.full[t]:
            d_state = d_prev
        else:
            d_state = tuple(dp + (1.0 - m_t) * ds for dp, ds in zip(d_prev, d_state))
    if record is not None:
        record.update(zip(("h", "c"), norms))
    return dA, dW_hh, db_hh, d_state


# --------------------------------------------------------------------- the stack


class StackCache(NamedTuple):
    inputs: list  # per layer: the layer's input (ids for one-hot layer 0, else features)
    directions: dict  # (layer, direction) -> DirectionCache
    masks: list  # per direction: mask in processing order
    keep: list  # per layer below the top: inverted-dropout multiplier, or None
    learned_state0: bool  # state0 came from the .h0/.c0 parameters
    embedding: tuple | None = None  # (name, ids) when layer 0's input was params[name][ids] (see stack_forward)
    keep_in: np.ndarray | None = None  # input dropout's multiplier of layer 0's input, or None


def _bias(params: dict, name: str, cell: Cell) -> np.ndarray:
    return params[f"{name}.b_ih"] if cell.hidden_bias else params[f"{name}.b"]


def _project(x: np.ndarray, W_ih: np.ndarray, b: np.ndarray, onehot: bool, embedded=None) -> np.ndarray:
    """A = x W_ih^T + b for features x (N, T, D), or a column gather for one-hot ids (N, T).

    embedded = (ids (N, T), E (V, D)) says that x = E[ids], an embedding lookup. When the vocabulary
    is smaller than the batch (V < N·T: characters, say), A is then gathered from the projected
    table E W_ih^T + b (V, G·H), a GEMM of V rows instead of N·T: the same values, up to rounding.
    """
    if onehot:
        table = np.zeros((W_ih.shape[1] + ONEHOT_OFFSET, W_ih.shape[0]), dtype=W_ih.dtype)
        table[ONEHOT_OFFSET:] = W_ih.T
        return table[x] + b
    N, T, D = x.shape
    if embedded is not None and embedded[1].shape[0] < N * T:
        ids, E = embedded
        table = np.dot(E, W_ih.T)
        table += b
        return table[ids]
    # one (N·T, D) GEMM: NumPy's stacked 3-D matmul is slower than one 2-D BLAS call
    A = np.dot(x.reshape(N * T, D), W_ih.T)
    A += b
    return A.reshape(N, T, -1)


# Ids must repeat this often in a batch, on average, for _project_backward to sum ∂L/∂A per id
# (a Python loop over the ids) rather than multiply it out over every token.
MIN_ID_REPEATS = 8


def _sums_per_id(embedded, N: int, T: int) -> bool:
    return embedded is not None and embedded[1].shape[0] * MIN_ID_REPEATS <= N * T


def _project_backward(x, dA, W_ih, onehot: bool, embedded=None):
    """Gradients of A = x W_ih^T + b: returns dW_ih, db, dx (None for one-hot ids).

    embedded = (ids (N, T), E (V, D)) when x = E[ids] and ids repeat (``_sums_per_id``): then
    dP = Σ of dA's rows per id (V, G·H) gives every gradient through small products,

        dW_ih = dP^T E      db = Σ_v dP_v      ∂L/∂E = dP W_ih   (returned in place of dx)

    instead of two GEMMs over the N·T tokens and a scatter of dx.
    """
    GH = dA.shape[-1]
    dA2 = dA.reshape(-1, GH)
    if embedded is not None:
        ids, E = embedded
        dP = layers.sum_rows_by_id(dA2, ids.reshape(-1), E.shape[0])
        return np.dot(dP.T, E), dP.sum(axis=0), np.dot(dP, W_ih)
    db = dA2.sum(axis=0)
    if onehot:
        ids = x.reshape(-1)
        keep = ids >= ONEHOT_OFFSET
        dW_T = np.zeros((W_ih.shape[1], GH), dtype=dA.dtype)
        np.add.at(dW_T, ids[keep] - ONEHOT_OFFSET, dA2[keep])
        return dW_T.T, db, None
    x2 = x.reshape(-1, x.shape[-1])
    dW_ih = np.dot(dA2.T, x2)
    dx = np.dot(dA2, W_ih).reshape(x.shape)
    return dW_ih, db, dx


def zero_state(spec: StackSpec, N: int, dtype) -> list[list[State]]:
    """Initial states, [layer][direction] -> tuple of (N, H) zeros."""
    z = lambda: np.zeros((N, spec.hidden_size), dtype=dtype)  # noqa: E731
    return [
        [tuple(z() for _ in range(spec.cell_type.state_size)) for _ in range(spec.directions)]
        for _ in range(spec.num_layers)
    ]


def learned_state(params: dict, spec: StackSpec, N: int, prefix: str = "rnn") -> list[list[State]]:
    """Initial states from the ``.h0``/``.c0`` parameters, broadcast over the batch."""
    return [
        [tuple(np.tile(params[f"{name}.{s}"], (N, 1)) for s in spec.state_names)
         for k2, _, name in spec.layer_names(prefix) if k2 == k]
        for k in range(spec.num_layers)
    ]


def stack_forward(x, mask, params: dict, spec: StackSpec, state0=None, prefix: str = "rnn",
                  dropout_rng: np.random.Generator | None = None, embedding: tuple[str, np.ndarray] | None = None,
                  keep_cache: bool = True):
    """Run the whole stack.

    x: features (N, T, D), or int ids (N, T) when ``spec.onehot``; mask (N, T).
    state0: [layer][direction] state tuples (default: learned if ``spec.learn_h0``, else zeros).
    dropout_rng: draws the dropout masks; None = evaluation (no dropout).
    embedding: (name, ids) when x = E[ids] is a lookup in the table E = params[name]: layer 0 may then
    project E instead of x (see ``_project``), and :func:`stack_backward` gives ∂L/∂E under ``name``.
    keep_cache: False for inference: nothing is kept for :func:`stack_backward`, and the cache returned is None.
    Returns (outputs (N, T, H·dirs) of the top layer, finals [layer][direction] state tuples, cache).
    Each direction's final state is taken at its last processed real token: for the reverse
    direction that is the first token, exactly PyTorch's ``h_n`` for packed sequences.
    """
    cell = spec.cell_type
    N, T = mask.shape
    dtype = params[f"{prefix}.l0.W_hh"].dtype
    keep_in = None
    if dropout_rng is not None and spec.input_dropout > 0 and not spec.onehot:
        keep_in = layers.dropout_mask(dropout_rng, x.shape, spec.input_dropout, dtype, spec.variational)
        x = x * keep_in
    # x is no longer a row of the table once dropped out: project it as features
    embedded = None if embedding is None or keep_in is not None else (embedding[1], params[embedding[0]])
    learned = state0 is None and spec.learn_h0
    if state0 is None:
        state0 = learned_state(params, spec, N, prefix) if learned else zero_state(spec, N, dtype)
    masks = [mask, mask[:, ::-1]]
    inputs, dir_caches, finals, keeps = [], {}, [], []
    layer_in = x
    H = spec.hidden_size
    for k in range(spec.num_layers):
        if keep_cache:
            inputs.append(layer_in)
        layer_out = np.empty((N, T, spec.output_size), dtype=dtype)  # both directions write their half

        def run(d: int, k: int = k, layer_in: np.ndarray = layer_in, layer_out: np.ndarray = layer_out):
            """Direction d of layer k: its projection (freed when this returns), then its time loop."""
            name = f"{prefix}.l{k}{'_reverse' if d else ''}"
            A = _project(layer_in, params[f"{name}.W_ih"], _bias(params, name, cell), spec.onehot and k == 0,
                         embedded if k == 0 else None)
            if d:
                A = A[:, ::-1]
            half = layer_out[:, :, d * H : (d + 1) * H]
            _, final, cache = direction_forward(A, masks[d], params[f"{name}.W_hh"], params.get(f"{name}.b_hh"),
                                                cell, state0[k][d], out=half[:, ::-1] if d else half,
                                                keep_cache=keep_cache, W_hh_T=params.get(name + TRANSPOSED))
            return final, cache

        if spec.directions == 2 and not keep_cache and N >= PAIR_MIN_ROWS and parallel.pairing():
            layer_results = parallel.pair(lambda: run(0), lambda: run(1))  # both directions at once
        else:
            layer_results = [run(d) for d in range(spec.directions)]
        finals.append([final for final, _ in layer_results])
        dir_caches.update({(k, d): cache for d, (_, cache) in enumerate(layer_results)})
        layer_in = layer_out
        if k < spec.num_layers - 1:
            keep = None
            if dropout_rng is not None and spec.dropout > 0:
                keep = layers.dropout_mask(dropout_rng, layer_in.shape, spec.dropout, dtype, spec.variational)
                layer_in = layer_in * keep
            keeps.append(keep)
    if not keep_cache:
        return layer_in, finals, None
    return layer_in, finals, StackCache(inputs, dir_caches, masks, keeps, learned, embedding, keep_in)


def stack_backward(d_out, d_finals, cache: StackCache, params: dict, spec: StackSpec, prefix: str = "rnn",
                   record: dict | None = None, overwrite_d_out: bool = False):
    """Backward of :func:`stack_forward`.

    d_out (N, T, H·dirs): ∂L/∂top outputs (may be None = zeros). With ``overwrite_d_out`` the
    caller gives it up, and a vanilla RNN (G = 1) reuses its memory for ∂L/∂A, as it does with
    the gradients it passes down between layers: BPTT then keeps one (N, T, H) buffer, not two.
    d_finals: [layer][direction] tuples of ∂L/∂final state (entries may be None = zeros).
    Returns (grads over the stack's parameter names, and ∂L/∂E (V, D) under the table's name when
    stack_forward was given an ``embedding``; dx = ∂L/∂x (N, T, D) for layer 0's input, None for one-hot
    ids or a table lookup; d_state0 [layer][direction]).

    record: when a dict is given, ``record[(layer, direction)]`` receives the per-step
    gradient norms of :func:`direction_backward` (``"h"``, and ``"c"`` for the LSTM), each
    (N, T) in real time order for both directions (t is the token position); 0 at padding.
    """
    cell = spec.cell_type
    H = spec.hidden_size
    grads: dict[str, np.ndarray] = {}
    d_state0 = [[None] * spec.directions for _ in range(spec.num_layers)]
    embedded = None
    if cache.embedding is not None and cache.keep_in is None:
        embedded = (cache.embedding[1], params[cache.embedding[0]])
    per_id = _sums_per_id(embedded, *cache.masks[0].shape)
    d_layer_out = d_out
    del d_out  # d_layer_out moves on to each layer's dx: the top gradient must not outlive the top layer
    for k in range(spec.num_layers - 1, -1, -1):
        x = cache.inputs[k]
        N, T = cache.masks[0].shape
        dtype = params[f"{prefix}.l{k}.W_hh"].dtype
        d_x = None
        for d in range(spec.directions):
            name = f"{prefix}.l{k}{'_reverse' if d else ''}"
            d_o = None if d_layer_out is None else d_layer_out[:, :, d * H : (d + 1) * H]
            if d and d_o is not None:
                d_o = d_o[:, ::-1]
            reuse = d_o is not None and cell.gates == 1 and (overwrite_d_out or k < spec.num_layers - 1)
            d_fin = d_finals[k][d] if d_finals is not None else None
            if d_fin is None:
                d_fin = (None,) * cell.state_size
            d_fin = tuple(np.zeros((N, H), dtype=dtype) if g is None else g for g in d_fin)
            W_hh = params[f"{name}.W_hh"]
            rec = None if record is None else {}
            dA, dW_hh, db_hh, ds0 = direction_backward(d_o, d_fin, cache.directions[(k, d)], W_hh, cell, rec,
                                                       dA=d_o if reuse else None)
            if d:
                dA = dA[:, ::-1]
            if rec is not None:
                record[(k, d)] = {key: norm[:, ::-1] if d else norm for key, norm in rec.items()}
            dW_ih, db, dx = _project_backward(x, dA, params[f"{name}.W_ih"], spec.onehot and k == 0,
                                              embedded if k == 0 and per_id else None)
            grads[f"{name}.W_ih"] = dW_ih
            grads[f"{name}.W_hh"] = dW_hh
            if cell.hidden_bias:
                grads[f"{name}.b_ih"] = db
                grads[f"{name}.b_hh"] = db_hh
            else:
                grads[f"{name}.b"] = db
            d_state0[k][d] = ds0
            if cache.learned_state0:
                for s, g in zip(spec.state_names, ds0):
                    grads[f"{name}.{s}"] = g.sum(axis=0)
            elif spec.learn_h0:  # a carried-over state was given: h0 did not take part
                for s in spec.state_names:
                    grads[f"{name}.{s}"] = np.zeros(H, dtype=dtype)
            if dx is not None:
                if d_x is None:
                    d_x = dx
                else:
                    d_x += dx
        keep = cache.keep[k - 1] if k > 0 else cache.keep_in
        if keep is not None and d_x is not None:
            d_x = d_x * keep  # layer_in = outputs ⊙ keep (or x ⊙ keep_in)
        d_layer_out = d_o = dA = dx = None  # freed before the next layer's (or the embedding's) buffers
        if k == 0 and cache.embedding is not None:  # summed per id, d_x already is ∂L/∂E
            name, ids = cache.embedding
            grads[name] = d_x if per_id else layers.embedding_backward(d_x, ids, params[name].shape[0])
            d_x = None
        d_layer_out = d_x
    return grads, d_layer_out, d_state0
