"""Tokenizers: text -> list of token strings.

- ``"whitespace"``: ``text.split()``.
- ``"word"``: split on whitespace, then split leading and trailing punctuation/symbols off
  each chunk into tokens of their own, one character each: ``"good."`` -> ``good .``,
  ``"(really)"`` -> ``( really )``. Inner apostrophes and hyphens stay (``don't``,
  ``well-made``), and so do English clitics already split off, as in SST-2 (``'s``, ``n't``).
- ``"char"``: every character, spaces and newlines included.

``lowercase=True`` lower-cases the text first, for every kind. No tokenizer ever raises
on any string input.
"""

from __future__ import annotations

import unicodedata

TOKENIZERS = ("whitespace", "word", "char")

# Contractions that start with an apostrophe and stay one token ("it 's" in SST-2).
_CLITICS = frozenset({"'s", "'re", "'ll", "'d", "'ve", "'m", "'t"})


def _is_punct(ch: str) -> bool:
    """Punctuation (P*) or symbol (S*) per Unicode: split off the ends of words."""
    return unicodedata.category(ch)[0] in "PS"


def _split_word(chunk: str) -> list[str]:
    """Split one whitespace-free chunk into leading punct, core, trailing punct."""
    start, end = 0, len(chunk)
    while end > start and _is_punct(chunk[end - 1]):
        end -= 1
    core = chunk[start:end]
    if core.lower() in _CLITICS:
        return [core] + list(chunk[end:])
    while start < end and _is_punct(chunk[start]):
        start += 1
    core = chunk[start:end]
    return list(chunk[:start]) + ([core] if core else []) + list(chunk[end:])


def tokenize(text: str, kind: str = "word", lowercase: bool = True) -> list[str]:
    """Split ``text`` into tokens; ``kind`` is ``"whitespace"``, ``"word"`` or ``"char"``.

    >>> tokenize("The movie wasn't (really) good.")
    ['the', 'movie', "wasn't", '(', 'really', ')', 'good', '.']
    """
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {kind!r}; choose one of {', '.join(map(repr, TOKENIZERS))}")
    if lowercase:
        text = text.lower()
    if kind == "char":
        return list(text)
    if kind == "whitespace":
        return text.split()
    tokens: list[str] = []
    for chunk in text.split():
        tokens.extend(_split_word(chunk))
    return tokens
