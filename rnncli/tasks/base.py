"""The Task interface, and what every task shares: encoded data, batches, padding, label lookup.

A task turns files into a :class:`Dataset` and a dataset into :class:`Batch` es, says how many terms
a batch's mean loss is over, and turns scored outputs into metrics. Training, evaluation and
gradient checks only see batches and call the task's methods; none of them branches on its name.

With ``model.input: features`` (classify and regress), the text column holds a real-valued vector
per timestep (``rnncli.data.features``): an example is an array (T_i, D) instead of token ids, and a
batch's ``ids`` holds the padded features (N, T, D).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rnncli.data import UNK_ID, LabelVocab, Vocab, batch_indices, bucketed_indices, pad_batch, read_examples, tokenize
from rnncli.data.batching import by_length
from rnncli.data.features import pad_features, parse_all
from rnncli.data.subwords import WordFeatures, feature_names
from rnncli.data.vocab import BOS, EOS, SPECIALS
from rnncli.engine.recurrent import scoring_threads, with_transposes
from rnncli.errors import DataError, UsageError
from rnncli.models import ModelSpec
from rnncli.models.sequence import forward, loss_from_logits, probabilities

# The cells every task's gradient checks cover: (model.cell, model.activation).
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@dataclass
class Batch:
    ids: np.ndarray  # (N, T) int, or features (N, T, D) float for input "features"
    mask: np.ndarray  # (N, T) bool
    targets: np.ndarray  # (N,) or (N, T)
    carry: bool = False  # lm: start from the previous window's final state


@dataclass
class Scored:
    """A model's loss and outputs on a whole dataset (no dropout, no gradients)."""

    loss: float  # mean over every scored term (examples, or real tokens for tag/lm)
    terms: int  # how many terms the mean is over
    outputs: list | np.ndarray | None  # classify: probabilities (N, C); regress: values (N,);
    #                                    tag: probabilities (T_i, C) per sequence; lm: None;
    #                                    seq2seq: greedily decoded target ids per example (no <eos>)


# The gradcheck cases' regularised model: every dropout at once, with masks shared over time.
REGULARISED = {"dropout": 0.3, "input_dropout": 0.3, "output_dropout": 0.3, "word_dropout": 0.3, "variational": True}

EVAL_BATCH_SIZE = 256  # examples per forward pass when scoring


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
    texts: int | None = None  # lm reading a table: how many texts the stream joins

    def __len__(self) -> int:
        return len(self.stream) if self.stream is not None else len(self.ids)


