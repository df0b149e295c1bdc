"""rnn runs"""

from __future__ import annotations

from pathlib import Path
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
