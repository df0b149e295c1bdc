"""One-to-many: sample text from a language model, one token at a time.

    s_0 = the state after reading the prime;   for each new token:
    p = softmax(z_t / τ) over the vocabulary, restricted to the k likeliest when top-k is set,
    x_{t+1} ~ p, then one recurrent step on x_{t+1}.
<pad> and <unk> are never sampled. A temperature τ < 1 sharpens the distribution, τ > 1 flattens it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnncli.rundir import Run
from rnncli.data import tokenize
from rnncli.errors import UsageError
from rnncli.models.sequence import forward
from rnncli.engine.functional import softmax

NEVER_SAMPLED = 2  # ids 0 <pad> and 1 <unk>


def generate(run: Run, prime: str, length: int, temperature: float = 1.0, top_k: int | None = None,
             seed: int | None = None) -> Iterator[str]:
    """``length`` sampled tokens after ``prime``; bad arguments raise here, before any token."""
    if run.spec.task != "lm":
        raise UsageError(f"{run.path} is a {run.spec.task} model; generate needs a language model (task lm).",
                         hint="train one with `task: lm`, e.g. rnn train --config configs/char-lm-toy.yaml")
    if temperature <= 0:
        raise UsageError(f"--temperature must be > 0; got {temperature}.", hint="try 0.8 (sharper) to 1.2 (wilder).")
    ids = run.vocab.encode(tokenize(prime, run.tokenizer, run.lowercase))
    if not ids:
        raise UsageError("the prime has no tokens to start from.", hint='pass some text, e.g. --prime "ROMEO:"')
    return _sample(run, ids, length, temperature, top_k, np.random.default_rng(seed))


def _sample(run: Run, ids: list[int], length: int, temperature: float, top_k: int | None,
            rng: np.random.Generator) -> Iterator[str]:
    x = np.asarray([ids])
    logits, cache = forward(run.params, run.spec, x, np.ones_like(x, dtype=bool))
    for _ in range(length):
        z = logits[0, -1].astype(np.float64) / temperature
        z[:NEVER_SAMPLED] = -np.inf
        if top_k is not None and top_k < len(z):
            z[np.argsort(z)[: len(z) - top_k]] = -np.inf
        token = int(rng.choice(len(z), p=softmax(z)))
        yield run.vocab.itos[token]
        x = np.asarray([[token]])
        logits, cache = forward(run.params, run.spec, x, np.ones_like(x, dtype=bool), state0=cache.finals)
