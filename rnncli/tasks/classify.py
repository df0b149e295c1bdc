"""classify: TSV/CSV text → one label per text (many-to-one).

Two classes: one sigmoid output, binary cross-entropy; C > 2 classes: softmax, cross-entropy.
Metrics: loss, accuracy; with ``full`` per-class precision, recall, F1, macro F1 and the confusion matrix.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rnncli.data import LabelVocab
from rnncli.errors import DataError
from rnncli.tasks.metrics import label_metrics
from rnncli.tasks.base import REGULARISED, Batch, ManyToOne, label_id


class Classify(ManyToOne):
    name = "classify"
    epoch_metrics = ("loss", "accuracy")  # what metrics() scores after every epoch
    prediction_options = ("top_k", "threshold")
    columns, right = ("text", "label", "probability"), {1, 2}
    accuracy = True
    monitors = ("dev_loss", "dev_accuracy")
    class_weighted = True

    def gradcheck_spec(self, cell, activation, bidirectional, layers, onehot, **extra):
        # two classes (one sigmoid output) with one layer, three (softmax) with two
        return replace(super().gradcheck_spec(cell, activation, bidirectional, layers, onehot, **extra),
                       num_classes=2 if layers == 1 else 3)

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """Besides the matrix: mean, max and concat pooling, a learned initial state, dropout between layers, and every
        dropout at once (masks per entry, and per sequence with pooling max), for every cell."""
        matrix, _ = super().gradcheck_cases(cells)
        every = {**REGULARISED, "variational": False}
        extras = [(self.gradcheck_spec(cell, act, True, 2, False, **extra), True) for cell, act in cells
                  for extra in ({"pooling": "mean"}, {"pooling": "max"}, {"pooling": "concat"}, {"learn_h0": True}, {"dropout": 0.5}, every,
                                {**REGULARISED, "pooling": "max"})]
        return matrix, extras

    def labels(self, cfg, raw) -> LabelVocab:
        labels = LabelVocab.build(ex.label for ex in raw)
        if len(labels) < 2:
            raise DataError(f"{cfg.data.train} has a single label ({labels.decode(0)!r}); a classifier needs at least two.",
                            hint="check data.label_field, or add examples of the other classes.")
        return labels

    def targets(self, raw, labels: LabelVocab, path) -> np.ndarray:
        return np.array([label_id(labels, ex.label, i, path) for i, ex in enumerate(raw)], dtype=np.int64)

    def correct(self, spec, logits: np.ndarray, batch: Batch) -> int:
        pred = (logits[:, 0] > 0).astype(np.int64) if spec.num_outputs == 1 else logits.argmax(axis=-1)
        return int(np.sum(pred == batch.targets))

    def export_settings(self) -> dict:
        return {"predicts": "label"}

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        ranked = sorted(prediction["scores"].items(), key=lambda kv: -kv[1])
        label, probability = ranked[0]
        columns = {"predicted": label if probability >= (threshold or 0.0) else "", "probability": probability}
        if top_k:
            columns["top_k"] = [{"label": lab, "probability": p} for lab, p in ranked[:top_k]]
        return [columns]

    def prediction(self, output, labels: list[str]) -> dict:
        return {"label": labels[int(output.argmax())], "scores": {lab: float(q) for lab, q in zip(labels, output)}}

    def row(self, p: dict) -> list:
        return [p["text"], p["label"], p["scores"][p["label"]]]

    def metrics(self, targets, scored, labels: list[str], full: bool = False) -> dict:
        y_true, y_pred = np.asarray(targets), np.asarray(scored.outputs).argmax(axis=-1)
        return {"loss": scored.loss, **label_metrics(y_true, y_pred, labels, full)}
