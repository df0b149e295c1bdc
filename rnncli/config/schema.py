"""The config schema: frozen dataclasses, one per YAML section.

Each field carries its default and, in ``metadata``, a help text and an optional
range (``ge``: ``>=``, ``gt``: ``>``, ``lt``: ``<``, ``le``: ``<=``). Choices are ``Literal[...]`` types. The
validator (:mod:`rnncli.config.validate`) and :func:`describe_schema` read the
schema from these declarations only, so adding a key is a one-line change here.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union


def opt(default: Any, help: str, *, ge: float | None = None, gt: float | None = None, lt: float | None = None,
        le: float | None = None) -> Any:
    """A schema key: its default, help text and optional bounds (``ge``: >=, ``gt``: >, ``lt``: <, ``le``: <=)."""
    return field(default=default, metadata={"help": help, "ge": ge, "gt": gt, "lt": lt, "le": le})


def section(cls: type, help: str) -> Any:
    """A schema section: a nested dataclass whose every key has a default."""
    return field(default_factory=cls, metadata={"help": help})


class _Section:
    """Behaviour shared by every section: conversion back to plain data."""

    def to_dict(self) -> dict[str, Any]:
        """Nested dict of every schema key with its resolved value, in schema order."""
        return {
            f.name: (v.to_dict() if isinstance(v, _Section) else v)
            for f in schema_fields(type(self))
            for v in [getattr(self, f.name)]
        }


@dataclass(frozen=True)
class DataConfig(_Section):
    """Where the examples come from and how their text is split into tokens."""

    train: str | None = opt(None, "path of the training data (.tsv/.csv/.conllu/.txt, optionally .gz); required by `rnn train`")
    dev: str | None = opt(None, "path of the development data, scored after every epoch")
    test: str | None = opt(None, "path of the test data, scored once after the last epoch")
    dev_split: float = opt(0.0, "when data.dev is not given, hold out this final fraction of the training data as dev (0 = none)", ge=0, lt=1)
    holdout_split: float = opt(0.0, "model selection without dev: hold out this final fraction of the training data, score it after every epoch as holdout_* (train.monitor: holdout_accuracy picks the best epoch and drives train.patience), and score data.dev and data.test once, after training, with the selected epoch's weights (0 = none)", ge=0, lt=1)
    holdout_by: Literal["example", "container"] = opt("example", "data.holdout_split holds out the final fraction of the examples (example), or of the texts no other text contains, leaving out of training the texts found only inside them (container: for phrase data sets such as SST, which list every phrase of a sentence as an example, so that a held-out sentence's phrases do not stay in training)")
    format: Literal["auto", "tsv", "csv", "jsonl", "conllu", "conll", "text", "features"] = opt(
        "auto", "file format; auto picks it from the extension: .tsv, .csv, .jsonl (one JSON object per line; fields are keys), .conllu, .conll (token<TAB>tag, blank line between sentences), .txt (plain text), each optionally + .gz; features = a TSV/CSV whose text column holds real-valued timesteps ('0.31,0 0.77,1 …', steps separated by spaces, features by commas), for model.input: features")
    on_error: Literal["error", "skip"] = opt("error", "malformed rows (too few columns, empty cells, bad JSON): error = stop with file:line; skip = leave them out and report how many")
    text_field: str | int = opt("text", "column holding the text: a name (needs a header row) or a 0-based column index", ge=0)
    label_field: str | int = opt("label", "column holding the label: a name (needs a header row) or a 0-based column index", ge=0)
    tag_column: Literal["upos", "xpos", "deprel"] = opt("upos", "task tag with CoNLL-U data: the column to predict for each word (FORM → UPOS by default)")
    header: bool | None = opt(None, "whether the first row is a header; null = yes iff the fields are given by name")
    lowercase: bool = opt(True, "lowercase the text before tokenizing")
    reverse: bool = opt(False, "task lm: read every text backwards (a plain text file's tokens in reverse order; a table's texts each reversed, then <eos>), for a backward language model whose layers train.init_from puts in a bidirectional model's _reverse directions")
    drop_contained: bool = opt(False, "task lm reading a table (.tsv, .csv, .jsonl: its data.text_field): leave out the texts that occur word for word inside another text of the same part, for phrase data sets such as SST that list every phrase of a sentence as an example")
    tokenizer: Literal["word", "whitespace", "char"] = opt("word", "word: words and punctuation; whitespace: split on spaces; char: characters")


@dataclass(frozen=True)
class VocabConfig(_Section):
    """Which tokens get their own id; the rest map to <unk>."""

    min_freq: int = opt(1, "keep tokens seen at least this often in the training data", ge=1)
    max_size: int | None = opt(None, "keep at most this many tokens, most frequent first (excluding <pad> and <unk>); null = no limit", ge=1)
    path: str | None = opt(None, "reuse a vocabulary written by `rnn vocab build` instead of building one")
    from_embeddings: bool = opt(False, "take the vocabulary from model.embeddings.path instead of the training data: the file's first vocab.max_size words (its most frequent, for GloVe and fastText files), lowercased with data.lowercase")


@dataclass(frozen=True)
class EmbeddingsConfig(_Section):
    """Pretrained word vectors for the embedding table."""

    path: str | None = opt(None, "initialise the embedding table from a vectors file: GloVe (.txt), word2vec or fastText text (.vec, with a 'count dim' header line) or word2vec binary (.bin), optionally gzip-compressed; words it lacks keep the usual initialisation, and rnn train reports the coverage")
    format: Literal["auto", "glove", "word2vec", "word2vec_binary"] = opt("auto", "format of model.embeddings.path; auto = word2vec_binary for .bin, else text with or without the header line")
    freeze: bool = opt(False, "keep the pretrained table fixed during training (no gradient step and no optimiser state for it); false = fine-tune it")


@dataclass(frozen=True)
class ModelConfig(_Section):
    """The network: input encoding, recurrent cell and its size."""

    cell: Literal["rnn", "lstm", "gru"] = opt("rnn", "recurrent cell: vanilla rnn, lstm or gru")
    activation: Literal["tanh", "relu"] = opt("tanh", "activation of the vanilla rnn cell (lstm and gru ignore it)")
    input: Literal["embedding", "onehot", "features"] = opt("embedding", "input encoding: a learned embedding or a one-hot vector of each token; features = real-valued vectors per timestep read from the data (data.format: features; tasks classify and regress)")
    embedding_dim: int = opt(16, "size of the token embedding (input: embedding only)", ge=1)
    prefix: int = opt(0, "word feature: embed each token's first k characters (lowercased) too, concatenated to its embedding, so unseen words still show their form (tasks classify, regress, tag); 0 = off", ge=0)
    suffix: int = opt(0, "word feature: embed each token's last k characters (lowercased) too, e.g. 3 for -ing/-ed/-ly (tasks classify, regress, tag); 0 = off", ge=0)
    shape: bool = opt(False, "word feature: embed each token's shape too (X/x/d for upper/lower/digit, other characters kept: \"Zagreb\" → Xxxxx, \"1998\" → dddd)")
    char_hidden_size: int = opt(0, "character-aware words (tasks classify, regress, tag): a bidirectional recurrent layer of model.cell with this hidden size reads each word's characters (case kept), and its two final states join the word's embedding (Lample et al. 2016); 0 = off", ge=0)
    char_embedding_dim: int = opt(25, "size of each character's embedding (model.char_hidden_size > 0)", ge=1)
    char_max_length: int = opt(20, "model.char_hidden_size > 0: a longer word is read as its first and last char_max_length/2 characters, which bounds the character loop", ge=2)
    word_feature_dim: int = opt(16, "size of the embedding of each word feature (model.prefix, model.suffix, model.shape)", ge=1)
    hidden_size: int = opt(16, "size of the hidden state of each layer and direction", ge=1)
    num_layers: int = opt(1, "number of stacked recurrent layers", ge=1)
    bidirectional: bool = opt(False, "also run each layer right to left and concatenate both states")
    dropout: float = opt(0.0, "inverted dropout on the outputs of every recurrent layer but the last (training only)", ge=0, lt=1)
    input_dropout: float = opt(0.0, "inverted dropout on the recurrent stack's input: the embeddings (and word features) of every token (training only; not with input: onehot)", ge=0, lt=1)
    output_dropout: float = opt(0.0, "inverted dropout on what the output layer reads: the pooled summary, or the outputs at every step (training only)", ge=0, lt=1)
    variational_dropout: bool = opt(False, "model.dropout, input_dropout and output_dropout draw one mask per sequence and feature, shared by every timestep (Gal & Ghahramani 2016), instead of one per entry")
    word_dropout: float = opt(0.0, "during training, replace each real input token by <unk> with this probability, so that the model learns a useful <unk> (padding is never touched; seq2seq: the source tokens; generate: the input tokens)", ge=0, lt=1)
    pooling: Literal["last", "mean", "max", "concat"] = opt("last", "task classify/regress: summarise the sequence by its last state (bidirectional: [forward last, backward first]), or the mean or max of the outputs over real tokens, or concat: [last, max, mean] side by side (ULMFiT's concat pooling)")
    init: Literal["default", "xavier", "orthogonal", "identity"] = opt(
        "default", "recurrent weight init: default = U(±1/√H) as PyTorch; xavier = Glorot uniform W_ih and W_hh; orthogonal = orthogonal W_hh blocks; identity = W_hh = I (IRNN, for relu rnn)")
    forget_bias: float = opt(0.0, "lstm: initial bias of the forget gate (1.0 helps long memories)")
    recurrent_gain: float = opt(1.0, "multiply the initial recurrent weights W_hh by this (after model.init); e.g. 1.5 with relu and init identity makes gradients explode", gt=0)
    learn_h0: bool = opt(False, "learn the initial hidden state instead of starting from zeros (seq2seq: the encoder's)")
    attention: bool = opt(False, "task seq2seq: additive (Bahdanau) attention of each decoder output over the encoder outputs, whose context joins the output layer")
    feed_condition: bool = opt(False, "task generate: also feed the condition's embedding to the recurrent stack at every step (it always sets the start state)")
    embeddings: EmbeddingsConfig = section(EmbeddingsConfig, "pretrained word vectors")


@dataclass(frozen=True)
class TrainConfig(_Section):
    """The optimisation loop."""

    epochs: int = opt(30, "passes over the training data", ge=1)
    batch_size: int = opt(8, "examples per gradient step", ge=1)
    optimizer: Literal["sgd", "momentum", "adam", "lazy_adam", "rmsprop", "adagrad"] = opt("adam", "update rule; lazy_adam = Adam that updates only the embedding rows of the tokens in each batch (faster with large vocabularies; not the same optimiser as adam)")
    lr: float = opt(0.01, "learning rate", gt=0)
    momentum: float = opt(0.9, "optimizer momentum: the momentum coefficient", ge=0, lt=1)
    nesterov: bool = opt(False, "optimizer momentum: use Nesterov's lookahead form")
    weight_decay: float = opt(0.0, "L2 penalty added to the gradient (wd · θ), as PyTorch's weight_decay", ge=0)
    ema_decay: float | None = opt(None, "evaluate and save an exponential moving average of the weights, θ̄ ← d θ̄ + (1 - d) θ after every step (as torch's AveragedModel with get_ema_multi_avg_fn(d), Keras's use_ema), instead of the weights of the last step: it averages over about 1/(1 - d) steps, e.g. 0.999; training itself is unchanged. null = off", gt=0, lt=1)
    schedule: Literal["none", "step", "cosine"] = opt("none", "learning-rate schedule over epochs: step = × gamma every step_size epochs; cosine = anneal to 0")
    step_size: int = opt(10, "schedule step: epochs between decays", ge=1)
    gamma: float = opt(0.5, "schedule step: decay factor", gt=0)
    class_weights: Literal["balanced"] | dict | None = opt(None, "tasks classify and tag: weigh each example's (or token's) loss by its label, as PyTorch's CrossEntropyLoss(weight=): balanced = n / (labels · n_label) from the training data, or a mapping {label: weight} (labels left out weigh 1); with two labels and one sigmoid output, the weight ratio is BCEWithLogitsLoss's pos_weight. The dev and test loss stay unweighted")
    bptt: int = opt(100, "task lm: truncated BPTT window in tokens; the hidden state carries across windows", ge=1)
    label_smoothing: float = opt(0.0, "train against (1 - ε) onehot(label) + ε / C instead of onehot(label), as PyTorch's CrossEntropyLoss(label_smoothing=ε) (one sigmoid output: the label (1 - ε) y + ε/2); not with train.class_weights. The dev and test loss stay unsmoothed", ge=0, lt=1)
    adversarial: float = opt(0.0, "adversarial training on the input (Miyato et al. 2017): after each step's backward pass, perturb each sequence's input to the recurrent stack (its word and feature embeddings, or its features) by r = ε g / ‖g‖₂, g = ∂L/∂input over its real tokens, and add the loss at input + r (r held constant, the same dropout masks) to the step's objective: ε, in the input's own units (a token's embedding has norm about √model.embedding_dim at the start). Each step costs about twice as much; train_loss stays the loss on the clean input. Tasks classify, regress, tag and lm, model.input embedding or features. 0 = off", ge=0)
    teacher_forcing: float = opt(1.0, "task seq2seq: the share of decoder inputs that are the gold previous token; the rest are the model's own argmax prediction (scheduled sampling; no gradient through the choice). 1 = always gold, and the decoder runs as one pass over the target", ge=0, le=1)
    seed: int = opt(0, "seed of every random choice (initial weights, shuffling)")
    init_from: str | list | None = opt(None, "start from the weights of this trained run (its best epoch's when it kept them) and its vocabularies (unless vocab.path gives one), with this config's data, learning rate and epochs: fine-tuning or a warm start; the model keys must give the run's parameter shapes. Unlike rnn train --resume, a new run. A run of another task (e.g. a language model), or a list of runs, is a transfer instead: the config builds its own vocabularies, the embedding rows of the words the run knows and the recurrent layers' weights are copied (a run trained with data.reverse fills the _reverse directions), and the rest (head, word features) starts fresh")
    bucket: bool = opt(True, "length bucketing: each batch holds texts of similar length (batches still shuffled), which cuts padding; false = plain shuffling")
    shuffle: bool = opt(True, "shuffle the training data before every epoch")
    clip_norm: float | None = opt(None, "rescale gradients whose global L2 norm exceeds this; null = no clipping", gt=0)
    clip_value: float | None = opt(None, "clip every gradient entry to [-v, v]; null = no clipping", gt=0)
    dtype: Literal["float32", "float64"] = opt("float32", "floating-point type of weights and activations")
    monitor: Literal["dev_loss", "dev_accuracy", "dev_mae", "holdout_loss", "holdout_accuracy", "holdout_mae"] = opt(
        "dev_loss", "metric that picks the best epoch (kept as weights-best.npz) and drives train.patience: on the dev set (dev_*), or on data.holdout_split's part of the training data (holdout_*); accuracies are maximised, losses and mae minimised")
    patience: int | None = opt(None, "early stopping: stop after this many epochs in a row without a better train.monitor (needs a dev set); null = always train train.epochs", ge=1)
    checkpoint_every: int | None = opt(None, "also write the resumable checkpoint every this many steps (it is always written after every epoch and on Ctrl-C); null = after epochs only", ge=1)
    log_grad_norms: bool = opt(False, "after every epoch, record the per-timestep gradient norms ‖∂L/∂h_t‖ on the first training batch in metrics.jsonl (as `rnn train --grad-norms`; read them with `rnn grad-norms --model RUN --history`)")


@dataclass(frozen=True)
class RunConfig(_Section):
    """Where the run's outputs go."""

    dir: str | None = opt(None, "run directory for checkpoints and metrics; null = runs/<config file stem>")


