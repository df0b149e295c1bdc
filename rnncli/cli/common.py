"""Helpers shared by commands (no array math here)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from rnncli.cli import render

LAST = typer.Option(False, "--last", help="Use the last epoch's weights even when the run kept better ones "
                    "(weights-best.npz, chosen by train.monitor).")


def open_run(model: Path | None, last: bool = False):
    """Load ``model``, or the newest run under ./runs when it is not given; its best weights when it
    kept them (weights-best.npz), unless ``last``."""
    from rnncli.checkpoint import find_latest_run, load_run

    if model is None:
        model = find_latest_run("runs")
        render.note(f"using the newest run: {model}")
    return load_run(model, last=last)


def read_inputs(texts: list[str]) -> list[str]:
    """TEXT arguments, or one input per non-blank line of stdin when the only argument is '-'."""
    if texts == ["-"]:
        return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    return texts


BEAM = typer.Option(1, "--beam", help="seq2seq: beam width K; 1 = greedy decoding.", min=1)
MAX_LENGTH = typer.Option(None, "--max-length", min=1, help="seq2seq: stop decoding after this many tokens "
                          "without <eos> (default: twice the run's longest training target, plus 10).")


def check_decoding(run, beam: int, max_length: int | None) -> None:
    """--beam and --max-length only mean something for a seq2seq run."""
    from rnncli.errors import UsageError

    if run.spec.task != "seq2seq" and (beam != 1 or max_length is not None):
        raise UsageError(f"--beam and --max-length apply to seq2seq runs; {run.path} is a {run.spec.task} run.",
                         hint="leave them out for this run.")
