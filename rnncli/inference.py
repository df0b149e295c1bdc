"""Batched forward passes without gradients, shared by train (dev scores), evaluate and predict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnncli import decoding, seq2seq
from rnncli.data import Vocab, pad_batch, tokenize
from rnncli.model import ModelSpec, forward, loss_from_logits, probabilities
from rnncli.tasks import Dataset, lm_batches, pad_inputs

EVAL_BATCH_SIZE = 256
EVAL_BPTT = 256


def encode_texts(texts: Sequence[str], vocab: Vocab, tokenizer: str, lowercase: bool):
    """Returns (tokens per text, ids per text); unknown tokens get the <unk> id 1."""
    tokens = [tokenize(text, tokenizer, lowercase) for text in texts]
    return tokens, [vocab.encode(toks) for toks in tokens]


@dataclass
class Scored:
    loss: float  # mean over every scored term (examples, or real tokens for tag/lm)
    terms: int  # how many terms the mean is over
    outputs: list | np.ndarray | None  # classify: probabilities (N, C); regress: values (N,);
    #                                    tag: probabilities (T_i, C) per sequence; lm: None;
    #                                    seq2seq: greedily decoded target ids per example (no <eos>)


def _by_length(id_lists, batch_size: int):
    """Chunks of indices of similar-length sequences: less padding per batch."""
    order = np.argsort([len(ids) for ids in id_lists], kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def score(params: dict, spec: ModelSpec, data: Dataset, batch_size: int = EVAL_BATCH_SIZE,
          max_length: int | None = None, beam: int = 1) -> Scored:
    """Loss and outputs of the model on a whole dataset (no dropout, no gradients).

    seq2seq decodes each source with ``beam`` (1: greedy) up to ``max_length`` tokens
    (default: :func:`rnncli.decoding.default_max_length`)."""
    if spec.task == "lm":
        return _score_lm(params, spec, data.stream, batch_size)
    if spec.task == "seq2seq":
        return _score_seq2seq(params, spec, data, batch_size, max_length, beam)
    total, terms = 0.0, 0
    outputs: list = [None] * len(data.ids)
    for chunk in _by_length(data.ids, batch_size):
        ids, mask = pad_inputs(data, chunk)
        logits, _ = forward(params, spec, ids, mask)
        n = int(mask.sum()) if spec.task == "tag" else len(chunk)
        if data.targets is not None:  # predict has none
            if spec.task == "tag":
                targets, _ = pad_batch([data.targets[i] for i in chunk], max_len=ids.shape[1])
            else:
                targets = data.targets[chunk]
            total += loss_from_logits(logits, targets, spec, mask)[0] * n
        terms += n
        if spec.task == "regress":
            values = logits[:, 0]
        else:
            values = probabilities(logits, spec)
        for j, i in enumerate(chunk):
            outputs[i] = values[j, : len(data.ids[i])] if spec.task == "tag" else values[j]
    if spec.task != "tag":
        outputs = np.array(outputs)
    return Scored(total / max(terms, 1), terms, outputs)


def _score_lm(params: dict, spec: ModelSpec, stream: np.ndarray, num_streams: int) -> Scored:
    total, terms, state = 0.0, 0, None
    for batch in lm_batches(stream, min(num_streams, 32), EVAL_BPTT):
        logits, cache = forward(params, spec, batch.ids, batch.mask, state if batch.carry else None)
        n = batch.ids.size
        total += loss_from_logits(logits, batch.targets, spec, batch.mask)[0] * n
        terms += n
        state = cache.finals
    return Scored(total / max(terms, 1), terms, None)


def _score_seq2seq(params: dict, spec: ModelSpec, data: Dataset, batch_size: int,
                   max_length: int | None = None, beam: int = 1) -> Scored:
    """Teacher-forced loss over real target tokens, and the decoded outputs."""
    total, terms = 0.0, 0
    for chunk in _by_length(data.ids, batch_size):
        ids, mask = pad_inputs(data, chunk)
        targets, _ = pad_batch([data.targets[i] for i in chunk])
        logits, _ = seq2seq.forward(params, spec, ids, mask, targets)
        n = int(np.count_nonzero(targets))
        total += seq2seq.target_loss(logits, targets)[0] * n
        terms += n
    outputs = [tokens for tokens, _ in decode_all(params, spec, data.ids, batch_size, max_length, beam)]
    return Scored(total / max(terms, 1), terms, outputs)


def decode_all(params: dict, spec: ModelSpec, id_lists, batch_size: int = EVAL_BATCH_SIZE,
               max_length: int | None = None, beam: int = 1) -> list[tuple[list[int], float]]:
    """seq2seq: (output ids without <eos>, log-probability) of every source, decoded in batches of
    similar length with ``beam`` (1: greedy) up to ``max_length`` tokens
    (default: :func:`rnncli.decoding.default_max_length`)."""
    limit = decoding.default_max_length(spec) if max_length is None else max_length
    results: list = [None] * len(id_lists)
    for chunk in _by_length(id_lists, batch_size):
        ids, mask = pad_batch([id_lists[i] for i in chunk])
        for i, result in zip(chunk, decoding.decode(params, spec, ids, mask, limit, beam)):
            results[i] = result
    return results
