"""Read labelled text examples from TSV and CSV files (optionally gzip-compressed).

One row is one :class:`Example` (``text``, ``label``), labels always strings ("0", "1", "pos").

- ``format="auto"`` picks by extension: ``.csv``/``.csv.gz`` -> csv, anything else
  (``.tsv``, ``.tsv.gz``, ``.txt``, ...) -> tsv. ``.gz`` files (and files that start with
  the gzip magic bytes) are decompressed transparently.
- ``.conllu``/``.conll`` files hold tagged words, not examples: ``read_examples`` refuses them
  with a DataError pointing at ``task: tag`` (:func:`rnncli.data.sequences.read_tagged`).
  ``.txt`` stays TSV here (one text per line, optional tab-separated label), as before;
  plain text for a language model is read whole by :func:`rnncli.data.sequences.read_text`.
- TSV: tab-separated, no quoting (``csv.QUOTE_NONE``); every field is stripped of
  surrounding whitespace (SST-2 rows end with a space before the tab).
  CSV: standard quoting (``"a, b"``, ``""`` for a quote); fields stripped too.
  JSON Lines (``.jsonl``): one JSON object per line; fields are keys; a number or boolean label
  becomes its string (``1`` → ``"1"``).
- ``on_error="skip"`` skips malformed rows (too few columns, empty cells, bad JSON, missing keys)
  instead of failing, and appends one message per skipped row to ``skipped``.
- Blank lines are skipped. Line numbers in errors count physical lines from 1.
- Fields are column names (looked up in a header row) or 0-based column indices.

Every problem a user can cause is a :class:`~rnncli.errors.DataError` naming the file
(and ``file:line`` where it applies), never a traceback.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rnncli.errors import DataError

FORMATS = ("auto", "tsv", "csv", "jsonl", "conllu", "conll", "text")
_GZIP_MAGIC = b"\x1f\x8b"

# extension (after dropping ".gz") -> format; anything else is "tsv" under format="auto"
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".conllu": "conllu", ".conll": "conll",
               ".txt": "text"}

# The formats that are not rows of examples, and what they hold; the task that reads each format.
WHOLE_FORMATS = {
    "conllu": "holds tagged words (CoNLL-U, one word per line)",
    "conll": "holds tagged words (token<TAB>tag, one word per line)",
    "text": "is plain text, read whole",
}
TAGGED_FORMATS = ("conllu", "conll")
TASK_OF_FORMAT = {"tsv": "classify", "csv": "classify", "jsonl": "classify", "conllu": "tag", "conll": "tag", "text": "lm"}


@dataclass(frozen=True)
class Example:
    """One input text and its label (a string; ``""`` when the file has no labels)."""

    text: str
    label: str


def extension(path: str | Path) -> str:
    """The lower-cased extension of ``path`` ignoring a final ``.gz`` (``"a.conllu.gz"`` -> ``".conllu"``)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(name).suffix


def format_by_extension(path: str | Path) -> str | None:
    """The format ``path``'s extension names (:data:`_EXTENSIONS`), or None for any other extension."""
    return _EXTENSIONS.get(extension(path))


