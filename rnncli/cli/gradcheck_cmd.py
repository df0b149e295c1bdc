"""rnn gradcheck"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, app


@app.command(help="""Check every analytic gradient against centred finite differences (float64).

Without --config: every task and cell (tanh RNN, ReLU RNN, LSTM, GRU) × {uni, bi} ×
{1, 2 layers} × {padded, unpadded} batch, on small random models, every parameter entry;
seq2seq with and without attention, and with sampled decoder inputs. With
--config: the architecture that config describes (up to 50 sampled entries per tensor), with its
dropouts, train.label_smoothing and train.adversarial.
Exits 1 if any case's error max|a-n|/max(|a|,|n|) exceeds --tolerance.

\b
Example:  rnn gradcheck --config configs/sentiment-toy.yaml --json
""")
def gradcheck(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Check the model this config describes."),
    set_: Optional[list[str]] = SET,
    tolerance: float = typer.Option(1e-5, "--tolerance", help="Largest acceptable relative error."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random models and batches."),
    json_: bool = JSON,
) -> int:
    import math

    from rnncli.errors import UsageError
    from rnncli.tools import gradcheck as gc

    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise UsageError(f"--tolerance must be a positive number; got {tolerance}.", hint="e.g. --tolerance 1e-5")
    if set_ and config is None:
        raise UsageError("--set changes the config given with --config; without one, gradcheck checks its own cases.",
                         hint="rnn gradcheck --config FILE --set KEY=VALUE")
    if config is None:
        cases = [(spec, padded, 1.0) for spec, padded in gc.default_cases()] + gc.sampling_cases()
        results = []
        with render.progress_bar("gradcheck") as update:
            for i, (spec, padded, teacher_forcing) in enumerate(cases):
                update(total=len(cases), completed=i, text=gc.case_name(spec, padded, teacher_forcing))
                results.append(gc.check_case(spec, padded, seed, tolerance=tolerance, teacher_forcing=teacher_forcing))
    else:
        from rnncli.config import load_config
        from rnncli.training.prepare import spec_from_config

        cfg = load_config(config, set_ or [])
        results = gc.check_spec_from_config(spec_from_config(cfg), seed, tolerance, cfg.train.label_smoothing,
                                            cfg.train.adversarial)
    failed = [r for r in results if not r.passed]
    if json_:
        render.print_json({"tolerance": tolerance, "passed": not failed, "cases": [r.to_dict() for r in results]})
    else:
        render.table(["case", "max rel. error", "worst parameter", "entries", "result"],
                     [[r.case, f"{r.max_rel_error:.2e}", r.worst_param, r.checked, "ok" if r.passed else "FAIL"]
                      for r in results], right={1, 3})
        render.line(f"{len(results) - len(failed)}/{len(results)} cases within tolerance {tolerance:g}")
    return 1 if failed else 0
