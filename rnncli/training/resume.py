"""Checkpoints that resume training bit for bit: writing, reading and checking them, and the config of
a resumed run.

``checkpoint.npz`` in the run directory is one file, written atomically (temporary file, then
``os.replace``), so it is always whole and its parts always belong together:

    param/<name>        the weights after the checkpoint's step
    optim/<key>         the optimiser state (``Optimizer.state_dict``: moments and step count)
    average/<key>       with train.ema_decay, the weight average (``WeightAverage.state_dict``)
    order               sequence tasks, mid-epoch: the epoch's shuffled example order
    carry/<l>/<d>/<k>   task lm, mid-epoch: the hidden state carried into the next window
    meta                UTF-8 JSON as a uint8 array: format and version, progress (finished
                        epochs, batches done in the current one, steps), the state of the
                        shuffling and dropout generators (``bit_generator.state``), the
                        current epoch's running sums, every finished epoch's metrics, the
                        best epoch and the patience count, the model, the labels,
                        fingerprints of the training and dev data, and the name of the config
                        the run started from

It is written after every epoch, every ``train.checkpoint_every`` steps and on Ctrl-C or SIGTERM. Resuming
restores all of it and replays the rest of the epoch with the same batches, the same dropout
masks and the same carried state, so an interrupted and resumed run ends with exactly the
weights and metrics of an uninterrupted one. (The initialisation generator is not stored: it is
used only before the first step, and the weights are in the checkpoint.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncli import __version__
from rnncli.rundir import CHECKPOINT, FORMAT_VERSION, NPZ_ERRORS, RunDir
from rnncli.config import Config, load_config, parse_override, replace_in
from rnncli.data import LabelVocab, Vocab
from rnncli.data.subwords import WordFeatures
from rnncli.errors import DataError, RunError, UsageError
from rnncli.tasks import Dataset, model_spec, task_of
from rnncli.training.state import TrainState

CHECKPOINT_FORMAT = "rnncli-checkpoint"
# What --set may change when a run is resumed: how long it trains and how often it saves.
RESUMABLE_KEYS = ("train.epochs", "train.patience", "train.checkpoint_every")


def fingerprint(data: Dataset | None) -> str | None:
    """SHA-256 of an encoded data set (inputs and targets): a resume refuses data that changed."""
    if data is None:
        return None
    h = hashlib.sha256()
    if data.stream is not None:
        h.update(np.ascontiguousarray(data.stream, dtype=np.int64).tobytes())
        return h.hexdigest()
    for part in (data.ids, data.targets):
        for item in ([part] if isinstance(part, np.ndarray) else part):
            a = np.ascontiguousarray(item)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------- writing


def save(run: RunDir, params: dict, optimizer, average, rngs: dict, state: TrainState, info: dict) -> None:
    """Write checkpoint.npz atomically. ``info`` holds the run's constants (model, labels, data); ``average``
    is the :class:`rnncli.engine.optim.WeightAverage` or None."""
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    if average is not None:
        arrays.update({f"average/{k}": v for k, v in average.state_dict().items()})
    if state.batch > 0 and state.order is not None:
        arrays["order"] = state.order
    if state.batch > 0 and state.carry is not None:
        for l, layer in enumerate(state.carry):
            for d, direction in enumerate(layer):
                arrays.update({f"carry/{l}/{d}/{k}": s for k, s in enumerate(direction)})
    meta = {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "rnncli_version": __version__,
            **state.to_meta(), "rng": {name: rng.bit_generator.state for name, rng in rngs.items()}, **info}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    run.write_checkpoint(arrays)


# ------------------------------------------------------------------------------- reading


def _bad(run_dir: Path, problem: str, hint: str | None = None) -> RunError:
    return RunError(f"cannot resume {run_dir}: {problem}.",
                    hint=hint or "start the run again with `rnn train --config FILE --force`.")


@dataclass
class Checkpoint:
    run_dir: Path
    meta: dict
    arrays: dict[str, np.ndarray]

    def vocabularies(self) -> tuple[Vocab, LabelVocab, Vocab | None, WordFeatures | None]:
        """The run's own vocabulary, labels, (seq2seq) target vocabulary and word features: a resumed
        run encodes its data exactly as before."""
        try:
            spec = model_spec(self.meta["model"])
            vocab, target_vocab, features = RunDir(self.run_dir).read_vocabularies(
                target=task_of(spec.task).target_vocab_file, word_features=bool(spec.word_features))
            labels = LabelVocab.from_dict({"labels": self.meta["labels"]})
        except DataError as exc:
            raise _bad(self.run_dir, f"a vocabulary is unreadable ({exc.message})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _bad(self.run_dir, f"{CHECKPOINT} is corrupt (labels: {exc})") from None
        return vocab, labels, target_vocab, features

    def restore(self, params: dict, optimizer, average, rngs: dict, spec, info: dict,
                examples: int | None) -> TrainState:
        """Load weights, optimiser, weight average (None: none) and generator states in place; returns the
        training state.
        ``examples``: the number of training examples (None for lm), to check a saved order."""
        meta, where = self.meta, self.run_dir
        try:
            if meta["model"] != info["model"]:
                raise _bad(where, f"its {CHECKPOINT} holds a different model than config.yaml and vocab.json "
                                  f"describe (vocab.json has {spec.vocab_size} entries)")
            for name, now in (("training", "train"), ("dev", "dev")):
                if meta["data"][now] != info["data"][now]:
                    raise _bad(where, f"the {name} data changed since the run started, so it cannot continue exactly",
                               hint="restore the original data files, or start a new run with `rnn train --config FILE`.")
            for k, p in params.items():
                saved = self.arrays.get(f"param/{k}")
                if saved is None or saved.shape != p.shape or saved.dtype != p.dtype:
                    raise _bad(where, f"{CHECKPOINT} does not match the model (tensor {k})")
                np.copyto(params[k], saved)  # in place: the optimiser holds these very arrays
            optimizer.load_state_dict({k[6:]: v for k, v in self.arrays.items() if k.startswith("optim/")})
            if average is not None:
                average.load_state_dict({k[8:]: v for k, v in self.arrays.items() if k.startswith("average/")})
            for name, rng in rngs.items():
                rng.bit_generator.state = meta["rng"][name]
            added = {"first_loss": None, "high_steps": 0}  # older checkpoints lack them: the next step sets them
            state = TrainState(**{k: meta[k] for k in TrainState().to_meta() if k not in added},
                               **{k: meta.get(k, v) for k, v in added.items()})
            if state.first_loss is not None and not isinstance(state.first_loss, (int, float)) \
                    or type(state.high_steps) is not int:
                raise ValueError("first_loss or high_steps is not a number")
            state.sums = {k: meta["sums"][k] for k in ("loss_sum", "terms", "correct")} if state.batch else {}
            if state.batch:
                state.order, state.carry = self.arrays.get("order"), self._carry()
                if examples is not None and not (state.order is not None and state.order.dtype.kind == "i"
                                                 and np.array_equal(np.sort(state.order), np.arange(examples))):
                    raise ValueError("the saved example order is not a permutation of the training examples")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _bad(where, f"{CHECKPOINT} is corrupt ({type(exc).__name__}: {exc})") from None
        return state

    def _carry(self) -> list | None:
        keys = sorted((tuple(map(int, k.split("/")[1:])), k) for k in self.arrays if k.startswith("carry/"))
        if not keys:
            return None
        carry: list = []
        for (l, d, _), k in keys:
            while len(carry) <= l:
                carry.append([])
            while len(carry[l]) <= d:
                carry[l].append(())
            carry[l][d] = carry[l][d] + (self.arrays[k],)
        return carry


def load(run_dir: str | Path) -> Checkpoint:
    """Read and check checkpoint.npz; every problem raises :class:`RunError` (exit 5)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "it does not exist" if not run_dir.exists() else "it is a file, not a run directory"
        raise _bad(run_dir, what, hint="pass the run directory that `rnn train` wrote, e.g. runs/sentiment-toy.")
    run = RunDir(run_dir)
    if not run.has_checkpoint():
        raise _bad(run_dir, f"it has no {CHECKPOINT} (no step finished, or an older rnncli wrote it)")
    try:
        arrays = run.read_checkpoint()
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not an rnncli checkpoint")
    except NPZ_ERRORS as exc:
        raise _bad(run_dir, f"{CHECKPOINT} is corrupt or truncated ({exc})") from None
    if meta.get("version") != FORMAT_VERSION:
        raise _bad(run_dir, f"its {CHECKPOINT} was written in run format version {meta.get('version')!r}; "
                            f"this rnncli ({__version__}) reads version {FORMAT_VERSION}",
                   hint="resume it with the rnncli version that wrote it, or start again with --force.")
    return Checkpoint(run_dir, meta, arrays)


