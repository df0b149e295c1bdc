"""Tasks: one module per task (what it reads, encodes, batches, counts, scores and predicts), and the
registry that maps a config's ``task:`` to it; ``metrics`` and ``seqmetrics`` hold the scores they
share. A new task is a new module and its entry here."""

from __future__ import annotations

from rnncli.models import ModelSpec
from rnncli.tasks.base import CELLS, Batch, Dataset, Task, pad_inputs, split_off_dev
from rnncli.tasks.classify import Classify
from rnncli.tasks.generate import Generate
from rnncli.tasks.lm import LM, lm_batches, lm_streams
from rnncli.tasks.regress import Regress
from rnncli.tasks.seq2seq import Seq2Seq
from rnncli.tasks.tag import Tag

TASKS: dict[str, Task] = {task.name: task for task in (Classify(), Regress(), Tag(), LM(), Seq2Seq(), Generate())}


def task_of(name: str) -> Task:
    """The task a config's ``task:`` (or a run's model) names."""
    return TASKS[name]


def model_spec(fields: dict) -> ModelSpec:
    """A model description as run.json and checkpoints store it, completed by its task (which model,
    which head). ValueError for a task this version does not know."""
    name = fields.get("task", "classify")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}")
    return TASKS[name].model_spec(**fields)


__all__ = ["CELLS", "TASKS", "Batch", "Dataset", "Task", "task_of", "model_spec", "pad_inputs", "split_off_dev", "lm_batches", "lm_streams"]
