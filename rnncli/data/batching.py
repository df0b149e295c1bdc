"""Turn lists of token ids into padded arrays, and split a dataset into batches.

Shapes: N batch, T time. Padding is on the right with ``PAD_ID`` (0); ``mask[n, t]`` is
True at real tokens and False at padding, so sequence ``n`` has ``mask[n].sum()`` tokens
and they are ``ids[n, :mask[n].sum()]``. The recurrent engine, losses and pooling all take
this mask.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rnncli.data.vocab import PAD_ID


def pad_batch(seqs: Sequence[Sequence[int]], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``seqs`` into ``ids`` (N, T) int64 and ``mask`` (N, T) bool.

    T is the longest sequence's length, or ``max_len`` when given (then longer sequences
    keep their first ``max_len`` ids). A zero-length sequence gives an all-padding row.
    """
    if max_len is not None and max_len < 0:
        raise ValueError(f"max_len must be >= 0 or None; got {max_len}")
    rows = [np.asarray(s, dtype=np.int64).reshape(-1) for s in seqs]
    T = max((len(r) for r in rows), default=0) if max_len is None else int(max_len)
    ids = np.full((len(rows), T), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=bool)
    for n, r in enumerate(rows):
        L = min(len(r), T)
        ids[n, :L] = r[:L]
        mask[n, :L] = True
    return ids, mask


def batch_indices(
    n: int, batch_size: int, shuffle: bool, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Split ``range(n)`` into int64 index arrays of ``batch_size`` (the last may be smaller).

    With ``shuffle`` the order is ``rng.permutation(n)`` (``rng`` is required, so a given
    generator state always gives the same batches); without it, ``0..n-1`` in order.
    Every index appears in exactly one batch.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if shuffle:
        if rng is None:
            raise ValueError("shuffle=True needs an explicit np.random.Generator (rng)")
        order = rng.permutation(n).astype(np.int64, copy=False)
    else:
        order = np.arange(n, dtype=np.int64)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def by_length(id_lists, batch_size: int) -> list[np.ndarray]:
    """Chunks of indices of similar-length sequences: less padding per batch."""
    order = np.argsort([len(ids) for ids in id_lists], kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


BUCKET_POOL = 50  # batches per pool that length bucketing sorts together


def bucketed_indices(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                     pool: int = BUCKET_POOL) -> list[np.ndarray]:
    """Shuffled batches of similar lengths: less padding, hence fewer wasted time steps.

    The examples are shuffled, cut into pools of ``pool · batch_size``, each pool is sorted by
    length and cut into batches, and the full batches are shuffled (a final smaller batch
    stays last, so the concatenated order splits back into the same batches). Every index
    appears in exactly one batch; a given generator state always gives the same batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    perm = rng.permutation(len(lengths)).astype(np.int64, copy=False)
    size = pool * batch_size
    order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                            for chunk in (perm[i : i + size] for i in range(0, len(perm), size))]) \
        if len(perm) else perm
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    tail = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    return [batches[i] for i in rng.permutation(len(batches))] + tail