def resolve_format(path: str | Path, format: str = "auto") -> str:
    """Return the format of ``path``: ``format`` itself unless it is ``"auto"``, else by extension.

    ``.csv`` -> csv, ``.conllu`` -> conllu, ``.conll`` -> conll, ``.txt`` -> text (each
    optionally + ``.gz``); anything else (``.tsv``, no extension, ...) -> tsv.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}; got {format!r}")
    if format != "auto":
        return format
    return format_by_extension(path) or "tsv"


def read_examples(
    path: str | Path,
    format: str = "auto",
    text_field: str | int = "text",
    label_field: str | int | None = "label",
    header: bool | None = None,
    on_error: str = "error",
    skipped: list[str] | None = None,
) -> list[Example]:
    """Read every example of a TSV/CSV file.

    Args:
        path: the file (``.gz`` is decompressed transparently).
        format: ``"auto"`` (by extension), ``"tsv"`` or ``"csv"``.
        text_field: column name (needs a header row) or 0-based column index of the text.
        label_field: the same for the label; ``None`` for unlabelled input (labels are ``""``).
        header: whether the first non-blank row is a header; ``None`` = yes iff a field is a name.
        on_error: ``"error"`` (the default) or ``"skip"``: skip malformed rows, noting each in ``skipped``.

    Raises:
        DataError: missing/unreadable/binary/non-UTF-8 file, no examples, unknown column,
            a row with too few columns, or an empty text or label cell.
    """
    fmt = resolve_format(path, format)
    path = Path(path)
    if fmt == "text" and format == "auto":
        fmt = "tsv"  # a .txt of examples: one text per line (+ tab + label), as always
    if fmt in WHOLE_FORMATS:
        task, what = TASK_OF_FORMAT[fmt], WHOLE_FORMATS[fmt]
        source = f"a {extension(path)} file" if format == "auto" else f"a file read as format {fmt!r}"
        raise DataError(
            f"{path}: {source} {what}, not text<TAB>label examples "
            "(tasks classify and regress read TSV or CSV rows).",
            hint=f"use `task: {task}` to train on it, or set `data.format: tsv` (or csv) "
            "if it really holds one example per row",
        )
    fields = [("text", text_field)] + ([("label", label_field)] if label_field is not None else [])
    for role, field in fields:
        if isinstance(field, bool) or not isinstance(field, (str, int)):
            raise ValueError(f"{role}_field must be a column name or index; got {field!r}")
        if isinstance(field, int) and field < 0:
            raise DataError(
                f"{path}: {role}_field is {field}, but column indices start at 0.",
                hint="use a 0-based column index (0 = first column) or a column name",
            )
    if fmt == "jsonl":
        return _no_empty(path, _read_jsonl(path, fields, on_error, skipped), header_only=False, skipped=skipped)
    named = [(role, f) for role, f in fields if isinstance(f, str)]
    has_header = bool(named) if header is None else header
    if named and not has_header:
        role, name = named[0]
        raise DataError(
            f"{path}: the {role} field {name!r} is a column name, but the file is read without a header row.",
            hint="use 0-based column indices (0 = first column), or read the file with its header row",
        )

    text = _read_text(path)
    rows = _tsv_rows(text) if fmt == "tsv" else _csv_rows(text, path)

    indices: list[tuple[str, int]] | None = None if has_header else [(r, int(f)) for r, f in fields]
    examples: list[Example] = []
    for line, row in rows:
        if indices is None:  # this row is the header
            indices = [(role, _lookup(path, line, row, role, f)) for role, f in fields]
            continue
        _keep_or_skip(examples, lambda: _make_example(path, line, row, indices, fmt), on_error, skipped)
    return _no_empty(path, examples, header_only=has_header and indices is not None, skipped=skipped)


def _keep_or_skip(examples: list, make, on_error: str, skipped: list[str] | None) -> None:
    """Append ``make()``; with on_error="skip" a malformed row is noted in ``skipped`` instead."""
    try:
        examples.append(make())
    except DataError as e:
        if on_error != "skip":
            raise
        if skipped is not None:
            skipped.append(e.message)


def _no_empty(path: Path, examples: list[Example], header_only: bool, skipped: list[str] | None) -> list[Example]:
    if not examples:
        if skipped:
            raise DataError(f"{path}: no examples left; all {len(skipped)} rows were malformed and skipped. "
                            f"The first: {skipped[0]}", hint="fix the file, or check data.format and the fields")
        if header_only:
            raise DataError(
                f"{path}: no examples; the file has a header row but no data rows.",
                hint="add rows below the header, or point at the right file",
            )
        raise DataError(f"{path}: the file is empty.", hint="point at a file with one example per line")
    return examples


def _read_jsonl(path: Path, fields, on_error: str, skipped: list[str] | None) -> list[Example]:
    """JSON Lines: one object per non-blank line, fields are keys."""
    for role, field in fields:
        if not isinstance(field, str):
            raise DataError(f"{path}: JSON Lines fields are keys, but the {role} field is the index {field}.",
                            hint=f"set data.{role}_field to the key that holds the {role}, e.g. {role!r}")
    examples: list[Example] = []
    for line, raw in enumerate(_read_text(path).split("\n"), start=1):
        if raw.strip():
            _keep_or_skip(examples, lambda: _json_example(path, line, raw, fields), on_error, skipped)
    return examples


def _json_example(path: Path, line: int, raw: str, fields) -> Example:
    try:
        obj = json.loads(raw)
    except ValueError as e:
        raise DataError(f"{path}:{line}: not valid JSON ({e}).",
                        hint="each line must be one JSON object, e.g. {\"text\": \"...\", \"label\": 1}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{line}: a JSON {type(obj).__name__}, not an object.",
                        hint="each line must be one JSON object, e.g. {\"text\": \"...\", \"label\": 1}")
    values = {"label": ""}
    for role, key in fields:
        if key not in obj:
            close = difflib.get_close_matches(key, list(obj), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise DataError(f"{path}:{line}: no key {key!r} (wanted for the {role}); the object has keys: "
                            f"{', '.join(map(repr, obj))}.", hint=hint + f"set data.{role}_field to the right key")
        value = obj[key]
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{path}:{line}: the {role} ({key!r}) is {json.dumps(value)}, not a non-empty string.",
                            hint=f"give every line a non-empty {role}")
        values[role] = value.strip()
    return Example(values["text"], values["label"])


# ---------------------------------------------------------------- reading bytes


GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)  # reading a gzip file that is cut short or damaged


def bad_gzip(path: Path, exc: BaseException) -> DataError:
    return DataError(f"{path}: not a valid gzip file ({exc}).",
                     hint="re-download or re-compress it (it is truncated or damaged), or drop the .gz extension if "
                          "it is plain text.")


def open_binary(path: Path, what: str, hint: str):
    """``path`` opened to be read as it goes (a binary file object, gunzipped when the file starts with the
    gzip magic bytes); DataError naming ``what`` the file is when it cannot be opened."""
    try:
        with path.open("rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
        return gzip.open(path, "rb") if compressed else path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}.", hint=hint) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc}).", hint=hint) from None


def _read_text(path: Path) -> str:
    """Read ``path`` as UTF-8 text (gunzipping if needed); DataError on any problem."""
    try:
        if path.is_dir():
            raise DataError(
                f"{path} is a directory, not a data file.",
                hint="point at a .tsv, .csv, .conllu, .conll or .txt file (optionally .gz)",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: no such file.", hint="check the path (relative paths start from the current directory)"
        ) from None
    except PermissionError:
        raise DataError(f"{path}: permission denied.", hint="make the file readable") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e}).") from None

    if path.name.lower().endswith(".gz") or data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, *GZIP_ERRORS) as e:
            raise bad_gzip(path, e) from None

    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataError(
            f"{path}:{line}: contains NUL bytes; this looks like a binary file, not text.",
            hint="pass a UTF-8 text file (optionally gzip-compressed)",
        )
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x}).",
            hint="convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
        ) from None


def _tsv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for non-blank tab-separated lines; no quoting."""
    for i, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield i, [f.strip() for f in line.split("\t")]


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first_line_number, fields)`` for non-blank CSV records (quoted fields may span lines)."""
    csv.field_size_limit(2**31 - 1)  # the default (131,072 characters) refuses long documents
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    prev = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(
                f"{path}:{reader.line_num}: malformed CSV ({e}).",
                hint="check the quoting on that line (a quote inside a field is written as \"\"), "
                "or read the file as TSV",
            ) from None
        start, prev = prev + 1, reader.line_num
        fields = [f.strip() for f in row]
        if any(fields):
            yield start, fields


# ---------------------------------------------------------------- columns and rows


def _lookup(path: Path, line: int, header: list[str], role: str, field: str | int) -> int:
    """Column index of ``field`` in the header row ``header`` (names or indices)."""
    if isinstance(field, int):
        return field
    if field in header:
        return header.index(field)
    lowered = [h.lower() for h in header]
    if field.lower() in lowered:
        match = header[lowered.index(field.lower())]
    else:
        close = difflib.get_close_matches(field, header, n=1, cutoff=0.6)
        match = close[0] if close else None
    listing = ", ".join(repr(h) for h in header)
    hint = f"did you mean {match!r}? " if match else ""
    hint += f"set the {role} field to one of these columns"
    hint += " (or to a 0-based column index if the file has no header row)"
    raise DataError(
        f"{path}:{line}: the header has no column named {field!r} (wanted for the {role}); "
        f"the file has columns: {listing}.",
        hint=hint,
    )


def _make_example(path: Path, line: int, row: list[str], indices: list[tuple[str, int]], fmt: str) -> Example:
    values: dict[str, str] = {"label": ""}
    for role, idx in indices:
        if idx >= len(row):
            sep = "tab" if fmt == "tsv" else "comma"
            hint = f"each row needs at least {idx + 1} {sep}-separated columns"
            if fmt == "tsv" and "," in "".join(row):
                hint += "; if the file is comma-separated, read it as CSV"
            elif fmt == "tsv" and len(row) == 1 and "  " in row[0]:
                hint += "; the columns may be separated by spaces instead of a tab"
            raise DataError(
                f"{path}:{line}: the {role} is column {idx} (0-based), but this row has only "
                f"{len(row)} column{'s' if len(row) != 1 else ''}.",
                hint=hint,
            )
        value = row[idx]
        if not value:
            raise DataError(
                f"{path}:{line}: the {role} (column {idx}) is empty.",
                hint=f"remove the row or fill in its {role}",
            )
        values[role] = value
    return Example(text=values["text"], label=values["label"])
