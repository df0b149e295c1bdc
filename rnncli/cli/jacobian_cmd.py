"""rnn jacobian"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, app
from rnncli.cli.common import LAST, check_source, diagnostic_probe, heatmap, rows_to_show, sci, write_outputs


@app.command("jacobian", help="""See why gradients vanish or explode: per-step Jacobians and the Lyapunov spectrum.

BPTT multiplies the gradient by one state Jacobian J_t = ∂s_t/∂s_{t-1} per step (s = h;
(h, c) for the LSTM). For one layer and direction this prints, on real sequences (float64):
‖J_t‖₂ at every step; the singular values σ_i of the products J_τ ⋯ J_1 over growing spans
τ; the Lyapunov exponents λ_1 ≥ λ_2 ≥ … (nats per step, by QR re-orthonormalisation along
each sequence), mean ± std over the examples; and the slope of log ‖∂L/∂h_t‖ per step back
that `rnn grad-norms` measures on the same batch, which λ_1 predicts.

\b
λ_1 < 0   gradients shrink by e^λ_1 per step back: vanishing over long spans
λ_1 > 0   they grow: exploding

--config measures the model at initialisation (train.seed) on the first --batches
batches of data.train (in file order); --model measures a trained run on --data
(default: its data.train). --layer and --direction (fwd, or bwd for the reverse direction
of a bidirectional layer) choose the recurrence. Output: tables and a chart of ‖J_t‖₂; or
--json, --csv FILE (‖J_t‖₂ per step), --plot FILE.png (needs matplotlib: pip install 'rnncli[plot]').

\b
Example:  rnn jacobian --config configs/adding-rnn.yaml --top 4
""")
def jacobian(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Measure the model this config describes, at initialisation."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Measure a trained run (its directory)."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Data file to measure on (default: data.train)."),
    set_: Optional[list[str]] = SET,
    layer: int = typer.Option(0, "--layer", "-l", min=0, help="Which layer (0 = the one reading the input)."),
    direction: str = typer.Option("fwd", "--direction", help="fwd, or bwd: the reverse direction of a bidirectional layer."),
    top: int = typer.Option(4, "--top", "-k", min=1, help="How many Lyapunov exponents (and singular values) to estimate."),
    batches: int = typer.Option(1, "--batches", "-b", min=1, help="How many batches of sequences."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Sequences per batch (default: train.batch_size)."),
    last: bool = LAST,
    steps: int = typer.Option(10, "--steps", min=0, help="Rows of the per-step table (evenly spaced; 0 = every step)."),
    csv_: Optional[Path] = typer.Option(None, "--csv", help="Also write ‖J_t‖₂ per step to this CSV file."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the norms and spectrum into this image (PNG, needs matplotlib)."),
    json_: bool = JSON,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.tools import jacobian as jac

    check_source("jacobian", config, model, set_)
    if direction not in jac.DIRECTION_FLAGS:
        raise UsageError(f"--direction must be fwd or bwd; got {direction!r}.", hint="e.g. --direction bwd")
    plotter = None
    if plot is not None:
        from rnncli.cli import plot as plotter

        plotter.require_matplotlib()
    probe = diagnostic_probe("jacobian", config, model, set_, data, batches, batch_size, last)
    report = jac.measure_probe(probe, layer, jac.DIRECTION_FLAGS[direction], top)
    write_outputs(report.csv_rows(), csv_, plot, lambda: plotter.plot_jacobian(report, plot))
    if json_:
        render.print_json(report.to_dict())
    else:
        _render(report, steps)


def _exp(x: float) -> str:
    """e^x in scientific notation, or as e^x when it is beyond floating point."""
    if x == -math.inf:
        return "0"
    return f"{math.exp(x):.2e}" if abs(x) < 700 else f"e^{x:.0f}"


def _render(report, steps: int) -> None:
    render.line(f"{report.cell}, task {report.task}: {report.source}")
    render.line(f"data {report.data}: {report.examples} examples, T = {report.steps}; layer {report.layer}, "
                f"{report.direction} direction, state {report.state} of size {report.state_size}")
    rows = [[i + 1, f"{lam:+.4f}", f"{std:.4f}", f"{math.exp(lam):.4f}", _exp(lam * max(report.steps - 1, 1))]
            for i, (lam, std) in enumerate(zip(report.lyapunov, report.lyapunov_std))]
    render.table(["i", "λ_i (nats/step)", "± std", "e^λ_i per step", f"over {max(report.steps - 1, 1)} steps"],
                 rows, right={1, 2, 3, 4})
    k = len(report.lyapunov)
    render.table(["span τ"] + [f"σ_{i + 1}(J_τ⋯J_1)" for i in range(k)],
                 [[tau] + [_exp(v) for v in values] for tau, values in zip(report.spans, report.log_singular_values)],
                 right=set(range(1, k + 1)))
    render.table(["t", "‖J_t‖₂"], [[i + 1, sci(report.jacobian_norms[i])]
                                   for i in rows_to_show(len(report.jacobian_norms), steps)], right={1})
    heatmap([(f"{report.name} ‖J_t‖₂", report.jacobian_norms)], f"t = 1 … {len(report.jacobian_norms)}")
    lam = report.lyapunov[0]
    measured = report.grad_norm_slope
    render.line(f"predicted gradient decay: e^λ_1 = {math.exp(lam):.4f} per step back (λ_1 = {lam:+.4f} ± "
                f"{report.lyapunov_std[0]:.4f}); measured by rnn grad-norms: "
                + (f"{report.grad_norm_rate:.4f} per step back (slope {measured:+.4f})" if measured is not None
                   else "no finite slope"))
    render.line(f"verdict: {report.verdict} (over the {max(report.steps - 1, 1)} steps of the longest sequence, "
                f"e^(λ_1 · {max(report.steps - 1, 1)}) = {_exp(lam * max(report.steps - 1, 1))})")
