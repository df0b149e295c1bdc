"""Token and label vocabularies, saved as JSON.

Token ids: 0 is ``<pad>`` (right padding, masked out), 1 is ``<unk>`` (any token not in the
vocabulary), then tokens by descending training frequency, ties broken alphabetically,
so the same data always gives the same ids.

File format (``Vocab.save``)::

    {"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"],
     "tokens": ["<pad>", "<unk>", "movie", ...], "counts": {"movie": 12, ...}}

Labels (``LabelVocab``) are sorted: as numbers when every label is an integer
("0", "1", ..., "10"), else as strings; class id = position in that order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from rnncli.errors import DataError
from rnncli.fileio import atomic_write

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
SPECIALS = (PAD, UNK)
# A target vocabulary (seq2seq's decoder side) adds two more after <pad> and <unk>: <bos> starts a
# decoder's input, <eos> ends its output.
BOS, EOS = "<bos>", "<eos>"
BOS_ID, EOS_ID = 2, 3
VOCAB_FORMAT = "rnncli-vocab"
VOCAB_VERSION = 1

_INT = re.compile(r"[+-]?\d+")


class Vocab:
    """Token <-> id mapping. ``itos[i]`` is the token of id ``i``; ``stoi`` the inverse."""

    def __init__(self, itos: Sequence[str], counts: dict[str, int] | None = None) -> None:
        if list(itos[:2]) != list(SPECIALS):
            raise ValueError(f"itos must start with {list(SPECIALS)}")
        self.itos: list[str] = list(itos)
        self.stoi: dict[str, int] = dict(zip(self.itos, range(len(self.itos))))
        if len(self.stoi) != len(self.itos):
            raise ValueError("itos has duplicate tokens")
        self.counts: dict[str, int] = dict(counts or {})

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """Count tokens; keep those seen ``>= min_freq`` times, the ``max_size`` most frequent
        (``max_size`` does not count ``<pad>``/``<unk>``; ``None`` = no limit)."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        return cls.from_counts(counter, min_freq, max_size)

    @classmethod
    def from_counts(cls, counter: Counter, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """:meth:`build` from the tokens' counts (``counter`` loses ``<pad>`` and ``<unk>``)."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1; got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None; got {max_size}")
        for special in SPECIALS:
            counter.pop(special, None)
        kept = sorted((t for t, c in counter.items() if c >= min_freq), key=lambda t: (-counter[t], t))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(list(SPECIALS) + kept, {t: counter[t] for t in kept})

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos and self.counts == other.counts

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, tokens={self.itos[2:7]}{'…' if len(self) > 7 else ''})"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings -> ids; unknown tokens -> ``UNK_ID`` (1)."""
        get = self.stoi.get
        return [get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> token strings (``IndexError`` for an id outside ``[0, len)``)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise IndexError(f"token id {i} is outside the vocabulary (size {len(self.itos)})")
            out.append(self.itos[i])
        return out

    # -------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": VOCAB_FORMAT,
            "version": VOCAB_VERSION,
            "specials": list(SPECIALS),
            "tokens": list(self.itos),
            "counts": {t: self.counts[t] for t in self.itos if t in self.counts},
        }

    @classmethod
    def from_dict(cls, d: Any, source: str = "vocabulary") -> "Vocab":
        """Validate and load a ``to_dict()`` mapping; ``source`` names it in errors."""
        hint = "rebuild it with `rnn vocab build`"
        if not isinstance(d, dict) or d.get("format") != VOCAB_FORMAT:
            raise DataError(
                f"{source} is not an rnncli vocabulary (no \"format\": \"{VOCAB_FORMAT}\").", hint=hint
            )
        version = d.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise DataError(f"{source}: bad vocabulary version {version!r}.", hint=hint)
        if version > VOCAB_VERSION:
            raise DataError(
                f"{source} is vocabulary format version {version}; this rnncli reads up to {VOCAB_VERSION}.",
                hint="upgrade rnncli, or rebuild the vocabulary with this version",
            )
        if d.get("specials") != list(SPECIALS):
            raise DataError(f"{source}: \"specials\" must be {json.dumps(list(SPECIALS))}.", hint=hint)
        tokens = d.get("tokens")
        # Checked by the types present (map/set run in C): a run's vocabulary is read on every start-up.
        if not isinstance(tokens, list) or not set(map(type, tokens)) <= {str}:
            raise DataError(f"{source}: \"tokens\" must be a list of strings.", hint=hint)
        if tokens[:2] != list(SPECIALS):
            raise DataError(f"{source}: \"tokens\" must start with {json.dumps(list(SPECIALS))}.", hint=hint)
        counts = d.get("counts", {})
        # type() is exact: a JSON true/false loads as bool, which isinstance would take for an int
        valid = isinstance(counts, dict) and set(map(type, counts.values())) <= {int}
        if not valid or min(counts.values(), default=0) < 0:
            raise DataError(f"{source}: \"counts\" must map tokens to non-negative integers.", hint=hint)
        try:
            return cls(tokens, counts)
        except ValueError:  # duplicates: name one
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise DataError(f"{source}: token {dup!r} appears more than once in \"tokens\".", hint=hint) from None

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (temp file in the same directory, then ``os.replace``)."""
        _atomic_write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        return cls.from_dict(_read_json(Path(path)), source=str(path))


class LabelVocab:
    """Label string <-> class id. ``labels[i]`` is the label of class ``i``."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels: list[str] = [str(label) for label in labels]
        self.stoi: dict[str, int] = {label: i for i, label in enumerate(self.labels)}
        if len(self.stoi) != len(self.labels):
            raise ValueError("labels must be unique")

    @staticmethod
    def sort_labels(labels: Iterable[str]) -> list[str]:
        """Unique labels, sorted as integers if all are integers, else as strings."""
        unique = set(labels)
        if unique and all(_INT.fullmatch(label) for label in unique):
            return sorted(unique, key=lambda s: (int(s), s))
        return sorted(unique)

    @classmethod
    def build(cls, labels: Iterable[str]) -> "LabelVocab":
        return cls(cls.sort_labels(labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        return label in self.stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelVocab):
            return NotImplemented
        return self.labels == other.labels

    def __repr__(self) -> str:
        return f"LabelVocab({self.labels!r})"

    def encode(self, label: str) -> int:
        """Class id of ``label``; DataError if the label was not seen when building."""
        try:
            return self.stoi[label]
        except KeyError:
            known = ", ".join(repr(s) for s in self.labels[:20]) + (", …" if len(self.labels) > 20 else "")
            raise DataError(
                f"unknown label {label!r}; the known labels are: {known or '(none)'}.",
                hint="labels come from the training data; check the label column of this file",
            ) from None

    def decode(self, i: int) -> str:
        return self.labels[int(i)]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    @classmethod
    def from_dict(cls, d: Any, source: str = "label vocabulary") -> "LabelVocab":
        labels = d.get("labels") if isinstance(d, dict) else None
        valid = isinstance(labels, list) and all(isinstance(s, str) for s in labels)
        if not valid or len(set(labels)) != len(labels):
            raise DataError(f"{source}: \"labels\" must be a list of distinct strings.", hint="rebuild it")
        return cls(labels)


# ------------------------------------------------------------------ JSON files


def _atomic_write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    except OSError as e:
        raise DataError(f"{path}: cannot write ({e.strerror or e}).",
                        hint="check that the directory exists and is writable") from None


def _read_json(path: Path) -> Any:
    hint = "point at a vocab.json written by `rnn vocab build` (or a run directory's vocabulary)"
    try:
        if path.is_dir():
            raise DataError(f"{path} is a directory, not a vocabulary file.", hint=hint)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such vocabulary file.", hint="build one with `rnn vocab build`") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the vocabulary ({e.strerror or e}).", hint=hint) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: the vocabulary is not UTF-8 text.", hint=hint) from None
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}:{e.lineno}: the vocabulary is not valid JSON ({e.msg}, column {e.colno}).", hint=hint
        ) from None
