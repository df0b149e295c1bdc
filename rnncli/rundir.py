"""Run directories: everything ``evaluate`` and ``predict`` need, without the original config.

    runs/<name>/
      run.json          format version, model spec, labels, tokenizer settings, progress, best epoch
      config.yaml       the resolved config (every key, defaults included)
      vocab.json        the token vocabulary (``rnn vocab build`` format); seq2seq: the source side's
      target-vocab.json seq2seq only: the target side's vocabulary (<pad>, <unk>, <bos>, <eos>, …)
      word-features.json  the vocabularies of the word features (only with model.prefix/suffix/shape)
      weights.npz       parameters by name after the last finished epoch, loaded with allow_pickle=False
      weights-best.npz  the same at the best epoch by train.monitor (only with a dev set)
      checkpoint.npz    everything needed to resume bit for bit (see rnncli.training.resume)
      metrics.jsonl     one JSON object per epoch

:class:`RunDir` is the only code that reads or writes these files: training and resuming write
through it (the checkpoint first after every epoch: it is the commit point; then the weights, the
best weights, metrics.jsonl and run.json, which marks the run usable), and ``load_run`` reads a
trained run, with its best weights when it kept them (``last=True``: the last epoch's). Every file
is written atomically: to a temporary file in the same directory, then ``os.replace``, so an
interrupted write never leaves a half-written file behind. File names inside a run directory are
fixed here; none is ever read from a file's contents.
"""

from __future__ import annotations

import functools
import json
import shutil
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli import __version__
from rnncli.data import LabelVocab, Vocab
from rnncli.data.subwords import WordFeatures
from rnncli.data.tokenize import TOKENIZERS
from rnncli.errors import ConfigError, DataError, RunError
from rnncli.fileio import atomic_write
from rnncli.models import CHOICES, ModelSpec
from rnncli.tasks import model_spec, task_of

FORMAT = "rnncli-run"
# What reading a damaged .npz can raise: bad zip structure, CRC, an unsupported zip version or
# compression method, a bad .npy header, an object array (allow_pickle=False), a truncated stream.
NPZ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError,
              zlib.error, struct.error)
FORMAT_VERSION = 2  # 2: checkpoint.npz (resume state) replaces optimizer.npz; weights-best.npz
WEIGHTS, BEST_WEIGHTS = "weights.npz", "weights-best.npz"
WORD_FEATURES = "word-features.json"
TARGET_VOCAB = "target-vocab.json"
CONFIG, VOCAB, RUN_JSON, METRICS, CHECKPOINT = "config.yaml", "vocab.json", "run.json", "metrics.jsonl", "checkpoint.npz"
SEEDS = "seeds.json"  # rnn train --seeds: in the directory that holds the seeds' runs
RESULTS = "results.json"  # the scores of data.dev (holdout selection) and data.test after training
REQUIRED_FILES = (RUN_JSON, CONFIG, VOCAB, WEIGHTS)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


