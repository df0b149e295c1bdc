"""Decoding a seq2seq model: greedy and beam search, each stopping at ``<eos>`` or a length limit.

A hypothesis y_1 … y_n is scored by its log-probability under the model,

    score(y) = Σ_t log p(y_t | y_<t, x)          (y_n = <eos> when it finished)

summed, not divided by the length: the toy tasks have one right answer whose length the model
knows, and a plain sum keeps beam 1 identical to greedy decoding.

greedy   y_t = argmax_v p(v | y_<t, x), a whole batch at once
beam K   keep the K best prefixes; each step extends every prefix by every token and keeps the K
         best of those; a prefix that ends in <eos> is finished and leaves the beam. Stops when
         K hypotheses have finished (or none is left, or at the limit, where unfinished prefixes
         count as they are); the best-scoring finished hypothesis wins.

Both are written against a step function ``step(prev_ids (B,), state) -> (log p (B, V), state)``
and ``select(state, rows)``, so beam search can be tested on a hand-made distribution.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnncli.models import encoder_decoder
from rnncli.data import pad_batch
from rnncli.data.batching import by_length
from rnncli.data.vocab import BOS_ID, EOS_ID
from rnncli.engine.functional import log_softmax
from rnncli.engine.recurrent import with_transposes

Step = Callable[[np.ndarray, object], tuple[np.ndarray, object]]


def default_max_length(spec) -> int:
    """Twice the longest training target, plus 10 tokens."""
    return 2 * spec.max_target_length + 10


# ------------------------------------------------------------------------- the model as a step


class ModelStepper:
    """``step`` and ``select`` for a trained model on encoded sources (no dropout, no caches kept)."""

    def __init__(self, params: dict, spec, src_ids: np.ndarray, src_mask: np.ndarray) -> None:
        self.params, self.spec = params, spec
        self.enc = encoder_decoder.encode(params, spec, src_ids, src_mask)

    def initial(self):
        """The state: (encoder rows in use, decoder state)."""
        return (np.arange(len(self.enc.ids)), self.enc.state0)

    def step(self, prev: np.ndarray, state):
        rows, dec_state = state
        enc = self.enc if np.array_equal(rows, np.arange(len(self.enc.ids))) else self.enc.take(rows)
        ids = prev[:, None]
        logits, finals, _ = encoder_decoder.decoder_forward(self.params, self.spec, enc, ids, np.ones_like(ids, dtype=bool),
                                                    dec_state)
        return log_softmax(logits[:, 0].astype(np.float64)), (rows, finals)

    @staticmethod
    def select(state, rows: np.ndarray):
        enc_rows, dec_state = state
        return enc_rows[rows], encoder_decoder.select_state(dec_state, rows)


# ----------------------------------------------------------------------------- the searches


def greedy(step: Step, state, batch: int, max_length: int, bos: int = BOS_ID,
           eos: int = EOS_ID) -> list[tuple[list[int], float]]:
    """(tokens without <eos>, log-probability) per example of a batch."""
    prev = np.full(batch, bos, dtype=np.int64)
    done = np.zeros(batch, dtype=bool)
    scores = np.zeros(batch)
    tokens: list[list[int]] = [[] for _ in range(batch)]
    for _ in range(max_length):
        logp, state = step(prev, state)
        prev = logp.argmax(axis=1)
        scores += np.where(done, 0.0, logp[np.arange(batch), prev])
        for i in np.flatnonzero(~done & (prev != eos)):
            tokens[i].append(int(prev[i]))
        done |= prev == eos
        if done.all():
            break
    return list(zip(tokens, scores.tolist()))


def beam_search(step: Step, select: Callable, state, beam: int, max_length: int, bos: int = BOS_ID,
                eos: int = EOS_ID) -> tuple[list[int], float]:
    """The best (tokens without <eos>, log-probability) for ONE example; ``state`` has one row."""
    alive: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    for _ in range(max_length):
        prev = np.array([toks[-1] if toks else bos for toks, _ in alive], dtype=np.int64)
        logp, state = step(prev, state)
        total = np.array([score for _, score in alive])[:, None] + logp  # (B, V)
        best = np.argsort(-total, axis=None, kind="stable")[:beam]  # ties: lower row, then lower token id
        rows, tokens = np.unravel_index(best, total.shape)
        keep = []
        next_alive = []
        for b, v in zip(rows.tolist(), tokens.tolist()):
            hypothesis = (alive[b][0] + ([] if v == eos else [v]), float(total[b, v]))
            if v == eos:
                finished.append(hypothesis)
            else:
                next_alive.append(hypothesis)
                keep.append(b)
        alive = next_alive
        if not alive or len(finished) >= beam:
            break
        state = select(state, np.array(keep))
    else:
        finished.extend(alive)  # the length limit: unfinished prefixes count as they are
    return max(finished, key=lambda h: h[1])


def decode(params: dict, spec, src_ids: np.ndarray, src_mask: np.ndarray, max_length: int,
           beam: int = 1) -> list[tuple[list[int], float]]:
    """Decode a padded batch of sources: greedy for ``beam`` 1, else beam search per example."""
    if beam <= 1:
        stepper = ModelStepper(params, spec, src_ids, src_mask)
        return greedy(stepper.step, stepper.initial(), len(src_ids), max_length)
    results = []
    for i in range(len(src_ids)):
        length = int(src_mask[i].sum())
        stepper = ModelStepper(params, spec, src_ids[i : i + 1, :length], src_mask[i : i + 1, :length])
        results.append(beam_search(stepper.step, stepper.select, stepper.initial(), beam, max_length))
    return results


def decode_all(params: dict, spec, id_lists, batch_size: int = 256,
               max_length: int | None = None, beam: int = 1) -> list[tuple[list[int], float]]:
    """seq2seq: (output ids without <eos>, log-probability) of every source, decoded in batches of
    similar length with ``beam`` (1: greedy) up to ``max_length`` tokens
    (default: :func:`default_max_length`)."""
    limit = default_max_length(spec) if max_length is None else max_length
    params = with_transposes(params)  # fixed while decoding: W_hh^T once, not per token
    results: list = [None] * len(id_lists)
    for chunk in by_length(id_lists, batch_size):
        ids, mask = pad_batch([id_lists[i] for i in chunk])
        for i, result in zip(chunk, decode(params, spec, ids, mask, limit, beam)):
            results[i] = result
    return results
