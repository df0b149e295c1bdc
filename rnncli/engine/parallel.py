"""Elementwise updates of large arrays, in cache-sized blocks spread over the CPU's cores.

An optimiser step is a dozen ufunc passes (``m *= β1``, ``v += g²``, ``√v``, …) over every
parameter. For an embedding table (16,000 × 128 floats, 8 MB) each pass streams the whole
array through memory, and NumPy runs each pass on one core. :func:`blockwise` instead hands
``fn`` aligned flat blocks of ``BLOCK`` elements, so that all passes of a block run while its
operands sit in the core's L2 cache, and splits the blocks between threads (NumPy releases
the GIL inside ufuncs). For an elementwise ``fn`` the result is bit for bit the same as one
call on the whole arrays, whatever the split.

Threads: ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS`` when set (the user's way of asking
for fewer; they are read, never changed), else the CPUs this process may run on.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

BLOCK = 1 << 15  # elements per block: 128 KiB of float32, a few of which fit in L2 together
MIN_SIZE = 4 * BLOCK  # smaller arrays take one call: splitting would cost more than it saves

_pool: ThreadPoolExecutor | None = None


def num_threads() -> int:
    """Worker threads for :func:`blockwise` (see the module docstring)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run_blocks(fn, flats: list[np.ndarray], starts: range) -> None:
    for s in starts:
        fn(*(a[s : s + BLOCK] for a in flats))


def _run_blocks_with(errstate: dict, fn, flats: list[np.ndarray], starts: range) -> None:
    """A worker's share, under the caller's floating-point error handling: ``np.errstate`` is
    thread-local, and a new thread would otherwise only warn where the caller asked to raise."""
    with np.errstate(**errstate):
        _run_blocks(fn, flats, starts)


def blockwise(fn, *arrays: np.ndarray) -> None:
    """Call ``fn(*blocks)`` over aligned blocks of same-sized arrays, which ``fn`` updates in place.

    ``fn`` must be elementwise (block i of its outputs depends only on block i of its inputs).
    Arrays that are small, or that are not all C-contiguous (no flat view exists), get one call.
    """
    size = arrays[0].size
    if size < MIN_SIZE or not all(a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return
    flats = [a.reshape(-1) for a in arrays]
    starts = range(0, size, BLOCK)
    workers = min(num_threads(), len(starts))
    if workers == 1:
        _run_blocks(fn, flats, starts)
        return
    global _pool
    if _pool is None or _pool._max_workers < workers - 1:
        _pool = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="rnncli-blockwise")
    share = -(-len(starts) // workers)  # blocks per worker, rounded up
    parts = [starts[i * share : (i + 1) * share] for i in range(workers)]
    errstate = {**np.geterr(), "call": np.geterrcall()}
    futures = [_pool.submit(_run_blocks_with, errstate, fn, flats, part) for part in parts[1:]]
    try:
        _run_blocks(fn, flats, parts[0])  # this thread takes the first share
    finally:
        wait(futures)  # no worker may still write into the arrays when this returns or raises
    for f in futures:
        f.result()  # re-raises a worker's exception here