class Task:
    """One task: what it reads, how it encodes and batches, how it is counted and scored.

    The defaults are those of a many-to-one task over TSV/CSV/JSONL examples; each task overrides
    what differs. Methods take the config (``cfg``) where the data's settings matter."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]  # the columns of `rnn predict`'s table (see :meth:`row`)
    right: ClassVar[set[int]] = set()  # which of them are right-aligned (numbers)
    accuracy: ClassVar[bool] = False  # reports train_accuracy and dev accuracy
    sequence_targets: ClassVar[bool] = False  # targets are a sequence per example, padded per batch
    stream: ClassVar[bool] = False  # one token stream in fixed windows, the state carried across them (lm)
    target_vocab_file: ClassVar[bool] = False  # the run keeps a target vocabulary (target-vocab.json)
    # what `rnn predict --data` may add to each prediction (see prediction_columns): "top_k", "threshold"
    prediction_options: ClassVar[tuple[str, ...]] = ()

    # What the task accepts in a config (:func:`rnncli.config.validate`): the keys that apply to it.
    monitors: ClassVar[tuple[str, ...]] = ("dev_loss",)  # the values train.monitor may take
    epoch_metrics: ClassVar[tuple[str, ...]] = ("loss",)  # what metrics() scores, as dev_*/holdout_* each epoch
    inputs: ClassVar[tuple[str, ...]] = ("embedding", "onehot")  # the values model.input may take
    pools: ClassVar[bool] = False  # model.pooling: one output from a whole sequence
    reads_words: ClassVar[bool] = False  # model.prefix/suffix/shape apply: it reads words it can take apart
    causal: ClassVar[bool] = False  # generates text, so model.bidirectional must be false
    attention: ClassVar[bool] = False  # model.attention: a decoder attends over an encoder
    conditioned: ClassVar[bool] = False  # model.feed_condition: the output starts from a condition
    class_weighted: ClassVar[bool] = False  # train.class_weights: its loss is over the labels

    # What the task asks of its model (:class:`rnncli.models.ModelSpec`).
    architecture: ClassVar[str] = "sequence"  # input → recurrent stack → head
    per_step: ClassVar[bool] = False  # a prediction at every timestep
    output: ClassVar[str] = "classes"  # or "value": one real number

    def model_spec(self, **fields) -> ModelSpec:
        """The description of this task's model from its stored ``fields`` (run.json's ``model``), with
        what the task asks of it."""
        return ModelSpec(**{**fields, "task": self.name, "architecture": self.architecture,
                            "per_step": self.per_step, "output": self.output})

    def export_settings(self) -> dict | None:
        """What an exported model's ``predict`` returns besides the text, tokens and ids (see
        ``rnncli.tools.torch_template``): {"predicts": "label" | "value" | "tags" | "next", …}; None
        when the task's model cannot be exported on its own."""
        return None

    def config_problems(self, cfg) -> list[tuple[str, str]]:
        """(key, problem) pairs of the task's own rules for a config whose keys are each valid."""
        return []

    # ------------------------------------------------------------------ reading and vocabularies

    def read(self, cfg, path: str, skipped: list[str] | None = None):
        """Raw data of one file. With ``data.on_error: skip`` malformed rows of TSV/CSV/JSONL files are
        left out and noted in ``skipped``."""
        d = cfg.data
        fmt = "auto" if d.format == "features" else d.format  # a features file is a TSV or CSV by extension
        return read_examples(path, fmt, d.text_field, d.label_field, d.header, d.on_error, skipped)

    def token_lists(self, cfg, raw, lowercase: bool | None = None) -> list[list[str]]:
        """The tokens of each example, lowercased as ``data.lowercase`` says (or as ``lowercase``)."""
        lower = cfg.data.lowercase if lowercase is None else lowercase
        if cfg.model.input == "features":
            return []  # no tokens: the vocabulary is <pad> and <unk> only
        return [tokenize(ex.text, cfg.data.tokenizer, lower) for ex in raw]

    def word_features(self, cfg, raw) -> WordFeatures | None:
        """The vocabularies of the word features the config asks for (None when it asks for none)."""
        names = word_feature_names(cfg)
        return WordFeatures.build(names, self.token_lists(cfg, raw, lowercase=False), cfg.vocab.min_freq) \
            if names else None

    def word_feature_ids(self, cfg, raw, word_features: WordFeatures | None) -> list | None:
        """The feature ids (T_i, K) of every token of every example, when the model has word features."""
        return [word_features.encode(t) for t in self.token_lists(cfg, raw, lowercase=False)] if word_features else None

    def vocabulary(self, cfg, raw) -> Vocab:
        """The token vocabulary counted from the training data (``vocab.min_freq``, ``vocab.max_size``)."""
        return Vocab.build(self.token_lists(cfg, raw), min_freq=cfg.vocab.min_freq, max_size=cfg.vocab.max_size)

    def spec_fields(self, labels: LabelVocab) -> dict:
        """What this task adds to the model's description (:class:`rnncli.models.ModelSpec`)."""
        return {}

    def labels(self, cfg, raw) -> LabelVocab:
        """The classes (tags) of the training data; none for tasks without labels."""
        return LabelVocab([])

    def target_vocab(self, cfg, raw) -> Vocab | None:
        """A vocabulary of output tokens of their own (seq2seq); None for the others."""
        return None

    def longest_target(self, cfg, raw) -> int:
        """The longest training target in tokens, where outputs are decoded; else 0."""
        return 0

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return len(labels)

    # ----------------------------------------------------------------------------- encoding

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        """Encode raw data; for input "features", ``feature_dim`` (a trained model's D) is checked when
        given; ``word_features`` adds the feature ids of every token; ``target_vocab`` encodes a
        sequence-to-sequence task's targets."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- batching

    def batch(self, data: Dataset, idx) -> Batch:
        """The examples ``idx``, padded; targets padded too where they are sequences."""
        ids, mask = pad_inputs(data, idx)
        return Batch(ids, mask, self.batch_targets(data, idx))

    def batch_targets(self, data: Dataset, idx) -> np.ndarray:
        if self.sequence_targets:
            return pad_batch([data.targets[i] for i in idx])[0]
        return data.targets[idx]

    def epoch_order(self, data: Dataset, batch_size: int, shuffle: bool, bucket: bool, rng) -> np.ndarray | None:
        """The example order of one training epoch (None: the task's batches are fixed, as lm's windows).
        With ``bucket`` (and shuffle) the batches hold examples of similar lengths."""
        if shuffle and bucket:
            chunks = bucketed_indices([len(ids) for ids in data.ids], batch_size, rng)
        else:
            chunks = batch_indices(len(data), batch_size, shuffle, rng)
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def batches(self, data: Dataset, batch_size: int, order: np.ndarray | None = None, bptt: int = 100) -> list[Batch]:
        """The batches of an epoch in ``order`` (default: file order)."""
        order = np.arange(len(data)) if order is None else order
        return [self.batch(data, order[i : i + batch_size]) for i in range(0, len(order), batch_size)]

    def count(self, batch: Batch) -> int:
        """How many terms a batch's mean loss averages over (for weighting batch means)."""
        return len(batch.ids)

    def correct(self, spec, logits: np.ndarray, batch: Batch) -> int:
        """Training-time hits (with dropout), for the running accuracy; 0 where there is none."""
        return 0

    def score(self, params: dict, spec, data: Dataset, batch_size: int = EVAL_BATCH_SIZE,
              max_length: int | None = None, beam: int = 1) -> Scored:
        """Loss (when ``data`` has targets: predict's has none) and outputs of the model on ``data``, in
        batches of similar lengths. ``max_length`` and ``beam`` are for tasks that decode."""
        total, terms = 0.0, 0
        outputs: list = [None] * len(data.ids)
        params = with_transposes(params)  # the weights are fixed while scoring: W_hh^T once, not per batch
        with scoring_threads(spec, batch_size):  # a bidirectional layer's two directions at once
            for chunk in by_length(data.ids, batch_size):
                ids, mask = pad_inputs(data, chunk)
                logits, _ = forward(params, spec, ids, mask, keep_cache=False)
                n = self.count(Batch(ids, mask, None))
                if data.targets is not None:
                    total += loss_from_logits(logits, self.batch_targets(data, chunk), spec, mask)[0] * n
                terms += n
                values = self.outputs(logits, spec)
                for j, i in enumerate(chunk):
                    outputs[i] = values[j, : len(data.ids[i])] if self.sequence_targets else values[j]
        return Scored(total / max(terms, 1), terms, outputs if self.sequence_targets else np.array(outputs))

    def outputs(self, logits: np.ndarray, spec) -> np.ndarray:
        """What a scored example gives: class (or tag) probabilities."""
        return probabilities(logits, spec)

    def metrics(self, targets, scored: Scored, labels: list[str], full: bool = False) -> dict:
        """The headline metrics of a scored dataset against its targets."""
        raise NotImplementedError

    # ------------------------------------------------------------------------- gradient checks

    gradcheck_classes: ClassVar[int] = 3  # num_classes of the small models `rnn gradcheck` builds
    gradcheck_bidirectional: ClassVar[bool] = True  # whether the matrix includes bidirectional stacks

    def gradcheck_spec(self, cell: str, activation: str, bidirectional: bool, layers: int, onehot: bool,
                       **extra) -> ModelSpec:
        """A small random model of this task for ``rnn gradcheck`` (vocabulary 8, embedding 3, hidden 3)."""
        extra.setdefault("input", "onehot" if onehot else "embedding")
        return self.model_spec(vocab_size=8, num_classes=self.gradcheck_classes, cell=cell, activation=activation,
                               embedding_dim=3, hidden_size=3, num_layers=layers, bidirectional=bidirectional, **extra)

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """``rnn gradcheck``'s cases for this task, as (spec, padded) pairs: the matrix (every cell ×
        direction × {1, 2} layers × {padded, unpadded}, one-hot and embedding input alternating so both
        meet every cell), and what this task adds to it."""
        matrix = []
        for (cell, act), bi, layers, padded in itertools.product(cells, [False, True], [1, 2], [True, False]):
            if bi and not self.gradcheck_bidirectional:
                continue
            onehot = (layers + padded) % 2 == 0
            matrix.append((self.gradcheck_spec(cell, act, bi, layers, onehot), padded))
        return matrix, []

    def gradcheck_sampling_cases(self, cells) -> list:
        """Cases whose forward pass samples its own inputs: (spec, padded, teacher_forcing)."""
        return []

    def random_inputs(self, spec, rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
        """Random token ids (N, T), made valid for this task's model where it reads more from them."""
        return ids

    def random_targets(self, spec, rng: np.random.Generator, mask: np.ndarray, padded: bool) -> np.ndarray:
        """Random targets of this task's shape for a batch with ``mask`` (N, T)."""
        return rng.integers(0, spec.num_classes, size=mask.shape[0])

    # ----------------------------------------------------------------------------- describing

    def try_command(self, run_dir) -> str:
        """The command `rnn train` suggests to try the trained run."""
        return f'rnn predict --model {run_dir} "some text"'

    def describe_size(self, n: int, tokens: int) -> str:
        """What `rnn evaluate` scored, for its header: ``n`` items, ``tokens`` scored terms."""
        return f"{n} examples"

    def describe_head(self, spec) -> str:
        """The output layer, for `rnn summary`'s header."""
        return "sigmoid (1 output)" if spec.num_outputs == 1 else f"softmax ({spec.num_outputs} outputs)"

    # --------------------------------------------------------------------------- predictions

    def predict(self, run, texts: Sequence[str], beam: int = 1, max_length: int | None = None,
                tokens: list[list[str]] | None = None) -> list[dict]:
        """What `rnn predict --json` prints for each of ``texts`` with a trained ``run``
        (:class:`rnncli.rundir.Run`): the text, its tokens, their ids and how many are <unk>, and
        the task's prediction (:meth:`prediction`). ``beam`` and ``max_length`` are for tasks that decode;
        ``tokens`` are the texts' tokens when a file gives them (a tagged file), instead of the tokenizer's."""
        inputs = token_inputs(run, texts, tokens)
        extra = [run.word_features.encode(t) for t in tokens or (tokenize(text, run.tokenizer, False) for text in texts)] \
            if run.word_features else None
        data = Dataset(ids=[p["ids"] for p in inputs], word_features=extra)
        labels = run.labels.to_dict()["labels"]
        return [{**p, **self.prediction(out, labels)}
                for p, out in zip(inputs, self.score(run.params, run.spec, data).outputs)]

    def prediction(self, output, labels: list[str]) -> dict:
        """The task's part of one prediction, from its scored output."""
        raise NotImplementedError

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        """The columns one prediction adds to its example's rows in `rnn predict --data` (one dict per row:
        one row per example, or per token). ``top_k``: also the k best, as a list; ``threshold``: leave
        ``predicted`` empty when its probability is lower (each where ``prediction_options`` has it)."""
        raise UsageError(f"rnn predict --data does not apply to task {self.name}.", hint=self.try_command("RUN"))

    def row(self, prediction: dict) -> list:
        """A prediction as a row of `rnn predict`'s table, under :attr:`columns`."""
        raise NotImplementedError


class ManyToOne(Task):
    """One target per example (classify, regress): TSV/CSV/JSONL text, or real-valued steps with
    ``model.input: features``."""

    inputs = ("embedding", "onehot", "features")
    pools = True
    reads_words = True

    def targets(self, raw, labels: LabelVocab, path) -> np.ndarray:
        raise NotImplementedError

    def predict(self, run, texts: Sequence[str], beam: int = 1, max_length: int | None = None,
                tokens: list[list[str]] | None = None) -> list[dict]:
        """With ``model.input: features`` each text is timesteps of comma-separated numbers
        ("0.31,0 0.77,1 …"): {"text", "steps", …} instead of tokens and ids."""
        if run.spec.input != "features":
            return super().predict(run, texts, beam, max_length, tokens)
        arrays = parse_all(texts, "input", run.spec.feature_dim)
        data = Dataset(ids=arrays, feature_dim=run.spec.feature_dim)
        labels = run.labels.to_dict()["labels"]
        return [{"text": text, "steps": len(a), **self.prediction(out, labels)}
                for text, a, out in zip(texts, arrays, self.score(run.params, run.spec, data).outputs)]

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        if cfg.model.input == "features":
            arrays = parse_all([ex.text for ex in raw], str(path), feature_dim)
            return Dataset(arrays, self.targets(raw, labels, path), feature_dim=arrays[0].shape[1] if arrays else 0)
        toks = self.token_lists(cfg, raw)
        return Dataset([vocab.encode(t) for t in toks], self.targets(raw, labels, path), tokens=toks,
                       word_features=self.word_feature_ids(cfg, raw, word_features))


# ------------------------------------------------------------------------------- shared helpers


def token_inputs(run, texts: Sequence[str], given: list[list[str]] | None = None) -> list[dict]:
    """Each text with its tokens, their ids (unknown tokens have the <unk> id 1) and how many are unknown,
    tokenized as the run's training data was (or the ``given`` tokens, lowercased as it was); a text
    without tokens is an error."""
    inputs = []
    for i, text in enumerate(texts):
        if given is not None:
            tokens = [t.lower() for t in given[i]] if run.lowercase else list(given[i])
        else:
            tokens = tokenize(text, run.tokenizer, run.lowercase)
        if not tokens:
            raise UsageError(f"input {i + 1} ({text!r}) has no tokens, so there is nothing to predict from.",
                             hint="pass non-empty text; with `-`, blank lines on stdin are skipped.")
        ids = run.vocab.encode(tokens)
        inputs.append({"text": text, "tokens": tokens, "ids": list(ids), "unknown": list(ids).count(UNK_ID)})
    return inputs


def output_vocabulary(cfg, token_lists: list[list[str]]) -> Vocab:
    """A vocabulary of tokens to generate: <pad>, <unk>, <bos>, <eos>, then the tokens by frequency
    (``vocab.min_freq`` and ``vocab.max_size`` apply)."""
    counted = Vocab.build(token_lists, min_freq=cfg.vocab.min_freq, max_size=cfg.vocab.max_size)
    tokens = [t for t in counted.itos[len(SPECIALS):] if t not in (BOS, EOS)]
    return Vocab([*SPECIALS, BOS, EOS, *tokens], {t: counted.counts[t] for t in tokens})


def split_off_dev(raw, fraction: float, key: str = "data.dev_split"):
    """Hold out the final ``fraction`` of the training data (examples, or tokens for lm)."""
    cut = len(raw) - int(round(len(raw) * fraction))
    if cut <= 0 or cut >= len(raw):
        raise DataError(f"{key} = {fraction} leaves no training or no held-out data ({len(raw)} items).",
                        hint="choose a fraction between 0 and 1 that keeps both parts non-empty"
                             + (", or set data.dev." if key == "data.dev_split" else "."))
    return raw[:cut], raw[cut:]


def word_feature_names(cfg) -> list[str]:
    m = cfg.model
    return feature_names(m.prefix, m.suffix, m.shape, m.char_max_length if m.char_hidden_size else 0)


def label_id(labels: LabelVocab, label: str, i: int, path, what: str = "example") -> int:
    """The class id of ``label``; an unseen one is an error naming the file and the example."""
    try:
        return labels.encode(label)
    except DataError as exc:
        raise DataError(f"{path}: {what} {i + 1} has an {exc.message}", hint=exc.hint) from None


def pad_inputs(data: Dataset, idx) -> tuple[np.ndarray, np.ndarray]:
    """Padded inputs of the examples ``idx``: ids (N, T), or features (N, T, D); and the mask (N, T)."""
    if data.feature_dim:
        return pad_features([data.ids[i] for i in idx], data.feature_dim)
    ids, mask = pad_batch([data.ids[i] for i in idx])
    if data.word_features is not None:  # (N, T, 1 + K): the word id, then its feature ids (0 at padding)
        # (characters make K differ between sentences: the batch takes the widest)
        extra = np.zeros(ids.shape + (max((data.word_features[i].shape[1] for i in idx), default=0),), ids.dtype)
        for n, i in enumerate(idx):
            rows, cols = data.word_features[i].shape
            extra[n, :rows, :cols] = data.word_features[i]
        ids = np.concatenate([ids[..., None], extra], axis=-1)
    return ids, mask
