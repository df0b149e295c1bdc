"""Character-aware word representations (Ling et al. 2015; Lample et al. 2016; Plank et al. 2016).

Each word is read character by character by a bidirectional recurrent layer (the model's cell, hidden
size H_c per direction); its two final states, forward after the last character and backward after the
first, are the word's vector, which joins its embedding at the input of the word-level stack:

    c (N, T, L)    character ids of every word (``chars{k}`` word feature), 0 = padding
    C (M, L)       the M real words of the batch (mask = 1), gathered into one batch of words
    R_w = [h_fwd at the word's last character ; h_bwd at its first]     (M, 2·H_c)
    R (N, T, 2·H_c)  R_w scattered back to the words' positions, 0 at padding

so all words of a batch run through the time loop at once, the shorter ones masked exactly as
padded sentences are (a padded batch of words gives each word's vector alone). The character
embedding is ``chars_embedding.weight`` (V_c, D_c); the layer is ``char.l0`` and ``char.l0_reverse``
(:mod:`rnncli.engine.recurrent`'s names). Backward: ∂L/∂R gathered at the real words is ∂L/∂ of the
final states, through the same BPTT as every stack.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnncli.engine.recurrent import StackCache, StackSpec, stack_backward, stack_forward
from rnncli.models.spec import CHAR_PREFIX, feature_param

TABLE = feature_param("chars")  # chars_embedding.weight


def char_spec(spec) -> StackSpec:
    return StackSpec(cell=spec.cell, input_size=spec.char_embedding_dim, hidden_size=spec.char_hidden_size,
                     bidirectional=True, activation=spec.activation)


def param_shapes(spec) -> dict[str, tuple[int, ...]]:
    return {TABLE: (spec.char_vocab_size, spec.char_embedding_dim), **char_spec(spec).param_shapes(CHAR_PREFIX)}


class CharCache(NamedTuple):
    words: np.ndarray  # (M,) flat positions (n·T + t) of the real words
    stack: StackCache


def forward(params: dict, spec, chars: np.ndarray, mask: np.ndarray,
            keep_cache: bool = True) -> tuple[np.ndarray, CharCache | None]:
    """chars (N, T, L) ids, mask (N, T) of the words → R (N, T, 2·H_c) and the cache (None without
    ``keep_cache``)."""
    N, T, L = chars.shape
    words = np.flatnonzero(mask.reshape(-1))
    C = chars.reshape(N * T, L)[words]  # (M, L)
    lengths = (C > 0).sum(axis=1)
    if not keep_cache:  # words sorted by length: the forward-only loop then skips each step's padded words
        by_length = np.argsort(lengths, kind="stable")
        words, C = words[by_length], C[by_length]
    C = C[:, : max(int(lengths.max(initial=0)), 1)]  # no step that every word pads
    x = params[TABLE][C]
    _, finals, cache = stack_forward(x, C > 0, params, char_spec(spec), prefix=CHAR_PREFIX, embedding=(TABLE, C),
                                     keep_cache=keep_cache)
    R = np.zeros((N * T, 2 * spec.char_hidden_size), dtype=x.dtype)
    R[words] = np.concatenate([finals[0][0][0], finals[0][1][0]], axis=1)
    return R.reshape(N, T, -1), CharCache(words, cache) if keep_cache else None


def backward(dR: np.ndarray, cache: CharCache, params: dict, spec) -> dict[str, np.ndarray]:
    """∂L/∂R (N, T, 2·H_c) → the gradients of the character embedding and layer."""
    H = spec.char_hidden_size
    stack = char_spec(spec)
    d = dR.reshape(-1, 2 * H)[cache.words]
    rest = (None,) * (stack.cell_type.state_size - 1)  # c (LSTM) gets no direct gradient
    d_finals = [[(np.ascontiguousarray(d[:, :H]),) + rest, (np.ascontiguousarray(d[:, H:]),) + rest]]
    grads, _, _ = stack_backward(None, d_finals, cache.stack, params, stack, prefix=CHAR_PREFIX)
    return grads

