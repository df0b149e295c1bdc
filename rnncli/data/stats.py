"""``rnn data stats``: what a data file holds before you train on it.

classify/regress files: rows, label distribution, tokens per text; tag files: sentences,
tokens, tag distribution; text (lm): characters, lines, tokens. For every kind: length
percentiles (p50/p90/p99/max tokens per example), distinct tokens, and the share of tokens
that a vocabulary covers (the file's own with min_freq 2, or a given one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli.data import Vocab, read_examples, read_tagged, read_text, resolve_format, tokenize
from rnncli.data.readers import TAGGED_FORMATS, TASK_OF_FORMAT
PERCENTILES = (50, 90, 99)


@dataclass
class DataStats:
    file: str
    task: str
    examples: int  # rows, sentences, or lines of text
    tokens: int
    lengths: dict  # p50/p90/p99/max tokens per example
    labels: dict | None  # label (or tag) -> count, most frequent first; None for lm
    distinct_tokens: int
    coverage: float  # share of tokens that the vocabulary covers
    coverage_of: str  # which vocabulary
    chars: int
    unit: str = field(default="examples", repr=False)  # what one example is: examples, sentences or lines
    label_name: str = field(default="label", repr=False)  # what a label is: label or tag

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("unit", "label_name")}


def data_stats(path: str | Path, format: str = "auto", text_field: str | int = "text",
               label_field: str | int | None = "label", tokenizer: str = "word", lowercase: bool = True,
               vocab: Vocab | None = None) -> DataStats:
    fmt = resolve_format(path, format)
    if fmt in TAGGED_FORMATS:
        unit, label_name = "sentences", "tag"
        sentences = read_tagged(path, fmt)
        token_lists = [[t.lower() if lowercase else t for t in s.tokens] for s in sentences]
        labels = Counter(tag for s in sentences for tag in s.tags)
        chars = sum(len(t) for s in sentences for t in s.tokens)
    elif fmt == "text":
        unit, label_name = "lines", "label"
        text = read_text(path)
        token_lists = [tokenize(line, tokenizer, lowercase) for line in text.split("\n") if line.strip()]
        labels, chars = None, len(text)
    else:
        unit, label_name = "examples", "label"
        examples = read_examples(path, fmt, text_field, label_field)
        token_lists = [tokenize(ex.text, tokenizer, lowercase) for ex in examples]
        labels = Counter(ex.label for ex in examples) if label_field is not None else None
        chars = sum(len(ex.text) for ex in examples)
    lengths = np.array([len(t) for t in token_lists])
    counts = Counter(t for toks in token_lists for t in toks)
    total = int(lengths.sum())
    if vocab is None:
        vocab, of = Vocab.build(token_lists, min_freq=2), "the file's own tokens seen at least twice"
    else:
        of = f"the given vocabulary ({len(vocab)} entries)"
    covered = sum(c for t, c in counts.items() if t in vocab)
    return DataStats(
        file=str(path), task=TASK_OF_FORMAT[fmt], examples=len(token_lists), tokens=total,
        lengths={**{f"p{q}": float(np.percentile(lengths, q)) for q in PERCENTILES}, "max": int(lengths.max())},
        labels=dict(labels.most_common()) if labels is not None else None,
        distinct_tokens=len(counts), coverage=covered / total if total else 0.0, coverage_of=of, chars=chars,
        unit=unit, label_name=label_name,
    )
