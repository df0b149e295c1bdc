"""Blockwise elementwise updates: the same bits as one call on whole arrays, whatever the split."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rnncli.engine import optim, parallel


def _update(p, g, m):
    """An elementwise in-place rule with the shape of an optimiser step."""
    m *= 0.9
    m += 0.1 * g
    p -= 0.01 * m / (np.sqrt(np.abs(m)) + 1e-8)


def _arrays(size, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(size).astype(dtype) for _ in range(3)]


@pytest.mark.parametrize("size", [parallel.MIN_SIZE, parallel.MIN_SIZE + 12345, 7 * parallel.BLOCK + 1])
@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_blockwise_matches_one_call_bit_for_bit(monkeypatch, size, threads):
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    whole = _arrays(size)
    blocks = [a.copy() for a in whole]
    _update(*whole)
    parallel.blockwise(_update, *blocks)
    for a, b in zip(whole, blocks):
        assert np.array_equal(a, b)


def test_small_and_non_contiguous_arrays_take_one_call():
    calls = []
    small = _arrays(parallel.MIN_SIZE - 1)
    parallel.blockwise(lambda *a: calls.append(a[0].shape), *small)
    strided = [a[::2] for a in _arrays(4 * parallel.MIN_SIZE)]
    parallel.blockwise(lambda *a: calls.append(a[0].shape), *strided)
    assert calls == [small[0].shape, strided[0].shape]


def test_blocks_cover_every_element_once(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    counts = np.zeros(3 * parallel.MIN_SIZE + 5, dtype=np.int64)

    def bump(c):
        c += 1

    parallel.blockwise(bump, counts)
    assert counts.min() == counts.max() == 1


@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("size", [parallel.MIN_SIZE, 5 * parallel.BLOCK + 7, 16_000 * 128])
def test_blocks_are_at_most_block_elements_as_many_for_each_thread(monkeypatch, threads, size):
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    sizes, lock = {}, threading.Lock()

    def record(a):
        with lock:
            sizes.setdefault(threading.get_ident(), []).append(a.size)

    parallel.blockwise(record, np.zeros(size, dtype=np.float32))
    blocks = [n for per_thread in sizes.values() for n in per_thread]
    assert sum(blocks) == size and max(blocks) <= parallel.BLOCK
    assert all(n % parallel.ALIGN == 0 for n in sorted(blocks)[1:])  # all but the last, shortest one
    workers = min(int(threads), -(-size // parallel.BLOCK))  # no more threads than blocks of BLOCK
    assert len(blocks) % workers == 0  # as many for each thread (a pool thread may take two shares)


def test_more_threads_than_blocks_do_not_split_an_array_into_slivers(monkeypatch):
    """With more threads than the array has blocks of BLOCK, only that many threads take part."""
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    sizes = []
    parallel.blockwise(lambda a: sizes.append(a.size), np.zeros(2 * parallel.BLOCK, dtype=np.float32))
    assert sorted(sizes) == [parallel.BLOCK, parallel.BLOCK]


def test_a_worker_exception_reaches_the_caller(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")

    def fail(a):
        if a[0] == 1.0:  # only the second half, which a pool thread runs
            raise ValueError("boom")

    x = np.zeros(4 * parallel.MIN_SIZE)
    x[x.size // 2 :] = 1.0
    with pytest.raises(ValueError, match="boom"):
        parallel.blockwise(fail, x)


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert parallel.num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel.num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "zero")
    assert parallel.num_threads() == 3


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizer_steps_on_large_parameters_are_blockwise_exact(monkeypatch, name, wd):
    """An embedding-sized parameter is updated in blocks on several threads, and ends bit for bit where
    one whole-array update would."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    rng = np.random.default_rng(1)
    shape = (2 * parallel.MIN_SIZE // 64 + 3, 64)
    start = {"E": rng.standard_normal(shape).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in start.items()} for _ in range(3)]

    def run():
        params = {k: v.copy() for k, v in start.items()}
        opt = optim.make_optimizer(name, params, 0.01, weight_decay=wd)
        for g in grads:
            opt.step(params, g)
        return params, opt.state_dict()

    blocked, blocked_state = run()
    monkeypatch.setattr(parallel, "MIN_SIZE", 10**12)  # every array in one call
    whole, whole_state = run()
    for k in start:
        assert np.array_equal(blocked[k], whole[k]), k
        assert blocked[k].dtype == np.float32
    for k in whole_state:
        assert np.array_equal(blocked_state[k], whole_state[k]), k


