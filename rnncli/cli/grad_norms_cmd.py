"""rnn grad-norms"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, app
from rnncli.cli.common import LAST, check_source, diagnostic_probe, heatmap, rows_to_show, sci, write_outputs


@app.command("grad-norms", help="""Measure the gradient ‖∂L/∂h_t‖ at every timestep: watch it vanish or explode.

Backpropagation through time sends the gradient from the loss back through every step.
This prints its size at each token position t for every layer and direction (mean over
the examples; LSTM: also ‖∂L/∂c_t‖), the gradient norm, weight norm and their ratio of
every parameter tensor, and a verdict. L is each example's own loss; float64, no dropout.

\b
ratio    ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: the last step BPTT reaches over the first
         (reverse direction: ‖∂L/∂h_T‖ / ‖∂L/∂h_1‖)
rate     the fitted factor by which the norm changes per step back (< 1 decays)
verdict  vanishing if ratio < 1e-2; exploding if ratio > 1e2 or a norm is not
         finite; stable otherwise (the layer and direction farthest from 1 decides)

--config measures the model at initialisation (train.seed) on the first --batches
batches of data.train (in file order); --model measures a trained run on --data
(default: its data.train); --model RUN --history shows the per-epoch records of
`rnn train --grad-norms`. Output: a table of steps, a heatmap (log scale), the
parameters and the verdict; or --json, --csv FILE (one row per step, layer and
direction), --plot FILE.png (needs matplotlib: pip install 'rnncli[plot]').

\b
Example:  rnn grad-norms --config configs/adding-rnn.yaml --set model.activation=relu --set model.init=identity
""")
def grad_norms(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Measure the model this config describes, at initialisation."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Measure a trained run (its directory)."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Data file to measure on (default: data.train)."),
    set_: Optional[list[str]] = SET,
    batches: int = typer.Option(1, "--batches", "-b", min=1, help="How many batches to average over."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Examples per batch (default: train.batch_size)."),
    history: bool = typer.Option(False, "--history", help="With --model: the norms recorded after every training epoch."),
    last: bool = LAST,
    steps: int = typer.Option(10, "--steps", min=0, help="Rows of the per-step table (evenly spaced; 0 = every step)."),
    csv_: Optional[Path] = typer.Option(None, "--csv", help="Also write the per-step norms to this CSV file."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the norms into this image (PNG, needs matplotlib)."),
    json_: bool = JSON,
) -> None:
    from rnncli.tools import diagnostics
    from rnncli.errors import UsageError

    check_source("grad-norms", config, model, set_)
    if history and model is None:
        raise UsageError("--history reads a trained run's metrics.jsonl; it needs --model RUN_DIR.",
                         hint="e.g. rnn grad-norms --model runs/adding-lstm --history")
    if history and data is not None:
        raise UsageError("--history shows what was recorded during training; it takes no --data.",
                         hint="drop --data, or drop --history to measure the run on that file now.")
    plotter = None
    if plot is not None:
        from rnncli.cli import plot as plotter

        plotter.require_matplotlib()

    if history:
        from rnncli.rundir import load_run

        hist = diagnostics.history(load_run(model, last=True).path)
        write_outputs(hist.csv_rows(), csv_, plot, lambda: plotter.plot_history(hist, plot))
        if json_:
            render.print_json(hist.to_dict())
        else:
            _render_history(hist)
        return

    report = diagnostics.measure(diagnostic_probe("grad-norms", config, model, set_, data, batches, batch_size, last))
    write_outputs(report.csv_rows(), csv_, plot, lambda: plotter.plot_report(report, plot))
    if json_:
        render.print_json(report.to_dict())
    else:
        _render_report(report, steps)


def _render_report(report, steps: int) -> None:
    from rnncli.tools import diagnostics

    render.line(f"{report.cell}, task {report.task}: {report.source}")
    render.line(f"data {report.data}: {report.batches} batch(es), {report.examples} examples, "
                f"T = {report.steps}, loss {report.loss:.4f}")
    lstm = any(layer.c is not None for layer in report.layers)
    columns = ["t"] + [f"{layer.name} ‖∂L/∂h_t‖" for layer in report.layers]
    if lstm:
        columns += [f"{layer.name} ‖∂L/∂c_t‖" for layer in report.layers]
    rows = []
    for i in rows_to_show(report.steps, steps):
        row = [i + 1] + [sci(layer.h[i]) for layer in report.layers]
        if lstm:
            row += [sci(layer.c[i]) for layer in report.layers]
        rows.append(row)
    render.table(columns, rows)

    series = [(f"{layer.name} h", layer.h) for layer in report.layers]
    if lstm:
        series += [(f"{layer.name} c", layer.c) for layer in report.layers]
    heatmap(series, f"t = 1 … {report.steps}")

    render.table(["parameter", "‖∂L/∂θ‖", "‖θ‖", "‖∂L/∂θ‖/‖θ‖"],
                 [[p.name, sci(p.grad_norm), sci(p.param_norm), sci(p.ratio)] for p in report.params])
    render.table(["layer", "ratio", "rate per step", "verdict"],
                 [[layer.name, sci(layer.ratio), f"{layer.rate:.4f}", layer.verdict] for layer in report.layers],
                 right={1, 2})
    s = report.summary
    first, last = ("h_1", "h_T") if s.direction == "forward" else ("h_T", "h_1")
    render.line(f"verdict: {s.verdict} (‖∂L/∂{first}‖/‖∂L/∂{last}‖ = {sci(s.ratio)} in {s.name}, ×{s.rate:.4f} "
                f"per step back; vanishing < {diagnostics.VANISHING_BELOW:g} ≤ stable ≤ "
                f"{diagnostics.EXPLODING_ABOVE:g} < exploding)")


def _render_history(hist) -> None:
    render.line(f"gradient norms recorded during training: {hist.run}")
    rows = []
    for e in hist.epochs:
        g = e["grad_norms"]
        rows.append([e["epoch"], e["train_loss"], sci(g["ratio"]),
                     "-" if g["rate"] is None else f"{g['rate']:.4f}", g["verdict"]])
    render.table(["epoch", "train_loss", "ratio", "rate per step", "verdict"], rows, right={1, 2, 3})
    names = [(layer["layer"], layer["direction"]) for layer in hist.epochs[0]["grad_norms"]["layers"]]
    for k, d in names:
        series = []
        for e in hist.epochs:
            layer = next(x for x in e["grad_norms"]["layers"] if (x["layer"], x["direction"]) == (k, d))
            series.append((f"epoch {e['epoch']}", [v if v is not None else float("nan") for v in layer["h"]]))
        render.line(f"l{k} {d} ‖∂L/∂h_t‖ by epoch:")
        heatmap(series, f"t = 1 … {max(len(v) for _, v in series)}")
