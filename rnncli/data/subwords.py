"""Word features: what a word looks like, for words the vocabulary has never seen.

A word-level model maps every unseen word to ``<unk>``, so "unfriendliness" and "Zagreb"
look the same to it. Word features give each token a few more ids, each with an embedding
of its own (``model.word_feature_dim``), concatenated to the word embedding (as spaCy's
tagger embeds NORM, PREFIX, SUFFIX and SHAPE):

    prefix{k}   the first k characters, lowercased       "Unfriendly" → "unf"   (model.prefix: k)
    suffix{k}   the last k characters, lowercased        "Unfriendly" → "dly"   (model.suffix: k)
    shape       letters → X/x, digits → d, other characters kept, runs of one kind cut
                at 4                                     "Zagreb" → "Xxxxx", "1998-03" → "dddd-dd"
    chars{k}    every character, case kept, for the character encoder (model.char_hidden_size;
                :mod:`rnncli.models.chars`): not one id but one per character, at most k (a
                longer word keeps its first and last k/2)  "Zagreb" → Z a g r e b

A word shorter than k gives the whole word. Each feature has its own vocabulary built from
the training tokens (``<pad>`` = 0, ``<unk>`` = 1, ``vocab.min_freq`` applies), saved in the
run directory as ``word-features.json``. Features are read from the tokens before
``data.lowercase``, so the shape still sees capitals.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from rnncli.data.vocab import UNK_ID, Vocab, _atomic_write_json, _read_json
from rnncli.errors import DataError

FORMAT = "rnncli-word-features"
VERSION = 1
_NAME = re.compile(r"(prefix|suffix|chars)[1-9][0-9]*|shape")
SHAPE_RUN = 4  # longer runs of one character class are cut: "xxxxxxx" → "xxxx"
MEMO_TYPES = 1 << 17  # token types whose ids WordFeatures.encode remembers (then it starts afresh)


def word_shape(token: str) -> str:
    """Capitalisation, digits and punctuation of ``token``, e.g. "McDonald's" → "XxXxxxx'x"."""
    out, last, run = [], "", 0
    for ch in token:
        kind = ("X" if ch.isupper() else "x") if ch.isalpha() else "d" if ch.isdigit() else ch
        run = run + 1 if kind == last else 1
        last = kind
        if run <= SHAPE_RUN:
            out.append(kind)
    return "".join(out)


def feature_names(prefix: int, suffix: int, shape: bool, chars: int = 0) -> list[str]:
    """The features a model config asks for, in the order their embeddings are concatenated (the characters,
    ``chars`` of them at most, last: their columns are the rest of a token's ids)."""
    return ([f"prefix{prefix}"] if prefix else []) + ([f"suffix{suffix}"] if suffix else []) + \
        (["shape"] if shape else []) + ([f"chars{chars}"] if chars else [])


def word_chars(token: str, k: int) -> str:
    """The characters the character encoder reads: all of them, or the first and last k/2 of a longer word."""
    return token if len(token) <= k else token[: k // 2] + token[len(token) - (k - k // 2):]


def kind_of(name: str) -> str:
    """"suffix3" → "suffix" (parameter ``suffix_embedding.weight``)."""
    return name.rstrip("0123456789")


def feature_size(name: str) -> int:
    """"suffix3" → 3, "chars20" → 20: the k of a feature (0 for "shape")."""
    digits = name[len(kind_of(name)):]
    return int(digits) if digits else 0


def _prefix(k: int, token: str) -> str:
    return token.lower()[:k]


def _suffix(k: int, token: str) -> str:
    return token.lower()[-k:]


def feature_function(name: str) -> Callable[[str], str]:
    """The function token → value of a feature other than the characters: "suffix3" → the last 3 characters,
    lowercased. (Module functions, not lambdas: WordFeatures pickles, for worker processes.)"""
    kind = kind_of(name)
    if kind == "shape":
        return word_shape
    return functools.partial(_prefix if kind == "prefix" else _suffix, feature_size(name))


class WordFeatures:
    """One vocabulary per feature; ``encode`` turns a token list into ids (T, K)."""

    def __init__(self, vocabs: dict[str, Vocab]) -> None:
        self.vocabs = dict(vocabs)
        self._functions = [(name, feature_function(name)) for name in self.vocabs if kind_of(name) != "chars"]
        self._memo: dict[str, tuple[int, ...]] = {}

    @property
    def names(self) -> list[str]:
        return list(self.vocabs)

    @property
    def chars(self) -> int:
        """k of a ``chars{k}`` feature (0 without one)."""
        return next((feature_size(name) for name in self.vocabs if kind_of(name) == "chars"), 0)

    def sizes(self) -> tuple[tuple[str, int], ...]:
        return tuple((name, len(v)) for name, v in self.vocabs.items())

    @classmethod
    def build(cls, names: Sequence[str], token_lists: Iterable[Sequence[str]], min_freq: int = 1) -> "WordFeatures":
        """Each feature's vocabulary from the tokens' counts: a feature value is counted once per type
        (with the type's count), not once per token, which gives the same counts."""
        types = Counter(t for toks in token_lists for t in toks)
        vocabs = {}
        for name in names:
            counts: Counter[str] = Counter()
            if kind_of(name) == "chars":
                k = feature_size(name)
                for t, n in types.items():
                    for ch in word_chars(t, k):
                        counts[ch] += n
            else:
                value = feature_function(name)
                for t, n in types.items():
                    counts[value(t)] += n
            vocabs[name] = Vocab.from_counts(counts, min_freq)
        return cls(vocabs)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """ids (T, K) int64: column k holds feature k of every token (<unk> = 1 when unseen); with a ``chars{k}``
        feature, its columns come last: (T, K - 1 + L), the character ids of each token, 0-padded to the
        sentence's longest word (L ≤ k characters)."""
        rows = [self._ids_of(t) for t in tokens]
        K = len(self._functions)
        ids = np.asarray([r[:K] for r in rows], dtype=np.int64).reshape(len(tokens), K)
        if not self.chars:
            return ids
        chars = np.zeros((len(tokens), max((len(r) - K for r in rows), default=0)), dtype=np.int64)
        for i, r in enumerate(rows):
            chars[i, : len(r) - K] = r[K:]
        return np.concatenate([ids, chars], axis=1)

    def _ids_of(self, token: str) -> tuple[int, ...]:
        """The token's ids: one per feature but the characters, then its character ids. Remembered per
        type (a text repeats its words), up to ``MEMO_TYPES`` of them."""
        ids = self._memo.get(token)
        if ids is None:
            ids = tuple(self.vocabs[name].stoi.get(value(token), UNK_ID) for name, value in self._functions)
            k = self.chars
            if k:
                ids += tuple(self.vocabs[f"chars{k}"].encode(word_chars(token, k)))
            if len(self._memo) >= MEMO_TYPES:
                self._memo.clear()
            self._memo[token] = ids
        return ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordFeatures) and self.vocabs == other.vocabs

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_memo": {}}  # a worker process remembers types of its own

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION,
                "features": {name: v.to_dict() for name, v in self.vocabs.items()}}

    @classmethod
    def from_dict(cls, d, source: str = "word features") -> "WordFeatures":
        hint = "retrain the model; word-features.json is written by `rnn train`"
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION \
                or not isinstance(d.get("features"), dict):
            raise DataError(f"{source} is not an rnncli word-features file (format {FORMAT}, version {VERSION}).",
                            hint=hint)
        bad = [name for name in d["features"] if not _NAME.fullmatch(str(name))]
        if bad:
            raise DataError(f"{source}: unknown word feature {bad[0]!r}.", hint=hint)
        return cls({name: Vocab.from_dict(v, f"{source} ({name})") for name, v in d["features"].items()})

    def save(self, path: str | Path) -> None:
        _atomic_write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "WordFeatures":
        return cls.from_dict(_read_json(Path(path)), source=str(path))
