"""Pretrained word vectors: GloVe, word2vec and fastText files, read in one streaming pass.

Formats (``model.embeddings.format``; ``auto`` picks word2vec_binary for ``.bin``, else text):

glove            one word per line: ``word v_1 … v_D``, separated by spaces, no header
word2vec         the same with a header line ``count D`` (fastText's ``.vec`` files are this)
word2vec_binary  the header line, then per word: the word, a space, D little-endian float32, an optional
                 newline (word2vec's ``.bin``)

Text files may be gzip-compressed (by content, whatever the name). The reader keeps only the vectors of
the words it is asked for, so a file of several GB needs memory for those words only. A word may itself
hold spaces (GloVe's 840B file has some): the last D fields of a line are the vector. With
``lowercase`` a vocabulary word also takes the vector of the first word in the file that lowercases
to it, when the file has no vector for it exactly (files list frequent forms first).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncli.data.readers import GZIP_ERRORS, bad_gzip, open_binary
from rnncli.errors import DataError

FORMATS = ("auto", "glove", "word2vec", "word2vec_binary")


@dataclass
class Vectors:
    """The vectors found for the words asked for."""

    path: str
    dim: int
    vectors: dict[str, np.ndarray]  # word (as asked for) → (D,) float32
    words_read: int  # how many lines (words) the file holds that were read


def _open(path: Path):
    return open_binary(path, "vectors file", "check model.embeddings.path.")


def _resolve(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    return "word2vec_binary" if path.suffix == ".bin" else "text"


def _header(line: str) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bad(path: Path, line: int, problem: str) -> DataError:
    return DataError(f"{path}:{line}: {problem}.",
                     hint="each line must be a word and its numbers, separated by spaces (GloVe; word2vec and fastText "
                          "text files start with a line 'count dim'); set model.embeddings.format if it is guessed wrong.")


def _text_entries(path: Path, fmt: str) -> Iterator[tuple[str, np.ndarray, int]]:
    """(word, vector, line number) of a GloVe or word2vec text file."""
    with _open(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="\n")
        dim = None
        for number, line in enumerate(text, 1):
            line = line.rstrip("\r\n")
            if number == 1:
                header = _header(line)
                if header is not None and fmt != "glove":
                    dim = header[1]
                    continue
                if fmt == "word2vec":
                    raise _bad(path, 1, "a word2vec text file starts with the line 'count dim'")
            if not line.strip():
                continue
            fields = line.rstrip(" ").split(" ")
            if dim is None:  # the numbers at the end of the first line; the rest is the word
                dim = next((len(fields) - i for i in range(1, len(fields)) if all(map(_is_number, fields[i:]))), 0)
                if dim < 1:
                    raise _bad(path, number, "the line has a word but no numbers")
            if len(fields) < dim + 1:
                raise _bad(path, number, f"expected a word and {dim} numbers, found {len(fields) - 1} field(s) after "
                                         f"the first")
            try:
                vector = np.array(fields[-dim:], dtype=np.float32)
            except ValueError:
                raise _bad(path, number, "the vector holds something that is not a number") from None
            if not np.all(np.isfinite(vector)):
                raise _bad(path, number, "the vector holds an infinite or NaN value")
            yield " ".join(fields[:-dim]), vector, number


def _binary_entries(path: Path) -> Iterator[tuple[str, np.ndarray, int]]:
    """(word, vector, entry number) of a word2vec binary file."""
    with _open(path) as fh:
        header = _header(fh.readline().decode("utf-8", errors="replace"))
        if header is None:
            raise _bad(path, 1, "a word2vec binary file starts with the line 'count dim'")
        count, dim = header
        size = 4 * dim
        for number in range(1, count + 1):
            word = bytearray()
            while True:
                ch = fh.read(1)
                if not ch:
                    raise DataError(f"{path}: the file ends inside entry {number} of the {count} its header announces.",
                                    hint="the file is truncated: download it again.")
                if ch == b" ":
                    break
                if ch != b"\n" or word:  # a newline may end the previous entry
                    word += ch
            data = fh.read(size)
            if len(data) < size:
                raise DataError(f"{path}: the file ends inside entry {number} of the {count} its header announces.",
                                hint="the file is truncated: download it again.")
            yield word.decode("utf-8", errors="replace"), np.frombuffer(data, dtype="<f4").astype(np.float32), number


def entries(path: str | Path, fmt: str = "auto") -> Iterator[tuple[str, np.ndarray, int]]:
    """Every (word, vector, line) of a vectors file, in the file's order."""
    path = Path(path)
    kind = _resolve(path, fmt)
    read = _binary_entries(path) if kind == "word2vec_binary" else _text_entries(path, fmt)
    try:
        yield from read
    except GZIP_ERRORS as exc:
        raise bad_gzip(path, exc) from None


def read_vectors(path: str | Path, wanted: set[str], fmt: str = "auto", lowercase: bool = False) -> Vectors:
    """The vectors of the ``wanted`` words (all of one dimension), read in one pass."""
    found: dict[str, np.ndarray] = {}
    dim, read = 0, 0
    for word, vector, number in entries(path, fmt):
        read += 1
        if dim and len(vector) != dim:
            raise _bad(Path(path), number, f"the vector has {len(vector)} numbers, the file's first {dim}")
        dim = len(vector)
        key = word if word in wanted else word.lower() if lowercase and word.lower() in wanted else None
        if key is not None and key not in found:
            found[key] = vector
    if read == 0:
        raise DataError(f"{path}: the file holds no vectors.", hint="check model.embeddings.path.")
    return Vectors(str(path), dim, found, read)


def vocabulary_words(path: str | Path, limit: int | None, fmt: str = "auto", lowercase: bool = False) -> list[str]:
    """The first ``limit`` distinct words of a vectors file (lowercased with ``lowercase``), in its order."""
    words: dict[str, None] = {}
    for word, _, _ in entries(path, fmt):
        if lowercase:
            word = word.lower()
        if word.strip():
            words.setdefault(word)
        if limit is not None and len(words) >= limit:
            break
    if not words:
        raise DataError(f"{path}: the file holds no vectors.", hint="check model.embeddings.path.")
    return list(words)


@dataclass
class Coverage:
    """How much of a vocabulary a vectors file covered."""

    file: str
    dim: int
    found: int  # vocabulary types with a vector
    types: int  # vocabulary types (without <pad> and <unk>)
    token_share: float  # share of the training tokens whose type has a vector (nan without counts)

    def to_dict(self) -> dict:
        return {"file": self.file, "dim": self.dim, "found": self.found, "types": self.types,
                "type_share": self.found / self.types if self.types else 0.0,
                "token_share": None if math.isnan(self.token_share) else self.token_share}
