"""Work spread over the CPU's cores: elementwise updates in blocks, and two time loops at once.

An optimiser step is a dozen ufunc passes (``m *= β1``, ``v += g²``, ``√v``, …) over every
parameter. For an embedding table (16,000 × 128 floats, 8 MB) each pass streams the whole
array through memory, and NumPy runs each pass on one core. :func:`blockwise` instead hands
``fn`` flat blocks of at most ``BLOCK`` elements, the same number to each thread (NumPy releases
the GIL inside ufuncs), so that all passes of a block run while its operands sit in the CPU's
cache. The blocks are large: every ufunc call has a fixed cost and must take the GIL, which
the other thread then waits for, so a few large blocks beat many small ones as long as a
block's arrays stay in the last-level cache (benchmarks/README.md has the measurement). For an
elementwise ``fn`` the result is bit for bit the same as one call on the whole arrays,
whatever the split.

:func:`pair` runs two independent functions at once, one on a worker thread: scoring runs the two
directions of a bidirectional layer this way (``recurrent.stack_forward``). Each time loop is a few
hundred small matrix products and ufunc calls; NumPy releases the GIL inside both, so the two loops
overlap on two cores. Their products would then fight over NumPy's BLAS, whose own threads give a
product of 32–256 rows little (benchmarks/README.md), so pairs run only inside :func:`one_blas_thread`,
which sets the BLAS to one thread per caller (:class:`BlasThreads`, through the loaded OpenBLAS's
``openblas_set_num_threads``, as threadpoolctl does) and gives it its thread count back afterwards.
Where that library cannot be found (another BLAS, or no OpenBLAS symbols), nothing runs in pairs.

Threads: ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS`` when set (the user's way of asking
for fewer; they are read, never changed), else the CPUs this process may run on.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

BLOCK = 1 << 16  # the most elements per block: 256 KiB of float32 per array
ALIGN = 16  # block sizes are multiples of this many elements (64 bytes of float32)
MIN_SIZE = 1 << 17  # smaller arrays take one call: splitting would cost more than it saves

_pool: ThreadPoolExecutor | None = None
WORKER_PREFIX = "rnncli-worker"  # the names of the pool's threads


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


def _worker_pool(workers: int) -> ThreadPoolExecutor:
    """The module's pool, with at least ``workers`` threads (the caller's thread is the other one)."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=WORKER_PREFIX)
    return _pool


def _errstate() -> dict:
    """The caller's floating-point error handling, for a worker to adopt (``np.errstate`` is thread-local)."""
    return {**np.geterr(), "call": np.geterrcall()}


def _run_blocks(fn, flats: list[np.ndarray], starts: range, block: int) -> None:
    for s in starts:
        fn(*(a[s : s + block] for a in flats))


