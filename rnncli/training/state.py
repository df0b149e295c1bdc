"""Where training stands, as plain data (no file is read or written here): progress, the running sums of
the epoch, every finished epoch's metrics, the best epoch, early stopping, and the batches of an epoch.

Best epoch: after each epoch with a dev set, ``train.monitor`` is compared with the best so far;
names ending in ``accuracy`` are maximised, every other metric (``dev_loss``, ``dev_mae``)
minimised. ``train.patience`` stops training after that many epochs in a row without improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rnncli.config import Config
from rnncli.tasks import Batch, Dataset, task_of
from rnncli.tasks.metrics import higher_is_better
from rnncli.training.divergence import above_bound


@dataclass
class TrainState:
    """Where training stands; everything besides arrays that a checkpoint must restore."""

    epoch: int = 0  # finished epochs
    batch: int = 0  # batches done in epoch ``epoch + 1`` (0: at an epoch boundary)
    step: int = 0  # optimiser steps so far
    grad_norm: float = 0.0  # the last step's gradient norm (before clipping)
    first_loss: float | None = None  # the run's first step's loss: it sets the divergence bound
    high_steps: int = 0  # the last steps in a row whose loss was above that bound
    sums: dict = field(default_factory=dict)  # the current epoch's running loss_sum, terms, correct
    records: list = field(default_factory=list)  # metrics of every finished epoch (metrics.jsonl)
    best: dict | None = None  # {"epoch", "monitor", "value"} of the best epoch so far
    bad_epochs: int = 0  # finished epochs since the best one
    stopped_early: bool = False
    order: np.ndarray | None = None  # this epoch's example order (sequence tasks)
    carry: list | None = None  # task lm: the state carried into the next window

    def start_epoch(self) -> None:
        self.sums = {"loss_sum": 0.0, "terms": 0, "correct": 0}
        self.carry = None

    def after_step(self, loss: float, terms: int, correct: int, grad_norm: float) -> None:
        self.step += 1
        self.batch += 1
        self.grad_norm = grad_norm
        self.high_steps = self.high_steps + 1 if above_bound(loss, self.first_loss) else 0
        if self.first_loss is None:
            self.first_loss = loss
        self.sums["loss_sum"] += loss * terms
        self.sums["terms"] += terms
        self.sums["correct"] += correct

    def finish_epoch(self, record: dict, monitor: str | None, patience: int | None) -> bool:
        """Book a finished epoch; returns whether it is the best so far (``monitor`` None: no dev set)."""
        self.epoch, self.batch, self.order, self.carry = record["epoch"], 0, None, None
        self.records.append(record)
        value = record.get(monitor) if monitor else None
        improved = value is not None and math.isfinite(value) and (
            self.best is None or (value > self.best["value"] if higher_is_better(monitor) else value < self.best["value"]))
        if improved:
            self.best, self.bad_epochs = {"epoch": self.epoch, "monitor": monitor, "value": value}, 0
        elif monitor:
            self.bad_epochs += 1
        self.stopped_early = self.should_stop(patience)
        return improved

    def should_stop(self, patience: int | None) -> bool:
        return patience is not None and self.best is not None and self.bad_epochs >= patience

    def unfinished(self, epochs: int, patience: int | None) -> bool:
        """Whether there is an epoch left to train (a started epoch is always finished)."""
        if self.epoch >= epochs:
            return False
        self.stopped_early = self.batch == 0 and self.should_stop(patience)
        return not self.stopped_early

    def to_meta(self) -> dict:
        keys = ("epoch", "batch", "step", "grad_norm", "first_loss", "high_steps", "sums", "records", "best", "bad_epochs",
                "stopped_early")
        return {k: getattr(self, k) for k in keys}


def epoch_batches(cfg: Config, data: Dataset, state: TrainState, shuffle_rng) -> list[Batch]:
    """The batches of epoch ``state.epoch + 1``: at its start the task draws the example order, mid-epoch
    (after a resume) the saved order is used again, and both cut it into batches the same way."""
    t, task = cfg.train, task_of(cfg.task)
    if state.batch == 0:
        state.start_epoch()
        state.order = task.epoch_order(data, t.batch_size, t.shuffle, t.bucket, shuffle_rng)
    return task.batches(data, t.batch_size, state.order, t.bptt)
