"""rnn evaluate"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app
from rnncli.cli.common import open_run


@app.command(help="""Score a trained model on a labelled file: loss, accuracy, precision/recall/F1
per class and the confusion matrix (rows: true label, columns: predicted).

The file is read with the run's column settings (data.text_field, data.label_field).

\b
Example:  rnn evaluate --model runs/sentiment-toy --data datasets/toy/sentiment-dev.tsv
""")
def evaluate(
    data: Path = typer.Option(..., "--data", "-d", help="Labelled data file (TSV/CSV)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    json_: bool = JSON,
) -> None:
    from rnncli.evaluate import evaluate as run_evaluation

    run = open_run(model)
    result = run_evaluation(run, data)
    if json_:
        render.print_json({"model": str(run.path), **result.to_dict()})
        return
    r = result.report
    render.line(f"{result.data}: {result.n} examples, model {run.path}")
    render.table(["metric", "value"], [["loss", result.loss], ["accuracy", r["accuracy"]], ["macro F1", r["macro_f1"]]])
    render.line("")
    render.table(["label", "precision", "recall", "f1", "support"],
                 [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in r["per_class"]])
    render.line("")
    render.table(["true \\ predicted", *result.labels],
                 [[label, *row] for label, row in zip(result.labels, r["confusion"])])
