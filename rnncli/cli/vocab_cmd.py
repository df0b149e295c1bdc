"""rnn vocab build"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, vocab_app


@vocab_app.command("build", help="""Count the tokens of text files and write a vocabulary (JSON).

Index 0 is <pad> and 1 is <unk>; tokens follow by descending frequency (ties
alphabetical). Reuse it in a config with vocab.path, so that several models share
one vocabulary.

\b
Example:  rnn vocab build datasets/toy/sentiment.tsv --out vocab.json --min-freq 2
""")
def build(
    files: list[Path] = typer.Argument(..., help="Data files (TSV/CSV, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the vocabulary JSON."),
    text_field: str = typer.Option("text", "--text-field", help="Text column: a header name or a 0-based index."),
    format: str = typer.Option("auto", "--format", help="auto (by extension), tsv or csv."),
    tokenizer: str = typer.Option("word", "--tokenizer", help="word, whitespace or char."),
    lowercase: bool = typer.Option(True, "--lowercase/--keep-case", help="Lowercase before counting."),
    min_freq: int = typer.Option(1, "--min-freq", min=1, help="Drop tokens seen fewer times."),
    max_size: Optional[int] = typer.Option(None, "--max-size", min=1, help="Keep at most this many tokens (besides <pad>, <unk>)."),
    json_: bool = JSON,
) -> None:
    from rnncli.data import TOKENIZERS, Vocab, read_examples, tokenize
    from rnncli.errors import DataError, UsageError

    if tokenizer not in TOKENIZERS:
        raise UsageError(f"unknown tokenizer {tokenizer!r}.", hint=f"choose one of {', '.join(TOKENIZERS)}.")
    field: str | int = int(text_field) if text_field.isdigit() else text_field
    token_lists = []
    for file in files:
        for ex in read_examples(file, format, field, None):
            token_lists.append(tokenize(ex.text, tokenizer, lowercase))
    vocab = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    if len(vocab) == 2 and (max_size is None or max_size > 0):
        most = max(Vocab.build(token_lists).counts.values(), default=0)
        raise DataError(f"no token of {', '.join(map(str, files))} occurs {min_freq} times (the most frequent occurs "
                        f"{most}), so the vocabulary would hold only <pad> and <unk>; nothing was written.",
                        hint=f"lower --min-freq (at most {most}), or check --text-field and --tokenizer.")
    vocab.save(out)
    total = sum(len(t) for t in token_lists)
    covered = sum(1 for toks in token_lists for t in toks if t in vocab)
    info = {"out": str(out), "size": len(vocab), "texts": len(token_lists), "tokens": total,
            "coverage": covered / total if total else 0.0, "top": vocab.itos[2:12]}
    if json_:
        render.print_json(info)
        return
    render.table(["vocabulary", "value"], [["file", info["out"]], ["size (incl. <pad>, <unk>)", info["size"]],
                                            ["texts", info["texts"]], ["tokens", info["tokens"]],
                                            ["token coverage", info["coverage"]], ["most frequent", " ".join(info["top"])]], right=set())
