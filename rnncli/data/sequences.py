"""Read data for the sequence tasks: tagged sentences (``task: tag``) and plain text (``task: lm``).

Tagged sentences come from two formats (each optionally gzip-compressed):

- **CoNLL-U** (``.conllu``): sentences separated by blank lines; ``#`` lines are comments;
  a word line has exactly 10 TAB-separated columns
  ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``. Word IDs count 1, 2, 3, ... within a
  sentence. Multiword-token ranges (ID ``3-4``: the surface form ``don't`` over the words
  ``do`` + ``n't``) and empty nodes (ID ``8.1``) are skipped, so there is one tag per word.
  Tokens are FORM; tags are the ``tag_column``: UPOS (default), XPOS or DEPREL.
- **CoNLL** (``.conll``, or any file with ``format="conll"``): two columns ``token<TAB>tag``
  per line, a blank line between sentences. Fields are stripped of surrounding spaces; a line
  that starts with ``#`` and has no TAB is a comment.

In both, a last sentence without a trailing blank line still counts, lines may end in CRLF,
and line numbers in errors count physical lines from 1. Bytes are read, gunzipped and decoded
by the same helper as :func:`rnncli.data.readers.read_examples` (NUL bytes and bad UTF-8 are
DataErrors with ``file:line``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rnncli.data.readers import _read_text, extension, resolve_format
from rnncli.errors import DataError

TAG_COLUMNS = {"upos": 3, "xpos": 4, "deprel": 7}  # 0-based CoNLL-U column of each choice
CONLLU_COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")

_WORD_ID = re.compile(r"[1-9][0-9]*", re.ASCII)
_RANGE_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*", re.ASCII)
_EMPTY_ID = re.compile(r"(?:0|[1-9][0-9]*)\.[1-9][0-9]*", re.ASCII)

_TAGGED_FORMATS = ("conllu", "conll")


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its words and one tag per word (``len(tokens) == len(tags)``)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def read_tagged(path: str | Path, format: str = "auto", tag_column: str = "upos") -> list[TaggedSentence]:
    """Read every sentence of a CoNLL-U or two-column CoNLL file.

    Args:
        path: the file (``.gz`` is decompressed transparently).
        format: ``"auto"`` (by extension: ``.conllu`` or ``.conll``, each optionally + ``.gz``),
            ``"conllu"`` or ``"conll"`` (the latter also for ``.tsv`` files of ``token<TAB>tag``).
        tag_column: CoNLL-U only: ``"upos"``, ``"xpos"`` or ``"deprel"``.

    Raises:
        DataError: missing/unreadable/binary/non-UTF-8 file, an extension that ``auto`` cannot
            place, a malformed line (``file:line``), or a file without sentences.
        ValueError: ``format`` or ``tag_column`` is not one of the choices (a programming error).
    """
    if tag_column not in TAG_COLUMNS:
        raise ValueError(f"tag_column must be one of {', '.join(map(repr, TAG_COLUMNS))}; got {tag_column!r}")
    fmt = resolve_format(path, format)  # ValueError for an unknown format
    path = Path(path)
    if fmt not in _TAGGED_FORMATS:
        if format == "auto":
            ext = extension(path) or "(no extension)"
            raise DataError(
                f"{path}: cannot tell the format of tagged data from the extension {ext}; "
                "tagged sentences are read from .conllu (CoNLL-U) or .conll (token<TAB>tag) files.",
                hint="set `data.format: conllu` or `data.format: conll` (two columns, token<TAB>tag, "
                "blank line between sentences), or rename the file",
            )
        raise DataError(
            f"{path}: format {fmt!r} holds no tagged words; task tag reads 'conllu' or 'conll' files.",
            hint="set `data.format: conll` for token<TAB>tag lines, `data.format: conllu` for CoNLL-U, "
            "or `data.format: auto`",
        )
    text = _read_text(path)
    if fmt == "conllu":
        sentences = list(_conllu_sentences(text, path, TAG_COLUMNS[tag_column]))
    else:
        sentences = list(_conll_sentences(text, path))
    if not sentences:
        what = "the file is empty" if not text.strip() else "it has no word lines, only comments and blank lines"
        raise DataError(
            f"{path}: no sentences; {what}.",
            hint="point at a file with one word per line and a blank line between sentences",
        )
    if fmt == "conllu" and all(t == "_" for s in sentences for t in s.tags):
        others = ", ".join(repr(c) for c in TAG_COLUMNS if c != tag_column)
        raise DataError(
            f"{path}: the {tag_column.upper()} column is '_' (unspecified) for every word, "
            "so there is nothing to learn.",
            hint=f"choose another column with `data.tag_column` ({others})",
        )
    return sentences


def read_text(path: str | Path) -> str:
    """The whole of a UTF-8 text file (``.gz`` decompressed), for language modelling.

    A byte-order mark is dropped and CRLF line ends become LF; nothing else changes.

    Raises:
        DataError: missing/unreadable/binary/non-UTF-8 file, or a file with no text.
    """
    path = Path(path)
    text = _read_text(path).replace("\r\n", "\n")
    if not text.strip():
        what = "empty" if not text else "only whitespace"
        raise DataError(
            f"{path}: the file is {what}; a language model needs text to learn from.",
            hint="point at a plain UTF-8 text file, such as datasets/toy/shakespeare-tiny.txt",
        )
    return text


# ---------------------------------------------------------------- line-level parsing


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` with a trailing CR removed; numbers match the file's physical lines."""
    for i, line in enumerate(text.split("\n"), start=1):
        yield i, line[:-1] if line.endswith("\r") else line


