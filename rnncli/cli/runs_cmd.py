"""rnn runs, rnn plot"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app


@app.command(help="""List the runs in a folder (default: runs): task, model, epochs, best epoch and metric.

Newest first; the run that rnn predict, evaluate and generate pick without --model (the newest
finished one) is marked with *. Runs whose run.json cannot be read are listed as damaged, runs with
only a checkpoint as unfinished. With --json, one list of objects with path, status, task, cell,
hidden, epochs, best ({"epoch", "monitor", "value"}), last (the last epoch's metrics), bytes,
written and latest.

\\b
Example:  rnn runs runs --json
""")
def runs(
    folder: Path = typer.Argument(Path("runs"), metavar="DIR", help="The folder that holds the run directories."),
    json_: bool = JSON,
) -> None:
    from rnncli.tools.runs import list_runs

    found = list_runs(folder)
    if json_:
        render.print_json([r.to_dict() for r in found])
        return
    if not found:
        render.note(f"no runs in {folder}")
        return
    rows = []
    for r in found:
        best = f"{r.best['monitor']} {r.best['value']:.4f} @ {r.best['epoch']}" if r.best else "-"
        model = f"{r.cell} {r.hidden}" if r.cell else "-"
        rows.append([("* " if r.latest else "  ") + r.path, r.status, r.task or "-", model,
                     "-" if r.epochs is None else r.epochs, best, f"{r.bytes / 1e6:.1f} MB", r.written or "-"])
    render.table(["run", "status", "task", "model", "epochs", "best", "size", "written"], rows, right={4, 6})


@app.command(help="""Draw learning curves: a metric per epoch of one or several runs.

Without --out, a table on the terminal: each run and metric with a sparkline over the epochs (lower
is shorter), the first, last and best value. With --out FILE.png, a chart (needs matplotlib: pip
install 'rnncli[plot]'). --metric (repeatable) picks the metrics of metrics.jsonl (default:
train_loss, and dev_loss when the run has a dev set). --json prints the curves.

\\b
Example:  rnn plot runs/sentiment-toy runs/sentiment-toy-lstm --metric dev_accuracy --out curves.png
""")
def plot(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN...", help="Run directories."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", help="A metric of metrics.jsonl (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write a PNG chart here (needs matplotlib)."),
    json_: bool = JSON,
) -> None:
    from rnncli.tools.runs import curves

    if out is not None:
        from rnncli.cli import plot as plotter

        plotter.require_matplotlib()
    found = curves(run_dirs, metric or None)
    if out is not None:
        plotter.plot_curves(found, out)
        render.note(f"wrote {out}")
    if json_:
        render.print_json([c.to_dict() for c in found])
        return
    if out is None:
        rows = []
        for c in found:
            values = [v for v in c.values if v is not None]
            best = (max if c.metric.endswith("accuracy") or c.metric.endswith(("bleu", "exact_match")) else min)(values) if values else None
            rows.append([c.run, c.metric, _spark(c.values), _fmt(values[0] if values else None),
                         _fmt(values[-1] if values else None), _fmt(best)])
        render.table(["run", "metric", "per epoch", "first", "last", "best"], rows, right={3, 4, 5})


BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list) -> str:
    real = [v for v in values if v is not None]
    if not real:
        return ""
    lo, hi = min(real), max(real)
    span = hi - lo or 1.0
    return "".join(" " if v is None else BARS[min(len(BARS) - 1, int((v - lo) / span * (len(BARS) - 1) + 0.5))]
                   for v in values)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"
