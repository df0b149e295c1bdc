"""rnn predict"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.cli.common import BEAM, LAST, MAX_LENGTH, check_decoding, open_run, read_inputs
from rnncli.errors import UsageError


@app.command(help="""Predict the label of each TEXT, or of each line of stdin with '-'.

Prints the label and its probability (classify), the number (regress), a tag per token
(tag), the likeliest next tokens (lm) or the output sequence and its log-probability
(seq2seq; greedy, or beam search with --beam K). With --json one JSON object per input; for
classify {"text", "tokens", "ids", "label", "scores": {label: probability}} (unknown
words have id 1, <unk>); the README lists the other tasks' keys. A run that kept its
best epoch's weights (weights-best.npz) predicts with them, unless --last.

\b
Examples:  rnn predict "movie was good"
           cat reviews.txt | rnn predict - --json --model runs/sentiment-toy
           rnn predict --model runs/dates-seq2seq --beam 4 "march 3rd 1998"
""")
def predict(
    texts: list[str] = typer.Argument(..., metavar="TEXT", help="Texts to classify, or '-' to read lines from stdin."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    last: bool = LAST,
    beam: int = BEAM,
    max_length: Optional[int] = MAX_LENGTH,
    json_: bool = typer.Option(False, "--json", help="Print one JSON object per input (JSON Lines)."),
) -> None:
    from rnncli.predict import predict as run_prediction

    inputs = read_inputs(texts)
    if not inputs:
        raise UsageError("there is no input to classify: stdin was empty.", hint="pipe text lines in, or pass TEXT arguments.")
    run = open_run(model, last)
    check_decoding(run, beam, max_length)
    predictions = run_prediction(run, inputs, beam, max_length)
    if json_:
        for p in predictions:
            render.print_jsonl(p)
        return
    task = run.spec.task
    if task == "regress":
        render.table(["text", "value"], [[p["text"], p["value"]] for p in predictions])
    elif task == "tag":
        render.table(["text", "tags"], [[p["text"], " ".join(f"{w}/{t}" for w, t in zip(p["tokens"], p["tags"]))]
                                        for p in predictions], right=set())
    elif task == "seq2seq":
        render.table(["text", "output", "log-probability"], [[p["text"], p["output"], p["log_prob"]] for p in predictions],
                     right={2})
    elif task == "lm":
        render.table(["text", "next tokens (probability)"],
                     [[p["text"], "  ".join(f"{n['token']!r} {n['probability']:.3f}" for n in p["next"])]
                      for p in predictions], right=set())
    else:
        render.table(["text", "label", "probability"], [[p["text"], p["label"], p["scores"][p["label"]]]
                                                        for p in predictions])
