"""lm: plain text → the next token (many-to-many over one token stream).

The stream is a plain text file's tokens, or the texts of a table's ``data.text_field`` column
(.tsv, .csv, .jsonl), each followed by <eos>: a classifier's training file read as a corpus, held
out as the classifier holds it out (``data.holdout_split``, ``data.holdout_by``), so that a model
that later starts from the language model's weights (``train.init_from``) has not read its
holdout. ``data.reverse`` reads every text backwards, for the backward half of a bidirectional
model. The stream is cut into B parallel streams and windows of ``train.bptt`` steps (truncated BPTT): the
hidden state carries from one window to the next, the gradient does not. Metrics: loss in
nats/token, perplexity e^loss, bits per token loss/ln 2 (bits per character with the char tokenizer).
"""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np

from rnncli.data import Example, LabelVocab, Vocab, read_examples, read_text, tokenize
from rnncli.data.overlap import containers
from rnncli.data.readers import format_by_extension
from rnncli.data.subwords import WordFeatures
from rnncli.data.vocab import EOS
from rnncli.engine.recurrent import with_transposes
from rnncli.errors import DataError
from rnncli.models.sequence import forward, loss_from_logits, probabilities
from rnncli.tasks.base import EVAL_BATCH_SIZE, REGULARISED, Batch, Dataset, Scored, Task, token_inputs

TOP_K_NEXT = 5  # `rnn predict` shows this many likeliest next tokens
EVAL_BPTT = 256  # window length when scoring: longer than training's, as no gradient is kept


class LM(Task):
    name = "lm"
    epoch_metrics = ("loss", "perplexity", "bits_per_token")  # what metrics() scores after every epoch
    prediction_options = ("top_k", "threshold")
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

    def config_problems(self, cfg) -> list[tuple[str, str]]:
        """Texts are taken apart (held out by container, dropped when contained) only in a table."""
        keys = [k for k, on in (("data.holdout_by", cfg.data.holdout_by == "container"),
                                ("data.drop_contained", cfg.data.drop_contained)) if on]
        if keys and cfg.data.train and text_format(cfg, cfg.data.train) not in TABLE_FORMATS:
            return [(keys[0], f"compares the texts of a table (.tsv, .csv, .jsonl: data.text_field); "
                              f"{cfg.data.train} is read as plain text, one stream")]
        return []

    def read(self, cfg, path: str, skipped: list[str] | None = None):
        """A plain text file's tokens, or a table's rows (:class:`Example`, its texts not yet tokenized)."""
        d = cfg.data
        fmt = text_format(cfg, path)
        if fmt in TABLE_FORMATS:
            return read_examples(path, fmt, d.text_field, None, d.header, d.on_error, skipped)
        return tokenize(read_text(path), d.tokenizer, d.lowercase)

    def token_lists(self, cfg, raw, lowercase: bool | None = None) -> list[list[str]]:
        """The pieces of the stream, in order: the whole text, or each text of a table followed by <eos>
        (with ``data.drop_contained``, only the texts no other text contains); each backwards with
        ``data.reverse`` (a text's <eos> still last)."""
        d = cfg.data
        if not is_table(raw):
            return [list(raw[::-1]) if d.reverse else list(raw)]
        texts = tuple(ex.text for ex in raw)
        if d.drop_contained:
            texts = uncontained(texts)
        pieces = (tokenize(text, d.tokenizer, d.lowercase) for text in texts)
        return [(tokens[::-1] if d.reverse else tokens) + [EOS] for tokens in pieces if tokens]

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return vocab_size

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        pieces = self.token_lists(cfg, raw)
        stream = np.asarray(vocab.encode([t for piece in pieces for t in piece]), dtype=np.int64)
        if len(stream) < 2:  # checked here, before a run directory exists, not when the first batch is cut
            raise DataError(f"{path} gives a language model {len(stream)} token{'' if len(stream) == 1 else 's'} to read; "
                            "it needs at least 2.",
                            hint="use a longer text, or a table with more (or longer) texts.")
        return Dataset(stream=stream, texts=len(pieces) if is_table(raw) else None)

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
        """The TOP_K_NEXT likeliest tokens to follow each text (to come before it, for a model trained on
        reversed text: it reads the text backwards)."""
        predictions, params = [], with_transposes(run.params)
        for p in token_inputs(run, texts):
            x = np.asarray([p["ids"][::-1] if run.reverse else p["ids"]])
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


TABLE_FORMATS = ("tsv", "csv", "jsonl")


@functools.lru_cache(maxsize=2)
def uncontained(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The texts that no other text contains (data.drop_contained), in order. Remembered for the same texts:
    the vocabulary and the encoding each read the training texts, and the search is the costly part."""
    return tuple(texts[i] for i in containers(texts)[0])


def is_table(raw) -> bool:
    """Read from a table (a list of :class:`Example`), not plain text (a list of tokens)."""
    return bool(raw) and isinstance(raw[0], Example)


def text_format(cfg, path: str) -> str:
    """How lm reads ``path``: ``data.format``, or by extension with plain text for every extension that
    names no format (a language model's corpus rarely has one)."""
    return cfg.data.format if cfg.data.format != "auto" else format_by_extension(path) or "text"


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
