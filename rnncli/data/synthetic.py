"""Synthetic sequence tasks with long-range dependencies, for ``rnn data make``.

Every generator takes the sequence length T (``--length``), the number of examples n and a
seed (numpy's PCG64 via ``default_rng(seed)``: the same arguments give the same file), and
returns the rows of a file plus the loss of a known trivial baseline.

adding     Hochreiter & Schmidhuber (1997), Le et al. (2015). T timesteps of two features
           (value ~ U[0, 1], marker ∈ {0, 1}); exactly two markers, one in each half of the
           sequence. Target: the sum of the two marked values. A features TSV
           (``text`` = "0.3100,0 0.7700,1 …", ``label`` = the sum), for ``task: regress``
           with ``model.input: features``. Baseline: always predicting 1 (the mean of the
           sum of two U[0, 1]) has MSE = Var = 2 · 1/12 = 1/6 ≈ 0.167.
copy       The copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016):
           K = 10 symbols from {a … h}, then T blanks ``-`` of which the last is the
           delimiter ``:``, then K blanks; the tags are ``-`` everywhere except the last K
           steps, which must repeat the K symbols. T + 2K tokens, a two-column CoNLL file
           (token<TAB>tag, blank line between sequences) for ``task: tag``. Baseline:
           ``-`` for the first T + K steps and a uniform guess over the 8 symbols for the
           last K has cross-entropy K · ln 8 / (T + 2K) nats per token.
parity     T bits ``0``/``1`` as words; the label is 1 iff the number of ones is odd
           (XOR of all bits). A token TSV for ``task: classify``. Baseline: chance, accuracy
           0.5, cross-entropy ln 2 ≈ 0.693.
sentiment  Toy reviews of exactly T words: ``the movie was [not] <fillers> <adjective>``,
           where the fillers are neutral intensifiers; the label is the adjective's
           polarity, flipped by ``not``. The negation sits T − 4 words before the word it
           flips. A token TSV for ``task: classify``, balanced. Baseline: chance (0.5).

Pair tasks for ``task: seq2seq`` (a TSV with header ``source<TAB>target``, read with
``data.tokenizer: char``). Every source occurs once in a file, so a held-out fraction of it
(``data.dev_split``) shares no example with the rest. Baseline: exact match of the
trivial answer.
reverse    1 … T letters from a–j; the target is the string reversed ("abcj" → "jcba").
           Baseline: copy the source.
sort       1 … T digits; the target is the digits in ascending order ("3917" → "1379").
           Baseline: copy the source.
dates      A date between 1950-01-01 and 2049-12-31 written one of five ways ("march 3rd
           1998", "3 march 1998", "mar 3, 1998", "march 3, 1998", "the 3rd of march 1998");
           the target is ISO 8601 ("1998-03-03"). T is not used. Baseline: always the most
           frequent target.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rnncli.errors import UsageError

COPY_SYMBOLS = tuple("abcdefgh")
COPY_K = 10
COPY_BLANK, COPY_DELIMITER = "-", ":"
SENTIMENT_POSITIVE = ("good", "great", "fun", "excellent")
SENTIMENT_NEGATIVE = ("bad", "boring", "awful", "terrible")
SENTIMENT_FILLERS = ("really", "very", "quite", "so", "truly", "just", "rather", "pretty")


@dataclass
class SyntheticData:
    """Rows of a generated file and what a trivial predictor scores on them."""

    task: str
    length: int  # T as given
    n: int
    seed: int
    kind: str  # "features tsv", "token tsv", "conll"
    header: list[str] | None  # TSV header row, None for CoNLL
    rows: list  # TSV: [text, label]; CoNLL: list of (token, tag) per sequence
    baseline: dict = field(default_factory=dict)  # {"what", "metric", "value", "expected"}
    config_task: str = ""  # the `task:` that reads the file

    def text(self) -> str:
        """The file's contents."""
        if self.header is None:
            return "".join("".join(f"{tok}\t{tag}\n" for tok, tag in seq) + "\n" for seq in self.rows)
        lines = ["\t".join(self.header)] + ["\t".join(map(str, row)) for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"task": self.task, "length": self.length, "n": self.n, "seed": self.seed, "kind": self.kind,
                "config_task": self.config_task, "baseline": self.baseline}


# ---------------------------------------------------------------------- generators


