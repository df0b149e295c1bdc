"""regress: TSV/CSV text → one number per text (many-to-one), mean squared error.

Metrics: loss (MSE) and the mean absolute error.
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.data import LabelVocab, Vocab
from rnncli.errors import DataError
from rnncli.tasks.base import ManyToOne


class Regress(ManyToOne):
    name = "regress"
    epoch_metrics = ("loss", "mae")  # what metrics() scores after every epoch
    columns, right = ("text", "value"), {1}
    monitors = ("dev_loss", "dev_mae")
    output = "value"

    gradcheck_classes = 1

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """Besides the matrix: real-valued features input (2 per step), for every cell."""
        matrix, _ = super().gradcheck_cases(cells)
        return matrix, [(self.gradcheck_spec(cell, act, True, 2, False, input="features", feature_dim=2), True)
                        for cell, act in cells]

    def random_targets(self, spec, rng, mask, padded) -> np.ndarray:
        return rng.standard_normal(mask.shape[0])

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return 1

    def targets(self, raw, labels: LabelVocab, path) -> np.ndarray:
        return np.array([_number(ex.label, i, path) for i, ex in enumerate(raw)])

    def outputs(self, logits: np.ndarray, spec) -> np.ndarray:
        return logits[:, 0]  # the predicted number

    def export_settings(self) -> dict:
        return {"predicts": "value"}

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        return [{"predicted": prediction["value"]}]

    def prediction(self, output, labels: list[str]) -> dict:
        return {"value": float(output)}

    def row(self, p: dict) -> list:
        return [p["text"], p["value"]]

    def describe_head(self, spec) -> str:
        return "linear (1 output)"

    def metrics(self, targets, scored, labels: list[str], full: bool = False) -> dict:
        return {"loss": scored.loss, "mae": float(np.mean(np.abs(np.asarray(scored.outputs) - targets)))}


def _number(label: str, i: int, path) -> float:
    try:
        value = float(label)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path}: example {i + 1} has the target {label!r}, which is not a finite number.",
                        hint="task regress needs a numeric label column (data.label_field).")
    return value
