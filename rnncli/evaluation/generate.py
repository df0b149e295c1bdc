"""One-to-many: sample text one token at a time, from a language model after a prime (task lm) or
from a conditional generator given a label (task generate).

    s_0 = the state after reading the prime (lm), or the condition's start state (generate);
    for each new token: p = softmax(z_t / τ) over the vocabulary, restricted to the k likeliest when
    top-k is set, x_{t+1} ~ p, then one recurrent step on x_{t+1}; a generator stops at <eos>.
<pad> and <unk> (and <bos>) are never sampled. A temperature τ < 1 sharpens the distribution, τ > 1
flattens it. The same seed gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnncli.rundir import Run
from rnncli.data import tokenize
from rnncli.errors import UsageError
from rnncli.models import generator
from rnncli.models.sequence import forward
from rnncli.tasks import task_of
from rnncli.engine.functional import softmax
from rnncli.engine.recurrent import with_transposes

NEVER_SAMPLED = 2  # ids 0 <pad> and 1 <unk>


def generate(run: Run, prime: str, length: int, temperature: float = 1.0, top_k: int | None = None,
             seed: int | None = None) -> Iterator[str]:
    """``length`` sampled tokens after ``prime`` (before it, right to left, from a model trained on reversed
    text); bad arguments raise here, before any token."""
    if not (task_of(run.spec.task).causal and run.spec.architecture == "sequence"):  # reads its own outputs
        raise UsageError(f"{run.path} is a {run.spec.task} model; rnn generate needs a language model (task lm) "
                         "or a conditional generator (task generate).",
                         hint="train one, e.g. rnn train --config configs/char-lm-toy.yaml (then --prime TEXT) or "
                              "configs/sentiment-toy-generate.yaml (then --condition LABEL)")
    _check_sampling(temperature, top_k, seed)
    ids = run.vocab.encode(tokenize(prime, run.tokenizer, run.lowercase))
    if not ids:
        raise UsageError("the prime has no tokens to start from.", hint='pass some text to start from, e.g. "ROMEO:"')
    if run.reverse:  # a backward model (data.reverse) reads the prime backwards and writes what comes before it
        ids = ids[::-1]
    return _sample(run, ids, length, temperature, top_k, np.random.default_rng(seed))


def continuation(run: Run, prime: str, tokens: list[str]) -> dict:
    """What `rnn generate --json`, the Python API and ``POST /generate`` give for a language model's sample:
    {"prime", "text", "tokens", "before_prime"}, ``text`` the sampled tokens in reading order, which for a
    backward model (data.reverse: ``before_prime``) come before the prime; ``tokens`` how many."""
    sep = "" if run.tokenizer == "char" else " "
    return {"prime": prime, "text": sep.join(tokens[::-1] if run.reverse else tokens), "tokens": len(tokens),
            "before_prime": run.reverse}


def generate_from(run: Run, condition: str, num: int, length: int, temperature: float = 1.0,
                  top_k: int | None = None, seed: int | None = None) -> list[dict]:
    """``num`` texts of a conditional generator (task generate) for the label ``condition``, each until
    <eos> or ``length`` tokens: {"condition", "text", "tokens"} (tokens: how many)."""
    if run.spec.architecture != "generator":
        raise UsageError(f"{run.path} is a {run.spec.task} model; --condition needs a conditional generator "
                         "(task generate).", hint="use --prime with a language model, or train a generator, e.g. "
                                                  "rnn train --config configs/sentiment-toy-generate.yaml")
    labels = run.labels.to_dict()["labels"]
    if condition not in labels:
        raise UsageError(f"{run.path} knows no condition {condition!r}.",
                         hint="choose one of " + ", ".join(map(repr, labels)) + ".")
    _check_sampling(temperature, top_k, seed)
    sep = "" if run.tokenizer == "char" else " "
    sequences = generator.sample(run.params, run.spec, labels.index(condition), num, length, temperature, top_k,
                                 np.random.default_rng(seed))
    return [{"condition": condition, "text": sep.join(run.vocab.decode(ids)), "tokens": len(ids)} for ids in sequences]


def _check_sampling(temperature: float, top_k: int | None, seed: int | None) -> None:
    """The sampler's arguments, in the words of every caller (the CLI's options, the API's and the server's
    fields share their names)."""
    if not temperature > 0:
        raise UsageError(f"the temperature must be > 0; got {temperature}.", hint="try 0.8 (sharper) to 1.2 (wilder).")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be at least 1; got {top_k}.", hint="leave it out to sample from every token.")
    if seed is not None and seed < 0:
        raise UsageError(f"the seed must be a non-negative integer; got {seed}.", hint="e.g. 0, or leave it out.")


def _sample(run: Run, ids: list[int], length: int, temperature: float, top_k: int | None,
            rng: np.random.Generator) -> Iterator[str]:
    x = np.asarray([ids])
    params = with_transposes(run.params)  # fixed while sampling: W_hh^T once, not per token
    logits, cache = forward(params, run.spec, x, np.ones_like(x, dtype=bool), keep_cache=False)
    for _ in range(length):
        z = logits[0, -1].astype(np.float64) / temperature
        z[:NEVER_SAMPLED] = -np.inf
        if top_k is not None and top_k < len(z):
            z[np.argsort(z)[: len(z) - top_k]] = -np.inf
        token = int(rng.choice(len(z), p=softmax(z)))
        yield run.vocab.itos[token]
        x = np.asarray([[token]])
        logits, cache = forward(params, run.spec, x, np.ones_like(x, dtype=bool), state0=cache.finals,
                                keep_cache=False)
