"""rnn evaluate"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app
from rnncli.cli.common import BEAM, LAST, MAX_LENGTH, check_decoding, open_run, write_predictions


@app.command(help="""Score a trained model on a data file in its task's format.

classify and tag: loss, accuracy, precision/recall/F1 per class (per tag) and the
confusion matrix (rows: true label, columns: predicted); regress: MSE and MAE; lm: loss
in nats per token, perplexity and bits per token; seq2seq: the teacher-forced loss per
target token, and token accuracy, exact match and corpus BLEU-4 of the decoded outputs
(greedy, or beam search with --beam K). The file is read with the run's data
settings (format, columns, tokenizer). A run that kept its best epoch's weights
(weights-best.npz) is scored with them, unless --last. --predictions OUT also writes every
example (tag: every token) with its original columns, the prediction and "correct", for error
analysis (.csv, .tsv or .jsonl).

\b
Example:  rnn evaluate --model runs/sentiment-toy --data datasets/toy/sentiment-dev.tsv --predictions errors.csv
""")
def evaluate(
    data: Path = typer.Option(..., "--data", "-d", help="Data file in the run format (TSV/CSV, CoNLL-U, text)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    last: bool = LAST,
    beam: int = BEAM,
    max_length: Optional[int] = MAX_LENGTH,
    predictions: Optional[Path] = typer.Option(None, "--predictions", metavar="OUT", help="Also write each example with "
                                               "its prediction and whether it is correct (.csv, .tsv or .jsonl)."),
    json_: bool = JSON,
) -> None:
    from rnncli.evaluation.evaluate import evaluate as run_evaluation

    run = open_run(model, last)
    check_decoding(run, beam, max_length)
    result = run_evaluation(run, data, beam, max_length)
    if predictions is not None:
        write_predictions(run, data, predictions, None, None, None, beam, max_length, correct=True)
    epoch = run.best["epoch"] if run.best else run.meta.get("epochs_done")
    if json_:
        render.print_json({"model": str(run.path), "weights": run.weights, "epoch": epoch, **result.to_dict()})
        return
    m = result.metrics
    from rnncli.tasks import task_of

    what = task_of(result.task).describe_size(result.n, result.tokens)
    which = f"best weights, epoch {epoch}" if run.best else f"weights of epoch {epoch}"
    render.line(f"{result.data}: {what}, model {run.path} ({which}, task {result.task})")
    names = {"loss": "loss", "accuracy": "accuracy", "macro_f1": "macro F1", "mae": "mean absolute error",
             "perplexity": "perplexity", "bits_per_token": "bits per token", "exact_match": "exact match",
             "bleu": "BLEU"}
    render.table(["metric", "value"], [[label, m[k]] for k, label in names.items() if k in m])
    if "per_class" not in m:
        return
    render.line("")
    render.table(["label", "precision", "recall", "f1", "support"],
                 [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in m["per_class"]])
    render.line("")
    render.table(["true \\ predicted", *result.labels],
                 [[label, *row] for label, row in zip(result.labels, m["confusion"])])