# --------------------------------------------------------------------------------- config


def resume_config(run_dir: str | Path, config: str | Path | None = None, overrides=()) -> Config:
    """The config of a resumed run: RUN/config.yaml, where ``--set`` may change only RESUMABLE_KEYS.

    ``--config`` may be given as well if it describes the same run; it may differ only in
    RESUMABLE_KEYS, whose values it then supplies (``--set`` still wins)."""
    run_dir = Path(run_dir)
    for item in overrides:
        key = parse_override(item)[0]
        if key not in RESUMABLE_KEYS:
            raise UsageError(f"--set {key} cannot change when a run is resumed; only {', '.join(RESUMABLE_KEYS)} can.",
                             hint="start a new run instead: rnn train --config FILE --set run.dir=NEW_DIR …")
    saved = load(run_dir)  # a missing or unusable checkpoint is the first thing to report
    cfg = load_config(RunDir(run_dir).config_file, overrides)
    if config is not None:
        given = load_config(config, overrides)
        ours, theirs = _flat(cfg.to_dict()), _flat(given.to_dict())
        differ = [k for k in ours if ours[k] != theirs.get(k) and k not in (*RESUMABLE_KEYS, "run.dir")]
        if differ:
            shown = "; ".join(f"{k} is {theirs.get(k)!r} there, {ours[k]!r} in the run" for k in differ[:3])
            raise UsageError(f"--config {config} describes another run than {run_dir}/config.yaml ({shown}).",
                             hint=f"drop --config: `rnn train --resume {run_dir}` reads the run's own config.yaml.")
        for key in RESUMABLE_KEYS:
            cfg = replace_in(cfg, key, theirs[key])
    name = saved.meta.get("config")  # the name of the config the run started from (older checkpoints lack it)
    return dataclasses.replace(cfg, name=name if isinstance(name, str) and name else run_dir.name)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out
