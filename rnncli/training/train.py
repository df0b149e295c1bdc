"""Training: data → vocabulary → model → epochs of BPTT → a run directory.

seq2seq runs also hold the target vocabulary (``target-vocab.json``); their dev scores decode
the dev sources greedily (token accuracy, exact match, BLEU) besides the teacher-forced loss.

Each step: forward, loss, backward through time (with ``train.adversarial``, a second pass at the
adversarially moved input), optional clipping (by value, then by global
norm), an optimiser update at the epoch's learning rate (``train.schedule``) and, with ``train.ema_decay``,
an update of the weight average, which is then what is scored and saved as the weights. After every
epoch the dev set is scored; then the resumable checkpoint (:mod:`rnncli.training.resume`), the weights,
the best weights (by ``train.monitor``), metrics.jsonl and run.json are written, in that order,
through :class:`rnncli.rundir.RunDir`. ``train.patience`` stops early; Ctrl-C or SIGTERM saves a
checkpoint after the step in progress and stops; a diverging step stops training
(:mod:`rnncli.training.divergence`).

Determinism: one seed drives three independent generators (initialisation, shuffling,
dropout), so the same seed and data give bit-identical losses and weights, and a run that
was interrupted and resumed ends exactly as one that was not.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rnncli.config import Config
from rnncli.data import LabelVocab
from rnncli.engine.optim import WeightAverage, clip_grad_norm, clip_grad_value, lr_at, make_optimizer
from rnncli.errors import DivergedError, TrainingInterrupted
from rnncli.models import ModelSpec, loss_and_grads
from rnncli.rundir import RunDir, run_meta
from rnncli.tasks import task_of
from rnncli.tools import diagnostics
from rnncli.training import divergence, resume
from rnncli.training.prepare import frozen_params, initial_params, prepare, warm_params, warm_start, warm_vocabularies
from rnncli.training.signals import InterruptGuard
from rnncli.training.state import TrainState, epoch_batches
from rnncli.training.transfer import is_transfer, transfer

# (event, info): "skipped" (malformed rows left out), "vectors" (pretrained vectors' coverage), "holdout" (how
# data.holdout_split cut the training data), "stream" (lm: the texts of a table it joins), "transfer" (what
# train.init_from copied from each run), "resume", "epoch_start", "batch", "epoch_end" (the record)
Progress = Callable[[str, dict], None]


@dataclass
class TrainResult:
    run_dir: Path
    num_params: int
    epochs: list[dict] = field(default_factory=list)
    test: dict | None = None  # metrics on data.test after training (last epoch's weights; selected with holdout)
    dev: dict | None = None  # holdout selection: data.dev scored once, with the selected epoch's weights
    seconds: float = 0.0
    resumed_from: dict | None = None  # {"epoch", "step"} of the checkpoint a resumed run started from
    best: dict | None = None  # {"epoch", "monitor", "value"}; None without a dev set
    stopped_early: bool = False  # train.patience ended training before train.epochs

    def to_dict(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "num_params": self.num_params,
            "epochs": self.epochs,
            "final": self.epochs[-1] if self.epochs else None,
            "test": self.test,
            "dev": self.dev,
            "best": self.best,
            "stopped_early": self.stopped_early,
            "resumed_from": self.resumed_from,
            "seconds": round(self.seconds, 3),
        }


def _detach(finals):
    """A carried-over state without its history: truncated BPTT stops the gradient here."""
    return [[tuple(s.copy() for s in state) for state in layer] for layer in finals]


def train(cfg: Config, force: bool = False, progress: Progress | None = None,
          resume_dir: Path | None = None) -> TrainResult:
    """Train the model ``cfg`` describes and write its run directory. With ``resume_dir``, continue that
    run from its checkpoint instead (``cfg`` is then :func:`rnncli.training.resume.resume_config`'s)."""
    progress = progress or (lambda event, info: None)
    saved = resume.load(resume_dir) if resume_dir is not None else None
    starts = warm_start(cfg) if cfg.train.init_from and saved is None else []
    warm = starts[0] if starts and not is_transfer(cfg, starts) else None
    data = prepare(cfg, *(saved.vocabularies() if saved else warm_vocabularies(cfg, warm) if warm else ()))
    for path, messages in data.skipped.items():
        progress("skipped", {"file": path, "rows": len(messages), "first": messages[0]})
    spec, t, task = data.spec, cfg.train, task_of(cfg.task)
    rngs = {"shuffle": np.random.default_rng([t.seed, 1]), "dropout": np.random.default_rng([t.seed, 2])}
    params = warm_params(cfg, spec, warm) if warm else initial_params(cfg, spec, data)
    if starts and not warm:
        for report in transfer(params, spec, data.vocab, starts, cfg.data.reverse):
            progress("transfer", report)
    if data.coverage is not None and saved is None:
        progress("vectors", data.coverage.to_dict())
    if data.split is not None and saved is None:
        progress("holdout", data.split)
    if data.train.texts is not None and saved is None:
        progress("stream", {"file": cfg.data.train, "texts": data.train.texts, "tokens": len(data.train.stream),
                            "drop_contained": cfg.data.drop_contained})
    frozen = frozen_params(cfg)
    weights = None if data.class_weights is None else data.class_weights.astype(np.dtype(t.dtype))
    trainable = {k: p for k, p in params.items() if k not in frozen}  # the same arrays
    optimizer = make_optimizer(t.optimizer, trainable, t.lr, t.momentum, t.nesterov, t.weight_decay)
    average = WeightAverage(trainable, t.ema_decay) if t.ema_decay else None
    label_names = data.labels.to_dict()["labels"]
    info = {"model": spec.to_dict(), "labels": label_names, "config": cfg.name,
            "data": {"train": resume.fingerprint(data.train), "dev": resume.fingerprint(data.dev)}}
    holdout = t.monitor.startswith("holdout_")  # select on the held-out training data; dev is scored once, after
    monitor = t.monitor if (data.holdout if holdout else data.dev) is not None else None

    if saved is None:
        run, state = RunDir(cfg.run_dir()), TrainState()
        run.create(force)
        run.write_config(cfg)
        run.write_vocabularies(data.vocab, data.word_features, data.target_vocab)
    else:
        run = RunDir(resume_dir)
        examples = None if task.stream else len(data.train)
        state = saved.restore(params, optimizer, average, rngs, spec, info, examples)
        run.clean_temp_files()
        run.write_config(cfg)  # keeps a --set train.epochs=N
        if state.batch == 0 and state.epoch > 0:  # a kill may have come between the checkpoint and these
            save(run, spec, evaluated(params, average), data.labels, cfg, state)
        progress("resume", {"epoch": state.epoch, "batch": state.batch, "step": state.step, "epochs": t.epochs})

    result = TrainResult(run.path, sum(p.size for p in params.values()), state.records,
                         resumed_from={"epoch": state.epoch, "step": state.step} if saved else None)
    probe = diagnostics.probe_batches(cfg.task, data.train, t.batch_size, 1, t.bptt) if t.log_grad_norms else None
    started = time.perf_counter()
    checkpointed = state.step if saved else None  # the step of the newest checkpoint on disk

    with InterruptGuard() as guard, removed_unless_checkpointed(run, fresh=saved is None):
        while state.unfinished(t.epochs, t.patience):
            epoch, t0 = state.epoch + 1, time.perf_counter()
            optimizer.lr = lr_at(t.schedule, t.lr, epoch, t.epochs, t.step_size, t.gamma)
            batches = epoch_batches(cfg, data.train, state, rngs["shuffle"])
            progress("epoch_start", {"epoch": epoch, "epochs": t.epochs, "batches": len(batches)})
            for batch in batches[state.batch:]:
                try:
                    with divergence.trap():  # an overflow anywhere in the step is divergence (rule 1)
                        loss, grads, logits, cache = loss_and_grads(
                            params, spec, batch.ids, batch.mask, batch.targets, state.carry if batch.carry else None,
                            rngs["dropout"], teacher_forcing=t.teacher_forcing, class_weights=weights,
                            label_smoothing=t.label_smoothing, adversarial=t.adversarial)
                        for name in frozen:  # as a parameter without requires_grad in PyTorch: no step, no clipping
                            del grads[name]
                        if t.clip_value:
                            clip_grad_value(grads, t.clip_value)
                        grad_norm = clip_grad_norm(grads, t.clip_norm if t.clip_norm else math.inf)
                        problem = divergence.check_step(loss, grad_norm, grads, state.first_loss, state.high_steps)
                        if problem is None:
                            optimizer.step(trainable, grads)
                            if average is not None:
                                average.update(trainable)
                except FloatingPointError as exc:
                    problem = f"NumPy reported \"{exc}\" during the step"
                if problem is not None:
                    raise diverged(run, epoch, state.step + 1, state, problem, checkpointed)
                if task.stream:
                    state.carry = _detach(cache.finals)
                state.after_step(loss, task.count(batch), task.correct(spec, logits, batch), grad_norm)
                progress("batch", {"epoch": epoch, "batch": state.batch, "batches": len(batches), "loss": loss,
                                   "running_loss": state.sums["loss_sum"] / max(state.sums["terms"], 1)})
                if guard.requested is not None or (t.checkpoint_every and state.step % t.checkpoint_every == 0
                                       and state.batch < len(batches)):  # the epoch's end writes one anyway
                    check_weights(run, epoch, state, params, checkpointed)
                    resume.save(run, params, optimizer, average, rngs, state, info)
                    checkpointed = state.step
                if guard.requested is not None:
                    raise interrupted(run, state, len(batches), guard.requested)
            terms = max(state.sums["terms"], 1)
            record = {"epoch": epoch, "step": state.step, "lr": optimizer.lr, "train_loss": state.sums["loss_sum"] / terms}
            if task.accuracy:
                record["train_accuracy"] = state.sums["correct"] / terms
            record["grad_norm"] = state.grad_norm
            scored_params = evaluated(params, average)
            if probe:  # ‖∂L/∂h_t‖ on the first training batch, with this epoch's weights
                record["grad_norms"] = diagnostics.grad_norms(params, spec, probe).epoch_record()
            for name, scored in (("holdout", data.holdout), ("dev", None if holdout else data.dev)):
                if scored is not None:
                    values = task.metrics(scored.targets, task.score(scored_params, spec, scored), label_names)
                    record.update({f"{name}_{k}": v for k, v in values.items()})
            record["seconds"] = round(time.perf_counter() - t0, 4)
            check_weights(run, epoch, state, params, checkpointed)
            state.finish_epoch(record, monitor, t.patience)
            resume.save(run, params, optimizer, average, rngs, state, info)  # first: the checkpoint is the commit point
            checkpointed = state.step
            save(run, spec, scored_params, data.labels, cfg, state)
            progress("epoch_end", record)
            if guard.requested is not None:
                raise interrupted(run, state, len(batches), guard.requested)
    result.best, result.stopped_early = state.best, state.stopped_early
    selected = state.best if holdout else None  # the epoch whose weights score dev and test
    final = run.read_selected_weights(spec) if selected else evaluated(params, average)
    if holdout and data.dev is not None:
        result.dev = task.metrics(data.dev.targets, task.score(final, spec, data.dev), label_names)
    if data.test is not None:
        result.test = task.metrics(data.test.targets, task.score(final, spec, data.test), label_names)
    if result.dev is not None or result.test is not None:
        run.write_results({"weights": "best" if selected else "last",
                           "epoch": selected["epoch"] if selected else state.epoch, "dev": result.dev, "test": result.test})
    result.seconds = time.perf_counter() - started
    return result


@contextlib.contextmanager
def removed_unless_checkpointed(run: RunDir, fresh: bool):
    """A new run that fails before its first checkpoint (a bug, a progress callback that raises) leaves no
    directory behind: it would hold only config.yaml and vocab.json, neither resumable nor usable."""
    try:
        yield
    except BaseException:
        if fresh and not run.has_checkpoint():
            run.remove()
        raise


def evaluated(params, average: WeightAverage | None):
    """The weights that are scored and saved: with train.ema_decay the trained parameters' average
    (frozen ones never change, so they are their own average), else the parameters themselves."""
    return params if average is None else {**params, **average.weights}


def diverged(run: RunDir, epoch: int, step: int, state: TrainState, problem: str,
             checkpointed: int | None) -> DivergedError:
    """Name the step, what went wrong and the gradient norm before it; keep the last checkpoint."""
    last = f" (the gradient norm was {state.grad_norm:.4g} at step {step - 1})" if step > 1 else ""
    if checkpointed is None:  # nothing worth keeping was written yet: removed_unless_checkpointed removes it
        kept = f"No epoch finished, so {run} was removed."
    else:
        epochs = f" and the weights of epoch {state.epoch}" if state.epoch else ""
        kept = f"{run} keeps its last good checkpoint (step {checkpointed}){epochs}."
    return DivergedError(
        f"training diverged at epoch {epoch}, step {step}: {problem}{last}. {kept}",
        hint="lower train.lr, or clip the gradients (e.g. --set train.clip_norm=1.0), and train again with --force.",
    )


def check_weights(run: RunDir, epoch: int, state: TrainState, params, checkpointed: int | None) -> None:
    """Rule 4 of :mod:`rnncli.training.divergence`: no checkpoint or weights file ever holds a NaN or infinity."""
    bad = divergence.nonfinite(params)
    if bad is not None:
        raise diverged(run, epoch, state.step, state, f"the weights of {bad} are not finite", checkpointed)


def interrupted(run: RunDir, state: TrainState, batches: int, signum: int) -> TrainingInterrupted:
    where = f"after epoch {state.epoch}" if state.batch == 0 else \
        f"in epoch {state.epoch + 1} (batch {state.batch} of {batches})"
    return TrainingInterrupted(f"training stopped {where}, step {state.step}; {run} holds a checkpoint of it.",
                               hint=f"continue exactly where it stopped with: rnn train --resume {run}",
                               terminated=signum == signal.SIGTERM)


def save(run: RunDir, spec: ModelSpec, params, labels: LabelVocab, cfg: Config, state: TrainState) -> None:
    """After an epoch and its checkpoint: the weights, the best weights when this epoch is the best,
    metrics.jsonl and run.json."""
    meta = run_meta(spec, labels, cfg, state.epoch, cfg.train.dtype, step=state.step, best=state.best,
                    stopped_early=state.stopped_early)
    run.write_epoch(params, bool(state.best and state.best["epoch"] == state.epoch), state.records, meta)