def adding(length: int, n: int, seed: int = 0) -> SyntheticData:
    if length < 2:
        raise UsageError(f"the adding problem needs --length of at least 2; got {length}.",
                         hint="one marker goes in each half of the sequence, e.g. --length 100.")
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0.0, 1.0, size=(n, length)), 4)
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length), dtype=int)
    markers[np.arange(n), first] = 1
    markers[np.arange(n), second] = 1
    targets = values[np.arange(n), first] + values[np.arange(n), second]
    rows = [[" ".join(f"{v:.4f},{m}" for v, m in zip(values[i], markers[i])), f"{targets[i]:.4f}"] for i in range(n)]
    mse = float(np.mean((np.round(targets, 4) - 1.0) ** 2))
    return SyntheticData("adding", length, n, seed, "features tsv", ["text", "label"], rows,
                         {"what": "always predict 1", "metric": "mse", "value": mse, "expected": 1 / 6},
                         "regress")


def copy(length: int, n: int, seed: int = 0) -> SyntheticData:
    if length < 1:
        raise UsageError(f"the copy task needs --length (the delay) of at least 1; got {length}.",
                         hint="e.g. --length 20: 10 symbols, 20 blanks (the last one the delimiter ':'), 10 blanks.")
    rng = np.random.default_rng(seed)
    K, T = COPY_K, length
    symbols = rng.integers(0, len(COPY_SYMBOLS), size=(n, K))
    rows = []
    for i in range(n):
        seq = [COPY_SYMBOLS[s] for s in symbols[i]]
        tokens = seq + [COPY_BLANK] * (T - 1) + [COPY_DELIMITER] + [COPY_BLANK] * K
        tags = [COPY_BLANK] * (T + K) + seq
        rows.append(list(zip(tokens, tags)))
    ce = K * math.log(len(COPY_SYMBOLS)) / (T + 2 * K)
    return SyntheticData("copy", length, n, seed, "conll", None, rows,
                         {"what": f"'{COPY_BLANK}' until the delimiter, then a uniform guess of the {K} symbols",
                          "metric": "loss", "value": ce, "expected": ce}, "tag")


def parity(length: int, n: int, seed: int = 0) -> SyntheticData:
    if length < 1:
        raise UsageError(f"parity needs --length of at least 1; got {length}.", hint="e.g. --length 20.")
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, length))
    labels = bits.sum(axis=1) % 2
    rows = [[" ".join(map(str, b)), str(y)] for b, y in zip(bits, labels)]
    majority = max(labels.mean(), 1 - labels.mean()) if n else 0.5
    return SyntheticData("parity", length, n, seed, "token tsv", ["text", "label"], rows,
                         {"what": "predict the majority class", "metric": "accuracy", "value": float(majority),
                          "expected": 0.5}, "classify")


def sentiment(length: int, n: int, seed: int = 0) -> SyntheticData:
    if length < 4:
        raise UsageError(f"toy sentiment needs --length of at least 4 words; got {length}.",
                         hint="'the movie was not good' is 5 words; e.g. --length 12.")
    rng = np.random.default_rng(seed)
    rows = []
    labels = rng.permutation(np.arange(n) % 2)  # balanced
    for i in range(n):
        negated = bool(rng.integers(0, 2)) if length >= 5 else False
        positive = bool(labels[i]) != negated
        adjective = rng.choice(SENTIMENT_POSITIVE if positive else SENTIMENT_NEGATIVE)
        fillers = list(rng.choice(SENTIMENT_FILLERS, size=length - 4 - int(negated)))
        words = ["the", "movie", "was"] + (["not"] if negated else []) + fillers + [str(adjective)]
        rows.append([" ".join(words), str(int(labels[i]))])
    return SyntheticData("sentiment", length, n, seed, "token tsv", ["text", "label"], rows,
                         {"what": "predict the majority class", "metric": "accuracy",
                          "value": float(max(labels.mean(), 1 - labels.mean())) if n else 0.5, "expected": 0.5},
                         "classify")


# ------------------------------------------------------------------ seq2seq pairs

REVERSE_SYMBOLS = "abcdefghij"
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
FIRST_DAY, DAYS = datetime.date(1950, 1, 1), 36524  # through 2049-12-31


# _unique_pairs gives up after this many draws in a row without a new source (or 50 per source found, when
# more): the space holds fewer than n, or so few more that they would take far longer to find
STALE_DRAWS = 100_000


