"""Predictions for raw texts with a trained run, in the shape of its task.

classify  {"text", "tokens", "ids", "label", "scores": {label: probability}}
regress   {"text", "tokens", "ids", "value"}
tag       {"text", "tokens", "ids", "tags": [tag per token], "scores": [probability of that tag]}
lm        {"text", "tokens", "ids", "next": [{"token", "probability"}, … the 5 likeliest]}
seq2seq   {"text", "tokens", "ids", "output", "output_tokens", "log_prob"}: the decoded target
          (tokens joined without spaces for the char tokenizer, else with one) and its log-probability
Each also has "unknown": how many of its tokens the vocabulary lacks (they have the <unk> id 1). A model with ``input: features`` reads each text as
timesteps of comma-separated numbers ("0.31,0 0.77,1 …") and gives {"text", "steps", …}
instead of tokens and ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnncli.checkpoint import Run
from rnncli.data import Vocab, tokenize
from rnncli.data.vocab import UNK_ID
from rnncli.errors import DataError
from rnncli.decoding import decode_all
from rnncli.model import forward, probabilities
from rnncli.tasks import Dataset, task_of

TOP_K_NEXT = 5


def encode_texts(texts: Sequence[str], vocab: Vocab, tokenizer: str, lowercase: bool):
    """Returns (tokens per text, ids per text); unknown tokens get the <unk> id 1."""
    tokens = [tokenize(text, tokenizer, lowercase) for text in texts]
    return tokens, [vocab.encode(toks) for toks in tokens]


def predict(run: Run, texts: Sequence[str], beam: int = 1, max_length: int | None = None) -> list[dict]:
    """Predictions for ``texts``; seq2seq decodes with ``beam`` (1: greedy) up to ``max_length`` tokens."""
    if run.spec.input == "features":
        return _predict_features(run, texts)
    tokens, ids = encode_texts(texts, run.vocab, run.tokenizer, run.lowercase)
    for i, toks in enumerate(tokens):
        if not toks:
            raise DataError(
                f"input {i + 1} ({texts[i]!r}) has no tokens, so there is nothing to predict from.",
                hint="pass non-empty text; with `-`, blank lines on stdin are skipped.",
            )
    task = run.spec.task
    base = [{"text": text, "tokens": toks, "ids": list(i), "unknown": list(i).count(UNK_ID)}
            for text, toks, i in zip(texts, tokens, ids)]
    if task == "lm":
        return [{**b, "next": _next_tokens(run, b["ids"])} for b in base]
    if task == "seq2seq":
        return _translate(run, base, beam, max_length)
    extra = [run.word_features.encode(tokenize(text, run.tokenizer, False)) for text in texts] \
        if run.word_features else None
    outputs = task_of(run.spec.task).score(run.params, run.spec, Dataset(ids=ids, word_features=extra)).outputs
    labels = run.labels.to_dict()["labels"]
    if task == "regress":
        return [{**b, "value": float(v)} for b, v in zip(base, outputs)]
    if task == "tag":
        return [{**b, "tags": [labels[c] for c in p.argmax(axis=-1)], "scores": [float(q) for q in p.max(axis=-1)]}
                for b, p in zip(base, outputs)]
    return [{**b, "label": labels[int(p.argmax())], "scores": {lab: float(q) for lab, q in zip(labels, p)}}
            for b, p in zip(base, outputs)]


def _predict_features(run: Run, texts: Sequence[str]) -> list[dict]:
    from rnncli.data.features import parse_all

    arrays = parse_all(texts, "input", run.spec.feature_dim)
    outputs = task_of(run.spec.task).score(run.params, run.spec, Dataset(ids=arrays, feature_dim=run.spec.feature_dim)).outputs
    base = [{"text": text, "steps": len(a)} for text, a in zip(texts, arrays)]
    if run.spec.task == "regress":
        return [{**b, "value": float(v)} for b, v in zip(base, outputs)]
    labels = run.labels.to_dict()["labels"]
    return [{**b, "label": labels[int(p.argmax())], "scores": {lab: float(q) for lab, q in zip(labels, p)}}
            for b, p in zip(base, outputs)]


def _next_tokens(run: Run, ids: list[int]) -> list[dict]:
    """The likeliest tokens to follow ``ids`` under a language model."""
    x = np.asarray([ids])
    logits, _ = forward(run.params, run.spec, x, np.ones_like(x, dtype=bool))
    p = probabilities(logits[0, -1], run.spec)
    top = np.argsort(-p, kind="stable")[:TOP_K_NEXT]
    return [{"token": run.vocab.itos[i], "probability": float(p[i])} for i in top]


def _translate(run: Run, base: list[dict], beam: int, max_length: int | None) -> list[dict]:
    joiner = "" if run.tokenizer == "char" else " "
    results = []
    for b, (tokens, log_prob) in zip(base, decode_all(run.params, run.spec, [b["ids"] for b in base],
                                                      max_length=max_length, beam=beam)):
        words = run.target_vocab.decode(tokens)
        results.append({**b, "output": joiner.join(words), "output_tokens": words, "log_prob": log_prob})
    return results
