"""Training: data → vocabulary → model → epochs of BPTT → a run directory.

Each step: forward, loss, backward through time, optional clipping (by value, then by global
norm), an optimiser update at the epoch's learning rate (``train.schedule``). After every
epoch the dev set is scored and the weights, optimiser state and metrics are saved.

Determinism: one seed drives three independent generators (initialisation, shuffling,
dropout), so the same seed and data give bit-identical losses and weights.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rnncli import checkpoint, diagnostics, tasks
from rnncli.config import Config, config_to_yaml
from rnncli.data import LabelVocab, Vocab
from rnncli.engine.optim import clip_grad_norm, clip_grad_value, lr_at, make_optimizer
from rnncli.errors import ConfigError, DivergedError, RunError
from rnncli.inference import score
from rnncli.metrics import task_metrics
from rnncli.model import ModelSpec, init_params, loss_and_grads

Progress = Callable[[str, dict], None]  # (event, info): "epoch_start", "batch", "epoch_end"


@dataclass
class TrainResult:
    run_dir: Path
    num_params: int
    epochs: list[dict] = field(default_factory=list)
    test: dict | None = None  # metrics on data.test after the last epoch
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "num_params": self.num_params,
            "epochs": self.epochs,
            "final": self.epochs[-1] if self.epochs else None,
            "test": self.test,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Prepared:
    """Everything read and encoded before the first step."""

    vocab: Vocab
    labels: LabelVocab
    train: tasks.Dataset
    dev: tasks.Dataset | None
    test: tasks.Dataset | None
    spec: ModelSpec


def build_vocab(cfg: Config, train_raw) -> Vocab:
    """Load ``vocab.path`` if given, else count the training tokens."""
    if cfg.vocab.path:
        return Vocab.load(cfg.vocab.path)
    return Vocab.build(tasks.token_lists(cfg, train_raw), min_freq=cfg.vocab.min_freq, max_size=cfg.vocab.max_size)


def model_spec(cfg: Config, vocab_size: int, labels: LabelVocab, feature_dim: int = 0) -> ModelSpec:
    m = cfg.model
    num_classes = {"lm": vocab_size, "regress": 1}.get(cfg.task, len(labels))
    return ModelSpec(
        vocab_size=vocab_size, num_classes=num_classes, task=cfg.task, cell=m.cell, activation=m.activation,
        input=m.input, embedding_dim=m.embedding_dim, hidden_size=m.hidden_size, num_layers=m.num_layers,
        bidirectional=m.bidirectional, dropout=m.dropout, pooling=m.pooling, learn_h0=m.learn_h0,
        feature_dim=feature_dim,
    )


def initial_params(cfg: Config, spec: ModelSpec) -> dict[str, np.ndarray]:
    """The weights training starts from (drawn from the first of the seed's generators)."""
    t, m = cfg.train, cfg.model
    return init_params(spec, np.random.default_rng([t.seed, 0]), np.dtype(t.dtype), m.init, m.forget_bias,
                       m.recurrent_gain)


def require_train(cfg: Config) -> str:
    if not cfg.data.train:
        raise ConfigError(f"{cfg.source} sets no training data (data.train), so the vocabulary is unknown.",
                          hint="add `data:\n  train: PATH` to the config, or pass --set data.train=PATH.")
    return cfg.data.train


def spec_from_config(cfg: Config) -> ModelSpec:
    """The model a config describes, sized by its training data's vocabulary and labels."""
    train_raw = tasks.read_split(cfg, require_train(cfg))
    labels = tasks.build_labels(cfg, train_raw)
    dim = tasks.encode(cfg, train_raw[:1], Vocab.build([]), labels, cfg.data.train).feature_dim \
        if cfg.model.input == "features" else 0
    return model_spec(cfg, len(build_vocab(cfg, train_raw)), labels, dim)


def prepare(cfg: Config) -> Prepared:
    """Read train (and dev) data, build the vocabularies, encode, and fix the model's shape."""
    train_raw = tasks.read_split(cfg, require_train(cfg))
    dev_raw = tasks.read_split(cfg, cfg.data.dev) if cfg.data.dev else None
    if dev_raw is None and cfg.data.dev_split > 0:
        train_raw, dev_raw = tasks.split_off_dev(train_raw, cfg.data.dev_split)
    vocab = build_vocab(cfg, train_raw)
    labels = tasks.build_labels(cfg, train_raw)
    train_set = tasks.encode(cfg, train_raw, vocab, labels, cfg.data.train)
    dev_set = tasks.encode(cfg, dev_raw, vocab, labels, cfg.data.dev or cfg.data.train) if dev_raw else None
    test_set = None
    if cfg.data.test:  # read now: a bad path must not surface only after training
        test_set = tasks.encode(cfg, tasks.read_split(cfg, cfg.data.test), vocab, labels, cfg.data.test)
    return Prepared(vocab, labels, train_set, dev_set, test_set,
                    model_spec(cfg, len(vocab), labels, train_set.feature_dim))


def prepare_run_dir(run_dir: Path, force: bool) -> None:
    if run_dir.exists():
        if not force:
            raise RunError(
                f"the run directory {run_dir} already exists.",
                hint="pass --force to overwrite it, or choose another directory with --set run.dir=PATH.",
            )
        if not run_dir.is_dir():
            raise RunError(f"{run_dir} exists and is a file, not a run directory.", hint="remove it or choose another run.dir.")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)


def _detach(finals):
    """A carried-over state without its history: truncated BPTT stops the gradient here."""
    return [[tuple(s.copy() for s in state) for state in layer] for layer in finals]