class RunDir:
    """A run directory: every read and write of its files goes through here."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    # ---------------------------------------------------------------- starting, ending, cleaning

    def create(self, force: bool) -> None:
        """A new, empty run directory; an existing one is replaced only with ``force``."""
        if self.path.exists():
            if not force:
                raise RunError(
                    f"the run directory {self.path} already exists.",
                    hint=f"continue it with `rnn train --resume {self.path}`, replace it with --force, "
                    "or choose another directory with --set run.dir=PATH.",
                )
            if not self.path.is_dir():
                raise RunError(f"{self.path} exists and is a file, not a run directory.",
                               hint="remove it or choose another run.dir.")
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)

    def remove(self) -> None:
        """Delete the directory (a run that failed before anything in it was worth keeping)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def clean_temp_files(self) -> None:
        """Remove temporary files a killed process left behind (``.weights.npz.x1y2.tmp``)."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    # ------------------------------------------------------------------ what the run starts with

    def write_config(self, cfg) -> None:
        from rnncli.config import config_to_yaml

        write_text(self.path / CONFIG, config_to_yaml(cfg))

    def write_vocabularies(self, vocab: Vocab, word_features: WordFeatures | None, target_vocab: Vocab | None) -> None:
        vocab.save(self.path / VOCAB)
        if word_features:
            word_features.save(self.path / WORD_FEATURES)
        if target_vocab is not None:
            target_vocab.save(self.path / TARGET_VOCAB)

    def read_vocabularies(self, target: bool, word_features: bool) -> tuple[Vocab, Vocab | None, WordFeatures | None]:
        """The vocabulary, and the target vocabulary and word features when the model has them (DataError
        when one is unreadable)."""
        return (Vocab.load(self.path / VOCAB), Vocab.load(self.path / TARGET_VOCAB) if target else None,
                WordFeatures.load(self.path / WORD_FEATURES) if word_features else None)

    # ------------------------------------------------------------------------------ checkpoints

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).is_file()

    def write_checkpoint(self, arrays: dict[str, np.ndarray]) -> None:
        write_arrays(self.path / CHECKPOINT, arrays)

    def read_checkpoint(self) -> dict[str, np.ndarray]:
        """Every array of checkpoint.npz (one of NPZ_ERRORS when it is damaged)."""
        with np.load(self.path / CHECKPOINT, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    # ------------------------------------------------------------------------- after an epoch

    def write_epoch(self, params: dict[str, np.ndarray], best: bool, records: list[dict], meta: dict) -> None:
        """After an epoch (and its checkpoint): the weights, the best weights when this epoch is the best,
        metrics.jsonl, then run.json (which marks the run usable)."""
        write_arrays(self.path / WEIGHTS, params)
        if best:
            write_arrays(self.path / BEST_WEIGHTS, params)
        write_text(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in records))
        write_text(self.path / RUN_JSON, json.dumps(meta, indent=2) + "\n")

    def read_selected_weights(self, spec: ModelSpec) -> dict[str, np.ndarray]:
        """The best epoch's weights when the run kept them, else the last epoch's."""
        best = self.path / BEST_WEIGHTS
        return load_weights(best if best.is_file() else self.path / WEIGHTS, spec)

    def write_results(self, results: dict) -> None:
        """After training: what was scored once, with which weights (results.json)."""
        write_text(self.path / RESULTS, json.dumps(results, indent=2) + "\n")

    def read_results(self) -> dict | None:
        path = self.path / RESULTS
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise RunError(f"{path} is not JSON.", hint="the run directory is corrupt; retrain.") from None

    def read_metrics(self) -> list[dict]:
        """metrics.jsonl: one record per finished epoch."""
        path = self.path / METRICS
        if not path.is_file():
            raise RunError(f"{self.path} has no {METRICS}.", hint="pass the directory `rnn train` wrote.")
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    raise RunError(f"{path} has a line that is not JSON.",
                                   hint="the run directory is corrupt; retrain.") from None
        return records

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG


@dataclass
class Run:
    """A trained model loaded from its run directory."""

    path: Path
    spec: ModelSpec
    params: dict[str, np.ndarray]
    vocab: Vocab
    labels: LabelVocab
    meta: dict  # run.json
    weights: str = WEIGHTS  # the file ``params`` came from: WEIGHTS or BEST_WEIGHTS
    target_vocab: Vocab | None = None  # seq2seq: target-vocab.json
    word_features: WordFeatures | None = None  # word-features.json, when the model has word features
    notes: list[str] = field(default_factory=list)  # what the user should know about these weights

    @functools.cached_property
    def config(self):
        """config.yaml, validated, read on first use: evaluate needs it, predict does not (and the YAML and
        schema modules it takes are a fifth of predict's start-up)."""
        import yaml

        from rnncli.config import config_from_dict

        path = self.path / "config.yaml"
        try:
            return config_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path),
                                    name=self.path.name)
        except (TypeError, ValueError, yaml.YAMLError, ConfigError, DataError) as exc:
            raise _damaged(self.path, "config.yaml", f"corrupt ({exc})") from None

    def encode(self, raw, path):
        """Encode raw data (read by the run's task) as this run's model reads it."""
        from rnncli.tasks import task_of

        return task_of(self.spec.task).encode(self.config, raw, self.vocab, self.labels, path, self.spec.feature_dim or None,
                            self.word_features, self.target_vocab)

    @property
    def best(self) -> dict | None:
        """``{"epoch", "monitor", "value"}`` when ``params`` are the best epoch's weights, else None."""
        return self.meta.get("best") if self.weights == BEST_WEIGHTS else None

    @property
    def tokenizer(self) -> str:
        return self.meta["data"]["tokenizer"]

    @property
    def lowercase(self) -> bool:
        return self.meta["data"]["lowercase"]

    @property
    def reverse(self) -> bool:
        """Trained on text read backwards (data.reverse)."""
        return bool(self.meta["data"].get("reverse", False))


def write_seed_summary(group: Path, summary: dict) -> None:
    """``rnn train --seeds``: the runs' results and their spread, beside the seed-<s> run directories."""
    write_text(Path(group) / SEEDS, json.dumps(summary, indent=2) + "\n")


