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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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


GENERATORS = {"adding": adding, "copy": copy, "parity": parity, "sentiment": sentiment}
EXTENSIONS = {"adding": ".tsv", "copy": ".conll", "parity": ".tsv", "sentiment": ".tsv"}


def make(task: str, length: int, n: int, seed: int = 0) -> SyntheticData:
    """Generate ``n`` examples of ``task`` (a key of :data:`GENERATORS`)."""
    import difflib

    if task not in GENERATORS:
        close = difflib.get_close_matches(task, list(GENERATORS), n=1)
        raise UsageError(f"unknown synthetic task {task!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + ".",
                         hint=f"choose one of {', '.join(GENERATORS)}.")
    if length < 1:
        raise UsageError(f"--length must be at least 1; got {length}.", hint="e.g. --length 100.")
    if n < 1:
        raise UsageError(f"--n must be at least 1; got {n}.", hint="e.g. --n 10000.")
    return GENERATORS[task](length, n, seed)
