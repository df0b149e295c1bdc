"""rnn data make | stats"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, data_app


@data_app.command("make", help="""Write a synthetic data set with long-range dependencies (seeded).

\b
TASK       what it is (the config task that reads it; a trivial baseline)
adding     T steps of (value ~ U[0,1], marker); the target is the sum of the two
           marked values (regress, model.input: features; predicting 1: MSE 1/6 ≈ 0.167)
copy       10 symbols, T blanks ending in the delimiter ':', then recall the symbols
           (tag, a .conll file; blanks then a uniform guess: 10·ln 8/(T+20) nats per token)
parity     T bits; label 1 iff the number of ones is odd (classify; chance 0.5)
sentiment  toy reviews of T words whose 'not' flips an adjective T-4 words later
           (classify; chance 0.5)
reverse    1..T letters a-j → the same reversed (seq2seq; copying the source)
sort       1..T digits → the digits sorted (seq2seq; copying the source)
dates      'march 3rd 1998' and four other ways of writing a date → '1998-03-03'
           (seq2seq; always the most frequent date; T is not used)

Pair tasks write a TSV with the header source<TAB>target and distinct sources, so a
held-out fraction of one file (data.dev_split) shares no example with the rest;
--length defaults to 10 for reverse and sort.

The same TASK, --length, --n and --seed always give the same file. The baseline is
computed on the file written and printed.

\b
Example:  rnn data make adding --length 100 --n 10000 --out data/adding-100.tsv
""")
def make(
    task: str = typer.Argument(..., metavar="TASK", help="adding, copy, parity, sentiment, reverse, sort or dates."),
    length: Optional[int] = typer.Option(None, "--length", "-T", help="Sequence length T (copy: the delay between symbols and recall; reverse, sort: the longest source). Required but for reverse, sort and dates."),
    n: int = typer.Option(1000, "--n", "-n", help="Number of examples."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (parent folders are created)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
    json_: bool = JSON,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.fileio import save_outputs
    from rnncli.data.synthetic import make as generate

    data = generate(task, length, n, seed)
    if out.exists() and not force:
        raise UsageError(f"{out} already exists.", hint="pass --force to overwrite it, or choose another --out.")
    if out.is_dir():
        raise UsageError(f"{out} is a directory.", hint="pass a file name, e.g. --out data/adding-100.tsv.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder of the path should be, or a folder that takes none
        raise UsageError(f"cannot write {out}: cannot make the folder {out.parent} ({exc.strerror or exc}).",
                         hint="choose an --out in a folder that exists or can be made.") from None
    text = data.text()
    save_outputs([(out, lambda f: f.write(text.encode("utf-8")))])
    info = {"out": str(out), **data.to_dict()}
    if json_:
        render.print_json(info)
        return
    b = data.baseline
    first = data.rows[0]
    example = " ".join(tok for tok, _ in first) + "  →  " + " ".join(tag for _, tag in first) \
        if data.header is None else f"{first[0]}  →  {first[1]}"
    render.table(["data set", "value"], [
        ["file", str(out)],
        ["task", f"{data.task} (config task: {data.config_task}"
                 + (", model.input: features" if data.kind == "features tsv" else "") + ")"],
        ["examples", data.n],
        ["length T", data.length or "-"],  # the dates task has no length
        ["seed", data.seed],
        ["first example", example if len(example) <= 80 else example[:77] + "..."],
        ["baseline", f"{b['what']}: {b['metric']} {b['value']:.4f} (expected {b['expected']:.4f})"],
    ], right=set())


@data_app.command("stats", help="""Describe a data file: size, label (or tag) distribution, length percentiles
and vocabulary coverage.

The file kind follows its format: TSV/CSV/JSONL rows (text and label columns), CoNLL-U or
two-column tagged sentences, or plain text (one line per example). Coverage is the share of
tokens that a vocabulary knows: the file's own tokens seen at least twice, or the vocabulary
of --vocab or --model (to see how much of a test set a trained model knows).

\b
Example:  rnn data stats datasets/sst2/dev.tsv.gz --text-field sentence --model runs/sst2-bilstm
""")
def stats(
    file: Path = typer.Argument(..., help="Data file (optionally .gz)."),
    format: str = typer.Option("auto", "--format", help="auto (by extension), tsv, csv, jsonl, conllu, conll or text."),
    text_field: str = typer.Option("text", "--text-field", help="Text column: a header name or a 0-based index."),
    label_field: str = typer.Option("label", "--label-field", help="Label column; 'none' for unlabelled files."),
    tokenizer: str = typer.Option("word", "--tokenizer", help="word, whitespace or char."),
    lowercase: bool = typer.Option(True, "--lowercase/--keep-case", help="Lowercase before counting."),
    vocab: Path = typer.Option(None, "--vocab", help="Measure coverage with this vocabulary (from rnn vocab build)."),
    model: Path = typer.Option(None, "--model", "-m", help="Measure coverage with this run's vocabulary."),
    json_: bool = JSON,
) -> None:
    from rnncli.data import FORMATS, TOKENIZERS, Vocab
    from rnncli.data.stats import data_stats
    from rnncli.errors import UsageError

    if format not in FORMATS or format == "features":
        raise UsageError(f"unknown format {format!r}.", hint=f"choose one of {', '.join(FORMATS)}.")
    if tokenizer not in TOKENIZERS:
        raise UsageError(f"unknown tokenizer {tokenizer!r}.", hint=f"choose one of {', '.join(TOKENIZERS)}.")
    if vocab is not None and model is not None:
        raise UsageError("give --vocab or --model, not both.", hint="both name the vocabulary to measure coverage with.")
    known = Vocab.load(vocab) if vocab is not None else None
    if model is not None:
        from rnncli.rundir import load_run

        known = load_run(model, last=True).vocab
    field = lambda f: int(f) if f.isdigit() else f  # noqa: E731
    result = data_stats(file, format, field(text_field), None if label_field == "none" else field(label_field),
                        tokenizer, lowercase, known)
    if json_:
        render.print_json(result.to_dict())
        return
    rows = [["file", result.file], [result.unit, result.examples], ["tokens", result.tokens], ["characters", result.chars],
            ["tokens per example", "  ".join(f"{k} {v:g}" for k, v in result.lengths.items())],
            ["distinct tokens", result.distinct_tokens],
            ["coverage", f"{result.coverage:.2%} of tokens, by {result.coverage_of}"]]
    render.table(["", "value"], rows, right=set())
    if result.labels:
        total = sum(result.labels.values())
        render.line("")
        render.table([result.label_name, "count", "share"],
                     [[k, v, f"{v / total:.1%}"] for k, v in result.labels.items()])
