"""tag: CoNLL-U or two-column ``token<TAB>tag`` sentences → one tag per token (many-to-many, equal
lengths), softmax cross-entropy over the real tokens.

Metrics: loss, token accuracy; with ``full`` per-tag precision, recall, F1 and the confusion matrix.
"""

from __future__ import annotations

import numpy as np

from rnncli.data import LabelVocab, Vocab, read_tagged
from rnncli.data.subwords import WordFeatures
from rnncli.tasks.metrics import label_metrics
from rnncli.tasks.base import REGULARISED, Batch, Dataset, Task, label_id


class Tag(Task):
    name = "tag"
    epoch_metrics = ("loss", "accuracy")  # what metrics() scores after every epoch
    prediction_options = ("threshold",)
    columns = ("text", "tags")
    accuracy = True
    sequence_targets = True
    monitors = ("dev_loss", "dev_accuracy")
    reads_words = True
    class_weighted = True
    per_step = True

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """Besides the matrix: word features (prefix, suffix and shape), without and with every dropout, and the
        character encoder (words of 1–4 characters) with a suffix, for every cell."""
        matrix, _ = super().gradcheck_cases(cells)
        features = {"word_features": (("prefix1", 5), ("suffix2", 6), ("shape", 4)), "word_feature_dim": 2}
        chars = {"word_features": (("suffix2", 6), ("chars4", 7)), "word_feature_dim": 2, "char_embedding_dim": 2,
                 "char_hidden_size": 2}
        return matrix, [(self.gradcheck_spec(cell, act, True, layers, False, **features, **extra), True)
                        for cell, act in cells for layers, extra in ((1, {}), (2, REGULARISED))] + [
            (self.gradcheck_spec(cell, act, True, 1, False, **chars), padded) for cell, act in cells for padded in (True, False)]

    def random_targets(self, spec, rng, mask, padded) -> np.ndarray:
        return rng.integers(0, spec.num_classes, size=mask.shape) * mask

    def read(self, cfg, path: str, skipped: list[str] | None = None):
        return read_tagged(path, cfg.data.format, cfg.data.tag_column)

    def token_lists(self, cfg, raw, lowercase: bool | None = None) -> list[list[str]]:
        lower = cfg.data.lowercase if lowercase is None else lowercase
        return [[t.lower() if lower else t for t in s.tokens] for s in raw]

    def labels(self, cfg, raw) -> LabelVocab:
        return LabelVocab.build(tag for s in raw for tag in s.tags)

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        toks = self.token_lists(cfg, raw)
        return Dataset([vocab.encode(t) for t in toks],
                       [[label_id(labels, tag, i, path, "sentence") for tag in s.tags] for i, s in enumerate(raw)],
                       tokens=toks, word_features=self.word_feature_ids(cfg, raw, word_features))

    def count(self, batch: Batch) -> int:
        return int(batch.mask.sum())

    def correct(self, spec, logits: np.ndarray, batch: Batch) -> int:
        return int(np.sum((logits.argmax(axis=-1) == batch.targets) & batch.mask))

    def export_settings(self) -> dict:
        return {"predicts": "tags"}

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        return [{"predicted": tag if score >= (threshold or 0.0) else "", "probability": score}
                for tag, score in zip(prediction["tags"], prediction["scores"])]

    def prediction(self, output, labels: list[str]) -> dict:
        return {"tags": [labels[c] for c in output.argmax(axis=-1)], "scores": [float(q) for q in output.max(axis=-1)]}

    def row(self, p: dict) -> list:
        return [p["text"], " ".join(f"{w}/{t}" for w, t in zip(p["tokens"], p["tags"]))]

    def describe_size(self, n: int, tokens: int) -> str:
        return f"{n} sentences, {tokens} tokens"

    def describe_head(self, spec) -> str:
        return f"softmax per token ({spec.num_outputs} tags)"

    def metrics(self, targets, scored, labels: list[str], full: bool = False) -> dict:
        y_true = np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
        y_pred = np.concatenate([np.asarray(p).argmax(axis=-1) for p in scored.outputs])
        return {"loss": scored.loss, **label_metrics(y_true, y_pred, labels, full)}
