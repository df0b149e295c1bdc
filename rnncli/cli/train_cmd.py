"""rnn train"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, app


@app.command(help="""Train a model from a YAML config and write its run directory.

The run directory (run.dir, default runs/<config name>) holds the resolved config,
vocabulary, weights and metrics.jsonl, so evaluate and predict need nothing else.

\b
Example:  rnn train --config configs/sentiment-toy.yaml --set train.epochs=10
""")
def train(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config file."),
    set_: Optional[list[str]] = SET,
    force: bool = typer.Option(False, "--force", help="Overwrite the run directory if it exists."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object per epoch (JSON Lines), then a summary line."),
    grad_norms: bool = typer.Option(False, "--grad-norms", help="After every epoch, record ‖∂L/∂h_t‖ per timestep in "
                                    "metrics.jsonl (train.log_grad_norms); see rnn grad-norms --history."),
) -> None:
    from rnncli.config import load_config
    from rnncli.train import train as run_training

    cfg = load_config(config, set_ or [])
    if grad_norms:
        from rnncli.config import replace_in

        cfg = replace_in(cfg, "train.log_grad_norms", True)
    with render.progress_bar("training") as update:

        def progress(event: str, info: dict) -> None:
            if event == "epoch_start":
                update(total=info["batches"], completed=0, description=f"epoch {info['epoch']}/{info['epochs']}")
            elif event == "batch":
                update(total=info["batches"], completed=info["batch"], text=f"loss {info['loss']:.4f}")
            elif event == "epoch_end" and json_:
                render.print_jsonl({"event": "epoch", **info})

        result = run_training(cfg, force=force, progress=progress)
    if json_:
        render.print_jsonl({"event": "done", **{k: v for k, v in result.to_dict().items() if k != "epochs"}})
        return
    columns = [c for c in result.epochs[0] if c not in ("step", "grad_norms")]  # the task decides the metrics
    rows = [[e.get(c) for c in columns] for e in result.epochs]
    if "grad_norms" in result.epochs[0]:  # the summary of `rnn grad-norms` on the first batch
        columns += ["h_1/h_T", "gradient"]
        rows = [r + [f"{e['grad_norms']['ratio']:.1e}", e["grad_norms"]["verdict"]] for r, e in zip(rows, result.epochs)]
    render.table(columns, rows, title=f"Training {cfg.name}")
    if result.test is not None:
        render.line(f"test ({cfg.data.test}): " + ", ".join(f"{k} {render.fmt(v)}" for k, v in result.test.items()))
    render.line(f"Saved {result.run_dir} ({result.num_params:,} parameters, {result.seconds:.1f} s). "
                f"Next: rnn predict --model {result.run_dir} \"some text\"")
