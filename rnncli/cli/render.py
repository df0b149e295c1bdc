"""The only writer to stdout and stderr.

stdout carries results: a rich table for people, JSON (``--json``) or JSON Lines for scripts.
stderr carries progress bars (only on a TTY and without ``--quiet``), notes and errors.
"""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager

from typing import TYPE_CHECKING

from rnncli.errors import RnncliError

if TYPE_CHECKING:
    from rich.console import Console

QUIET = False  # set by the root --quiet option
_live: Console | None = None  # the console of the progress bar on screen, if any

# rich is imported where it is used: `rnn predict --json` in a pipeline never needs it, and its
# import is a large part of a command's start-up time.


def out() -> Console:
    # Created per call so tests that swap sys.stdout (capsys) see the output. When stdout is
    # a pipe or file, tables are not squeezed into rich's default 80 columns.
    from rich.console import Console

    wide = None if sys.stdout.isatty() else 200
    # markup=False: what goes to stdout is data (texts, tokens, help) and a "[b]" in it is printed, not styled
    console = Console(file=sys.stdout, soft_wrap=True, highlight=False, markup=False, width=wide)
    console.on_broken_pipe = _stdout_gone  # rich's own exits with 1
    return console


def err() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def _clean(obj):
    """JSON cannot hold NaN/inf; write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _write(text: str) -> None:
    """Write to stdout; a reader that went away (``rnn predict - --json | head -1``) ends the command quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> None:
    """The reader of stdout went away (``rnn grad-norms … | head``): end the command quietly, with 0."""
    import os

    import typer

    sys.stdout = open(os.devnull, "w")  # the interpreter's final flush must not fail again
    raise typer.Exit(0) from None


def stream(text: str) -> None:
    """Part of a result that arrives piece by piece (``rnn generate``)."""
    _write(text)


def print_json(obj) -> None:
    _write(json.dumps(_clean(obj), indent=2, ensure_ascii=False) + "\n")


def print_jsonl(obj) -> None:
    _write(json.dumps(_clean(obj), ensure_ascii=False) + "\n")


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(columns: list[str], rows: list[list], title: str | None = None, right: set[int] | None = None) -> None:
    """Print a table to stdout; columns whose index is in ``right`` are right-aligned (numbers)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
    right = right if right is not None else set(range(1, len(columns)))
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i in right else "left")
    for row in rows:
        t.add_row(*[fmt(v) for v in row])
    out().print(t)


def line(text: str) -> None:
    out().print(text)


def note(text: str) -> None:
    """A remark for people, on stderr, silenced by --quiet (above the progress bar, while one is shown)."""
    if not QUIET:
        (_live or err()).print(text, markup=False, style="dim")


def error(exc: RnncliError) -> None:
    """``Error: …`` (``Interrupted: …`` after Ctrl-C) and ``hint: …`` lines on stderr, plain text so scripts
    can match them."""
    sys.stderr.write(f"{exc.label}: {exc.message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")


class RowStream:
    """A table on stdout whose rows are printed (and flushed) as they come: an epoch's row the moment the
    epoch ends, a prediction the moment its input line arrives, also through a pipe. It looks like
    :func:`table`; the title and header come with the first row, and each column is as wide as its
    header or its first value (a wider later value widens its own cell only)."""

    def __init__(self, title: str | None = None, right: set[int] | None = None) -> None:
        self.title, self.right, self.widths = title, right, None

    def _justify(self, cells: list[str]) -> str:
        right = self.right if self.right is not None else set(range(1, len(cells)))
        return " │ ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(cells, self.widths)))

    def add(self, row: dict) -> None:
        cells = [fmt(v) for v in row.values()]
        if self.widths is None:
            self.widths = [max(len(c), len(v)) for c, v in zip(row, cells)]
            last = len(self.widths) - 1
            rule = "╇".join("━" * (w + (1 if i in (0, last) else 2)) for i, w in enumerate(self.widths))
            head = self._justify(list(row)).replace(" │ ", " ┃ ")
            _write("".join(f"{line}\n" for line in ([self.title] if self.title else []) + [head, rule]))
        _write(self._justify(cells) + "\n")


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """Yields ``update(total, completed, text, description)``; a no-op unless stderr is a TTY and not --quiet.
    While the bar is shown, :func:`note` prints above it."""
    global _live
    if QUIET or not enabled or not sys.stderr.isatty():
        yield lambda *a, **k: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # Results printed while the bar is shown stay on stdout: rich moves them above the bar only when stdout
    # is the terminal too (`rnn train > log` keeps every row in the log, with the bar on the screen).
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[text]}"),
        console=err(), transient=True, redirect_stdout=sys.stdout.isatty(),
    ) as bar:
        task = bar.add_task(description, total=None, text="")

        def update(total=None, completed=None, text="", description=None):
            kwargs = {"text": text}
            if description is not None:
                kwargs["description"] = description
            bar.update(task, total=total, completed=completed, **kwargs)

        _live = bar.console
        try:
            yield update
        finally:
            _live = None


HEAT_RAMP = "▁▂▃▄▅▆▇█"  # low → high; "·" marks a zero or non-finite value
HEAT_COLORS = ("#313695", "#4575b4", "#74add1", "#abd9e9", "#fee090", "#fdae61", "#f46d43", "#d73027")


def heatmap(rows: list[tuple[str, list]], lo: float, hi: float, caption: str) -> None:
    """A terminal heatmap on stdout: one line per row label, one character per column.

    ``rows`` hold values already on the scale to shade (e.g. log10 norms), None for missing.
    The character's height (and, on a colour terminal, its colour) grows from ``lo`` to ``hi``.
    """
    from rich.text import Text

    width = max((len(label) for label, _ in rows), default=0)
    span = hi - lo if hi > lo else 1.0
    console = out()
    for label, values in rows:
        text = Text(label.ljust(width) + "  ")
        for v in values:
            if v is None:
                text.append("·")
                continue
            level = min(len(HEAT_RAMP) - 1, max(0, int((v - lo) / span * len(HEAT_RAMP))))
            text.append(HEAT_RAMP[level], style=HEAT_COLORS[level])
        console.print(text, soft_wrap=True)
    console.print(" " * (width + 2) + caption, soft_wrap=True)
