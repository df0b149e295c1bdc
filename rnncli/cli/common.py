"""Helpers shared by commands (no array math here)."""

from __future__ import annotations

import io
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from rnncli.cli import render

LAST = typer.Option(False, "--last", help="Use the last epoch's weights even when the run kept better ones "
                    "(weights-best.npz, chosen by train.monitor).")


def open_run(model: Path | None, last: bool = False):
    """Load ``model``, or the newest run under ./runs when it is not given; its best weights when it
    kept them (weights-best.npz), unless ``last``."""
    from rnncli.rundir import find_latest_run, load_run

    if model is None:
        model = find_latest_run("runs")
        render.note(f"using the newest run: {model}")
    run = load_run(model, last=last)
    for text in run.notes:
        render.note(text)
    return run


STDIN_CHUNK = 1 << 16  # bytes read from stdin at most at a time


def input_batches(texts: list[str]) -> Iterator[list[str]]:
    """The TEXT arguments as one batch; with '-', the non-blank lines of stdin, in batches of what has
    arrived: a line typed, or written by `tail -f`, is answered at once, and a fast pipe gives batches of
    up to STDIN_CHUNK bytes of lines (as fast as reading everything first)."""
    if texts != ["-"]:
        yield texts
        return
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # an in-memory stdin: it is all there already
        lines = [line.rstrip("\r") for line in sys.stdin.read().split("\n") if line.strip()]
        if lines:
            yield lines
        return
    encoding, pending, ended = sys.stdin.encoding or "utf-8", b"", False
    while not ended and (data := os.read(fd, STDIN_CHUNK)):  # blocks only until something arrives
        # A writer's small pieces (a pipe fed a few hundred bytes at a time) that have already arrived
        # join this batch: a fast writer gets large batches, a slow one an answer per line.
        while len(data) < STDIN_CHUNK and select.select([fd], [], [], 0)[0]:
            more = os.read(fd, STDIN_CHUNK)
            ended = not more
            if ended:
                break
            data += more
        *complete, pending = (pending + data).split(b"\n")
        lines = [line.rstrip(b"\r").decode(encoding, "replace") for line in complete if line.strip()]
        if lines:
            yield lines
    if pending.strip():
        yield [pending.rstrip(b"\r").decode(encoding, "replace")]


BEAM = typer.Option(1, "--beam", help="seq2seq: beam width K; 1 = greedy decoding.", min=1)
MAX_LENGTH = typer.Option(None, "--max-length", min=1, help="seq2seq: stop decoding after this many tokens "
                          "without <eos> (default: twice the run's longest training target, plus 10).")


def check_decoding(run, beam: int, max_length: int | None) -> None:
    """--beam and --max-length only mean something for a seq2seq run."""
    from rnncli.errors import UsageError

    if run.spec.architecture != "encoder_decoder" and (beam != 1 or max_length is not None):
        raise UsageError(f"--beam and --max-length apply to seq2seq runs; {run.path} is a {run.spec.task} run.",
                         hint="leave them out for this run.")


# ------------------------------------------------------------ diagnostics' outputs