def _unique_pairs(n: int, draw: Callable[[], tuple[str, str]], what: str) -> list[list[str]]:
    """n pairs with distinct sources (a duplicate is drawn again)."""
    pairs: dict[str, str] = {}
    stale = 0  # draws in a row that gave no new source: a space smaller than n runs dry, and this says when
    for _ in range(50 * n):
        if len(pairs) == n or stale > max(STALE_DRAWS, 50 * len(pairs)):
            break
        source, target = draw()
        stale = stale + 1 if source in pairs else 0
        pairs.setdefault(source, target)
    if len(pairs) < n:
        raise UsageError(f"{what} has fewer than {n} distinct examples at this length.",
                         hint="ask for fewer examples (--n) or longer sequences (--length).")
    return [[source, target] for source, target in pairs.items()]


def _pair_data(task: str, length: int, n: int, seed: int, rows: list, what: str, baseline) -> SyntheticData:
    exact = sum(baseline(src) == tgt for src, tgt in rows) / len(rows)
    return SyntheticData(task, length, n, seed, "pair tsv", ["source", "target"], rows,
                         {"what": what, "metric": "exact_match", "value": exact, "expected": exact}, "seq2seq")


def reverse(length: int, n: int, seed: int = 0) -> SyntheticData:
    rng = np.random.default_rng(seed)

    def draw():
        s = "".join(rng.choice(list(REVERSE_SYMBOLS), size=int(rng.integers(1, length + 1))))
        return s, s[::-1]

    return _pair_data("reverse", length, n, seed, _unique_pairs(n, draw, "reverse"), "copy the source", lambda s: s)


def sort(length: int, n: int, seed: int = 0) -> SyntheticData:
    rng = np.random.default_rng(seed)

    def draw():
        s = "".join(map(str, rng.integers(0, 10, size=int(rng.integers(1, length + 1)))))
        return s, "".join(sorted(s))

    return _pair_data("sort", length, n, seed, _unique_pairs(n, draw, "sort"), "copy the source", lambda s: s)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def written_date(date: datetime.date, style: int) -> str:
    """One of the five ways ``dates`` writes a date (style 0 … 4)."""
    month, day, year = MONTHS[date.month - 1], date.day, date.year
    return (f"{month} {_ordinal(day)} {year}", f"{day} {month} {year}", f"{month[:3]} {day}, {year}",
            f"{month} {day}, {year}", f"the {_ordinal(day)} of {month} {year}")[style]


def dates(length: int, n: int, seed: int = 0) -> SyntheticData:
    rng = np.random.default_rng(seed)

    def draw():
        date = FIRST_DAY + datetime.timedelta(days=int(rng.integers(0, DAYS)))
        return written_date(date, int(rng.integers(0, 5))), date.isoformat()

    if n > 5 * DAYS:  # five ways to write each day: far fewer sources than asked for, said at once
        raise UsageError(f"dates has fewer than {n} distinct examples: its {DAYS:,} days, written five ways, give "
                         f"at most {5 * DAYS:,}.", hint=f"ask for at most {5 * DAYS:,} examples (--n).")
    rows = _unique_pairs(n, draw, "dates")
    common = Counter(t for _, t in rows).most_common(1)[0][0]
    return _pair_data("dates", length, n, seed, rows, f"always {common}", lambda s: common)


GENERATORS = {"adding": adding, "copy": copy, "parity": parity, "sentiment": sentiment,
              "reverse": reverse, "sort": sort, "dates": dates}
EXTENSIONS = {"adding": ".tsv", "copy": ".conll", "parity": ".tsv", "sentiment": ".tsv", "reverse": ".tsv",
              "sort": ".tsv", "dates": ".tsv"}
DEFAULT_LENGTHS = {"reverse": 10, "sort": 10, "dates": 0}  # tasks whose --length may be left out


def make(name: str, length: int | None, n: int, seed: int = 0) -> SyntheticData:
    """Generate ``n`` examples of the synthetic task ``name`` (a key of :data:`GENERATORS`); ``length`` None takes its
    default (:data:`DEFAULT_LENGTHS`)."""
    import difflib

    if name not in GENERATORS:
        close = difflib.get_close_matches(name, list(GENERATORS), n=1)
        raise UsageError(f"unknown synthetic task {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + ".",
                         hint=f"choose one of {', '.join(GENERATORS)}.")
    if length is None:
        if name not in DEFAULT_LENGTHS:
            raise UsageError(f"the {name} task needs --length.", hint="e.g. --length 100.")
        length = DEFAULT_LENGTHS[name]
    elif length < 1:
        raise UsageError(f"--length must be at least 1; got {length}.", hint="e.g. --length 100.")
    if n < 1:
        raise UsageError(f"--n must be at least 1; got {n}.", hint="e.g. --n 10000.")
    return GENERATORS[name](length, n, seed)
