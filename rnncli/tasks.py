"""What each task reads, how it batches, and how it is scored.

    classify   TSV/CSV text → label             many-to-one, (N,) class targets
    regress    TSV/CSV text → number            many-to-one, (N,) real targets, MSE
    tag        CoNLL-U / two-column tokens → tags   many-to-many, (N, T) tag targets
    lm         plain text → next token          many-to-many over one token stream, split into
               B parallel streams and windows of ``train.bptt`` steps (truncated BPTT): the
               hidden state carries from one window to the next, the gradient does not.
    seq2seq    TSV/CSV source → target          many-to-many with unequal lengths: (N, S) source
               ids, (N, M+1) target ids ending in <eos> from a second (target) vocabulary

With ``model.input: features`` (classify and regress), the text column holds a real-valued
vector per timestep (``rnncli.data.features``): an example is an array (T_i, D) instead of
token ids, and a batch's ``ids`` holds the padded features (N, T, D).

A task turns files into a :class:`Dataset` and a dataset into :class:`Batch` es; training,
evaluation and gradient checks only see batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from rnncli.data import LabelVocab, Vocab, batch_indices, bucketed_indices, pad_batch, read_examples, read_tagged, read_text, tokenize
from rnncli.data.features import pad_features, parse_all
from rnncli.data.subwords import WordFeatures, feature_names
from rnncli.data.vocab import SPECIALS
from rnncli.errors import DataError
from rnncli.seq2seq import BOS, EOS, EOS_ID


@dataclass
class Batch:
    ids: np.ndarray  # (N, T) int, or features (N, T, D) float for input "features"
    mask: np.ndarray  # (N, T) bool
    targets: np.ndarray  # (N,) or (N, T)
    carry: bool = False  # lm: start from the previous window's final state


@dataclass
class Dataset:
    """Encoded data. Sequence tasks: ``ids`` per example and ``targets`` (array or per-example lists).
    lm: ``stream`` of token ids."""

    ids: list | None = None
    targets: object = None
    stream: np.ndarray | None = None
    tokens: list | None = None  # the tokens of each example (tag: needed to report per-token output)
    feature_dim: int = 0  # input "features": D, and ``ids`` holds one (T_i, D) array per example
    word_features: list | None = None  # model.prefix/suffix/shape: feature ids (T_i, K) per example

    def __len__(self) -> int:
        return len(self.stream) if self.stream is not None else len(self.ids)


# --------------------------------------------------------------------------- reading


def read_split(cfg, path: str, skipped: list[str] | None = None):
    """Raw data of one file: examples (classify/regress), sentences (tag) or token list (lm).

    With ``data.on_error: skip`` malformed rows of TSV/CSV/JSONL files are left out and noted in ``skipped``.
    """
    d = cfg.data
    if cfg.task == "tag":
        return read_tagged(path, d.format, d.tag_column)
    if cfg.task == "lm":
        return tokenize(read_text(path), d.tokenizer, d.lowercase)
    fmt = "auto" if d.format == "features" else d.format  # a features file is a TSV or CSV by extension
    return read_examples(path, fmt, d.text_field, d.label_field, d.header, d.on_error, skipped)


def split_off_dev(raw, fraction: float):
    """Hold out the final ``fraction`` of the training data (examples, or tokens for lm)."""
    cut = len(raw) - int(round(len(raw) * fraction))
    if cut <= 0 or cut >= len(raw):
        raise DataError(f"data.dev_split = {fraction} leaves no training or no dev data ({len(raw)} items).",
                        hint="choose a fraction between 0 and 1 that keeps both parts non-empty, or set data.dev.")
    return raw[:cut], raw[cut:]


def token_lists(cfg, raw, lowercase: bool | None = None) -> list[list[str]]:
    """The tokens of each example, lowercased as ``data.lowercase`` says (or as ``lowercase``)."""
    lower = cfg.data.lowercase if lowercase is None else lowercase
    if cfg.model.input == "features":
        return []  # no tokens: the vocabulary is <pad> and <unk> only
    if cfg.task == "tag":
        return [[t.lower() if lower else t for t in s.tokens] for s in raw]
    if cfg.task == "lm":
        return [raw]
    return [tokenize(ex.text, cfg.data.tokenizer, lower) for ex in raw]


def word_feature_names(cfg) -> list[str]:
    return feature_names(cfg.model.prefix, cfg.model.suffix, cfg.model.shape)


def build_word_features(cfg, raw) -> WordFeatures | None:
    """The vocabularies of the word features the config asks for (None when it asks for none)."""
    names = word_feature_names(cfg)
    return WordFeatures.build(names, token_lists(cfg, raw, lowercase=False), cfg.vocab.min_freq) if names else None


def target_token_lists(cfg, raw) -> list[list[str]]:
    """seq2seq: the target side of each pair, tokenized as the source."""
    return [tokenize(ex.label, cfg.data.tokenizer, cfg.data.lowercase) for ex in raw]


def build_target_vocab(cfg, raw) -> Vocab:
    """seq2seq: <pad>, <unk>, <bos>, <eos>, then the training targets' tokens (vocab.min_freq and
    vocab.max_size apply as to the source)."""
    counted = Vocab.build(target_token_lists(cfg, raw), min_freq=cfg.vocab.min_freq, max_size=cfg.vocab.max_size)
    tokens = [t for t in counted.itos[len(SPECIALS):] if t not in (BOS, EOS)]
    return Vocab([*SPECIALS, BOS, EOS, *tokens], {t: counted.counts[t] for t in tokens})


def build_labels(cfg, raw) -> LabelVocab:
    """Classes for classify/tag (sorted); none for regress and lm."""
    if cfg.task == "classify":
        labels = LabelVocab.build(ex.label for ex in raw)
        if len(labels) < 2:
            raise DataError(f"{cfg.data.train} has a single label ({labels.decode(0)!r}); a classifier needs at least two.",
                            hint="check data.label_field, or add examples of the other classes.")
        return labels
    if cfg.task == "tag":
        return LabelVocab.build(tag for s in raw for tag in s.tags)
    return LabelVocab([])


def _number(label: str, i: int, path) -> float:
    try:
        value = float(label)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path}: example {i + 1} has the target {label!r}, which is not a finite number.",
                        hint="task regress needs a numeric label column (data.label_field).")
    return value


def encode(cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
           word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
    """Encode raw data; for input "features", ``feature_dim`` (a trained model's D) is checked when given;
    ``word_features`` adds the feature ids of every token; seq2seq encodes its targets with ``target_vocab``."""
    if cfg.model.input == "features":
        arrays = parse_all([ex.text for ex in raw], str(path), feature_dim)
        targets = _targets(cfg, raw, labels, path)
        return Dataset(arrays, targets, feature_dim=arrays[0].shape[1] if arrays else 0)
    toks = token_lists(cfg, raw)
    if cfg.task == "lm":
        return Dataset(stream=np.asarray(vocab.encode(toks[0]), dtype=np.int64))
    ids = [vocab.encode(t) for t in toks]
    extra = [word_features.encode(t) for t in token_lists(cfg, raw, lowercase=False)] if word_features else None
    if cfg.task == "tag":
        return Dataset(ids, [[_label(labels, tag, i, path, "sentence") for tag in s.tags] for i, s in enumerate(raw)],
                       tokens=toks, word_features=extra)
    if cfg.task == "seq2seq":
        targets = target_token_lists(cfg, raw)
        for i, (source, target) in enumerate(zip(toks, targets)):
            if not source or not target:
                side = "source" if not source else "target"
                raise DataError(f"{path}: pair {i + 1} has an empty {side} (no tokens after tokenizing "
                                f"{(raw[i].text if not source else raw[i].label)!r} with data.tokenizer "
                                f"{cfg.data.tokenizer!r}).", hint="every line needs a non-empty source<TAB>target pair.")
        return Dataset(ids, [np.asarray(target_vocab.encode(t) + [EOS_ID], dtype=np.int64) for t in targets],
                       tokens=toks)
    return Dataset(ids, _targets(cfg, raw, labels, path), tokens=toks, word_features=extra)


def _label(labels: LabelVocab, label: str, i: int, path, what: str = "example") -> int:
    """The class id of ``label``; an unseen one is an error naming the file and the example."""
    try:
        return labels.encode(label)
    except DataError as exc:
        raise DataError(f"{path}: {what} {i + 1} has an {exc.message}", hint=exc.hint) from None


def _targets(cfg, raw, labels: LabelVocab, path) -> np.ndarray:
    """Many-to-one targets: numbers for regress, class ids for classify."""
    if cfg.task == "regress":
        return np.array([_number(ex.label, i, path) for i, ex in enumerate(raw)])
    return np.array([_label(labels, ex.label, i, path) for i, ex in enumerate(raw)], dtype=np.int64)


# ------------------------------------------------------------------------- batching


def pad_inputs(data: Dataset, idx) -> tuple[np.ndarray, np.ndarray]:
    """Padded inputs of the examples ``idx``: ids (N, T), or features (N, T, D); and the mask (N, T)."""
    if data.feature_dim:
        return pad_features([data.ids[i] for i in idx], data.feature_dim)
    ids, mask = pad_batch([data.ids[i] for i in idx])
    if data.word_features is not None:  # (N, T, 1 + K): the word id, then its feature ids (0 at padding)
        extra = np.zeros(ids.shape + (data.word_features[0].shape[1] if len(data.word_features) else 0,), ids.dtype)
        for n, i in enumerate(idx):
            extra[n, : len(data.word_features[i])] = data.word_features[i]
        ids = np.concatenate([ids[..., None], extra], axis=-1)
    return ids, mask


def sequence_batch(task: str, data: Dataset, idx) -> Batch:
    ids, mask = pad_inputs(data, idx)
    if task in ("tag", "seq2seq"):
        targets, _ = pad_batch([data.targets[i] for i in idx])
    else:
        targets = data.targets[idx]
    return Batch(ids, mask, targets)


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


def epoch_batches(data: Dataset, batch_size: int, shuffle: bool, bucket: bool, rng) -> list[np.ndarray]:
    """Index batches of one training epoch: with ``bucket`` (and shuffle) of similar lengths."""
    if shuffle and bucket:
        return bucketed_indices([len(ids) for ids in data.ids], batch_size, rng)
    return batch_indices(len(data), batch_size, shuffle, rng)


def batches(task: str, data: Dataset, batch_size: int, shuffle: bool = False, rng=None, bptt: int = 100,
            bucket: bool = False) -> list[Batch]:
    if task == "lm":
        return list(lm_batches(data.stream, batch_size, bptt))
    return [sequence_batch(task, data, idx) for idx in epoch_batches(data, batch_size, shuffle, bucket, rng)]


def count(task: str, batch: Batch) -> int:
    """How many terms a batch's mean loss averages over (for weighting batch means)."""
    if task == "seq2seq":
        return int(np.count_nonzero(batch.targets))  # real target tokens
    return int(batch.mask.sum()) if task in ("tag", "lm") else len(batch.ids)
