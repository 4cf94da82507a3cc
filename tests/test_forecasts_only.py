"""A model's forecasts-only run (the protocol's optional ``run_forecasts``): ``smp`` records nothing but the
forecasts and gives ``run``'s forecasts, rounds, info and final positions bit for bit, on the numpy path and
in the compiled few-actor passes, in one chunk or several, on one thread or more; the runner uses it where
only forecasts are read (``simulate_forecasts``) and still gives ``simulate``'s forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from detente.analysis._draws import monte_carlo_draws
from detente.engine import load, model_params
from detente.models import _smp_core as core
from detente.models import conformance, smp
from detente.models.base import Inputs
from detente.simulate import simulate, simulate_forecasts


def _inputs(rng: np.random.Generator, B: int, n: int, D: int) -> Inputs:
    pos = rng.uniform(0, 100, (B, n, D))
    pos[: B // 3] = np.round(pos[: B // 3] / 25) * 25  # clumped: clusters of several actors, ties
    sal = rng.uniform(0.05, 1, (B, n, D))
    sal = sal / sal.sum(-1, keepdims=True) * rng.uniform(0.3, 0.9, (B, n, 1))
    act = rng.random((B, n)) < 0.85
    act[:, 0] = True
    return Inputs.build(pos, sal, rng.uniform(1, 100, (B, n)), active=act, low=[0] * D, high=[100] * D)


def _same(full, fast, ends=None) -> None:
    B, _, n, D = full.position.shape
    if ends is not None:  # every_round=False: the first and last states' forecasts, the same final positions
        assert np.array_equal(ends.forecast, full.forecast[:, [0, -1]])
        assert np.array_equal(ends.position, fast.position) and np.array_equal(ends.rounds, full.rounds)
    assert fast.position.shape == (B, 1, n, D) and fast.extras == {}
    assert np.array_equal(fast.position[:, 0], full.position[:, -1])
    assert np.array_equal(fast.forecast, full.forecast)
    assert np.array_equal(fast.rounds, full.rounds)
    assert fast.info.keys() == full.info.keys()
    for k in full.info:
        assert np.array_equal(fast.info[k], full.info[k]), k


@pytest.mark.parametrize("fused", [False, True])
def test_smp_run_forecasts_is_runs_bit_for_bit(monkeypatch, fused):
    monkeypatch.setattr(smp, "USE_FUSED", fused)
    rng = np.random.default_rng(5)
    for n, D, rounds, params in ((8, 3, 15, {}), (4, 1, 6, {"voting_rule": "Binary"}), (11, 2, 30, {}),
                                 (6, 2, 9, {"preset": "consistent"})):
        inputs = _inputs(rng, 40, n, D)
        p = smp.Params(rounds=rounds, **params)
        full = smp.run(inputs, p)
        assert len(set(full.rounds.tolist())) > 1  # draws stop at different turns
        _same(full, smp.run_forecasts(inputs, p), smp.run_forecasts(inputs, p, every_round=False))
        conformance.check_forecasts_only(smp, inputs, p)


@pytest.mark.parametrize("whole", [False, True])
def test_smp_run_forecasts_in_chunks_and_threads_is_runs(monkeypatch, whole):
    # several chunks, each run whole by one of the kernel threads (its own turns start to end), or its passes'
    # rows shared out: the same numbers with 1, 2 or 3 threads, in chunks of 13 draws or of a third of the batch
    monkeypatch.setattr(smp, "WHOLE_CHUNKS", whole)
    inputs = _inputs(np.random.default_rng(11), 70, 9, 2)
    params = smp.Params(rounds=40)
    monkeypatch.setenv("DETENTE_THREADS", "1")
    ref = smp.run(inputs, params)
    monkeypatch.setattr(core, "PARALLEL_MIN_WORK", 0)
    for chunk in (13 * 81, smp.CHUNK):
        monkeypatch.setattr(smp, "CHUNK", chunk)
        for threads in ("1", "2", "3"):
            monkeypatch.setenv("DETENTE_THREADS", threads)
            _same(ref, smp.run_forecasts(inputs, params), smp.run_forecasts(inputs, params, every_round=False))
            got = smp.run(inputs, params)
            for k in ("position", "forecast", "rounds"):
                assert np.array_equal(getattr(got, k), getattr(ref, k))
            for k in ref.extras:
                assert np.array_equal(got.extras[k], ref.extras[k]), k


def test_the_runner_uses_run_forecasts_and_gives_simulates_forecasts(monkeypatch):
    # the flagship's draws (both events on and off), and draws past a deadline or stopped before an event that
    # changes nothing (held where they were): simulate_forecasts calls the hook, never run, and equals simulate
    scen = load("korea-2019")
    d = monte_carlo_draws(scen, 48, seed=2)
    p = model_params("smp", {})
    tr = simulate(scen, "smp", p, inputs=d.inputs, happened=d.happened)
    calls = []
    real = smp.run
    monkeypatch.setattr(smp, "run", lambda *a, **k: calls.append("run") or real(*a, **k))
    monkeypatch.setattr(smp, "run_forecasts", lambda *a, _f=smp.run_forecasts, **k: calls.append("fast") or _f(*a, **k))
    final, forecast = simulate_forecasts(scen, "smp", p, inputs=d.inputs, happened=d.happened)
    assert calls and set(calls) == {"fast"}
    assert (tr.rounds < tr.forecast.shape[1] - 1).any()  # some draws stopped early
    assert np.array_equal(forecast, tr.forecast) and np.array_equal(final, tr.final)
    # the final forecasts only (Sobol): the model is asked for each segment's first and last state
    final2, none = simulate_forecasts(scen, "smp", p, inputs=d.inputs, happened=d.happened, every_round=False)
    assert none is None and np.array_equal(final2, tr.final)


def test_final_forecasts_only_on_a_timeline_with_a_deadline():
    # draws past a deadline and draws held still (stopped before an event that changed nothing): their final
    # forecasts, asked for alone, are simulate's
    from test_simulate_forecasts import _timeline

    scen = _timeline()
    d = monte_carlo_draws(scen, 64, seed=4)
    p = model_params("smp", {})
    tr = simulate(scen, "smp", p, inputs=d.inputs, happened=d.happened)
    final, _ = simulate_forecasts(scen, "smp", p, inputs=d.inputs, happened=d.happened, every_round=False)
    assert np.array_equal(final, tr.final)



@pytest.mark.parametrize("params", [{}, {"ties": "decide"}, {"arithmetic": "decimal"}, {"arithmetic": "float"},
                                    {"variant": "random-rate"}, {"variant": "greedy"}])
def test_exchange_run_forecasts_is_runs_bit_for_bit(params):
    # a static model's hook: exchange's (Decide's decimals without the record of trades, its draws split over
    # processes as run splits them; the float loops' history dropped) gives run's forecasts, rounds, info and final
    # positions; the conformance suite's check of the hook passes
    from pathlib import Path

    from detente.models import exchange

    scen = load(str(Path(__file__).parent / "data" / "decide" / "cop21.csv"))
    inputs = monte_carlo_draws(scen, 6, seed=4).inputs
    p = exchange.Params(passes=4, **params)
    full = exchange.run(inputs, p)
    _same(full, exchange.run_forecasts(inputs, p), exchange.run_forecasts(inputs, p, every_round=False))
    conformance.check_forecasts_only(exchange, inputs, p)


def test_the_runner_uses_a_static_models_run_forecasts(monkeypatch):
    # exchange plays no rounds of the timeline: simulate_forecasts calls its hook once, never run, and gives
    # simulate's forecasts (the flagship's draws, events on and off)
    from detente.models import exchange

    scen = load("korea-2019")
    d = monte_carlo_draws(scen, 24, seed=3)
    p = model_params("exchange", {})
    tr = simulate(scen, "exchange", p, inputs=d.inputs, happened=d.happened)
    calls = []
    real, fast = exchange.run, exchange.run_forecasts
    monkeypatch.setattr(exchange, "run", lambda *a, **k: calls.append("run") or real(*a, **k))
    monkeypatch.setattr(exchange, "run_forecasts", lambda *a, **k: calls.append("fast") or fast(*a, **k))
    final, forecast = simulate_forecasts(scen, "exchange", p, inputs=d.inputs, happened=d.happened)
    assert calls == ["fast"]
    assert np.array_equal(forecast, tr.forecast) and np.array_equal(final, tr.final)
    final2, none = simulate_forecasts(scen, "exchange", p, inputs=d.inputs, happened=d.happened, every_round=False)
    assert none is None and np.array_equal(final2, tr.final)
