"""Predict labels for raw texts with a trained run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnncli.checkpoint import Run
from rnncli.errors import DataError
from rnncli.inference import batched_logits, encode_texts
from rnncli.model import probabilities


@dataclass
class Prediction:
    text: str
    tokens: list[str]
    ids: list[int]  # unknown tokens show as the <unk> id 1
    label: str
    scores: dict[str, float]  # label -> probability

    def to_dict(self) -> dict:
        return {"text": self.text, "tokens": self.tokens, "ids": self.ids, "label": self.label, "scores": self.scores}


def predict(run: Run, texts: Sequence[str]) -> list[Prediction]:
    tokens, ids = encode_texts(texts, run.vocab, run.tokenizer, run.lowercase)
    for i, toks in enumerate(tokens):
        if not toks:
            raise DataError(
                f"input {i + 1} ({texts[i]!r}) has no tokens, so there is nothing to classify.",
                hint="pass non-empty text; with `-`, blank lines on stdin are skipped.",
            )
    probs = probabilities(batched_logits(run.params, run.spec, ids), run.spec)
    labels = [run.labels.decode(c) for c in range(len(run.labels))]
    return [
        Prediction(text, toks, list(i), labels[int(p.argmax())], {lab: float(q) for lab, q in zip(labels, p)})
        for text, toks, i, p in zip(texts, tokens, ids, probs)
    ]
