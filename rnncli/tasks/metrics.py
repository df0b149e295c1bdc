"""Classification metrics from true and predicted class indices.

    accuracy  = Σ_i [ŷ_i = y_i] / N
    precision_c = TP_c / (TP_c + FP_c),  recall_c = TP_c / (TP_c + FN_c),
    F1_c = 2 P_c R_c / (P_c + R_c)       (0 where a denominator is 0, as scikit-learn's zero_division=0)
    confusion[i][j] = number of examples of true class i predicted as class j
"""

from __future__ import annotations

import numpy as np



def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro F1 and the confusion matrix."""
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), len(labels))
    per_class = []
    for c, label in enumerate(labels):
        tp = cm[c, c]
        p = _ratio(tp, cm[:, c].sum())
        r = _ratio(tp, cm[c, :].sum())
        f1 = _ratio(2 * p * r, p + r)
        per_class.append({"label": label, "precision": p, "recall": r, "f1": f1, "support": int(cm[c, :].sum())})
    return {
        "accuracy": _ratio(np.trace(cm), cm.sum()),
        # over the classes that occur in the truth or the predictions, as scikit-learn does
        "macro_f1": float(np.mean([row["f1"] for c, row in enumerate(per_class) if cm[c, :].sum() + cm[:, c].sum()]
                                  or [0.0])),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` (e.g. dev_accuracy, holdout_bleu) is better: the accuracies, BLEU and
    exact match; losses, perplexity, bits per token and mae are better smaller."""
    return metric.endswith(("accuracy", "bleu", "exact_match"))


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], full: bool = False) -> dict:
    """Accuracy of predicted class (or tag) ids; with ``full`` the whole :func:`classification_report`."""
    if full:
        return classification_report(y_true, y_pred, labels)
    return {"accuracy": _ratio(float(np.sum(y_true == y_pred)), len(y_true))}
