"""One run gives the forecast and its stability check (issue #17): ``TRUNCATE_INFO`` and ``simulate_prefix``.

A model that declares ``TRUNCATE_INFO`` lets the run given k rounds be read off a run given more
(:func:`detente.models.base.truncate`); the conformance suite checks that against the run given k
rounds, bit for bit, and must fail a model whose declaration is wrong. The runner's
:func:`detente.simulate.simulate_prefix` cuts a whole scenario run (segments between events) that
way, and :func:`detente.forecast` uses it so that the stability check's run to ``2 x rounds + 2``
gives the forecast too: every forecast must be what two separate runs give.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import detente
from detente import models
from detente.engine import model_params
from detente.models import bdm, conformance
from detente.models.base import truncate
from detente.models.conformance import ConformanceError, random_inputs
from detente.simulate import simulate, simulate_prefix

FLAGSHIP = "korea-2019"


def _same(a, b) -> None:
    """Two trajectories equal bit for bit, every array."""
    assert a.position.shape == b.position.shape
    for name in ("position", "forecast", "rounds"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert set(a.extras) == set(b.extras) and set(a.info) == set(b.info)
    for group_a, group_b in ((a.extras, b.extras), (a.info, b.info)):
        for k in group_a:
            x, y = np.asarray(group_a[k]), np.asarray(group_b[k])
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


@pytest.mark.parametrize("name", [m for m in models.names() if getattr(models.get(m), "TRUNCATE_INFO", None)])
def test_declared_truncation_is_the_shorter_run(name):
    """For every model that declares it, on many generated scenarios (degenerate ones too)."""
    m = models.get(name)
    rng = np.random.default_rng(7)
    for params in conformance.params_to_check(m):
        for k in range(12):
            inputs = random_inputs(rng, int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(1, 4)),
                                   generic=k % 2 == 0, inactive=k % 3 == 0)
            conformance.check_truncate(m, inputs, params)


def _bdm_like(**info: object) -> ModuleType:
    mod = ModuleType("detente_test_truncate")
    for k in ("NAME", "SUMMARY", "CITATION", "DYNAMIC", "Params", "run", "ROUND_RECORDS", "ROUNDS_ONLY_STOP"):
        setattr(mod, k, getattr(bdm, k))
    mod.TRUNCATE_INFO = info  # type: ignore[attr-defined]
    return mod


def test_a_wrong_declaration_fails_the_suite():
    """Leaving out an info array that a row stopped by the rounds reports differently (a cycle found after
    round k, convergence) must fail: the check compares against the run given k rounds, not against itself."""
    full = dict(bdm.TRUNCATE_INFO)
    rng = np.random.default_rng(3)
    # inputs on which some row stops (a cycle or a fixed point) after round 1 and by round 4
    params = bdm.Params(rounds=1)
    for _ in range(200):
        inputs = random_inputs(rng, 3, 4, 2, generic=False)
        long = bdm.run(inputs, params.model_copy(update={"rounds": 4}))
        stops = (long.info["issue_rounds"] > 1) & (long.info["cycle_length"] + long.info["converged"] > 0)
        if stops.any():
            break
    else:
        pytest.fail("no generated scenario stops between rounds 2 and 4")
    conformance.check_truncate(_bdm_like(**full), inputs, params)  # the model's own declaration holds
    for left_out in ("converged", "issue_rounds", "cycle_min"):
        if left_out == "cycle_min" and not (long.info["cycle_length"][stops] > 0).any():
            continue
        wrong = {k: v for k, v in full.items() if k != left_out}
        with pytest.raises(ConformanceError, match=f"truncate: info\\['{left_out}'\\]"):
            conformance.check_truncate(_bdm_like(**wrong), inputs, params)
    with pytest.raises(ConformanceError, match="ROUNDS_ONLY_STOP"):
        mod = _bdm_like(**full)
        mod.ROUNDS_ONLY_STOP = False  # type: ignore[attr-defined]
        conformance.check_truncate(mod, inputs, params)
    with pytest.raises(ValueError):
        truncate(models.get("compromise"), long, 1)


@pytest.mark.parametrize("model", ["bdm", "smp"])
def test_simulate_prefix_is_two_runs(model):
    """The flagship (events at rounds 3 and 14) cut inside every segment and at its ends, one draw and a
    batch with random events and inputs: the run and its prefix are what two simulate calls give."""
    scen = detente.load(FLAGSHIP)
    p = model_params(model, {})
    rng = np.random.default_rng(11)
    base = scen.to_inputs(seed=3, batch=6)
    base.position[:] = np.clip(base.position + rng.normal(0, 8, base.position.shape), 0, 100)
    hap = rng.random((6, len(scen.events))) < 0.5
    for L, cuts in ((32, (1, 2, 3, 5, 13, 14, 15)), (15, (2, 14)), (13, (13,))):
        long_p = p.model_copy(update={"rounds": L})
        for H in cuts:
            for inputs, happened in ((None, None), (base, hap)):
                run, prefix = simulate_prefix(scen, model, long_p, H, inputs=inputs, happened=happened, explicit={"rounds"})
                _same(run, simulate(scen, model, long_p, inputs=inputs, happened=happened, explicit={"rounds"}))
                _same(prefix, simulate(scen, model, p.model_copy(update={"rounds": H}), inputs=inputs,
                                       happened=happened, explicit={"rounds"}))
    with pytest.raises(ValueError):
        simulate_prefix(scen, "compromise", model_params("compromise", {}), 1)
    with pytest.raises(ValueError):
        simulate_prefix(scen, model, p.model_copy(update={"rounds": 5}), 6, explicit={"rounds"})


@pytest.mark.parametrize("scenario", ["korea-2019", "korea-2019-wait", "korea-2019-window"])
@pytest.mark.parametrize("params", [{}, {"rounds": 7}, {"rounds": 1}, {"stop": "convergence"}, {"variant": "paper"}])
def test_forecast_reads_off_the_stability_run(monkeypatch, scenario, params):
    """A forecast (its history, every issue's stability, notes) is the same whether its run is read off the
    stability check's or played on its own; and it plays one run, not two."""
    calls: list[int] = []
    real = bdm.run

    def counting(inputs, p):
        calls.append(int(p.rounds))
        return real(inputs, p)

    monkeypatch.setattr(bdm, "run", counting)
    one = detente.forecast(scenario, "bdm", **params)
    one_run = list(calls)
    monkeypatch.delattr(bdm, "TRUNCATE_INFO")
    calls.clear()
    two = detente.forecast(scenario, "bdm", **params)
    assert one.to_json() == two.to_json()
    assert sum(one_run) <= sum(calls)
    if scenario == FLAGSHIP and not params:  # 15 rounds that do not settle: the check plays 32
        assert (sum(one_run), sum(calls)) == (32, 15 + 32)
    assert all("stability" in entry for entry in one.to_dict()["issues"].values())


def test_forecast_within_a_small_rounds_budget(monkeypatch):
    """A budget whose rounds leave no room to play further (or little): the same forecast either way."""
    from detente.budget import Budget

    for rounds in (15, 20):
        b = Budget(rounds=rounds)
        one = detente.forecast(FLAGSHIP, "bdm", budget=b).to_json()
        with monkeypatch.context() as mp:
            mp.delattr(bdm, "TRUNCATE_INFO")
            assert detente.forecast(FLAGSHIP, "bdm", budget=b).to_json() == one
