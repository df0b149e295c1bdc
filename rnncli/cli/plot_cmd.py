"""rnn plot"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app


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
    from rnncli.tasks.metrics import higher_is_better
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
            best = (max if higher_is_better(c.metric) else min)(values) if values else None
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
