"""Everything read and built before the first step: data → vocabularies → the model's shape → its
initial weights. Training, gradient diagnostics, ``rnn summary`` and ``rnn gradcheck --config``
all start here."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rnncli.tasks import Dataset, split_off_dev, task_of
from rnncli.config import Config
from rnncli.data import LabelVocab, Vocab
from rnncli.data import vectors
from rnncli.data.overlap import split_by_container
from rnncli.data.subwords import WordFeatures
from rnncli.data.vectors import Coverage, Vectors
from rnncli.data.vocab import SPECIALS
from rnncli.errors import ConfigError, DataError
from rnncli.models import ModelSpec, init_params


@dataclass
class Prepared:
    """Everything read and encoded before the first step."""

    vocab: Vocab
    labels: LabelVocab
    train: Dataset
    dev: Dataset | None
    test: Dataset | None
    spec: ModelSpec
    word_features: WordFeatures | None = None
    skipped: dict = field(default_factory=dict)  # file -> messages of malformed rows left out (data.on_error: skip)
    target_vocab: Vocab | None = None  # seq2seq: the target side's tokens, with <bos> and <eos>
    class_weights: np.ndarray | None = None  # train.class_weights: the weight of each label, in label order
    vectors: Vectors | None = None  # model.embeddings.path: the pretrained vectors of the vocabulary's words
    coverage: Coverage | None = None  # how much of the vocabulary and of the training tokens they cover
    holdout: Dataset | None = None  # data.holdout_split: the held-out end of the training data, to select on
    split: dict | None = None  # how it was cut: {"by", "train", "holdout", "dropped"}


def build_vocab(cfg: Config, train_raw) -> Vocab:
    """Load ``vocab.path`` if given, take the words of the vectors file (``vocab.from_embeddings``), else
    count the training tokens."""
    if cfg.vocab.path:
        vocab = Vocab.load(cfg.vocab.path)
        tokens = [t for toks in task_of(cfg.task).token_lists(cfg, train_raw) for t in toks]
        if tokens and not any(t in vocab.stoi for t in tokens):
            raise DataError(f"{cfg.vocab.path} holds none of the training data's {len(set(tokens)):,} token types "
                            f"(e.g. {tokens[0]!r}), so every token would read as <unk>.",
                            hint="build the vocabulary with the config's data.tokenizer and data.lowercase "
                                 "(rnn vocab build --tokenizer … --lowercase), or leave vocab.path out to count it.")
        return vocab
    if cfg.vocab.from_embeddings:
        e = cfg.model.embeddings
        words = vectors.vocabulary_words(e.path, cfg.vocab.max_size, e.format, cfg.data.lowercase)
        return Vocab([*SPECIALS, *(w for w in words if w not in SPECIALS)])
    return task_of(cfg.task).vocabulary(cfg, train_raw)


def pretrained(cfg: Config, vocab: Vocab, train_raw) -> tuple[Vectors | None, Coverage | None]:
    """The vectors of ``model.embeddings.path`` for the vocabulary's words, and their coverage of the vocabulary
    and of the training tokens; (None, None) without a vectors file."""
    e = cfg.model.embeddings
    if not e.path:
        return None, None
    words = set(vocab.itos[len(SPECIALS):])
    found = vectors.read_vectors(e.path, words, e.format, cfg.data.lowercase)
    if found.dim != cfg.model.embedding_dim:
        raise ConfigError(f"{e.path} holds {found.dim}-dimensional vectors, but model.embedding_dim is "
                          f"{cfg.model.embedding_dim}.", hint=f"set model.embedding_dim: {found.dim}.")
    if not found.vectors:
        raise DataError(f"{e.path}: none of the vocabulary's {len(words)} words has a vector in it "
                        f"({found.words_read} words read).",
                        hint="check that the file is in the language and case of the data (data.lowercase), "
                             "and model.embeddings.format.")
    counts = Counter(t for tokens in task_of(cfg.task).token_lists(cfg, train_raw) for t in tokens)
    total = sum(counts.values())
    share = sum(c for t, c in counts.items() if t in found.vectors) / total if total else math.nan
    return found, Coverage(str(e.path), found.dim, len(found.vectors), len(words), share)


def model_spec(cfg: Config, vocab_size: int, labels: LabelVocab, feature_dim: int = 0,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None,
               max_target_length: int = 0) -> ModelSpec:
    m, task = cfg.model, task_of(cfg.task)
    return task.model_spec(
        vocab_size=vocab_size, num_classes=task.num_classes(vocab_size, labels, target_vocab),
        cell=m.cell, activation=m.activation,
        input=m.input, embedding_dim=m.embedding_dim, hidden_size=m.hidden_size, num_layers=m.num_layers,
        bidirectional=m.bidirectional, dropout=m.dropout, input_dropout=m.input_dropout,
        output_dropout=m.output_dropout, word_dropout=m.word_dropout, variational=m.variational_dropout,
        pooling=m.pooling, learn_h0=m.learn_h0,
        feature_dim=feature_dim, word_features=word_features.sizes() if word_features else (),
        word_feature_dim=m.word_feature_dim, attention=m.attention,
        char_embedding_dim=m.char_embedding_dim if m.char_hidden_size else 0, char_hidden_size=m.char_hidden_size, max_target_length=max_target_length,
        feed_condition=m.feed_condition, **task.spec_fields(labels),
    )


def class_weights(cfg: Config, labels: LabelVocab, targets) -> np.ndarray | None:
    """The weight of each label (``train.class_weights``): balanced = n / (C · n_c) over the training targets
    (scikit-learn's "balanced"), or the mapping's weights (1 for the labels it leaves out)."""
    given = cfg.train.class_weights
    if given is None:
        return None
    names = labels.to_dict()["labels"]
    if given == "balanced":
        flat = np.concatenate([np.ravel(t) for t in targets]) if isinstance(targets, list) else np.ravel(targets)
        counts = np.bincount(flat.astype(np.int64), minlength=len(names)).astype(np.float64)
        return np.where(counts > 0, len(flat) / (len(names) * np.maximum(counts, 1)), 0.0)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(f"train.class_weights names {', '.join(map(repr, unknown))}, which the training data does "
                          f"not have as a label.", hint="the labels are " + ", ".join(map(repr, names)) + ".")
    return np.array([given.get(name, 1.0) for name in names])


def initial_params(cfg: Config, spec: ModelSpec, prepared: Prepared | None = None) -> dict[str, np.ndarray]:
    """The weights training starts from (drawn from the first of the seed's generators), with the pretrained
    vectors of ``prepared`` in the embedding table's rows of their words."""
    t, m = cfg.train, cfg.model
    params = init_params(spec, np.random.default_rng([t.seed, 0]), np.dtype(t.dtype), m.init, m.forget_bias,
                         m.recurrent_gain)
    if prepared is not None and prepared.vectors is not None:
        table = params["embedding.weight"]
        for word, vector in prepared.vectors.vectors.items():
            table[prepared.vocab.stoi[word]] = vector
    return params


def warm_start(cfg: Config) -> list:
    """The runs ``train.init_from`` names (:class:`rnncli.rundir.Run`): one of the config's task (a warm
    start), or runs of tasks whose embedding and stack a transfer reads (:mod:`rnncli.training.transfer`)."""
    from rnncli.rundir import load_run

    given = cfg.train.init_from
    return [load_run(path, last_flag=None) for path in ([given] if isinstance(given, str) else given)]


def warm_vocabularies(cfg: Config, run) -> tuple:
    """What ``prepare`` takes from the run: its vocabulary (unless vocab.path gives one), labels, target
    vocabulary and word features, so that its weights mean the same tokens."""
    return (None if cfg.vocab.path else run.vocab), run.labels, run.target_vocab, run.word_features


def warm_params(cfg: Config, spec: ModelSpec, run) -> dict[str, np.ndarray]:
    """A copy of the run's weights, in train.dtype; every name and shape must be the config's model's."""
    expected = spec.param_shapes()
    problems = [f"{k} is missing from the run" for k in expected if k not in run.params]
    problems += [f"the run has {k}, which this model has not" for k in run.params if k not in expected]
    problems += [f"{k} is {'×'.join(map(str, run.params[k].shape))} in the run but {'×'.join(map(str, s))} here"
                 for k, s in expected.items() if k in run.params and run.params[k].shape != s]
    if problems:
        raise ConfigError(f"this config's model does not have the shapes of {run.path}: " + "; ".join(problems) + ".",
                          hint=f"set the model keys as the run has them (rnn summary --model {run.path} lists them), "
                               "and keep its vocabulary (no vocab.path).")
    dtype = np.dtype(cfg.train.dtype)
    return {k: np.array(run.params[k], dtype=dtype) for k in expected}


def frozen_params(cfg: Config) -> tuple[str, ...]:
    """The parameters training leaves as they are (model.embeddings.freeze)."""
    return ("embedding.weight",) if cfg.model.embeddings.freeze else ()


def require_train(cfg: Config) -> str:
    if not cfg.data.train:
        raise ConfigError(f"{cfg.source} sets no training data (data.train), so the vocabulary is unknown.",
                          hint="add `data:\n  train: PATH` to the config, or pass --set data.train=PATH.")
    return cfg.data.train


def split_training(cfg: Config, train_raw) -> tuple:
    """(train, dev or None, holdout or None, how the holdout was cut or None): ``data.dev_split``'s part of
    the training data (when data.dev is not given) and ``data.holdout_split``'s, cut before the vocabulary
    is counted, whose words are as unseen as dev's."""
    dev_raw = None
    if not cfg.data.dev and cfg.data.dev_split > 0:
        train_raw, dev_raw = split_off_dev(train_raw, cfg.data.dev_split)
    if cfg.data.holdout_split <= 0:
        return train_raw, dev_raw, None, None
    if cfg.data.holdout_by == "container":
        n = len(train_raw)
        train_raw, holdout_raw, dropped = split_by_container(train_raw, cfg.data.holdout_split)
        if not train_raw or not holdout_raw:
            raise DataError(
                f"data.holdout_split = {cfg.data.holdout_split} with data.holdout_by: container leaves "
                f"{len(train_raw)} texts to train on and holds out {len(holdout_raw)} of {n} (texts found "
                f"inside a held-out text leave training too: {dropped} here).",
                hint="choose a fraction that keeps both parts non-empty, or set data.holdout_by: example.")
    else:
        (train_raw, holdout_raw), dropped = split_off_dev(train_raw, cfg.data.holdout_split, "data.holdout_split"), 0
    split = {"by": cfg.data.holdout_by, "train": len(train_raw), "holdout": len(holdout_raw), "dropped": dropped}
    return train_raw, dev_raw, holdout_raw, split


def spec_from_config(cfg: Config) -> ModelSpec:
    """The model a config describes, sized by its training data's vocabulary and labels (the training part
    of it: without data.dev_split's and data.holdout_split's parts, as training counts them)."""
    task = task_of(cfg.task)
    train_raw = split_training(cfg, task.read(cfg, require_train(cfg)))[0]
    labels = task.labels(cfg, train_raw)
    dim = task.encode(cfg, train_raw[:1], Vocab.build([]), labels, cfg.data.train).feature_dim \
        if cfg.model.input == "features" else 0
    return model_spec(cfg, len(build_vocab(cfg, train_raw)), labels, dim, task.word_features(cfg, train_raw),
                      task.target_vocab(cfg, train_raw), task.longest_target(cfg, train_raw))


def prepare(cfg: Config, vocab: Vocab | None = None, labels: LabelVocab | None = None,
            target_vocab: Vocab | None = None, word_features: WordFeatures | None = None) -> Prepared:
    """Read train (and dev) data, build the vocabularies (unless given: a resumed run has its own),
    encode, and fix the model's shape."""
    task = task_of(cfg.task)
    skipped: dict[str, list[str]] = {path: [] for path in (cfg.data.train, cfg.data.dev, cfg.data.test) if path}
    train_raw = task.read(cfg, require_train(cfg), skipped[cfg.data.train])
    dev_raw = task.read(cfg, cfg.data.dev, skipped[cfg.data.dev]) if cfg.data.dev else None
    train_raw, dev_cut, holdout_raw, split = split_training(cfg, train_raw)  # dev_cut: data.dev_split's part
    dev_raw = dev_cut if dev_raw is None else dev_raw
    resumed = vocab is not None  # its weights come from its checkpoint, not from the vectors
    vocab = vocab or build_vocab(cfg, train_raw)
    labels = labels or task.labels(cfg, train_raw)
    word_features = word_features or task.word_features(cfg, train_raw)
    target_vocab = target_vocab or task.target_vocab(cfg, train_raw)
    vocabs = {"word_features": word_features, "target_vocab": target_vocab}
    train_set = task.encode(cfg, train_raw, vocab, labels, cfg.data.train, **vocabs)
    dev_set = task.encode(cfg, dev_raw, vocab, labels, cfg.data.dev or cfg.data.train, **vocabs) if dev_raw else None
    holdout = task.encode(cfg, holdout_raw, vocab, labels, cfg.data.train, **vocabs) if holdout_raw else None
    test_set = None
    if cfg.data.test:  # read now: a bad path must not surface only after training
        test_raw = task.read(cfg, cfg.data.test, skipped[cfg.data.test])
        test_set = task.encode(cfg, test_raw, vocab, labels, cfg.data.test, **vocabs)
    spec = model_spec(cfg, len(vocab), labels, train_set.feature_dim, word_features, target_vocab,
                      task.longest_target(cfg, train_raw))
    found, coverage = pretrained(cfg, vocab, train_raw) if not resumed else (None, None)
    weights = class_weights(cfg, labels, train_set.targets)
    return Prepared(vocab, labels, train_set, dev_set, test_set, spec, word_features=word_features,
                    target_vocab=target_vocab, skipped={path: msgs for path, msgs in skipped.items() if msgs},
                    class_weights=weights, vectors=found, coverage=coverage, holdout=holdout, split=split)
