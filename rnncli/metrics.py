"""Classification metrics from true and predicted class indices.

    accuracy  = Σ_i [ŷ_i = y_i] / N
    precision_c = TP_c / (TP_c + FP_c),  recall_c = TP_c / (TP_c + FN_c),
    F1_c = 2 P_c R_c / (P_c + R_c)       (0 where a denominator is 0, as scikit-learn's zero_division=0)
    confusion[i][j] = number of examples of true class i predicted as class j
"""

from __future__ import annotations

import numpy as np

from rnncli.data import UNK_ID
from rnncli.seqmetrics import sequence_scores


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


def task_metrics(task: str, targets, scored, labels: list[str], full: bool = False) -> dict:
    """The headline metrics of a scored dataset (``inference.Scored``) against its targets.

    classify: loss, accuracy (+ per-class report when ``full``); regress: loss (MSE), mae;
    tag: loss, token accuracy (+ per-tag report); lm: loss in nats/token, perplexity e^loss,
    bits per token loss/ln 2 (bits per character with the char tokenizer); seq2seq: loss
    (teacher-forced, per target token), token accuracy, exact match and BLEU of the decoded outputs.
    """
    result: dict = {"loss": scored.loss}
    if task == "seq2seq":
        # a reference's <unk> (a token the training targets never had) can never be matched
        references = [[-1 if i == UNK_ID else int(i) for i in t[:-1]] for t in targets]
        result.update(sequence_scores(scored.outputs, references))
        return result
    if task == "lm":
        result.update(perplexity=float(np.exp(min(scored.loss, 700.0))), bits_per_token=scored.loss / np.log(2.0))
        return result
    if task == "regress":
        result["mae"] = float(np.mean(np.abs(np.asarray(scored.outputs) - targets)))
        return result
    if task == "tag":
        y_true = np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
        y_pred = np.concatenate([np.asarray(p).argmax(axis=-1) for p in scored.outputs])
    else:
        y_true, y_pred = np.asarray(targets), np.asarray(scored.outputs).argmax(axis=-1)
    if full:
        result.update(classification_report(y_true, y_pred, labels))
    else:
        result["accuracy"] = _ratio(float(np.sum(y_true == y_pred)), len(y_true))
    return result
