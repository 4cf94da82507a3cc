"""Chunks of draws side by side in this process (analysis/_run.py ``run_draws``): one chunk per kernel thread, each
chunk's model on one kernel thread (``_jit.kernel_threads``), the same numbers as one chunk after another, progress
and cancel in the calling thread, and no thread left behind."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from detente import _cancel, models
from detente.analysis import _run, monte_carlo, sensitivity
from detente.errors import DetenteError
from detente.models import _jit


def test_kernel_threads_holds_in_its_own_thread_and_body_only(monkeypatch):
    monkeypatch.setenv(_jit.THREADS_ENV, "3")
    seen = {}

    def other():
        seen["other"] = _jit.threads()

    with _jit.kernel_threads(1):
        assert _jit.threads() == 1
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["other"] == 3 and _jit.threads() == 3


@pytest.fixture
def spy(monkeypatch):
    """The compromise model, recording the thread and the kernel threads of every call."""
    m = models.get("compromise")
    run, calls = m.run, []

    def recorded(inputs, params):
        calls.append((threading.current_thread().name, _jit.threads(), inputs.shape[0]))
        return run(inputs, params)

    monkeypatch.setattr(m, "run", recorded)
    monkeypatch.setenv(_jit.THREADS_ENV, "2")
    return calls


def _one_lane(monkeypatch):
    monkeypatch.setattr(_run, "lanes", lambda *a: 1)


def test_chunks_run_side_by_side_with_one_kernel_thread_each_and_the_same_numbers(spy, monkeypatch):
    a = monte_carlo("korea-2019", "compromise", draws=5000, seed=2, progress=False, by_round=True)
    side = [c for c in spy if c[0].startswith("detente-chunk")]
    # the default chunk of 2,000 draws shared out between the two threads: 1,000 a call
    assert sorted(b for _, _, b in side) == [1000] * 5 and len({name for name, _, _ in side}) == 2
    assert {k for _, k, _ in side} == {1}
    spy.clear()
    _one_lane(monkeypatch)
    b = monte_carlo("korea-2019", "compromise", draws=5000, seed=2, progress=False, by_round=True)
    assert sorted(b for _, _, b in spy if b > 1) == [1000, 2000, 2000]  # one after another, here
    assert {name for name, _, _ in spy} == {threading.current_thread().name} and {k for _, k, _ in spy} == {2}
    assert np.array_equal(a.forecasts, b.forecasts) and np.array_equal(a.by_round, b.by_round)


def test_the_default_chunk_is_shared_out_and_a_callers_chunk_kept(spy):
    monte_carlo("korea-2019", "compromise", draws=300, seed=2, progress=False)
    assert sorted(b for name, _, b in spy if name.startswith("detente-chunk")) == [150, 150]  # not one chunk of 300
    spy.clear()
    monte_carlo("korea-2019", "compromise", draws=300, seed=2, chunk=100, progress=False)
    assert {(name, k) for name, k, b in spy} == {(threading.current_thread().name, 2)}  # as asked: one after another
    assert sorted(b for _, _, b in spy if b > 1) == [100, 100, 100]
    spy.clear()
    monte_carlo("korea-2019", "compromise", draws=1, seed=2, progress=False)
    assert spy and {(name, k) for name, k, _ in spy} == {(threading.current_thread().name, 2)}  # one draw: here


def test_progress_is_in_order_and_in_the_calling_thread(spy):
    seen = []
    me = threading.current_thread()
    monte_carlo("korea-2019", "compromise", draws=4500, seed=1, progress=False,
                on_chunk=lambda d, t: seen.append((d, t, threading.current_thread() is me)))
    assert seen == [(1000 * i, 4500, True) for i in (1, 2, 3, 4)] + [(4500, 4500, True)]


def _chunk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("detente-chunk")]


def test_a_failing_progress_callback_stops_the_run_and_leaves_no_thread(spy):
    def stop(done, total):
        if done >= 40:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        monte_carlo("korea-2019", "compromise", draws=40000, seed=1, progress=False, on_chunk=stop)
    assert sum(b for name, _, b in spy if name.startswith("detente-chunk")) < 40000  # the chunks not started were dropped
    assert not _chunk_threads()


def test_a_cancel_reaches_the_chunks_threads(spy):
    ev = threading.Event()

    seen = []

    def on_chunk(done, total):
        seen.append(done)
        ev.set()  # a cancel arrives while the analysis runs

    with _cancel.scope(ev), pytest.raises(_cancel.Cancelled):
        monte_carlo("korea-2019", "compromise", draws=40000, seed=1, progress=False, on_chunk=on_chunk)
    assert seen == [1000]  # nothing more taken once the flag is set
    assert sum(b for name, _, b in spy if name.startswith("detente-chunk")) < 40000
    assert not _chunk_threads()


def test_a_models_refusal_in_a_chunk_thread_names_the_scenario():
    s = {"name": "nosq", "issues": [{"key": "x"}], "actors": [
        {"key": "a", "capability": {"value": 10, "low": 5, "high": 15}, "positions": {"x": 20}, "salience": {"x": 50}},
        {"key": "b", "capability": 10, "positions": {"x": 80}, "salience": {"x": 50}}]}
    with pytest.raises(DetenteError, match="status quo"):
        sensitivity(s, "nash", "sobol", samples=64)
    assert not _chunk_threads()
