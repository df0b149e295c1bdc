"""Predictions for raw texts with a trained run, in the shape of its task.

classify  {"text", "tokens", "ids", "label", "scores": {label: probability}}
regress   {"text", "tokens", "ids", "value"}
tag       {"text", "tokens", "ids", "tags": [tag per token], "scores": [probability of that tag]}
lm        {"text", "tokens", "ids", "next": [{"token", "probability"}, … the 5 likeliest]}
seq2seq   {"text", "tokens", "ids", "output", "output_tokens", "log_prob"}: the decoded target
          (tokens joined without spaces for the char tokenizer, else with one) and its log-probability
Each also has "unknown": how many of its tokens the vocabulary lacks (they have the <unk> id 1).
A model with ``input: features`` reads each text as timesteps of comma-separated numbers
("0.31,0 0.77,1 …") and gives {"text", "steps", …} instead of tokens and ids. Each task builds
its own (:meth:`rnncli.tasks.Task.predict`).
"""

from __future__ import annotations

from collections.abc import Sequence

from rnncli.rundir import Run
from rnncli.tasks import task_of


def predict(run: Run, texts: Sequence[str], beam: int = 1, max_length: int | None = None,
            tokens: list[list[str]] | None = None) -> list[dict]:
    """Predictions for ``texts``; seq2seq decodes with ``beam`` (1: greedy) up to ``max_length`` tokens.
    ``tokens``: the texts' tokens, when a file gives them."""
    return task_of(run.spec.task).predict(run, texts, beam, max_length, tokens)