def run_meta(spec: ModelSpec, labels: LabelVocab, cfg, epochs_done: int, dtype: str, step: int = 0,
             best: dict | None = None, stopped_early: bool = False) -> dict:
    """The contents of run.json."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "rnncli_version": __version__,
        "task": cfg.task,
        "model": spec.to_dict(),
        "labels": labels.to_dict()["labels"],
        "data": {"tokenizer": cfg.data.tokenizer, "lowercase": cfg.data.lowercase,
                 **({"reverse": True} if cfg.data.reverse else {})},
        "dtype": dtype,
        "epochs_done": epochs_done,
        "step": step,
        "best": best,  # {"epoch", "monitor", "value"}: the epoch saved as weights-best.npz
        "stopped_early": stopped_early,
    }


def _bad_run(path: Path, problem: str, hint: str | None = None) -> RunError:
    return RunError(
        f"{path} is not a usable run directory: {problem}.",
        hint=hint or "train a model first (rnn train --config FILE), or pass --model with the directory "
        "that `rnn train` wrote (it holds run.json, config.yaml, vocab.json and weights.npz).",
    )


def _damaged(path: Path, name: str, problem: str, last_flag: str | None = "--last") -> RunError:
    """A file of a run that `rnn train` wrote is damaged: say which, and how to get it back (``last_flag``: how
    the caller's command takes the last epoch's weights instead of the best, None where it cannot)."""
    retrain = f"rnn train --config {path}/config.yaml --set run.dir={path} --force"
    if name in ("run.json", WEIGHTS) and (path / "checkpoint.npz").is_file():
        fix = f"`rnn train --resume {path}` writes {name} again from checkpoint.npz; or retrain with `{retrain}`"
    elif name == BEST_WEIGHTS and last_flag:
        fix = f"restore it from a copy, use the last epoch's weights with {last_flag}, or retrain with `{retrain}`"
    else:
        fix = f"restore it from a copy, or retrain with `{retrain}`"
    return _bad_run(path, f"{name} is {problem}", hint=f"{fix}.")


def load_run(path: str | Path, last: bool = False, last_flag: str | None = "--last") -> Run:
    """Load and cross-check a run directory, with its best weights when it kept them (unless ``last``);
    every problem raises :class:`RunError`. ``last_flag`` names the caller's way to ``last`` in the hints
    (None: the caller has none, as train.init_from)."""
    path = Path(path)
    if not path.exists():
        raise _bad_run(path, "it does not exist")
    if not path.is_dir():
        raise _bad_run(path, "it is a file, not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        resumable = (path / "checkpoint.npz").is_file() and "vocab.json" not in missing and "config.yaml" not in missing
        raise _bad_run(path, f"it is incomplete (missing {', '.join(missing)})",
                       hint=f"`rnn train --resume {path}` finishes it from checkpoint.npz." if resumable else None)
    try:
        meta = json.loads((path / "run.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("not an rnncli run.json")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(path, "run.json", f"corrupt ({exc})") from None
    if meta.get("version") != FORMAT_VERSION:
        raise RunError(
            f"{path} was written in run format version {meta.get('version')!r}; "
            f"this rnncli ({__version__}) reads version {FORMAT_VERSION}.",
            hint="retrain the model with this version of rnncli, or use the version that wrote it.",
        )
    try:
        spec = _checked_spec(model_spec(meta["model"]))
        labels = LabelVocab.from_dict({"labels": meta["labels"]})
        if meta["data"]["tokenizer"] not in TOKENIZERS or not isinstance(meta["data"]["lowercase"], bool):
            raise ValueError("unknown tokenizer settings")
        best = meta.get("best")
        if best is not None and not (isinstance(best, dict) and isinstance(best.get("epoch"), int)):
            raise ValueError("best is not an epoch record")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field of the wrong JSON type
        raise _damaged(path, "run.json", f"corrupt ({exc})") from None
    vocab = _load_vocab(path, "vocab.json")
    target_vocab = _load_vocab(path, TARGET_VOCAB) if task_of(spec.task).target_vocab_file else None
    word_features = load_word_features(path, spec)
    notes, weights = [], WEIGHTS
    if (path / BEST_WEIGHTS).is_file():
        weights = WEIGHTS if last else BEST_WEIGHTS
    elif best is not None:  # recorded but gone: never fall back to other weights without saying so
        kept = f"epoch {best['epoch']} as its best ({best.get('monitor')} {best.get('value')})"
        if not last:
            or_last = f", or use the last epoch's weights ({WEIGHTS}) with {last_flag}" if last_flag else ""
            raise _bad_run(path, f"run.json records {kept}, but {BEST_WEIGHTS} is missing",
                           hint=f"restore {path / BEST_WEIGHTS}{or_last}.")
        notes.append(f"{path} records {kept}, but {BEST_WEIGHTS} is missing; using {WEIGHTS} (--last).")
    params = load_weights(path / weights, spec, last_flag)
    if len(vocab) != spec.vocab_size:
        raise _bad_run(path, f"vocab.json has {len(vocab)} entries but the weights expect {spec.vocab_size}")
    if target_vocab is not None and len(target_vocab) != spec.num_classes:
        raise _bad_run(path, f"{TARGET_VOCAB} has {len(target_vocab)} entries but the weights expect {spec.num_classes}")
    if task_of(spec.task).num_classes(spec.vocab_size, labels, target_vocab) != spec.num_classes:
        raise _bad_run(path, f"run.json lists {len(labels)} labels but the model has {spec.num_classes} classes")
    return Run(path, spec, params, vocab, labels, meta, weights, target_vocab, word_features, notes)


def _load_vocab(path: Path, name: str) -> Vocab:
    if not (path / name).is_file():
        raise _bad_run(path, f"it is incomplete (missing {name})")
    try:
        return Vocab.load(path / name)
    except DataError as exc:
        raise _damaged(path, name, f"unreadable ({exc.message})") from None


def load_word_features(path: Path, spec: ModelSpec) -> WordFeatures | None:
    """word-features.json of a run whose model has word features, checked against the model."""
    if not spec.word_features:
        return None
    try:
        features = WordFeatures.load(path / WORD_FEATURES)
    except DataError as exc:
        raise _damaged(path, WORD_FEATURES, f"missing or unreadable ({exc.message})") from None
    if features.sizes() != spec.word_features:
        raise _bad_run(path, f"{WORD_FEATURES} holds features {list(features.sizes())} but the weights expect "
                             f"{[list(f) for f in spec.word_features]}")
    return features


def _checked_spec(spec: ModelSpec) -> ModelSpec:
    """A model description from run.json, checked before anything is built from it (ValueError if not)."""
    for key, choices in CHOICES.items():
        if getattr(spec, key) not in choices:
            raise ValueError(f"model.{key} is {getattr(spec, key)!r}")
    sizes = ("vocab_size", "num_classes", "embedding_dim", "hidden_size", "num_layers", "feature_dim",
             "max_target_length", "num_conditions")
    if any(type(getattr(spec, k, 0)) is not int or getattr(spec, k, 0) < 0 for k in sizes) \
            or not all(isinstance(getattr(spec, k), bool) for k in ("bidirectional", "learn_h0", "attention", "feed_condition")) \
            or not (isinstance(spec.dropout, (int, float)) and 0 <= spec.dropout < 1):
        raise ValueError("the model description has a wrong value")
    spec.param_shapes()
    return spec


def load_weights(file: Path, spec: ModelSpec, last_flag: str | None = "--last") -> dict[str, np.ndarray]:
    """Read weights.npz (no pickles) and check every name and shape against the spec (``last_flag``: as in
    :func:`load_run`)."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except NPZ_ERRORS as exc:
        raise _damaged(file.parent, file.name, f"corrupt or truncated ({exc})", last_flag) from None
    expected = spec.param_shapes()
    problems = [f"{k} missing" for k in expected if k not in arrays]
    problems += [f"{k} has shape {arrays[k].shape}, expected {s}" for k, s in expected.items()
                 if k in arrays and arrays[k].shape != s]
    problems += [f"unexpected tensor {k}" for k in arrays if k not in expected]
    if problems:
        raise _bad_run(file.parent, f"{file.name} does not match the model in run.json ({'; '.join(problems[:3])})")
    return {k: arrays[k] for k in expected}


def find_latest_run(root: str | Path = "runs") -> Path:
    """The most recently written run under ``root`` (by the time of its weights.npz), one or two levels down
    (``rnn train --seeds`` and ``rnn sweep`` keep their runs in a folder of their own)."""
    root = Path(root)
    candidates = [p.parent for pattern in ("*/weights.npz", "*/*/weights.npz") for p in root.glob(pattern)] \
        if root.is_dir() else []
    if not candidates:
        raise RunError(
            f"no trained model found under {root}/.",
            hint="train one first (rnn train --config configs/sentiment-toy.yaml) or pass --model RUN_DIR.",
        )
    return max(candidates, key=lambda p: (p / "weights.npz").stat().st_mtime_ns)