def _sentence(words: list[tuple[str, str]]) -> TaggedSentence:
    return TaggedSentence(tuple(w for w, _ in words), tuple(t for _, t in words))


def _sentences(text: str, is_comment, parse_word) -> Iterator[TaggedSentence]:
    """Blank-line-separated sentences; ``parse_word(line_no, line, words)`` returns a
    ``(token, tag)`` or None for a line that is not a word of its own. The last sentence may
    lack its closing blank line."""
    words: list[tuple[str, str]] = []
    for line_no, line in _lines(text):
        if not line.strip():
            if words:
                yield _sentence(words)
                words = []
        elif not is_comment(line):
            word = parse_word(line_no, line, words)
            if word is not None:
                words.append(word)
    if words:
        yield _sentence(words)


def _conllu_sentences(text: str, path: Path, col: int) -> Iterator[TaggedSentence]:
    return _sentences(text, lambda line: line.startswith("#"),
                      lambda line_no, line, words: _conllu_word(path, line_no, line, words, col))


def _conllu_word(path: Path, line_no: int, line: str, words: list, col: int) -> tuple[str, str] | None:
    cols = line.split("\t")
    where = f"{path}:{line_no}"
    if len(cols) != 10:
        hint = "each word line needs the 10 columns " + " ".join(CONLLU_COLUMNS) + ", separated by TABs"
        if len(cols) == 2:
            hint = "this looks like a two-column token<TAB>tag file: name it .conll or set `data.format: conll`"
        elif len(cols) == 1 and len(line.split()) == 10:
            hint = "the columns seem to be separated by spaces; CoNLL-U separates them by TABs"
        raise DataError(
            f"{where}: a CoNLL-U word line has 10 TAB-separated columns, but this one has {len(cols)}.",
            hint=hint,
        )
    wid = cols[0]
    if _RANGE_ID.fullmatch(wid) or _EMPTY_ID.fullmatch(wid):
        return None  # multiword token (3-4) or empty node (8.1): not a word of its own
    if not _WORD_ID.fullmatch(wid):
        raise DataError(
            f"{where}: the ID column is {wid!r}; CoNLL-U IDs are word numbers (1, 2, ...), "
            "ranges (3-4) or empty nodes (8.1).",
            hint="check that line; the first of its 10 TAB-separated columns must be the word ID",
        )
    if int(wid) != len(words) + 1:
        hint = "word IDs restart at 1 in every sentence and go up by one"
        if wid == "1":
            hint = "a sentence must end with a blank line before the next one starts"
        raise DataError(
            f"{where}: word ID {wid}, but the next word of this sentence should be {len(words) + 1}.",
            hint=hint,
        )
    form, tag = cols[1], cols[col]
    for name, value in (("FORM", form), (CONLLU_COLUMNS[col], tag)):
        if not value.strip():
            raise DataError(
                f"{where}: the {name} column is empty.",
                hint="CoNLL-U writes an unknown value as '_', never as an empty column",
            )
    return form, tag


def _conll_sentences(text: str, path: Path) -> Iterator[TaggedSentence]:
    # '#' without a TAB is a comment; "#<TAB>SYM" is a word
    return _sentences(text, lambda line: line.startswith("#") and "\t" not in line,
                      lambda line_no, line, words: _conll_word(path, line_no, line))


def _conll_word(path: Path, line_no: int, line: str) -> tuple[str, str]:
    fields = [f.strip() for f in line.split("\t")]
    where = f"{path}:{line_no}"
    if len(fields) != 2:
        hint = "write one word per line as token<TAB>tag, with a blank line between sentences"
        if len(fields) == 10:
            hint = "this looks like CoNLL-U: name the file .conllu or set `data.format: conllu`"
        elif len(fields) == 1 and len(line.split()) == 2:
            hint = "the token and tag seem to be separated by spaces; separate them by one TAB"
        raise DataError(
            f"{where}: expected 2 TAB-separated fields (token<TAB>tag), but this line has {len(fields)}.",
            hint=hint,
        )
    token, tag = fields
    if not token or not tag:
        raise DataError(
            f"{where}: the {'token' if not token else 'tag'} is empty.",
            hint="write one word per line as token<TAB>tag, both non-empty",
        )
    return token, tag
