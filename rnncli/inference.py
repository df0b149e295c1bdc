"""Text → token ids → batched forward passes, shared by train, evaluate and predict."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnncli.data import Vocab, pad_batch, tokenize
from rnncli.model import ModelSpec, forward, loss_from_logits, probabilities

EVAL_BATCH_SIZE = 256


def encode_texts(texts: Sequence[str], vocab: Vocab, tokenizer: str, lowercase: bool):
    """Returns (tokens per text, ids per text); unknown tokens get the <unk> id 1."""
    tokens = [tokenize(text, tokenizer, lowercase) for text in texts]
    return tokens, [vocab.encode(toks) for toks in tokens]


def batched_logits(params: dict, spec: ModelSpec, id_lists: Sequence[Sequence[int]],
                   batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """Logits (N, O) for every sequence, computed in batches of similar-length sequences."""
    order = np.argsort([len(ids) for ids in id_lists], kind="stable")  # less padding per batch
    out = np.empty((len(id_lists), spec.num_outputs), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = pad_batch([id_lists[i] for i in chunk])
        logits, _ = forward(params, spec, ids, mask)
        out[chunk] = logits
    return out


def score(params: dict, spec: ModelSpec, id_lists, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean loss and predicted classes over a whole dataset."""
    logits = batched_logits(params, spec, id_lists)
    loss, _ = loss_from_logits(logits, targets, spec)
    return loss, probabilities(logits, spec).argmax(axis=1)
