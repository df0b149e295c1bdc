"""rnn predict"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.cli.common import BEAM, LAST, MAX_LENGTH, check_decoding, input_batches, open_run, write_predictions
from rnncli.errors import UsageError


@app.command(help="""Predict the label of each TEXT, or of each line of stdin with '-'.

Prints the label and its probability (classify), the number (regress), a tag per token
(tag), the likeliest next tokens (lm) or the output sequence and its log-probability
(seq2seq; greedy, or beam search with --beam K). With --json one JSON object per input; for
classify {"text", "tokens", "ids", "unknown", "label", "scores": {label: probability}}
(unknown words have id 1, <unk>, and "unknown" counts them); docs/json-output.md lists the other
tasks' keys. With '-' each line of stdin is answered as it arrives. A run that kept its
best epoch's weights (weights-best.npz) predicts with them, unless --last.

With --data FILE it predicts every example of FILE (read as the run's training data: its format and
columns, .gz too) and writes each row with all its columns plus "predicted" and "probability" (regress:
"predicted"; seq2seq: "predicted" and "log_probability"; --top-k K adds "top_k"; a tagged file gives
a row per token), as CSV, TSV or JSON Lines by --out's extension, or to stdout in the file's format.

\b
Examples:  rnn predict "movie was good"
           rnn predict --model runs/sst2-bilstm --data datasets/sst2/dev.tsv.gz --out dev-predictions.csv
           cat reviews.txt | rnn predict - --json --model runs/sentiment-toy
           rnn predict --model runs/dates-seq2seq --beam 4 "march 3rd 1998"
""")
def predict(
    texts: Optional[list[str]] = typer.Argument(None, metavar="TEXT", help="Texts to classify, or '-' to read lines from stdin."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Predict every example of this file (the run's "
                                        "training format and columns); its rows are written with the predictions."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="With --data: write to this .csv, .tsv or .jsonl "
                                       "(default: stdout, in the file's own format)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="With --data: also the k best labels (classify) or next tokens (lm), as a list."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="With --data: leave 'predicted' empty below this probability (classify, tag, lm)."),
    last: bool = LAST,
    beam: int = BEAM,
    max_length: Optional[int] = MAX_LENGTH,
    json_: bool = typer.Option(False, "--json", help="Print one JSON object per input (JSON Lines)."),
) -> None:
    from rnncli.evaluation.predict import predict as run_prediction

    if data is not None:
        if texts:
            raise UsageError("give TEXT arguments or --data FILE, not both.", hint="e.g. rnn predict --data FILE --out OUT.csv")
        run = open_run(model, last)
        check_decoding(run, beam, max_length)
        write_predictions(run, data, out, "jsonl" if json_ else None, top_k, threshold, beam, max_length)
        return
    if out is not None or top_k is not None or threshold is not None:
        raise UsageError("--out, --top-k and --threshold apply to --data FILE.", hint="e.g. rnn predict --data FILE --out OUT.csv")
    if not texts:
        raise UsageError("rnn predict needs TEXT arguments, '-' for stdin, or --data FILE.",
                         hint='e.g. rnn predict "movie was good"')
    batches = input_batches(texts)
    first = next(batches, None)
    if first is None:
        raise UsageError("there is no input to predict from: stdin was empty.", hint="pipe text lines in, or pass TEXT arguments.")
    run = open_run(model, last)
    check_decoding(run, beam, max_length)
    show = Shown(run.spec.task, json_, stream=texts == ["-"])
    for inputs in itertools.chain([first], batches):
        show.add(run_prediction(run, inputs, beam, max_length))
    show.close()


class Shown:
    """Predictions as they come: JSON Lines, or table rows (streamed for stdin, one table for TEXT arguments,
    whose widths are known up front). Inputs that were all <unk> get a note on stderr."""

    def __init__(self, task: str, json_: bool, stream: bool) -> None:
        from rnncli.tasks import task_of

        self.task, self.json, self.seen, self.rows = task_of(task), json_, 0, []
        self.table = render.RowStream(right=self.task.right) if stream and not json_ else None

    def add(self, predictions: list[dict]) -> None:
        for p in predictions:
            self.seen += 1
            if p.get("unknown") and p["unknown"] == len(p["tokens"]):
                render.note(f"input {self.seen} ({p['text']!r}) has no token the model knows (all <unk>): "
                            "its prediction says nothing about the text.")
            if self.json:
                render.print_jsonl(p)
            elif self.table is not None:
                self.table.add(dict(zip(self.task.columns, self.task.row(p))))
            else:
                self.rows.append(self.task.row(p))

    def close(self) -> None:
        if self.rows:
            render.table(list(self.task.columns), self.rows, right=self.task.right)
