"""rnn data make"""

from __future__ import annotations

from pathlib import Path

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

The same TASK, --length, --n and --seed always give the same file. The baseline is
computed on the file written and printed.

\b
Example:  rnn data make adding --length 100 --n 10000 --out data/adding-100.tsv
""")
def make(
    task: str = typer.Argument(..., metavar="TASK", help="adding, copy, parity or sentiment."),
    length: int = typer.Option(..., "--length", "-T", help="Sequence length T (copy: the delay between symbols and recall)."),
    n: int = typer.Option(1000, "--n", "-n", help="Number of examples."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (parent folders are created)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
    json_: bool = JSON,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.fileio import atomic_write
    from rnncli.synthetic import make as generate

    data = generate(task, length, n, seed)
    if out.exists() and not force:
        raise UsageError(f"{out} already exists.", hint="pass --force to overwrite it, or choose another --out.")
    if out.is_dir():
        raise UsageError(f"{out} is a directory.", hint="pass a file name, e.g. --out data/adding-100.tsv.")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = data.text()
    atomic_write(out, lambda f: f.write(text.encode("utf-8")))
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
        ["length T", data.length],
        ["seed", data.seed],
        ["first example", example if len(example) <= 80 else example[:77] + "..."],
        ["baseline", f"{b['what']}: {b['metric']} {b['value']:.4f} (expected {b['expected']:.4f})"],
    ], right=set())
