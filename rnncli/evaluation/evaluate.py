"""Evaluate a trained run on a data file in its task's format.

classify: loss, accuracy, per-class precision/recall/F1, confusion matrix
tag:      the same over tokens (token accuracy, per-tag P/R/F1)
regress:  mean squared error (loss) and mean absolute error
lm:       loss in nats per token, perplexity, bits per token
seq2seq:  teacher-forced loss per target token; token accuracy, exact match and corpus BLEU-4 of
          the decoded outputs (greedy, or beam search with ``beam`` > 1; ``rnncli.tasks.seqmetrics``)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnncli.rundir import Run
from rnncli.tasks import task_of


@dataclass
class EvalResult:
    data: str
    task: str
    n: int  # examples (classify, regress, tag) or predicted tokens (lm)
    tokens: int  # scored tokens (tag, lm); equals n otherwise
    metrics: dict
    labels: list[str]

    def to_dict(self) -> dict:
        return {"data": self.data, "task": self.task, "n": self.n, "tokens": self.tokens, **self.metrics,
                "labels": self.labels}


def evaluate(run: Run, data: str | Path, beam: int = 1, max_length: int | None = None) -> EvalResult:
    """Read ``data`` with the run's data settings and score it (seq2seq: decoding with ``beam`` up to
    ``max_length`` tokens)."""
    cfg, task = run.config, task_of(run.spec.task)
    dataset = run.encode(task.read(cfg, str(data)), data)
    scored = task.score(run.params, run.spec, dataset, max_length=max_length, beam=beam)
    labels = run.labels.to_dict()["labels"]
    metrics = task.metrics(dataset.targets, scored, labels, full=True)
    n = scored.terms if task.stream else len(dataset)
    return EvalResult(str(data), cfg.task, n, scored.terms, metrics, labels)
