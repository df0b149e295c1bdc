"""Held-out texts that share nothing with the training texts they are cut from.

Phrase-level data sets list every phrase of a sentence as an example of its own (SST: "a patient
viewer", "patient viewer", … and the whole sentence). A random holdout of such a file is mostly
phrases whose sentence, or whose own sub-phrases, stay in training: it measures recall of the
training set, not generalisation, and selecting on it favours the settings that memorise best.

:func:`split_by_container` holds out whole texts instead: the *maximal* texts (those no other text
contains, word for word: the sentences), the final ``fraction`` of them, and drops from training
every text that occurs only inside held-out ones. Phrases that also occur in a kept text stay, as a
dev set shares common phrases with training. Containment is of whole words (" a b " in " x a b y ").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence


def _padded(text: str) -> str:
    return f" {' '.join(text.split())} "


def containers(texts: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    """The maximal texts (indices), and for every text the maximal texts that contain it.

    Each text is looked up only in the maximal texts that hold its rarest word, so the cost is
    about the number of texts times the rarest word's postings, not texts squared.
    """
    padded = [_padded(t) for t in texts]
    words = [p.split() for p in padded]
    frequency = Counter(w for ws in words for w in set(ws))
    order = sorted(range(len(texts)), key=lambda i: -len(words[i]))
    maximal: list[int] = []
    postings: dict[str, list[int]] = defaultdict(list)  # word -> maximal texts holding it
    inside: list[list[int]] = [[] for _ in texts]
    for i in order:
        rarest = min(words[i], key=lambda w: frequency[w]) if words[i] else ""
        inside[i] = [m for m in postings.get(rarest, ()) if padded[i] in padded[m]]
        if not inside[i]:
            maximal.append(i)
            inside[i] = [i]
            for w in set(words[i]):
                postings[w].append(i)
    return sorted(maximal), inside


def split_by_container(raw: Sequence, fraction: float, text: Callable = lambda ex: ex.text):
    """(train, holdout, dropped): the final ``fraction`` of the maximal texts held out, and the texts found
    only inside them left out of training (``dropped`` counts them). Order within each part is kept."""
    maximal, inside = containers([text(ex) for ex in raw])
    held = set(maximal[len(maximal) - int(round(len(maximal) * fraction)):])
    train, holdout, dropped = [], [], 0
    for i, ex in enumerate(raw):
        if i in held:
            holdout.append(ex)
        elif all(m in held for m in inside[i]):
            dropped += 1
        else:
            train.append(ex)
    return train, holdout, dropped
