"""The conditional generator (``task: generate``): one item in, a token sequence out (one-to-many).

Shapes: N batch, M+1 steps, E embedding size, H hidden size, C conditions, V vocabulary (with
<pad>, <unk>, <bos> and <eos>).

    condition  c = C_emb[k] (N, E), the embedding of each example's condition id k
               (``condition_embedding.weight`` (C, E))
    start      each layer l starts from s_0 = tanh(c W_{l,p}ᵀ + b_{l,p}) for each state part p
               (h; and c for the LSTM): ``start.l{l}.W_h`` (H, E), ``start.l{l}.b_h`` (H,), …
    inputs     x_t = E[y_{t-1}] (N, M+1, E) with y_0 = <bos>; with ``feed_condition`` x_t = [E[y_{t-1}] ; c]
    stack      a unidirectional ``rnn.`` stack from s_0 ──► h_t (N, M+1, H)
    head       z_t = h_t W_headᵀ + b_head (V logits); targets y_1 … y_m, <eos>; cross-entropy over the
               real target tokens (mask)

In a batch, ``ids`` (N, M+1) holds the inputs y_0 … y_m, except that column 0, whose input is always
<bos>, carries each example's condition id k instead: one array serves both, so the generator has the
interface of every other model (:mod:`rnncli.models`).

Backward: the head and the stack as in :mod:`rnncli.models.sequence`; then, from ∂L/∂s_0 of each
layer and part, ∂L/∂a = ∂L/∂s_0 ⊙ (1 − s_0²) for a = c Wᵀ + b, giving ∂W = ∂aᵀ c, ∂b = Σ ∂a and
∂c = Σ_{l,p} ∂a W (plus Σ_t ∂x_t[E:] with ``feed_condition``); ∂C_emb and ∂E scatter into their rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnncli.data.vocab import BOS_ID, EOS_ID
from rnncli.engine import layers, losses
from rnncli.engine.functional import softmax
from rnncli.engine.recurrent import StackCache, StackSpec, stack_backward, stack_forward, with_transposes

NEVER_SAMPLED = (0, 1, BOS_ID)  # <pad>, <unk> and <bos> are never generated


def stack_spec(spec) -> StackSpec:
    E = spec.embedding_dim
    return StackSpec(cell=spec.cell, input_size=2 * E if spec.feed_condition else E, hidden_size=spec.hidden_size,
                     num_layers=spec.num_layers, activation=spec.activation, **spec.stack_dropout())


def _parts(stack: StackSpec) -> tuple[str, ...]:
    return ("h", "c")[: stack.cell_type.state_size]


def param_shapes(spec) -> dict[str, tuple[int, ...]]:
    E, H = spec.embedding_dim, spec.hidden_size
    stack = stack_spec(spec)
    shapes: dict[str, tuple[int, ...]] = {"condition_embedding.weight": (spec.num_conditions, E),
                                          "embedding.weight": (spec.vocab_size, E)}
    for k in range(spec.num_layers):
        for p in _parts(stack):
            shapes[f"start.l{k}.W_{p}"] = (H, E)
            shapes[f"start.l{k}.b_{p}"] = (H,)
    shapes.update(stack.param_shapes())
    shapes["head.W"] = (spec.vocab_size, H)
    shapes["head.b"] = (spec.vocab_size,)
    return shapes


class GeneratorCache(NamedTuple):
    conditions: np.ndarray  # (N,) condition ids
    inputs: np.ndarray  # (N, M+1) input ids, <bos> first
    c: np.ndarray  # (N, E) condition embeddings
    state0: list  # [layer][0] tuples of s_0 (N, H)
    stack: StackCache
    outputs: np.ndarray  # (N, M+1, H), after output dropout: the head's input
    finals: list
    keep_out: np.ndarray | None = None  # output dropout's multiplier, or None


def start_state(params: dict, spec, c: np.ndarray) -> list:
    """s_0 = tanh(c Wᵀ + b) for every layer and state part: [layer][direction 0] tuples."""
    stack = stack_spec(spec)
    return [[tuple(np.tanh(layers.linear_forward(c, params[f"start.l{k}.W_{p}"], params[f"start.l{k}.b_{p}"]))
                   for p in _parts(stack))] for k in range(spec.num_layers)]


def _inputs(params: dict, spec, inputs: np.ndarray, c: np.ndarray) -> np.ndarray:
    x = layers.embedding_forward(params["embedding.weight"], inputs)
    if spec.feed_condition:
        x = np.concatenate([x, np.broadcast_to(c[:, None, :], x.shape)], axis=-1)
    return x


def forward(params: dict, spec, ids: np.ndarray, mask: np.ndarray, dropout_rng=None):
    """ids (N, M+1) (column 0: condition ids), mask (N, M+1) → logits (N, M+1, V) and the cache."""
    conditions = ids[:, 0]
    inputs = ids.copy()
    inputs[:, 0] = BOS_ID
    if dropout_rng is not None and spec.word_dropout > 0:  # <bos> and <eos> are never dropped
        inputs = layers.word_dropout(inputs, spec.word_dropout, dropout_rng, first=EOS_ID + 1)
    c = layers.embedding_forward(params["condition_embedding.weight"], conditions)
    state0 = start_state(params, spec, c)
    outputs, finals, cache = stack_forward(_inputs(params, spec, inputs, c), mask, params, stack_spec(spec), state0,
                                           dropout_rng=dropout_rng)
    outputs, keep_out = layers.output_dropout(outputs, spec, dropout_rng)
    logits = layers.linear_forward(outputs, params["head.W"], params["head.b"])
    return logits, GeneratorCache(conditions, inputs, c, state0, cache, outputs, finals, keep_out)


def backward(d_logits: np.ndarray, cache: GeneratorCache, params: dict, spec) -> dict[str, np.ndarray]:
    E = spec.embedding_dim
    stack = stack_spec(spec)
    d_out, dW_head, db_head = layers.linear_backward(d_logits, cache.outputs, params["head.W"])
    if cache.keep_out is not None:
        d_out *= cache.keep_out
    grads, dx, d_state0 = stack_backward(d_out, None, cache.stack, params, stack, overwrite_d_out=True)
    dc = np.zeros_like(cache.c)
    for k in range(spec.num_layers):
        for p, s, ds in zip(_parts(stack), cache.state0[k][0], d_state0[k][0]):
            da = ds * (1.0 - s * s)  # s = tanh(a)
            W = params[f"start.l{k}.W_{p}"]
            grads[f"start.l{k}.W_{p}"] = np.dot(da.T, cache.c)
            grads[f"start.l{k}.b_{p}"] = da.sum(axis=0)
            dc += np.dot(da, W)
    grads["embedding.weight"] = layers.embedding_backward(dx[..., :E], cache.inputs, spec.vocab_size)
    if spec.feed_condition:  # padded steps leave the state alone, so their ∂x is 0
        dc += dx[..., E:].sum(axis=1)
    grads["condition_embedding.weight"] = layers.embedding_backward(dc, cache.conditions, spec.num_conditions)
    grads["head.W"], grads["head.b"] = dW_head, db_head
    return {k: grads[k] for k in params}


def loss_and_grads(params: dict, spec, ids, mask, targets, state0=None, dropout_rng=None,
                   record: dict | None = None, teacher_forcing: float = 1.0, label_smoothing: float = 0.0):
    """Mean loss over real target tokens, gradients, logits and cache. ``state0``, ``record`` and
    ``teacher_forcing`` belong to the other models (one signature serves all): the start state comes
    from the condition, and the inputs are always the gold tokens."""
    logits, cache = forward(params, spec, ids, mask, dropout_rng)
    batch_loss, d_logits = losses.softmax_cross_entropy(logits, targets, mask, label_smoothing)
    return batch_loss, backward(d_logits, cache, params, spec), logits, cache


def loss(params: dict, spec, ids, mask, targets, dropout_rng=None, teacher_forcing: float = 1.0, cache=None,
         label_smoothing: float = 0.0) -> float:
    """The loss alone (finite differences: ``rnn gradcheck``; scoring a data set)."""
    logits, _ = forward(params, spec, ids, mask, dropout_rng)
    return losses.softmax_cross_entropy(logits, targets, mask, label_smoothing)[0]


def sample(params: dict, spec, condition: int, num: int, max_length: int, temperature: float = 1.0,
           top_k: int | None = None, rng: np.random.Generator | None = None) -> list[list[int]]:
    """``num`` token sequences for one condition, each drawn one token at a time from softmax(z / τ)
    (restricted to the ``top_k`` likeliest when given) until <eos> or ``max_length`` tokens; the ids
    exclude <eos>. <pad>, <unk> and <bos> are never drawn, nor <eos> as the first token (no empty text)."""
    rng = rng or np.random.default_rng()
    params = with_transposes(params)  # fixed while sampling: W_hh^T once, not per token
    c = layers.embedding_forward(params["condition_embedding.weight"], np.full(num, condition))
    state, stack = start_state(params, spec, c), stack_spec(spec)
    prev = np.full((num, 1), BOS_ID)
    done = np.zeros(num, dtype=bool)
    out: list[list[int]] = [[] for _ in range(num)]
    for step in range(max_length):
        h, state, _ = stack_forward(_inputs(params, spec, prev, c), np.ones((num, 1), dtype=bool), params, stack, state)
        z = layers.linear_forward(h[:, 0], params["head.W"], params["head.b"]).astype(np.float64) / temperature
        z[:, list(NEVER_SAMPLED)] = -np.inf
        if step == 0:
            z[:, EOS_ID] = -np.inf  # a text has at least one token
        if top_k is not None and top_k < z.shape[1]:
            z[np.arange(num)[:, None], np.argsort(z, axis=1)[:, : z.shape[1] - top_k]] = -np.inf
        p = softmax(z)
        tokens = np.array([rng.choice(p.shape[1], p=row) for row in p])
        for i in np.flatnonzero(~done):
            if tokens[i] == EOS_ID:
                done[i] = True
            else:
                out[i].append(int(tokens[i]))
        if done.all():
            break
        prev = tokens[:, None]
    return out
