"""rnn generate"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.cli.common import open_run


@app.command(help="""Sample text from a language model (task lm), streaming it to stdout.

The model reads --prime, then draws one token at a time from softmax(z / temperature),
optionally from the --top-k likeliest only. The same --seed gives the same text.

\b
Example:  rnn generate --model runs/char-lm-toy --prime "ROMEO:" --length 300 --temperature 0.8 --seed 1
""")
def generate(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    prime: str = typer.Option("\n", "--prime", "-p", help="Text to start from (default: a newline)."),
    length: int = typer.Option(500, "--length", "-n", min=0, help="How many tokens to sample."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="Below 1: safer; above 1: more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Sample only from the k likeliest tokens."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the sampler (default: random)."),
    json_: bool = typer.Option(False, "--json", help='Print {"prime", "text", "tokens"} once done instead of streaming.'),
) -> None:
    from rnncli.evaluation.generate import generate as sample

    run = open_run(model)
    sep = "" if run.tokenizer == "char" else " "
    tokens = []
    stream = not json_
    sampled = sample(run, prime, length, temperature, top_k, seed)  # checks the arguments first
    if stream:
        render.stream(prime)
    for token in sampled:
        tokens.append(token)
        if stream:
            render.stream(token if not sep else sep + token)
    if json_:
        render.print_json({"prime": prime, "text": sep.join(tokens), "tokens": len(tokens)})
    else:
        render.stream("\n")
