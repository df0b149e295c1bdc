"""Scores of generated sequences against references (task seq2seq).

token accuracy  Σ_i Σ_{t ≤ |r_i|+1} [p_i,t = r_i,t] / Σ_i (|r_i| + 1): position by position over each
                reference and its <eos>, the prediction followed by <eos> (a missing position is wrong)
exact match     Σ_i [p_i = r_i] / N
corpus BLEU-4   (Papineni et al. 2002) BP · exp(Σ_{n=1..4} ¼ log p_n), where
                p_n = Σ_i Σ_g min(count_{p_i}(g), count_{r_i}(g)) / Σ_i Σ_g count_{p_i}(g) over n-grams g,
                BP = 1 if c > r else exp(1 - r/c), c and r the total prediction and reference lengths;
                0 when some p_n is 0 (no smoothing), as sacreBLEU's corpus score without smoothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def _ngrams(tokens: Sequence, n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(predictions: Sequence[Sequence], references: Sequence[Sequence], max_n: int = 4) -> float:
    """Corpus BLEU in [0, 1] of tokenized predictions against one reference each."""
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for pred, ref in zip(predictions, references):
        c, r = c + len(pred), r + len(ref)
        for n in range(1, max_n + 1):
            p, q = _ngrams(pred, n), _ngrams(ref, n)
            matches[n - 1] += sum(min(k, q[g]) for g, k in p.items())
            totals[n - 1] += max(len(pred) - n + 1, 0)
    if c == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if c > r else math.exp(1.0 - r / c)
    return brevity * math.exp(log_precision)


def sequence_scores(predictions: Sequence[Sequence], references: Sequence[Sequence], eos=None) -> dict:
    """Token accuracy, exact match and corpus BLEU of predictions (without <eos>) against references."""
    hits = positions = exact = 0
    for pred, ref in zip(predictions, references):
        p, r = [*pred, eos], [*ref, eos]
        hits += sum(a == b for a, b in zip(p, r))
        positions += len(r)
        exact += list(pred) == list(ref)
    n = max(len(references), 1)
    return {"accuracy": hits / max(positions, 1), "exact_match": exact / n,
            "bleu": corpus_bleu(predictions, references)}
