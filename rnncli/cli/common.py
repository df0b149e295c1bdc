"""Helpers shared by commands (no array math here)."""

from __future__ import annotations

import sys
from pathlib import Path

from rnncli.cli import render


def open_run(model: Path | None):
    """Load ``model``, or the newest run under ./runs when it is not given."""
    from rnncli.checkpoint import find_latest_run, load_run

    if model is None:
        model = find_latest_run("runs")
        render.note(f"using the newest run: {model}")
    return load_run(model)


def read_inputs(texts: list[str]) -> list[str]:
    """TEXT arguments, or one input per non-blank line of stdin when the only argument is '-'."""
    if texts == ["-"]:
        return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    return texts
