"""The encoder–decoder (``task: seq2seq``): many-to-many with unequal input and output lengths.

Shapes: N batch, S source steps, M target steps (+1 for ``<eos>``), E embedding size,
H hidden size, F = H · encoder directions, Vs / Vt source / target vocabulary sizes.

    encoder   X = E_src[src] (N, S, E) ──stack "encoder." (any cell, uni or bi)──► Y (N, S, F), finals
    bridge    unidirectional: decoder layer k starts from encoder layer k's final state
              bidirectional:  s_k = [s_k,fwd ; s_k,bwd] W_bᵀ + b_b per layer k and state part
                              (h, and c for the LSTM): ``bridge.l{k}.W_h`` (H, 2H), ``.b_h`` (H,)
    decoder   input  [<bos>, y_1 … y_m],  target [y_1 … y_m, <eos>]
              D = E_tgt[input] (N, M+1, E) ──stack "decoder." (unidirectional)──► h (N, M+1, H)
    attention (model.attention) c_t = additive attention of h_t over Y (``engine/attention.py``)
    head      z_t = [h_t ; c_t] W_headᵀ + b_head (or h_t alone), softmax over Vt
    loss      cross-entropy averaged over the real target tokens (``<eos>`` included)

Teacher forcing (``train.teacher_forcing`` = 1): the decoder reads the gold shifted target, and
runs as ONE masked ``stack_forward`` over all M+1 steps. With a ratio r < 1 each input token
after ``<bos>`` is, per example and step, the gold token with probability r and otherwise the
model's own argmax prediction of the step before; the decoder then runs one step at a time
through the same ``stack_forward`` (T = 1, carrying its state), and backpropagates through the
steps in reverse. The choice itself is not differentiated (as in scheduled sampling, Bengio
et al. 2015): the gradient flows through the embedding of the token that was fed, not into
the argmax that picked it.

Both paths, and decoding at inference, share :func:`decoder_forward` / :func:`decoder_backward`
on a chunk of decoder steps; the time loop is always ``engine/recurrent.py``'s.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnncli.data.vocab import BOS_ID
from rnncli.engine import attention, layers, losses
from rnncli.engine.recurrent import StackSpec, stack_backward, stack_forward



def encoder_spec(spec) -> StackSpec:
    return StackSpec(cell=spec.cell, input_size=spec.embedding_dim, hidden_size=spec.hidden_size,
                     num_layers=spec.num_layers, bidirectional=spec.bidirectional, activation=spec.activation,
                     learn_h0=spec.learn_h0, **spec.stack_dropout())


def decoder_spec(spec) -> StackSpec:
    return StackSpec(cell=spec.cell, input_size=spec.embedding_dim, hidden_size=spec.hidden_size,
                     num_layers=spec.num_layers, activation=spec.activation, **spec.stack_dropout())


def param_shapes(spec) -> dict[str, tuple[int, ...]]:
    """Source embedding, encoder, bridge (bidirectional encoder only), target embedding, decoder,
    attention (model.attention), head."""
    enc, dec = encoder_spec(spec), decoder_spec(spec)
    H, F = spec.hidden_size, enc.output_size
    shapes: dict[str, tuple[int, ...]] = {"src_embedding.weight": (spec.vocab_size, spec.embedding_dim)}
    shapes.update(enc.param_shapes("encoder"))
    if spec.bidirectional:
        for k in range(spec.num_layers):
            for s in _state_parts(dec):
                shapes[f"bridge.l{k}.W_{s}"] = (H, 2 * H)
                shapes[f"bridge.l{k}.b_{s}"] = (H,)
    shapes["tgt_embedding.weight"] = (spec.num_classes, spec.embedding_dim)
    shapes.update(dec.param_shapes("decoder"))
    if spec.attention:
        shapes.update({"attn.W_q": (H, H), "attn.W_k": (H, F), "attn.b": (H,), "attn.v": (H,)})
    shapes["head.W"] = (spec.num_classes, H + (F if spec.attention else 0))
    shapes["head.b"] = (spec.num_classes,)
    return shapes


def _state_parts(stack: StackSpec) -> tuple[str, ...]:
    return ("h", "c")[: stack.cell_type.state_size]


# --------------------------------------------------------------------------- encoder and bridge


class Encoded(NamedTuple):
    """What the decoder needs from the encoder (and the encoder's backward needs)."""

    Y: np.ndarray  # (N, S, F) encoder outputs, 0 at padding
    K: np.ndarray | None  # (N, S, A) attention keys
    mask: np.ndarray  # (N, S) source mask
    state0: list  # [layer][0] decoder initial state tuples
    ids: np.ndarray  # (N, S) source ids
    stack: object  # encoder StackCache (None at inference)
    bridge_in: list | None  # bidirectional: [layer][part] concatenated finals (N, 2H)

    def take(self, rows: np.ndarray) -> "Encoded":
        """The rows ``rows`` of every per-example array (beam search repeats one example K times)."""
        return Encoded(self.Y[rows], None if self.K is None else self.K[rows], self.mask[rows],
                       select_state(self.state0, rows), self.ids[rows], None, None)


def select_state(state: list, rows: np.ndarray) -> list:
    return [[tuple(s[rows] for s in direction) for direction in layer] for layer in state]


def encode(params: dict, spec, src_ids: np.ndarray, src_mask: np.ndarray, dropout_rng=None) -> Encoded:
    if dropout_rng is not None and spec.word_dropout > 0:
        src_ids = layers.word_dropout(src_ids, spec.word_dropout, dropout_rng)
    X = layers.embedding_forward(params["src_embedding.weight"], src_ids)
    Y, finals, cache = stack_forward(X, src_mask, params, encoder_spec(spec), prefix="encoder", dropout_rng=dropout_rng,
                                     embedding=("src_embedding.weight", src_ids))
    if spec.bidirectional:  # s_k = [s_fwd ; s_bwd] W_bᵀ + b_b, for each state part
        parts = _state_parts(decoder_spec(spec))
        bridge_in = [[np.concatenate([fin[0][j], fin[1][j]], axis=1) for j in range(len(parts))] for fin in finals]
        state0 = [[tuple(layers.linear_forward(z, params[f"bridge.l{k}.W_{s}"], params[f"bridge.l{k}.b_{s}"])
                         for z, s in zip(bridge_in[k], parts))] for k in range(spec.num_layers)]
    else:
        bridge_in, state0 = None, [[layer[0]] for layer in finals]
    K = attention.keys_forward(Y, params["attn.W_k"]) if spec.attention else None
    return Encoded(Y, K, src_mask, state0, src_ids, cache, bridge_in)


def encode_backward(d_state0: list, dY: np.ndarray, dK, enc: Encoded, params: dict, spec, grads: dict) -> None:
    """Gradients of the encoder, bridge and source embedding, added into ``grads``."""
    H = spec.hidden_size
    if dK is not None:  # K = Y W_kᵀ
        dY_k, grads["attn.W_k"] = attention.keys_backward(dK, enc.Y, params["attn.W_k"])
        dY = dY + dY_k
    if spec.bidirectional:
        parts = _state_parts(decoder_spec(spec))
        d_finals = []
        for k in range(spec.num_layers):
            d_fwd, d_bwd = [], []
            for j, s in enumerate(parts):
                dz, grads[f"bridge.l{k}.W_{s}"], grads[f"bridge.l{k}.b_{s}"] = layers.linear_backward(
                    d_state0[k][0][j], enc.bridge_in[k][j], params[f"bridge.l{k}.W_{s}"])
                d_fwd.append(dz[:, :H])
                d_bwd.append(dz[:, H:])
            d_finals.append([tuple(d_fwd), tuple(d_bwd)])
    else:
        d_finals = [[layer[0]] for layer in d_state0]
    grads.update(stack_backward(dY, d_finals, enc.stack, params, encoder_spec(spec), prefix="encoder")[0])


# ------------------------------------------------------------------------------------ decoder


class ChunkCache(NamedTuple):
    ids: np.ndarray  # (N, T) decoder input ids
    stack: object  # decoder StackCache
    features: np.ndarray  # (N, T, H [+ F]) head input, after output dropout
    attention: object  # AttentionCache or None
    keep_out: np.ndarray | None = None  # output dropout's multiplier, or None


def decoder_forward(params: dict, spec, enc: Encoded, ids: np.ndarray, mask: np.ndarray, state0: list,
                    dropout_rng=None):
    """T decoder steps from ``state0``: ids, mask (N, T) → logits (N, T, Vt), final states, cache."""
    D = layers.embedding_forward(params["tgt_embedding.weight"], ids)
    h, finals, stack_cache = stack_forward(D, mask, params, decoder_spec(spec), state0, prefix="decoder",
                                           dropout_rng=dropout_rng, embedding=("tgt_embedding.weight", ids))
    att = None
    features = h
    if spec.attention:
        c, att = attention.attention_forward(h, enc.K, enc.Y, enc.mask, params["attn.W_q"], params["attn.b"],
                                             params["attn.v"])
        features = np.concatenate([h, c], axis=2)
    features, keep_out = layers.output_dropout(features, spec, dropout_rng)
    logits = layers.linear_forward(features, params["head.W"], params["head.b"])
    return logits, finals, ChunkCache(ids, stack_cache, features, att, keep_out)


def decoder_backward(d_logits, d_finals, cache: ChunkCache, enc: Encoded, params: dict, spec, grads: dict,
                     d_enc: dict) -> list:
    """Backward of :func:`decoder_forward`; adds into ``grads`` and ``d_enc`` ({"Y", "K"}), returns d_state0."""
    H = spec.hidden_size
    d_features, dW, db = layers.linear_backward(d_logits, cache.features, params["head.W"])
    if cache.keep_out is not None:
        d_features *= cache.keep_out
    _add(grads, "head.W", dW)
    _add(grads, "head.b", db)
    d_h = d_features[:, :, :H]
    if spec.attention:
        dh_att, dK, dY, dW_q, db_a, dv = attention.attention_backward(
            d_features[:, :, H:], cache.attention, enc.Y, params["attn.W_q"], params["attn.v"])
        d_h = d_h + dh_att
        for name, g in (("attn.W_q", dW_q), ("attn.b", db_a), ("attn.v", dv)):
            _add(grads, name, g)
        _add(d_enc, "Y", dY)
        _add(d_enc, "K", dK)
    g, _, d_state0 = stack_backward(np.ascontiguousarray(d_h), d_finals, cache.stack, params, decoder_spec(spec),
                                    prefix="decoder")
    for name, value in g.items():  # with tgt_embedding.weight's (the stack was given the lookup)
        _add(grads, name, value)
    return d_state0


def _add(acc: dict, key: str, value: np.ndarray) -> None:
    acc[key] = value if key not in acc else acc[key] + value


# ------------------------------------------------------------------------------------ training


def decoder_inputs(targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[<bos>, y_1 … y_m] from targets [y_1 … y_m, <eos>] (N, M+1), <pad> where the target is padding."""
    inputs = np.empty_like(targets)
    inputs[:, 0] = BOS_ID
    inputs[:, 1:] = targets[:, :-1]
    return np.where(mask, inputs, 0)


class Seq2SeqCache(NamedTuple):
    encoded: Encoded
    chunks: list  # [(slice of steps, ChunkCache)]
    finals: list  # decoder final states
    inputs: np.ndarray  # (N, M+1) the decoder inputs that were fed, <pad> at padding


def forward(params: dict, spec, src_ids, src_mask, targets, dropout_rng=None, teacher_forcing: float = 1.0,
            feed: np.ndarray | None = None):
    """Logits (N, M+1, Vt) for the target steps, and the cache for :func:`backward`.

    ``dropout_rng`` draws dropout masks and, with ``teacher_forcing`` < 1, which inputs are sampled;
    without a generator every input is the gold token. ``feed`` (N, M+1) replays the inputs of an
    earlier pass (``cache.inputs``) in place of the sampled ones, so that finite differences see the
    same choices as the pass they check."""
    tgt_mask = targets != 0
    enc = encode(params, spec, src_ids, src_mask, dropout_rng)
    dec_in = decoder_inputs(targets, tgt_mask)
    if teacher_forcing >= 1.0 or dropout_rng is None:
        logits, finals, cache = decoder_forward(params, spec, enc, dec_in, tgt_mask, enc.state0, dropout_rng)
        return logits, Seq2SeqCache(enc, [(slice(None), cache)], finals, dec_in)
    N, M = targets.shape
    chunks, logits, state, prev = [], [], enc.state0, dec_in[:, 0]
    for t in range(M):
        step = slice(t, t + 1)
        ids = np.where(tgt_mask[:, t], prev, 0)[:, None]
        z, state, cache = decoder_forward(params, spec, enc, ids, tgt_mask[:, step], state, dropout_rng)
        chunks.append((step, cache))
        logits.append(z)
        gold = dropout_rng.random(N) < teacher_forcing
        prev = np.where(gold, targets[:, t], z[:, 0].argmax(axis=-1))
        if feed is not None and t + 1 < M:
            prev = feed[:, t + 1]
    inputs = np.concatenate([chunk.ids for _, chunk in chunks], axis=1)
    return np.concatenate(logits, axis=1), Seq2SeqCache(enc, chunks, state, inputs)


def backward(d_logits: np.ndarray, cache: Seq2SeqCache, params: dict, spec) -> dict[str, np.ndarray]:
    grads: dict[str, np.ndarray] = {}
    d_enc: dict[str, np.ndarray] = {}
    d_state = None
    for step, chunk in reversed(cache.chunks):
        d_state = decoder_backward(d_logits[:, step], d_state, chunk, cache.encoded, params, spec, grads, d_enc)
    enc = cache.encoded
    encode_backward(d_state, d_enc.get("Y", np.zeros_like(enc.Y)), d_enc.get("K"), enc, params, spec, grads)
    return {k: grads[k] for k in params}


def target_loss(logits: np.ndarray, targets: np.ndarray, label_smoothing: float = 0.0):
    """Mean cross-entropy over the real target tokens (targets ≠ <pad>), and ∂loss/∂logits."""
    return losses.softmax_cross_entropy(logits, targets, targets != 0, label_smoothing)


def loss_and_grads(params: dict, spec, src_ids, src_mask, targets, state0=None, dropout_rng=None,
                   record: dict | None = None, teacher_forcing: float = 1.0, label_smoothing: float = 0.0):
    """Mean loss, gradients, logits and cache of one batch. ``state0`` and ``record`` are the sequence
    model's (the same signature serves both models): the encoder starts from its own initial state, and
    per-step gradient norms are not recorded here."""
    logits, cache = forward(params, spec, src_ids, src_mask, targets, dropout_rng, teacher_forcing)
    batch_loss, d_logits = target_loss(logits, targets, label_smoothing)
    return batch_loss, backward(d_logits, cache, params, spec), logits, cache


def loss(params: dict, spec, src_ids, src_mask, targets, dropout_rng=None, teacher_forcing: float = 1.0,
         cache: Seq2SeqCache | None = None, label_smoothing: float = 0.0) -> float:
    """The loss alone (finite differences: ``rnn gradcheck``), with the decoder inputs that ``cache``'s pass
    sampled, not new argmaxes."""
    logits, _ = forward(params, spec, src_ids, src_mask, targets, dropout_rng, teacher_forcing,
                        cache.inputs if cache is not None else None)
    return target_loss(logits, targets, label_smoothing)[0]