def _call_with(errstate: dict, fn):
    """``fn()`` on a worker, under the caller's floating-point error handling (:func:`_errstate`): a new
    thread would otherwise only warn where the caller asked to raise."""
    with np.errstate(**errstate):
        return fn()


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
    workers = min(num_threads(), -(-size // BLOCK))  # no more threads than there are blocks of BLOCK
    count = workers * -(-size // (workers * BLOCK))  # blocks of at most BLOCK, the same number for every worker
    per_block = -(-size // count)
    block = -(-per_block // ALIGN) * ALIGN  # ... each a whole number of SIMD registers
    starts = range(0, size, block)
    if workers == 1 or _on_worker():
        _run_blocks(fn, flats, starts, block)
        return
    pool = _worker_pool(workers - 1)
    share = -(-len(starts) // workers)  # blocks per worker, rounded up
    parts = [starts[i * share : (i + 1) * share] for i in range(workers)]
    errstate = _errstate()
    futures = [pool.submit(_call_with, errstate, functools.partial(_run_blocks, fn, flats, part, block))
               for part in parts[1:]]
    try:
        _run_blocks(fn, flats, parts[0], block)  # this thread takes the first share
    finally:
        wait(futures)  # no worker may still write into the arrays when this returns or raises
    for f in futures:
        f.result()  # re-raises a worker's exception here


class BlasThreads:
    """Get and set the thread count of the OpenBLAS that NumPy loaded, through its C API (ctypes).

    The library is the very copy NumPy uses: on Linux the one mapped into this process
    (``/proc/self/maps``), elsewhere the one NumPy's wheel bundles. ``available`` is False when none
    with the OpenBLAS symbols is found (NumPy built on another BLAS).
    """

    SYMBOLS = ("scipy_openblas{}64_", "scipy_openblas{}", "openblas{}64_", "openblas{}")

    def __init__(self) -> None:
        self._get = self._set = None
        for path in self._candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for sym in self.SYMBOLS:
                get, set_ = (getattr(lib, sym.format(f"_{op}_num_threads"), None) for op in ("get", "set"))
                if get is not None and set_ is not None:
                    get.restype, set_.argtypes, set_.restype = ctypes.c_int, [ctypes.c_int], None
                    self._get, self._set, self.path = get, set_, path
                    self.getter = sym.format("_get_num_threads")  # its name, for reports
                    return

    @staticmethod
    def _candidates() -> list[str]:
        try:
            with open("/proc/self/maps") as fh:
                return sorted({line.split()[-1] for line in fh if "blas" in line.lower() and ".so" in line})
        except OSError:  # not Linux: the library NumPy's wheel bundles next to it
            root = os.path.dirname(os.path.dirname(np.__file__))
            return sorted(glob.glob(os.path.join(root, "numpy*libs", "*openblas*"))
                          + glob.glob(os.path.join(root, "numpy", ".dylibs", "*openblas*")))

    @property
    def available(self) -> bool:
        return self._get is not None

    def get(self) -> int:
        return int(self._get())

    def set(self, n: int) -> None:
        self._set(int(n))


@functools.cache
def blas_threads() -> BlasThreads:
    """The process's :class:`BlasThreads` (looked up once)."""
    return BlasThreads()


class _OneBlasThread:
    """The state behind :func:`one_blas_thread`: how many callers are inside, and the count to restore."""

    lock = threading.Lock()
    inside = 0
    before = 0


@contextlib.contextmanager
def one_blas_thread(active: bool = True):
    """Run the block with NumPy's BLAS at one thread, so that :func:`pair` can run two loops of small products
    at once on two cores; the thread count is restored when the last caller inside leaves (the block may be
    entered from several threads, as ``rnn serve`` scores requests in threads, and nested).

    It does nothing when ``active`` is False, when this process may use one core only, or when the BLAS's
    threads cannot be set (see :class:`BlasThreads`); :func:`pairing` then stays False. For the whole block,
    not one pair at a time: an idle OpenBLAS thread spins on a core for a while after each product it helped
    with, and would take that core from the pair's second loop.
    """
    blas = blas_threads()
    if not (active and num_threads() >= 2 and blas.available):
        yield
        return
    state = _OneBlasThread
    with state.lock:
        if state.inside == 0:
            state.before = blas.get()
            blas.set(1)
        state.inside += 1
    try:
        yield
    finally:
        with state.lock:
            state.inside -= 1
            if state.inside == 0:
                blas.set(state.before)


def pairing() -> bool:
    """Whether a caller is inside :func:`one_blas_thread`, so that the BLAS runs one thread: :func:`pair` then
    runs its two functions at once (unless it is called on one of this module's worker threads)."""
    return _OneBlasThread.inside > 0


def _on_worker() -> bool:
    """Whether this is one of the pool's threads: work it hands to the pool could wait behind itself."""
    return threading.current_thread().name.startswith(WORKER_PREFIX)


def pair(fn0, fn1):
    """``(fn0(), fn1())``: at once, fn1 on a worker thread under the caller's ``np.errstate``, inside
    :func:`one_blas_thread` (:func:`pairing`), else one after the other.

    The functions must be independent (neither reads what the other writes). An exception of either
    reaches the caller once both have finished.
    """
    if not pairing() or _on_worker():
        return fn0(), fn1()
    future = _worker_pool(1).submit(_call_with, _errstate(), fn1)
    try:
        first = fn0()
    finally:
        wait([future])  # the worker may not outlive the caller's arrays
    return first, future.result()
