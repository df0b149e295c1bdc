"""lm: plain text → the next token (many-to-many over one token stream).

The stream is cut into B parallel streams and windows of ``train.bptt`` steps (truncated BPTT): the
hidden state carries from one window to the next, the gradient does not. Metrics: loss in
nats/token, perplexity e^loss, bits per token loss/ln 2 (bits per character with the char tokenizer).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from rnncli.data import LabelVocab, Vocab, read_text, tokenize
from rnncli.data.subwords import WordFeatures
from rnncli.engine.recurrent import with_transposes
from rnncli.errors import DataError
from rnncli.models.sequence import forward, loss_from_logits, probabilities
from rnncli.tasks.base import EVAL_BATCH_SIZE, REGULARISED, Batch, Dataset, Scored, Task, token_inputs

TOP_K_NEXT = 5  # `rnn predict` shows this many likeliest next tokens
EVAL_BPTT = 256  # window length when scoring: longer than training's, as no gradient is kept


class LM(Task):
    name = "lm"
    columns = ("text", "next tokens (probability)")
    stream = True
    causal = True
    per_step = True

    gradcheck_classes = 8  # the vocabulary
    gradcheck_bidirectional = False  # a language model reads left to right

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """Besides the matrix: every dropout at once, for every cell."""
        matrix, _ = super().gradcheck_cases(cells)
        return matrix, [(self.gradcheck_spec(cell, act, False, 2, False, **REGULARISED), True) for cell, act in cells]

    def random_targets(self, spec, rng, mask, padded) -> np.ndarray:
        return rng.integers(0, spec.num_classes, size=mask.shape) * mask

    def read(self, cfg, path: str, skipped: list[str] | None = None):
        return tokenize(read_text(path), cfg.data.tokenizer, cfg.data.lowercase)

    def token_lists(self, cfg, raw, lowercase: bool | None = None) -> list[list[str]]:
        return [raw]

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return vocab_size

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        return Dataset(stream=np.asarray(vocab.encode(raw), dtype=np.int64))

    def epoch_order(self, data: Dataset, batch_size: int, shuffle: bool, bucket: bool, rng) -> None:
        return None  # fixed windows; nothing is shuffled

    def batches(self, data: Dataset, batch_size: int, order=None, bptt: int = 100) -> list[Batch]:
        return list(lm_batches(data.stream, batch_size, bptt))

    def count(self, batch: Batch) -> int:
        return int(batch.mask.sum())

    def score(self, params: dict, spec, data: Dataset, batch_size: int = EVAL_BATCH_SIZE,
              max_length: int | None = None, beam: int = 1) -> Scored:
        """Loss over the whole stream in windows of EVAL_BPTT steps on up to 32 parallel streams, the
        state carried across windows; no outputs."""
        total, terms, state = 0.0, 0, None
        params = with_transposes(params)  # fixed while scoring: W_hh^T once, not per window
        for batch in lm_batches(data.stream, min(batch_size, 32), EVAL_BPTT):
            logits, cache = forward(params, spec, batch.ids, batch.mask, state if batch.carry else None,
                                    keep_cache=False)
            n = batch.ids.size
            total += loss_from_logits(logits, batch.targets, spec, batch.mask)[0] * n
            terms += n
            state = cache.finals
        return Scored(total / max(terms, 1), terms, None)

    def export_settings(self) -> dict:
        return {"predicts": "next", "top_k": TOP_K_NEXT}

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        best = prediction["next"][0]
        columns = {"predicted": best["token"] if best["probability"] >= (threshold or 0.0) else "",
                   "probability": best["probability"]}
        if top_k:
            columns["top_k"] = prediction["next"][:top_k]
        return [columns]

    def predict(self, run, texts, beam: int = 1, max_length: int | None = None, tokens=None) -> list[dict]:
        """The TOP_K_NEXT likeliest tokens to follow each text."""
        predictions, params = [], with_transposes(run.params)
        for p in token_inputs(run, texts):
            x = np.asarray([p["ids"]])
            logits, _ = forward(params, run.spec, x, np.ones_like(x, dtype=bool), keep_cache=False)
            probs = probabilities(logits[0, -1], run.spec)
            top = np.argsort(-probs, kind="stable")[:TOP_K_NEXT]
            predictions.append({**p, "next": [{"token": run.vocab.itos[i], "probability": float(probs[i])} for i in top]})
        return predictions

    def row(self, p: dict) -> list:
        return [p["text"], "  ".join(f"{n['token']!r} {n['probability']:.3f}" for n in p["next"])]

    def describe_size(self, n: int, tokens: int) -> str:
        return f"{n} tokens"

    def describe_head(self, spec) -> str:
        return f"softmax per token ({spec.num_outputs}-token vocabulary)"

    def metrics(self, targets, scored, labels: list[str], full: bool = False) -> dict:
        return {"loss": scored.loss, "perplexity": float(np.exp(min(scored.loss, 700.0))),
                "bits_per_token": scored.loss / np.log(2.0)}


def lm_streams(stream: np.ndarray, num_streams: int) -> np.ndarray:
    """Cut a token stream into ``num_streams`` contiguous rows (N, L+1), dropping the remainder."""
    num_streams = max(1, min(num_streams, (len(stream) - 1) // 2 or 1))
    L = (len(stream) - 1) // num_streams
    if L < 1:
        raise DataError(f"the text has only {len(stream)} tokens; a language model needs at least 2.",
                        hint="use a longer text file.")
    return np.stack([stream[i * L : i * L + L + 1] for i in range(num_streams)])


def lm_batches(stream: np.ndarray, num_streams: int, bptt: int) -> Iterator[Batch]:
    """Windows of ``bptt`` steps over parallel streams; targets are the inputs shifted by one."""
    rows = lm_streams(stream, num_streams)
    L = rows.shape[1] - 1
    for start in range(0, L, bptt):
        stop = min(start + bptt, L)
        ids = rows[:, start:stop]
        yield Batch(ids, np.ones_like(ids, dtype=bool), rows[:, start + 1 : stop + 1], carry=start > 0)