# ------------------------------------------------------------------ two functions at once


needs_blas_threads = pytest.mark.skipif(not parallel.blas_threads().available,
                                        reason="NumPy's BLAS is not an OpenBLAS whose threads can be set")


@needs_blas_threads
def test_pair_runs_both_at_once_with_one_blas_thread_and_restores_it(monkeypatch):
    """Inside one_blas_thread the two functions run on two threads with the BLAS at one thread; leaving it gives
    the BLAS its thread count back."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    blas = parallel.blas_threads()
    before = blas.get()
    seen = []

    def probe(tag):
        seen.append((tag, threading.get_ident(), blas.get()))
        return tag

    with parallel.one_blas_thread():
        assert parallel.pairing()
        assert parallel.pair(lambda: probe("a"), lambda: probe("b")) == ("a", "b")
    assert not parallel.pairing() and blas.get() == before
    (_, t0, n0), (_, t1, n1) = sorted(seen)
    assert t0 != t1 and n0 == n1 == 1


def test_pair_outside_one_blas_thread_runs_in_order_on_the_caller():
    order = []
    assert parallel.pair(lambda: order.append((1, threading.get_ident())) or 1,
                         lambda: order.append((2, threading.get_ident())) or 2) == (1, 2)
    assert order == [(1, threading.get_ident()), (2, threading.get_ident())]


@needs_blas_threads
def test_one_blas_thread_nests_across_threads_and_restores_when_the_last_leaves(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    blas = parallel.blas_threads()
    before = blas.get()
    inner_entered, release = threading.Event(), threading.Event()

    def other():
        with parallel.one_blas_thread():
            inner_entered.set()
            release.wait(5)

    with parallel.one_blas_thread():
        worker = threading.Thread(target=other)
        worker.start()
        assert inner_entered.wait(5)
    assert parallel.pairing() and blas.get() == 1  # the other thread is still inside
    release.set()
    worker.join()
    assert not parallel.pairing() and blas.get() == before


@pytest.mark.parametrize("threads,active", [("1", True), ("2", False)])
def test_one_blas_thread_changes_nothing_on_one_core_or_when_inactive(monkeypatch, threads, active):
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    blas = parallel.blas_threads()
    before = blas.get() if blas.available else None
    with parallel.one_blas_thread(active):
        assert not parallel.pairing()
        assert (blas.get() if blas.available else None) == before


@needs_blas_threads
def test_a_paired_exception_reaches_the_caller_after_both_finish(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append("slow")

    def fail():
        raise ValueError("boom")

    with parallel.one_blas_thread():
        with pytest.raises(ValueError, match="boom"):
            parallel.pair(fail, slow)
        assert finished == ["slow"]
        with pytest.raises(ValueError, match="boom"):
            parallel.pair(lambda: None, fail)


@needs_blas_threads
def test_the_paired_worker_keeps_the_callers_error_handling(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    big = np.array([1e30], dtype=np.float32)
    with parallel.one_blas_thread(), np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            parallel.pair(lambda: None, lambda: big * big)


@needs_blas_threads
def test_work_handed_to_the_pool_from_the_pool_runs_in_place(monkeypatch):
    """A pair or a blockwise update called on a worker thread runs there, instead of waiting for a pool thread
    that is itself (no deadlock)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    x = np.zeros(4 * parallel.MIN_SIZE)

    def nested():
        parallel.blockwise(lambda a: a.__iadd__(1.0), x)
        return parallel.pair(lambda: "c", lambda: "d")

    result = []
    with parallel.one_blas_thread():
        caller = threading.Thread(target=lambda: result.append(parallel.pair(lambda: "a", nested)))
        caller.start()
        caller.join(20)
    assert not caller.is_alive() and result == [("a", ("c", "d"))]
    assert x.min() == x.max() == 1.0
