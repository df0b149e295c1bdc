"""rnn generate"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.cli.common import LAST, open_run


@app.command(help="""Sample text: from a language model after a prime (task lm), or from a conditional
generator given a label (task generate).

A language model reads --prime, then draws --length tokens one at a time from
softmax(z / temperature), optionally from the --top-k likeliest only, streaming them to stdout. A
backward language model (data.reverse) writes the tokens that come before the prime, right to left: they
are printed once done, in reading order, followed by the prime.
A generator (task generate) starts from the label given with --condition and draws --num texts,
each until <eos> or --length tokens: one per line, or with --json one object per line
{"condition", "text", "tokens"}. The same --seed gives the same text.

\b
Examples:  rnn generate --model runs/char-lm-toy --prime "ROMEO:" --length 300 --temperature 0.8 --seed 1
           rnn generate --model runs/sentiment-toy-generate --condition 1 --num 5 --seed 0
""")
def generate(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory (default: the newest under ./runs)."),
    prime: Optional[str] = typer.Option(None, "--prime", "-p", help="lm: text to start from (default: a newline)."),
    condition: Optional[str] = typer.Option(None, "--condition", "-c", help="generate: the label to generate texts for."),
    num: int = typer.Option(1, "--num", min=1, help="generate: how many texts to sample."),
    length: Optional[int] = typer.Option(None, "--length", "-n", min=0,
                                         help="How many tokens to sample (lm: 500; generate: at most, default 100)."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="Below 1: safer; above 1: more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Sample only from the k likeliest tokens."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the sampler (default: random)."),
    last: bool = LAST,
    json_: bool = typer.Option(False, "--json", help='lm: print {"prime", "text", "tokens", "before_prime"} once done '
                               'instead of streaming; generate: one {"condition", "text", "tokens"} per line.'),
) -> None:
    from rnncli.errors import UsageError
    from rnncli.evaluation.generate import continuation, generate as sample, generate_from

    run = open_run(model, last)
    if condition is not None or run.spec.architecture == "generator":
        if prime is not None:
            raise UsageError("--prime starts a language model; a generator starts from --condition.",
                             hint="drop --prime.")
        if condition is None:
            labels = ", ".join(map(repr, run.labels.to_dict()["labels"]))
            raise UsageError(f"{run.path} generates text from a label: pass --condition LABEL.",
                             hint=f"its labels: {labels}.")
        for text in generate_from(run, condition, num, 100 if length is None else length, temperature, top_k, seed):
            if json_:
                render.print_jsonl(text)
            else:
                render.line(text["text"])
        return
    if num != 1:
        raise UsageError("--num applies to a generator (task generate); a language model writes one text.",
                         hint="drop --num, or run the command again with another --seed.")
    prime = "\n" if prime is None else prime
    sep = "" if run.tokenizer == "char" else " "
    tokens = []
    stream = not (json_ or run.reverse)  # a backward model writes right to left: its text is printed once done
    sampled = sample(run, prime, 500 if length is None else length, temperature, top_k, seed)  # checks the arguments first
    if stream:
        render.stream(prime)
    for token in sampled:
        tokens.append(token)
        if stream:
            render.stream(token if not sep else sep + token)
    result = continuation(run, prime, tokens)  # the text in reading order, also from a backward model
    if json_:
        render.print_json(result)
    elif run.reverse:
        render.stream(result["text"] + (sep if tokens else "") + prime + "\n")
    else:
        render.stream("\n")
