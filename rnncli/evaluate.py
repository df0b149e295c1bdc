"""Evaluate a trained run on a labelled file: loss, accuracy, per-class P/R/F1, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncli.checkpoint import Run
from rnncli.data import read_examples
from rnncli.inference import encode_texts, score
from rnncli.metrics import classification_report


@dataclass
class EvalResult:
    data: str
    n: int
    loss: float
    report: dict  # accuracy, macro_f1, per_class, confusion

    @property
    def labels(self) -> list[str]:
        return [row["label"] for row in self.report["per_class"]]

    def to_dict(self) -> dict:
        return {"data": self.data, "n": self.n, "loss": self.loss, **self.report, "labels": self.labels}


def evaluate(run: Run, data: str | Path, text_field=None, label_field=None) -> EvalResult:
    """Read ``data`` with the run's column settings (or the ones given) and score it."""
    cfg_data = run.config.get("data", {})
    examples = read_examples(
        data,
        cfg_data.get("format", "auto"),
        text_field if text_field is not None else cfg_data.get("text_field", "text"),
        label_field if label_field is not None else cfg_data.get("label_field", "label"),
        cfg_data.get("header"),
    )
    _, ids = encode_texts([ex.text for ex in examples], run.vocab, run.tokenizer, run.lowercase)
    targets = np.array([run.labels.encode(ex.label) for ex in examples], dtype=np.int64)
    loss, pred = score(run.params, run.spec, ids, targets)
    labels = [run.labels.decode(i) for i in range(len(run.labels))]
    return EvalResult(str(data), len(examples), loss, classification_report(targets, pred, labels))