@dataclass(frozen=True)
class Config(_Section):
    """A whole, validated config. ``name`` and ``source`` describe the file, not the run."""

    task: Literal["classify", "regress", "tag", "lm", "seq2seq", "generate"] = opt(
        "classify", "what to learn: classify = one label per text; regress = one number per text (MSE); tag = one label per token; lm = the next token; seq2seq = an output sequence of its own length per text (encoder–decoder; the label column holds the target text); generate = a text from its label (one-to-many: the label column holds the condition, the text column the text to generate)")
    data: DataConfig = section(DataConfig, "training, dev and test data")
    vocab: VocabConfig = section(VocabConfig, "the token vocabulary")
    model: ModelConfig = section(ModelConfig, "the network")
    train: TrainConfig = section(TrainConfig, "the optimisation loop")
    run: RunConfig = section(RunConfig, "run outputs")
    # Not schema keys (no "help" metadata): excluded from to_dict and equality.
    name: str = field(default="config", compare=False)
    source: str = field(default="<config>", compare=False)

    def run_dir(self) -> Path:
        """``run.dir`` if set, else ``runs/<name>``."""
        return Path(self.run.dir) if self.run.dir is not None else Path("runs") / self.name


# --- schema introspection ---------------------------------------------------


def schema_fields(cls: type) -> list[dataclasses.Field]:
    """The schema keys of a section class (fields with help text), in order."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a section class (this module uses string annotations)."""
    return typing.get_type_hints(cls)


