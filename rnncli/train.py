"""Training: data → vocabulary → model → epochs of BPTT with SGD/Adam → a run directory.

Determinism: one seed drives two independent generators, one for parameter
initialisation and one for shuffling, so the same seed and data give bit-identical
losses and weights.
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

from rnncli import checkpoint
from rnncli.config import Config, config_to_yaml
from rnncli.data import LabelVocab, Vocab, batch_indices, pad_batch, read_examples, tokenize
from rnncli.engine.optim import clip_grad_norm, make_optimizer
from rnncli.errors import ConfigError, DataError, DivergedError, RunError
from rnncli.inference import encode_texts, score
from rnncli.model import ModelSpec, init_params, loss_and_grads

Progress = Callable[[str, dict], None]  # (event, info): "epoch_start", "batch", "epoch_end"


@dataclass
class Dataset:
    """Encoded examples: token ids per sequence and class indices."""

    ids: list[list[int]]
    targets: np.ndarray  # (N,) int

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class TrainResult:
    run_dir: Path
    num_params: int
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "num_params": self.num_params,
            "epochs": self.epochs,
            "final": self.epochs[-1] if self.epochs else None,
            "seconds": round(self.seconds, 3),
        }


def read_split(cfg: Config, split: str):
    """Examples of data.train / data.dev / data.test, read with the config's column settings."""
    path = getattr(cfg.data, split)
    return read_examples(path, cfg.data.format, cfg.data.text_field, cfg.data.label_field, cfg.data.header)


def build_vocab(cfg: Config, train_examples) -> Vocab:
    """Load ``vocab.path`` if given, else count the training tokens."""
    if cfg.vocab.path:
        return Vocab.load(cfg.vocab.path)
    token_lists = (tokenize(ex.text, cfg.data.tokenizer, cfg.data.lowercase) for ex in train_examples)
    return Vocab.build(token_lists, min_freq=cfg.vocab.min_freq, max_size=cfg.vocab.max_size)


def encode(examples, vocab: Vocab, labels: LabelVocab, cfg: Config) -> Dataset:
    _, ids = encode_texts([ex.text for ex in examples], vocab, cfg.data.tokenizer, cfg.data.lowercase)
    return Dataset(ids, np.array([labels.encode(ex.label) for ex in examples], dtype=np.int64))


def model_spec(cfg: Config, vocab_size: int, num_classes: int) -> ModelSpec:
    m = cfg.model
    return ModelSpec(
        vocab_size=vocab_size, num_classes=num_classes, cell=m.cell, activation=m.activation, input=m.input,
        embedding_dim=m.embedding_dim, hidden_size=m.hidden_size, num_layers=m.num_layers,
        bidirectional=m.bidirectional,
    )


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


def train(cfg: Config, force: bool = False, progress: Progress | None = None) -> TrainResult:
    """Train the model ``cfg`` describes and write its run directory."""
    progress = progress or (lambda event, info: None)
    if not cfg.data.train:
        raise ConfigError(f"{cfg.source} sets no training data (data.train).",
                          hint="add `data:\n  train: PATH` to the config, or pass --set data.train=PATH.")
    train_examples = read_split(cfg, "train")
    dev_examples = read_split(cfg, "dev") if cfg.data.dev else []
    vocab = build_vocab(cfg, train_examples)
    labels = LabelVocab.build([ex.label for ex in train_examples])
    if len(labels) < 2:
        raise DataError(f"{cfg.data.train} has a single label ({labels.decode(0)!r}); a classifier needs at least two.",
                        hint="check data.label_field, or add examples of the other classes.")
    train_set = encode(train_examples, vocab, labels, cfg)
    dev_set = encode(dev_examples, vocab, labels, cfg) if dev_examples else None

    dtype = np.dtype(cfg.train.dtype)
    spec = model_spec(cfg, len(vocab), len(labels))
    init_rng = np.random.default_rng([cfg.train.seed, 0])
    shuffle_rng = np.random.default_rng([cfg.train.seed, 1])
    params = init_params(spec, init_rng, dtype)
    optimizer = make_optimizer(cfg.train.optimizer, params, cfg.train.lr)

    run_dir = cfg.run_dir()
    prepare_run_dir(run_dir, force)
    checkpoint.write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    vocab.save(run_dir / "vocab.json")

    result = TrainResult(run_dir, sum(p.size for p in params.values()))
    started = time.perf_counter()
    step = 0
    for epoch in range(1, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        batches = batch_indices(len(train_set), cfg.train.batch_size, cfg.train.shuffle, shuffle_rng)
        progress("epoch_start", {"epoch": epoch, "epochs": cfg.train.epochs, "batches": len(batches)})
        loss_sum, grad_norm = 0.0, 0.0
        for b, idx in enumerate(batches):
            ids, mask = pad_batch([train_set.ids[i] for i in idx])
            loss, grads, _ = loss_and_grads(params, spec, ids, mask, train_set.targets[idx])
            step += 1
            grad_norm = clip_grad_norm(grads, cfg.train.clip_norm if cfg.train.clip_norm else math.inf)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                raise DivergedError(
                    f"training diverged at epoch {epoch}, step {step}: the loss is {loss} and the gradient "
                    f"norm is {grad_norm}. The run directory keeps the weights of the last finished epoch.",
                    hint="lower train.lr, or set train.clip_norm (e.g. --set train.clip_norm=1.0).",
                )
            optimizer.step(params, grads)
            loss_sum += loss * len(idx)
            progress("batch", {"epoch": epoch, "batch": b + 1, "batches": len(batches), "loss": loss})
        train_loss, train_pred = score(params, spec, train_set.ids, train_set.targets)
        record = {
            "epoch": epoch,
            "step": step,
            "train_loss": train_loss,
            "train_accuracy": float(np.mean(train_pred == train_set.targets)),
            "running_loss": loss_sum / len(train_set),
            "grad_norm": grad_norm,
        }
        if dev_set is not None:
            dev_loss, dev_pred = score(params, spec, dev_set.ids, dev_set.targets)
            record.update(dev_loss=dev_loss, dev_accuracy=float(np.mean(dev_pred == dev_set.targets)))
        record["seconds"] = round(time.perf_counter() - t0, 4)
        result.epochs.append(record)
        save(run_dir, spec, params, optimizer, labels, cfg, epoch, dtype)
        checkpoint.append_jsonl(run_dir / "metrics.jsonl", record)
        progress("epoch_end", record)
    result.seconds = time.perf_counter() - started
    return result


def save(run_dir: Path, spec: ModelSpec, params, optimizer, labels: LabelVocab, cfg: Config, epoch: int, dtype) -> None:
    """Write the weights, then the optimiser state, then run.json (which marks the run usable)."""
    checkpoint.write_arrays(run_dir / "weights.npz", params)
    checkpoint.write_arrays(run_dir / "optimizer.npz", optimizer.state_dict())
    meta = checkpoint.run_meta(spec, labels, cfg, epoch, str(np.dtype(dtype)))
    checkpoint.write_text(run_dir / "run.json", json.dumps(meta, indent=2) + "\n")
