"""The models' kernel threads: one setting (``DETENTE_THREADS``, :func:`detente.models._jit.threads`) and one
row splitter (:func:`detente.models._jit.split_rows`) for bdm, smp and exchange; the numbers do not depend
on the thread count, bit for bit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from detente import _cancel
from detente.errors import DetenteError
from detente.models import _jit, _smp_core, bdm, exchange, smp
from detente.models.base import Inputs


def test_threads_reads_the_environment(monkeypatch):
    monkeypatch.delenv(_jit.THREADS_ENV, raising=False)
    assert _jit.threads() == _jit.default_threads() >= 1
    monkeypatch.setenv(_jit.THREADS_ENV, " 3 ")
    assert _jit.threads() == 3


def test_a_block_of_shared_threads_reads_the_settings_once(monkeypatch):
    """Within ``shared_threads`` (a run) the thread count and numba's switch are read at their first use and
    hold to the block's end; outside, and in the next block, every call reads the environment again. A bad
    value read first in a block raises at every call, as outside."""
    monkeypatch.setenv(_jit.THREADS_ENV, "3")
    monkeypatch.delenv(_jit.DISABLE_ENV, raising=False)
    with _jit.shared_threads():
        assert _jit.threads() == 3 and _jit.numba_available()
        monkeypatch.setenv(_jit.THREADS_ENV, "1")
        monkeypatch.setenv(_jit.DISABLE_ENV, "1")
        assert _jit.threads() == 3 and _jit.numba_available()
    assert _jit.threads() == 1 and not _jit.numba_available()
    with _jit.shared_threads():
        assert _jit.threads() == 1 and not _jit.numba_available()
    monkeypatch.setenv(_jit.THREADS_ENV, "two")
    with _jit.shared_threads():
        for _ in range(2):
            with pytest.raises(DetenteError, match="DETENTE_THREADS"):
                _jit.threads()


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5", "100000"])
def test_a_bad_thread_count_is_a_clear_problem(monkeypatch, bad):
    monkeypatch.setenv(_jit.THREADS_ENV, bad)
    with pytest.raises(DetenteError) as e:
        _jit.threads()
    text = str(e.value)
    assert "DETENTE_THREADS" in text and repr(bad) in text and "1 to 1024" in text


def test_the_cli_says_which_variable_is_wrong(monkeypatch, capsys):
    from detente.cli import main

    monkeypatch.setenv(_jit.THREADS_ENV, "lots")
    code = main(["forecast", "korea-2019", "--model", "bdm", "--draws", "50"])
    err = capsys.readouterr().err
    assert code == 2
    assert "DETENTE_THREADS" in err and "'lots'" in err and "Traceback" not in err


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("rows,max_rows,per_thread", [(0, None, 4), (1, None, 4), (10, None, 4), (37, 5, 4),
                                                      (37, None, 1), (8, 1, 2)])
def test_split_rows_fills_every_row_once(monkeypatch, threads, rows, max_rows, per_thread):
    monkeypatch.setenv(_jit.THREADS_ENV, str(threads))
    seen = np.zeros(rows, dtype=int)
    lock = threading.Lock()
    pieces = []

    def fill(lo: int, hi: int) -> None:
        with lock:
            seen[lo:hi] += 1
            pieces.append(hi - lo)

    _jit.split_rows(rows, fill, per_thread=per_thread, max_rows=max_rows)
    assert (seen == 1).all()
    assert max_rows is None or max(pieces, default=0) <= max_rows
    if threads > 1 and rows >= threads:
        assert len(pieces) >= threads  # shared out: at least a piece per thread


@pytest.mark.parametrize("threads", [1, 2])
def test_split_rows_does_its_callers_other_work_meanwhile_and_one_thread_keeps_the_pieces_here(monkeypatch, threads):
    """``meanwhile`` runs once in the calling thread (while the other threads take pieces, then it joins them);
    inside ``one_thread`` every piece runs in the calling thread; its exception is raised after the pieces."""
    monkeypatch.setenv(_jit.THREADS_ENV, str(threads))
    me = threading.current_thread().name
    seen = np.zeros(40, dtype=int)
    lock = threading.Lock()
    where: list[str] = []

    def fill(lo: int, hi: int) -> None:
        with lock:
            seen[lo:hi] += 1

    def other() -> None:
        where.append(threading.current_thread().name)
        names = set()

        def inner(lo: int, hi: int) -> None:
            names.add(threading.current_thread().name)

        with _jit.one_thread():
            _jit.split_rows(30, inner)
        assert names == {me}

    with _jit.shared_threads():
        _jit.split_rows(40, fill, meanwhile=other)
    assert where == [me] and (seen == 1).all()

    def bad() -> None:
        raise ValueError("meanwhile failed")

    seen[:] = 0
    with _jit.shared_threads(), pytest.raises(ValueError, match="meanwhile failed"):
        _jit.split_rows(40, fill, meanwhile=bad)
    assert threads == 1 or seen.sum() <= 40  # the pieces started ended before the error was raised


def test_split_rows_stops_at_a_cancel():
    """A set cancel flag stops the batch before its next piece (a web job's cancel, a cancelled Dask task)."""
    flag = threading.Event()
    done = []

    def fill(lo: int, hi: int) -> None:
        done.append(lo)
        if len(done) == 3:
            flag.set()

    with _cancel.scope(flag), pytest.raises(_cancel.Cancelled):
        _jit.split_rows(100, fill, parallel=False, max_rows=1)
    assert len(done) == 3


def test_split_rows_uses_the_shared_pool_of_its_block_or_the_executor_given(monkeypatch):
    """Inside ``shared_threads`` every call runs its pieces on the same threads, stopped at the block's end (no
    thread is left behind); an executor given is used as it is; a cancel still stops between pieces."""
    monkeypatch.setenv(_jit.THREADS_ENV, "2")
    names: set[str] = set()
    seen = np.zeros(40, dtype=int)
    lock = threading.Lock()
    second = threading.Event()

    def fill(lo: int, hi: int) -> None:
        with lock:
            names.add(threading.current_thread().name)
            seen[lo:hi] += 1
            if len(names) > 1:
                second.set()
        second.wait(10)  # the first thread in holds its piece until another thread has taken one

    before = set(threading.enumerate())
    with _jit.shared_threads():
        for _ in range(5):
            _jit.split_rows(40, fill)
        pool_threads = {t for t in threading.enumerate() if t.name.startswith("detente-kernel")}
        pool_names, me = {t.name for t in pool_threads}, threading.current_thread().name
        # the pieces ran on the pool's threads and this one (which takes pieces too instead of waiting)
        assert 1 <= len(pool_threads) <= 2 and names & pool_names and names <= pool_names | {me}
    assert (seen == 5).all()
    assert set(threading.enumerate()) <= before  # the block's pool is stopped
    from concurrent.futures import ThreadPoolExecutor

    names.clear()
    second.clear()
    with ThreadPoolExecutor(2, thread_name_prefix="given") as ex:
        _jit.split_rows(40, fill, executor=ex)
    assert any(n.startswith("given") for n in names) and names <= {n for n in names if n.startswith("given")} | {me}
    assert (seen == 6).all()
    flag = threading.Event()

    def stop(lo: int, hi: int) -> None:
        flag.set()

    with _jit.shared_threads(), _cancel.scope(flag), pytest.raises(_cancel.Cancelled):
        _jit.split_rows(100, stop, max_rows=1, per_thread=1)


class _Pools:
    """Counts the thread pools :func:`_jit.split_rows` opens (so a test sees the threads were used)."""

    def __init__(self, monkeypatch):
        self.opened = 0
        real = _jit.ThreadPoolExecutor

        def counting(*a, **kw):
            self.opened += 1
            return real(*a, **kw)

        monkeypatch.setattr(_jit, "ThreadPoolExecutor", counting)


def _random(seed: int, B: int, n: int, D: int) -> Inputs:
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 100, (B, n, D))
    pos[: B // 3] = np.round(pos[: B // 3] / 10) * 10  # shared positions and ties
    sal = rng.uniform(0.05, 1, (B, n, D))
    cap = rng.uniform(0.1, 1, (B, n))
    return Inputs.build(pos, sal, cap, low=0, high=100, seed=np.arange(B, dtype=np.int64) + 11)


def _same(a, b) -> None:
    assert np.array_equal(a.position, b.position)  # bit for bit
    assert np.array_equal(a.forecast, b.forecast)
    assert np.array_equal(a.rounds, b.rounds)
    for k in a.extras:
        assert np.array_equal(a.extras[k], b.extras[k], equal_nan=np.asarray(a.extras[k]).dtype.kind == "f"), k


def _one_and_two(monkeypatch, run) -> None:
    """``run()`` with 1 and with 2 kernel threads: identical numbers, and threads used only with 2."""
    pools = _Pools(monkeypatch)
    monkeypatch.setenv(_jit.THREADS_ENV, "1")
    one = run()
    assert pools.opened == 0
    monkeypatch.setenv(_jit.THREADS_ENV, "2")
    two = run()
    assert pools.opened > 0
    _same(one, two)


def test_bdm_is_the_same_on_one_and_two_threads(monkeypatch):
    assert _jit.numba_available(), "the test extra installs numba: the compiled kernel must be tested"
    monkeypatch.setattr(bdm, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(bdm, "PURE_MAX_WORK", -1)
    inp = _random(1, 40, 7, 2)
    _one_and_two(monkeypatch, lambda: bdm.run(inp, bdm.Params(rounds=12)))


def test_bdm_pieces_do_not_change_results(monkeypatch):
    """Pieces of at most PIECE_WORK (a cancel is seen between two) give the same numbers as one call."""
    monkeypatch.setattr(bdm, "PURE_MAX_WORK", -1)
    monkeypatch.setenv(_jit.THREADS_ENV, "1")
    inp = _random(2, 30, 6, 2)
    whole = bdm.run(inp, bdm.Params(rounds=10))
    monkeypatch.setattr(bdm, "PIECE_WORK", 6 * 6 * 10 * 7)  # 7 rows a call
    _same(whole, bdm.run(inp, bdm.Params(rounds=10)))


def test_smp_is_the_same_on_one_and_two_threads(monkeypatch):
    assert _jit.numba_available(), "the test extra installs numba: the compiled kernels must be tested"
    monkeypatch.setattr(_smp_core, "KERNEL_MIN_WORK", 0)
    monkeypatch.setattr(_smp_core, "PARALLEL_MIN_WORK", 0)
    inp = _random(3, 6, 9, 2)
    _one_and_two(monkeypatch, lambda: smp.run(inp, smp.Params(rounds=4)))


@pytest.mark.parametrize("variant", ["decide", "random-rate", "greedy"])
def test_exchange_is_the_same_on_one_and_two_threads(monkeypatch, variant):
    assert _jit.numba_available(), "the test extra installs numba: the compiled loop must be tested"
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)
    monkeypatch.setattr(exchange, "_CALL_WORK", 1)  # one draw a call: many calls over the threads
    inp = _random(4, 9, 6, 3)
    # the compiled float loop (the default, Decide's decimals, plays in forked processes: tests/test_dask.py)
    _one_and_two(monkeypatch, lambda: exchange.run(inp, exchange.Params(variant=variant, passes=3, arithmetic="float")))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("busy", [False, True])
def test_split_rows_runs_before_once_ahead_of_every_piece(monkeypatch, threads, busy):
    """``before`` runs once, and every piece starts after it has ended: by another thread while this one does
    ``meanwhile`` (by this one when no other has started: the pool busy with another caller's work); its
    exception is raised, with no piece run."""
    monkeypatch.setenv(_jit.THREADS_ENV, str(threads))
    me = threading.current_thread().name
    done = threading.Event()
    calls: list[str] = []
    early: list[int] = []
    seen = np.zeros(40, dtype=int)
    lock = threading.Lock()

    def before() -> None:
        time.sleep(0.02)  # long enough that a piece started too early would show
        calls.append(threading.current_thread().name)
        done.set()

    def fill(lo: int, hi: int) -> None:
        with lock:
            if not done.is_set():
                early.append(lo)
            seen[lo:hi] += 1

    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        if busy:  # the only other thread is held by someone else's work until the call has ended
            pool.submit(release.wait, 10)
        try:
            _jit.split_rows(40, fill, meanwhile=lambda: None if busy else done.wait(10), before=before,
                            executor=pool)
        finally:
            release.set()
    assert len(calls) == 1 and not early and (seen == 1).all()
    if threads == 1 or busy:
        assert calls == [me]
    else:
        assert calls != [me]  # another thread laid it out

    def bad() -> None:
        raise ValueError("before failed")

    seen[:] = 0
    with _jit.shared_threads(), pytest.raises(ValueError, match="before failed"):
        _jit.split_rows(40, fill, meanwhile=lambda: None, before=bad)
    assert seen.sum() == 0


def test_warm_calls_a_fill_once_per_call_site_before_the_threads(monkeypatch):
    """``warm`` calls ``fill(0, 0)`` in the calling thread the first time a call site's fill comes (its numba
    kernel is compiled or loaded there), not at every call: each would cost a dispatch."""
    monkeypatch.setenv(_jit.THREADS_ENV, "2")
    monkeypatch.setattr(_jit, "_WARMED", set())
    seen: list[tuple[int, int, str]] = []

    def site(tag: str):
        return lambda lo, hi: seen.append((lo, hi, threading.current_thread().name if lo == hi else tag))

    me = threading.current_thread().name
    with _jit.shared_threads():
        for _ in range(3):
            _jit.split_rows(8, site("a"), warm=True)
    assert [s for s in seen if s[0] == s[1]] == [(0, 0, me)]  # one warm call, here, for the three calls
    assert sorted(s[0] for s in seen if s[0] != s[1]) == sorted(list(range(8)) * 3)
    seen.clear()
    _jit.split_rows(8, (lambda lo, hi: seen.append((lo, hi, "b"))), warm=True)  # another call site: warmed too
    assert seen.count((0, 0, "b")) == 1