def train(cfg: Config, force: bool = False, progress: Progress | None = None) -> TrainResult:
    """Train the model ``cfg`` describes and write its run directory."""
    progress = progress or (lambda event, info: None)
    data = prepare(cfg)
    spec, t = data.spec, cfg.train
    shuffle_rng, dropout_rng = (np.random.default_rng([t.seed, i]) for i in (1, 2))
    params = initial_params(cfg, spec)
    optimizer = make_optimizer(t.optimizer, params, t.lr, t.momentum, t.nesterov, t.weight_decay)
    label_names = data.labels.to_dict()["labels"]

    run_dir = cfg.run_dir()
    prepare_run_dir(run_dir, force)
    checkpoint.write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    data.vocab.save(run_dir / "vocab.json")

    result = TrainResult(run_dir, sum(p.size for p in params.values()))
    probe = diagnostics.probe_batches(cfg.task, data.train, t.batch_size, 1, t.bptt) if t.log_grad_norms else None
    started = time.perf_counter()
    step = 0
    for epoch in range(1, t.epochs + 1):
        t0 = time.perf_counter()
        optimizer.lr = lr_at(t.schedule, t.lr, epoch, t.epochs, t.step_size, t.gamma)
        batches = tasks.batches(cfg.task, data.train, t.batch_size, t.shuffle, shuffle_rng, t.bptt)
        progress("epoch_start", {"epoch": epoch, "epochs": t.epochs, "batches": len(batches)})
        loss_sum, terms, correct, grad_norm, state = 0.0, 0, 0, 0.0, None
        for b, batch in enumerate(batches):
            with np.errstate(over="ignore", invalid="ignore"):  # a NaN is caught below, with a diagnosis
                loss, grads, logits, cache = loss_and_grads(params, spec, batch.ids, batch.mask, batch.targets,
                                                            state if batch.carry else None, dropout_rng)
            step += 1
            if t.clip_value:
                clip_grad_value(grads, t.clip_value)
            grad_norm = clip_grad_norm(grads, t.clip_norm if t.clip_norm else math.inf)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                raise diverged(run_dir, epoch, step, loss, grads)
            optimizer.step(params, grads)
            if cfg.task == "lm":
                state = _detach(cache.finals)
            n = tasks.count(cfg.task, batch)
            loss_sum += loss * n
            terms += n
            correct += _correct(cfg.task, spec, logits, batch)
            progress("batch", {"epoch": epoch, "batch": b + 1, "batches": len(batches), "loss": loss})
        record = {"epoch": epoch, "step": step, "lr": optimizer.lr, "train_loss": loss_sum / max(terms, 1)}
        if cfg.task in ("classify", "tag"):
            record["train_accuracy"] = correct / max(terms, 1)
        record["grad_norm"] = grad_norm
        if probe:  # ‖∂L/∂h_t‖ on the first training batch, with this epoch's weights
            record["grad_norms"] = diagnostics.grad_norms(params, spec, probe).epoch_record()
        if data.dev is not None:
            dev = task_metrics(cfg.task, data.dev.targets, score(params, spec, data.dev), label_names)
            record.update({f"dev_{k}": v for k, v in dev.items()})
        record["seconds"] = round(time.perf_counter() - t0, 4)
        result.epochs.append(record)
        save(run_dir, spec, params, optimizer, data.labels, cfg, epoch)
        checkpoint.append_jsonl(run_dir / "metrics.jsonl", record)
        progress("epoch_end", record)
    if data.test is not None:
        result.test = task_metrics(cfg.task, data.test.targets, score(params, spec, data.test), label_names)
    result.seconds = time.perf_counter() - started
    return result


def diverged(run_dir: Path, epoch: int, step: int, loss: float, grads) -> DivergedError:
    """Name the step and the first non-finite gradient; keep the last finished epoch's checkpoint."""
    bad = next((k for k, g in grads.items() if not np.all(np.isfinite(g))), None)
    where = f"the gradient of {bad} is not finite" if bad else "the gradients are finite"
    if epoch == 1:  # nothing worth keeping was written yet
        shutil.rmtree(run_dir, ignore_errors=True)
        kept = f"No epoch finished, so {run_dir} was removed."
    else:
        kept = f"{run_dir} keeps the weights of epoch {epoch - 1}."
    return DivergedError(
        f"training diverged at epoch {epoch}, step {step}: the loss is {loss} and {where}. {kept}",
        hint="lower train.lr, or clip the gradients (e.g. --set train.clip_norm=1.0).",
    )


def _correct(task: str, spec: ModelSpec, logits: np.ndarray, batch: tasks.Batch) -> int:
    """Training-time hits (with dropout), for the running accuracy of classify and tag."""
    if task == "classify":
        pred = (logits[:, 0] > 0).astype(np.int64) if spec.num_outputs == 1 else logits.argmax(axis=-1)
        return int(np.sum(pred == batch.targets))
    if task == "tag":
        return int(np.sum((logits.argmax(axis=-1) == batch.targets) & batch.mask))
    return 0


def save(run_dir: Path, spec: ModelSpec, params, optimizer, labels: LabelVocab, cfg: Config, epoch: int) -> None:
    """Write the weights, then the optimiser state, then run.json (which marks the run usable)."""
    checkpoint.write_arrays(run_dir / "weights.npz", params)
    checkpoint.write_arrays(run_dir / "optimizer.npz", optimizer.state_dict())
    meta = checkpoint.run_meta(spec, labels, cfg, epoch, cfg.train.dtype)
    checkpoint.write_text(run_dir / "run.json", json.dumps(meta, indent=2) + "\n")
