"""The sequence model: input encoding → recurrent stack → a linear head (classify, regress, tag, lm).

    ids (N, T) ──embedding E (V, D)──► X (N, T, D)     one-hot input: ids go straight to layer 0
    word features (rnncli.data.subwords): X_t = [E[word_t], P[prefix_t], S[suffix_t], Z[shape_t], R_t],
        each feature embedding (size_k, E), so D grows by E per feature, and R_t the word's vector from
        its characters (:mod:`rnncli.models.chars`, model.char_hidden_size), 2·H_c more
    features input: X (N, T, D) real-valued, D = feature_dim, given directly (no vocabulary)
    X ──recurrent stack──► outputs Y (N, T, F) and final states,   F = H · directions

many-to-one (task classify, regress): a summary s (N, F) of each sequence, then z = s W^T + b
    pooling last: s = [h_fwd at the last real token, h_bwd at the first token]  (PyTorch's h_n)
    pooling mean: s = Σ_t m_t y_t / Σ_t m_t        pooling max: s_j = max_{t: m_t = 1} y_tj
    pooling concat: s = [last, max, mean]  (N, 3F), ULMFiT's concat pooling
    classify, 2 classes: O = 1, p(class 1) = σ(z), binary cross-entropy
    classify, C > 2:     O = C, p = softmax(z), cross-entropy
    regress:             O = 1, ŷ = z, mean squared error
many-to-many (task tag, lm): z_t = y_t W^T + b at every step, softmax cross-entropy over real
    tokens; tag predicts one of C tags per token, lm the next token (O = V).
(many-to-many with unequal lengths, task seq2seq, is the encoder–decoder's: :mod:`rnncli.models.encoder_decoder`.)

Regularisation, training only (``dropout_rng`` given): word dropout turns real word ids into <unk>
before the lookup; the stack drops out its input and the outputs between layers; output dropout
multiplies the head's input (the summary s, or every y_t) by keep / (1 - p). With
``spec.variational`` the masks of sequences are one per sequence and feature, shared over time.
Adversarial training (train.adversarial = ε, Miyato et al. 2017) adds to each step's loss L(X) the
loss L(X + r) at the stack's input moved by r = ε g / ‖g‖₂ per sequence, g = ∂L/∂X (see
:func:`loss_and_grads`).

Parameter names: see :mod:`rnncli.models.spec`.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np

from rnncli.engine import layers, losses
from rnncli.engine.functional import sigmoid, softmax
from rnncli.engine.recurrent import StackCache, stack_backward, stack_forward
from rnncli.models import chars
from rnncli.models.spec import POOLED, ModelSpec, feature_param


def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    if spec.input == "embedding":
        shapes["embedding.weight"] = (spec.vocab_size, spec.embedding_dim)
    for name, size in spec.table_features:
        shapes[feature_param(name)] = (size, spec.word_feature_dim)
    if spec.char_vocab_size:
        shapes.update(chars.param_shapes(spec))
    shapes.update(spec.stack.param_shapes())
    shapes["head.W"] = (spec.num_outputs, spec.summary_size)
    shapes["head.b"] = (spec.num_outputs,)
    return shapes


# ------------------------------------------------------------------------ forward/backward


class ForwardCache(NamedTuple):
    ids: np.ndarray
    mask: np.ndarray
    stack: StackCache
    features: np.ndarray  # head input: summary (N, F) or outputs (N, T, F)
    pool_index: np.ndarray | None  # max pooling: argmax over time (N, F)
    finals: list  # [layer][direction] final state tuples (carried across lm windows)
    chars: chars.CharCache | None = None  # the character encoder's, when the model has one
    keep_out: np.ndarray | None = None  # output dropout's multiplier of the head's input
    adversarial: np.ndarray | None = None  # train.adversarial: the perturbation r of the second pass (N, T, D)


def _summary(outputs, finals, mask, spec: ModelSpec, with_index: bool = True):
    """Many-to-one summary (N, F · parts), the pooled parts side by side (``POOLED[spec.pooling]``), and
    for max pooling with ``with_index`` the argmax index over time that backward routes the gradient
    through (the forward-only path needs only the maxima, which NumPy finds several times faster than
    their positions along a strided axis: the same values)."""
    parts, index = [], None
    m = mask[:, :, None].astype(outputs.dtype)
    for part in POOLED[spec.pooling]:
        if part == "last":
            parts.append(np.concatenate([state[0] for state in finals[-1]], axis=1))
            continue
        if part == "mean":
            parts.append((outputs * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0))
            continue
        masked = np.where(m > 0, outputs, -np.inf)
        if not with_index:
            pooled = masked.max(axis=1)
            pooled[~mask.any(axis=1)] = 0.0  # an all-padding row: the zero summary, as below
        else:
            index = masked.argmax(axis=1)  # (N, F); an all-padding row gives 0 and a zero summary
            pooled = np.take_along_axis(outputs, index[:, None, :], axis=1)[:, 0]
        parts.append(pooled)
    return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)), index


def forward(params: dict, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray, state0=None,
            dropout_rng: np.random.Generator | None = None, keep_cache: bool = True, perturb=None):
    """ids (N, T) int, mask (N, T) → logits (N, O) or (N, T, O), and a cache for :func:`backward`.

    keep_cache=False is the forward-only path of scoring and prediction: the recurrent stack keeps
    nothing for backward (the cache's ``stack`` and ``chars`` are None; ``finals`` are there).

    With word features ``ids`` is (N, T, 1 + K): the word id, then the id of each feature.

    For ``input: features``, ``ids`` holds the features (N, T, D) instead (0 at padding),
    cast to the parameters' dtype.
    state0 overrides the initial states (lm windows carry them); dropout_rng enables dropout.
    perturb (N, T, D), or 0.0: added to the stack's input X (adversarial training), which the stack then
    takes as features, so that :func:`backward_with_input` returns ∂L/∂X (not for one-hot input).
    """
    if dropout_rng is not None and spec.word_dropout > 0 and spec.input != "features":
        ids = ids.copy()
        words = ids[..., 0] if spec.word_features else ids  # a view: the word column only
        words[...] = layers.word_dropout(words, spec.word_dropout, dropout_rng)
    embedding, char_cache = None, None  # (name, ids) when x = E[ids]: the stack may project E instead of x (see recurrent._project)
    if spec.input == "onehot":
        x = ids
    elif spec.input == "features":
        x = np.asarray(ids, dtype=params["head.W"].dtype)
    elif spec.word_features:  # ids (N, T, 1 + K [+ L]): the word, its K feature ids [, its L characters' ids]
        parts = [layers.embedding_forward(params["embedding.weight"], ids[..., 0])] + [
            layers.embedding_forward(params[feature_param(name)], ids[..., 1 + k])
            for k, (name, _) in enumerate(spec.table_features)]
        if spec.char_vocab_size:
            R, char_cache = chars.forward(params, spec, ids[..., 1 + len(spec.table_features):], mask, keep_cache)
            parts.append(R)
        x = np.concatenate(parts, axis=-1)
    else:
        x = layers.embedding_forward(params["embedding.weight"], ids)
        embedding = ("embedding.weight", ids)
    if perturb is not None:
        x, embedding = x + perturb, None
    outputs, finals, stack_cache = stack_forward(x, mask, params, spec.stack, state0, dropout_rng=dropout_rng,
                                                 embedding=embedding, keep_cache=keep_cache)
    if spec.per_step:
        features, index = outputs, None
    else:
        features, index = _summary(outputs, finals, mask, spec, with_index=keep_cache)
    features, keep_out = layers.output_dropout(features, spec, dropout_rng)
    logits = layers.linear_forward(features, params["head.W"], params["head.b"])
    return logits, ForwardCache(ids, mask, stack_cache, features, index, finals, char_cache, keep_out)


def head_backward(d_logits: np.ndarray, cache: ForwardCache, params: dict, spec: ModelSpec) -> dict:
    """∂L/∂logits → the head's gradients and what flows into the stack, as a dict that
    :func:`backward` consumes: ``"head.W"``, ``"head.b"``, ``"d_outputs"`` (N, T, H·dirs) or
    None, and ``"d_finals"`` [layer][direction] state-gradient tuples or None."""
    stack_spec = spec.stack
    H = spec.hidden_size
    d_features, dW, db = layers.linear_backward(d_logits, cache.features, params["head.W"])
    if cache.keep_out is not None:
        d_features *= cache.keep_out
    if spec.per_step:
        return {"head.W": dW, "head.b": db, "d_outputs": d_features, "d_finals": None}
    d_outputs, d_finals = None, None
    N, T = cache.mask.shape
    F = stack_spec.output_size
    m = cache.mask[:, :, None].astype(d_features.dtype)
    for i, part in enumerate(POOLED[spec.pooling]):
        d_part = d_features[:, i * F : (i + 1) * F]
        if part == "last":
            d_finals = [[None] * stack_spec.directions for _ in range(spec.num_layers)]
            for d in range(stack_spec.directions):
                # the summary holds each direction's final h; c (LSTM) gets no direct gradient
                d_finals[-1][d] = (d_part[:, d * H : (d + 1) * H],) + (None,) * (stack_spec.cell_type.state_size - 1)
            continue
        if part == "mean":
            d_pooled = m * (d_part / np.maximum(m.sum(axis=1), 1.0))[:, None, :]
        else:  # max: each feature's gradient goes to the step that held its maximum
            d_pooled = np.zeros((N, T, F), dtype=d_features.dtype)
            np.put_along_axis(d_pooled, cache.pool_index[:, None, :], d_part[:, None, :], axis=1)
            d_pooled *= m  # an all-padding row has no real maximum
        if d_outputs is None:
            d_outputs = d_pooled
        else:
            d_outputs += d_pooled
    return {"head.W": dW, "head.b": db, "d_outputs": d_outputs, "d_finals": d_finals}


def backward(head: dict, cache: ForwardCache, params: dict, spec: ModelSpec,
             record: dict | None = None) -> dict[str, np.ndarray]:
    """The rest of the backward pass: the gradients of :func:`backward_with_input` alone."""
    return backward_with_input(head, cache, params, spec, record)[0]


def backward_with_input(head: dict, cache: ForwardCache, params: dict, spec: ModelSpec,
                        record: dict | None = None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The rest of the backward pass, from :func:`head_backward`'s dict → gradients with the
    same keys as ``params``, and ∂L/∂X (N, T, D) for the stack's input X (None when the stack took X as
    one-hot ids or as rows of the embedding table: see :func:`forward`'s ``perturb``). It takes
    ``"d_outputs"`` out of ``head`` and lets the stack reuse its memory, so that BPTT holds one buffer of
    that size, not two.

    record: an optional dict that receives the per-step gradient norms of every layer and
    direction (see :func:`rnncli.engine.recurrent.stack_backward`)."""
    # d_outputs is handed over, not kept here: the stack frees it before the embedding's gradient is built
    grads, dx, _ = stack_backward(head.pop("d_outputs"), head["d_finals"], cache.stack, params, spec.stack,
                                  record=record, overwrite_d_out=True)
    if spec.input == "embedding" and "embedding.weight" not in grads:  # the stack took X as features
        D, E = spec.embedding_dim, spec.word_feature_dim
        words = cache.ids[..., 0] if spec.word_features else cache.ids
        grads["embedding.weight"] = layers.embedding_backward(dx[..., :D], words, spec.vocab_size)
        for k, (name, size) in enumerate(spec.table_features):
            grads[feature_param(name)] = layers.embedding_backward(
                dx[..., D + k * E : D + (k + 1) * E], cache.ids[..., 1 + k], size)
        if cache.chars is not None:
            grads.update(chars.backward(dx[..., D + len(spec.table_features) * E :], cache.chars, params, spec))
    grads["head.W"], grads["head.b"] = head["head.W"], head["head.b"]
    return {k: grads[k] for k in params}, dx


def loss_from_logits(logits: np.ndarray, targets: np.ndarray, spec: ModelSpec, mask: np.ndarray | None = None,
                     class_weights: np.ndarray | None = None, label_smoothing: float = 0.0):
    """Mean loss and ∂loss/∂logits.

    targets: class indices (N,) for classify, numbers (N,) for regress, indices (N, T) for
    tag and lm, where only positions with mask = 1 count. class_weights (C,): each term weighs
    class_weights[target] and the mean is weighted (PyTorch's CrossEntropyLoss(weight=)); with one
    sigmoid output, class_weights[1] / class_weights[0] is BCEWithLogitsLoss's pos_weight.
    label_smoothing ε: the target distribution is (1 - ε) onehot(y) + ε/C (see ``engine/losses.py``).
    """
    if spec.per_step:
        w = mask if class_weights is None else class_weights[targets] * mask
        return losses.softmax_cross_entropy(logits, targets, w, label_smoothing)
    if spec.output == "value":
        loss, dz = losses.mean_squared_error(logits[:, 0], targets)
        return loss, dz[:, None]
    if spec.num_outputs == 1:
        pos_weight = 1.0 if class_weights is None else float(class_weights[1] / class_weights[0])
        loss, dz = losses.bce_with_logits(logits[:, 0], targets, pos_weight=pos_weight, smoothing=label_smoothing)
        return loss, dz[:, None]
    return losses.softmax_cross_entropy(logits, targets, None if class_weights is None else class_weights[targets],
                                        label_smoothing)


def loss_and_grads(params: dict, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray, targets: np.ndarray,
                   state0=None, dropout_rng=None, record: dict | None = None, teacher_forcing: float = 1.0,
                   class_weights: np.ndarray | None = None, label_smoothing: float = 0.0, adversarial: float = 0.0):
    """One forward and backward pass: returns (mean loss, grads, logits, cache).

    record: optional dict for the per-step gradient norms (see :func:`backward`). ``teacher_forcing`` is
    the encoder–decoder's (the same signature serves both models) and means nothing here; class_weights
    and label_smoothing see :func:`loss_from_logits`.

    adversarial = ε > 0 (Miyato et al. 2017): the gradients are those of L(X) + L(X + r), with
    r = ε g / ‖g‖₂ per sequence from g = ∂L/∂X of the first pass
    (:func:`rnncli.engine.layers.adversarial_perturbation`) held constant, and the second pass drawing the same dropout masks (and word dropout) from a copy
    of ``dropout_rng``: the same function of the weights, at a moved input. The loss, logits and cache
    returned are the first pass's (its cache without the stack's, which only backward reads, and with r)."""
    replay = copy.deepcopy(dropout_rng) if adversarial else None
    logits, cache = forward(params, spec, ids, mask, state0, dropout_rng, perturb=0.0 if adversarial else None)
    loss, d_logits = loss_from_logits(logits, targets, spec, mask, class_weights, label_smoothing)
    head = head_backward(d_logits, cache, params, spec)
    del d_logits  # BPTT's memory peak comes next: keep only what it needs
    grads, d_x = backward_with_input(head, cache, params, spec, record)
    if not adversarial:
        return loss, grads, logits, cache
    r = layers.adversarial_perturbation(d_x, mask, adversarial)
    cache = cache._replace(stack=None, chars=None, adversarial=r)  # frees the first pass's activations first
    del d_x
    logits_r, cache_r = forward(params, spec, ids, mask, state0, replay, perturb=r)
    d_logits_r = loss_from_logits(logits_r, targets, spec, mask, class_weights, label_smoothing)[1]
    for name, g in backward(head_backward(d_logits_r, cache_r, params, spec), cache_r, params, spec).items():
        grads[name] += g
    return loss, grads, logits, cache


def loss(params: dict, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray, targets: np.ndarray, dropout_rng=None,
         teacher_forcing: float = 1.0, cache=None, class_weights: np.ndarray | None = None,
         label_smoothing: float = 0.0, perturb: np.ndarray | None = None) -> float:
    """The loss alone (finite differences: ``rnn gradcheck``); ``perturb`` moves the stack's input (see
    :func:`forward`)."""
    logits, _ = forward(params, spec, ids, mask, dropout_rng=dropout_rng, perturb=perturb)
    return loss_from_logits(logits, targets, spec, mask, class_weights, label_smoothing)[0]


def probabilities(logits: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Class probabilities (…, C) from logits (…, O); not for regress."""
    if spec.num_outputs == 1:
        p1 = sigmoid(logits[..., 0])
        return np.stack([1.0 - p1, p1], axis=-1)
    return softmax(logits)
