"""Data files read row by row with every original column, and rows written back: for predictions on files.

:func:`stream_examples` yields one :class:`Example` per example of a TSV/CSV/JSONL file (its text and all of
its columns), per sentence of a CoNLL-U or two-column CoNLL file (a row per token: ``sentence``, ``token``,
``gold``), or per non-blank line of a plain-text file; it reads as it goes, so a file of a million lines
costs the memory of one chunk. :class:`RowWriter` writes dicts as CSV, TSV (a header row, then one line
per row; lists and dicts as JSON text) or JSON Lines.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli.data.readers import GZIP_ERRORS, bad_gzip, open_binary, resolve_format
from rnncli.errors import DataError

CONLLU_COLUMNS = {"upos": 3, "xpos": 4, "deprel": 7}
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}


@dataclass
class Example:
    line: int  # where it starts in the file (1-based)
    text: str  # what the model reads (a sentence's tokens joined by spaces for tagged files)
    rows: list[dict] = field(default_factory=list)  # the original columns: one row, or one per token
    tokens: list[str] | None = None  # tagged files: the sentence's tokens as the file splits them


def _lines(path: Path) -> Iterator[str]:
    with open_binary(path, "file", "check the path given to --data.") as stream:
        try:
            yield from io.TextIOWrapper(stream, encoding="utf-8", newline="")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason}).", hint="pass a UTF-8 text file.") from None
        except GZIP_ERRORS as exc:
            raise bad_gzip(path, exc) from None


def _column(path: Path, columns: list[str], field_: str | int, role: str) -> int:
    if isinstance(field_, int):
        if field_ >= len(columns):
            raise DataError(f"{path}: the {role} field is column {field_}, but the rows have {len(columns)} columns.",
                            hint="check data.text_field of the run, or the file")
        return field_
    if field_ not in columns:
        raise DataError(f"{path}: no column named {field_!r} (the header has {', '.join(map(repr, columns))}).",
                        hint=f"the run reads its text from the column {field_!r}: give the file that column")
    return columns.index(field_)


def _table(path: Path, fmt: str, text_field: str | int, header: bool | None) -> Iterator[Example]:
    has_header = isinstance(text_field, str) if header is None else header
    rows = (csv.reader(_lines(path)) if fmt == "csv" else
            (line.rstrip("\r\n").split("\t") for line in _lines(path)))
    columns, index = None, None
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        if columns is None:
            if has_header:
                columns = [c.strip() for c in row]
                index = _column(path, columns, text_field, "text")
                continue
            columns = [f"column_{i}" for i in range(len(row))]
            index = _column(path, columns, text_field, "text")
        if len(row) < len(columns):
            raise DataError(f"{path}:{number}: {len(row)} columns, the header has {len(columns)}.",
                            hint="every row needs a cell for every column")
        yield Example(number, row[index].strip(), [dict(zip(columns, row))])


def _jsonl(path: Path, text_field: str | int) -> Iterator[Example]:
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc}).", hint="one JSON object per line") from None
        if not isinstance(obj, dict) or text_field not in obj:
            raise DataError(f"{path}:{number}: no key {text_field!r} in this line.",
                            hint=f"the run reads its text from the key {text_field!r}")
        yield Example(number, str(obj[text_field]), [obj])


def _tagged(path: Path, fmt: str, tag_column: str) -> Iterator[Example]:
    tokens, tags, start, sentence = [], [], 0, 0

    def done() -> Example:
        rows = [{"sentence": sentence, "token": t, "gold": g} for t, g in zip(tokens, tags)]
        return Example(start, " ".join(tokens), rows, list(tokens))

    for number, line in enumerate(_lines(path), 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if tokens:
                yield done()
                tokens, tags = [], []
            continue
        if fmt == "conllu":
            if line.startswith("#"):
                continue
            cells = line.split("\t")
            if len(cells) < 10:
                raise DataError(f"{path}:{number}: {len(cells)} columns; CoNLL-U has 10.", hint="check the file")
            if "-" in cells[0] or "." in cells[0]:  # multiword ranges and empty nodes
                continue
            token, tag = cells[1], cells[CONLLU_COLUMNS[tag_column]]
        else:
            token, _, tag = line.partition("\t")
        if not tokens:
            start, sentence = number, sentence + 1
        tokens.append(token)
        tags.append(tag)
    if tokens:
        yield done()


def stream_examples(path: str | Path, fmt: str = "auto", text_field: str | int = "text", header: bool | None = None,
                    tag_column: str = "upos") -> Iterator[Example]:
    """The examples of a data file, one at a time, with their original columns (see the module docstring)."""
    path = Path(path)
    fmt = resolve_format(path, "auto" if fmt == "features" else fmt)
    if fmt in ("conllu", "conll"):
        return _tagged(path, fmt, tag_column)
    if fmt == "text":
        return (Example(n, line.rstrip("\r\n"), [{"text": line.rstrip("\r\n")}])
                for n, line in enumerate(_lines(path), 1) if line.strip())
    if fmt == "jsonl":
        return _jsonl(path, text_field)
    return _table(path, fmt, text_field, header)


class RowWriter:
    """Rows (dicts) to a text stream: CSV, TSV or JSON Lines; the columns are the first row's keys."""

    def __init__(self, file, fmt: str):
        self.fmt, self.file = fmt, file
        self.columns: list[str] | None = None
        self.writer = None

    def write(self, row: dict) -> None:
        if self.fmt == "jsonl":
            self.file.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        if self.columns is None:
            self.columns = list(row)
            if self.fmt == "csv":
                self.writer = csv.writer(self.file, lineterminator="\n")
            self._row(self.columns)
        self._row([_cell(row.get(c)) for c in self.columns])

    def _row(self, cells: list[str]) -> None:
        """One line: CSV quotes what needs it; TSV has no quoting, so a tab or a line break in a cell (a language
        model's predicted newline) is written as \\t or \\n (\\r), and every row stays one line. Backslashes stay
        as they are: the TSV reader takes cells as written, so a text read from TSV is written back unchanged."""
        if self.fmt == "csv":
            self.writer.writerow(cells)
        else:
            self.file.write("\t".join(c.translate(TSV_ESCAPES) for c in cells) + "\n")


TSV_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})



def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