def is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, _Section)


def union_members(tp: Any) -> tuple[Any, ...]:
    """``int | None`` → ``(int, NoneType)``; a plain type → ``(tp,)``."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def type_name(tp: Any) -> str:
    """A short readable type: ``int``, ``str | int``, ``choice | null``."""
    names = []
    for m in union_members(tp):
        if m is type(None):
            names.append("null")
        elif typing.get_origin(m) is Literal:
            names.append("choice")
        else:
            names.append(m.__name__)
    return " | ".join(names)


def choices_of(tp: Any) -> list[Any] | None:
    for m in union_members(tp):
        if typing.get_origin(m) is Literal:
            return list(typing.get_args(m))
    return None


def leaf_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every settable dotted key, e.g. ``task``, ``train.lr``, in schema order."""
    keys: list[str] = []
    for f in schema_fields(cls):
        tp = field_types(cls)[f.name]
        if is_section(tp):
            keys += leaf_keys(tp, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def describe_schema() -> list[dict[str, Any]]:
    """One row per key: ``key``, ``type``, ``default``, ``help``, ``choices``, ``range``."""
    rows = []

    def walk(cls: type, prefix: str) -> None:
        for f in schema_fields(cls):
            tp = field_types(cls)[f.name]
            if is_section(tp):
                walk(tp, f"{prefix}{f.name}.")
                continue
            ge, gt, lt, le = (f.metadata.get(k) for k in ("ge", "gt", "lt", "le"))
            low = f">= {ge}" if ge is not None else f"> {gt}" if gt is not None else None
            high = f"< {lt}" if lt is not None else f"<= {le}" if le is not None else None
            rng = " and ".join(r for r in (low, high) if r) or None
            rows.append(
                {
                    "key": prefix + f.name,
                    "type": type_name(tp),
                    "default": f.default,
                    "help": f.metadata["help"],
                    "choices": choices_of(tp),
                    "range": rng,
                }
            )

    walk(Config, "")
    return rows