def write_outputs(rows: list[dict], csv_path: Path | None, plot: Path | None, draw) -> None:
    """--csv FILE (``rows``, one dict each) and --plot FILE (``draw()``), each with a note on stderr."""
    if csv_path is not None:
        import csv

        from rnncli.fileio import save_outputs

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["t"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        save_outputs([(csv_path, lambda f: f.write(buf.getvalue().encode("utf-8")))])
        render.note(f"wrote {csv_path} ({len(rows)} rows)")
    if plot is not None:
        draw()
        render.note(f"wrote {plot}")


def sci(v) -> str:
    """A norm as 1.23e-04 ("-" for none)."""
    return "-" if v is None else f"{v:.2e}"


def rows_to_show(T: int, steps: int) -> list[int]:
    """0-based positions: every step, or ``steps`` evenly spaced ones including the first and last."""
    if steps == 0 or steps >= T:
        return list(range(T))
    return sorted({round(i * (T - 1) / (steps - 1)) for i in range(steps)}) if steps > 1 else [T - 1]


def heatmap(series: list[tuple[str, list]], what: str) -> None:
    """One row of shaded characters per (label, values) series, on a shared log10 scale."""
    from rnncli.tools.diagnostics import log_grid

    grid, starts = log_grid([values for _, values in series])
    finite = [v for row in grid for v in row if v is not None]
    if not finite:
        return
    lo, hi = min(finite), max(finite)
    per = f", {starts[1] - starts[0]} steps per character" if len(starts) > 1 and starts[1] - starts[0] > 1 else ""
    digits = 1 if hi - lo >= 1 else 3  # a narrow range needs more digits to say anything
    render.heatmap([(label, row) for (label, _), row in zip(series, grid)], lo, hi,
                   f"{what}{per}; log10 norm from {lo:.{digits}f} (▁) to {hi:.{digits}f} (█)")


def write_predictions(run, data: Path, out: Path | None, fmt: str | None, top_k: int | None, threshold: float | None,
                      beam: int = 1, max_length: int | None = None, correct: bool = False) -> int:
    """Predictions for every example of ``data``, written atomically to ``out`` (or stdout); returns the rows."""
    import io
    import sys

    from rnncli.data.readers import resolve_format
    from rnncli.errors import UsageError
    from rnncli.data.rows import OUTPUT_FORMATS, RowWriter
    from rnncli.evaluation.predict_file import predict_file
    from rnncli.fileio import save_outputs
    from rnncli.tasks import Task, task_of

    task = task_of(run.spec.task)
    if type(task).prediction_columns is Task.prediction_columns:  # a task that predicts no file (generate)
        task.prediction_columns({}, top_k, threshold)  # raises its usage error, before the options are judged
    flag = lambda option: "--" + option.replace("_", "-")  # noqa: E731
    given = {"top_k": top_k, "threshold": threshold}
    extra = [flag(k) for k, v in given.items() if v is not None and k not in task.prediction_options]
    if extra:
        can = " and ".join(map(flag, task.prediction_options))
        raise UsageError(f"{' and '.join(extra)} do{'es' if len(extra) == 1 else ''} not apply to a {task.name} model's "
                         f"predictions" + (f"; {can} do{'es' if len(task.prediction_options) == 1 else ''}." if can else "."),
                         hint="drop " + " and ".join(extra) + ".")
    if out is not None:
        fmt = OUTPUT_FORMATS.get(out.suffix.lower())
        if fmt is None:
            raise UsageError(f"cannot tell the format of {out} from its extension.",
                             hint="name the output .csv, .tsv or .jsonl")
        if out.is_dir() or not out.parent.is_dir():
            raise UsageError(f"cannot write {out}.", hint="give a file name in an existing folder")
    elif fmt is None:
        own = resolve_format(data, run.config.data.format if run.config.data.format != "features" else "auto")
        fmt = own if own in ("csv", "tsv", "jsonl") else "tsv"
    with render.progress_bar("predicting") as update:
        def progress(done: int) -> None:
            update(total=None, completed=done, description=f"{done:,} examples")

        if out is None:
            rows = predict_file(run, str(data), RowWriter(sys.stdout, fmt), top_k, threshold, beam, max_length,
                                correct, progress)
        else:
            counted = {}

            def write(f) -> None:
                text = io.TextIOWrapper(f, encoding="utf-8", newline="")
                counted["rows"] = predict_file(run, str(data), RowWriter(text, fmt), top_k, threshold, beam,
                                               max_length, correct, progress)
                text.flush()
                text.detach()

            save_outputs([(out, write)])
            rows = counted["rows"]
    if out is not None:
        render.note(f"wrote {out} ({rows:,} rows)")
    return rows


def check_source(command: str, config: Path | None, model: Path | None, sets: list[str] | None) -> None:
    """A diagnostic measures a config at initialisation or a trained run: exactly one of them."""
    from rnncli.errors import UsageError

    if (config is None) == (model is None):
        raise UsageError(f"{command} needs exactly one of --config FILE or --model RUN_DIR.",
                         hint=f"e.g. rnn {command} --config configs/adding-rnn.yaml")
    if sets and config is None:
        raise UsageError("--set changes a config; it applies with --config only.",
                         hint="a trained run's config is fixed; measure a changed model with --config FILE --set KEY=VALUE.")


def diagnostic_probe(command: str, config: Path | None, model: Path | None, sets: list[str] | None, data: str | None,
                     batches: int, batch_size: int | None, last: bool):
    """The model (a config at initialisation, or a trained run) and the batches a diagnostic measures."""
    from rnncli.tools import diagnostics

    if config is not None:
        from rnncli.config import load_config

        return diagnostics.probe_config(load_config(config, sets or []), data, batches, batch_size, command)
    return diagnostics.probe_run(open_run(model, last), data, batches, batch_size, command)
