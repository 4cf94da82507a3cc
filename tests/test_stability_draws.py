"""With draws, the stability verdict describes the headline that is printed: the Monte Carlo median
(issue #12). Expected numbers come from separate Monte Carlo runs at each horizon (the slow reference:
``rounds=h`` for every h of the window, on the same draws) or from the construction of each case."""

from __future__ import annotations

import csv
import io
import json
from types import ModuleType

import numpy as np
import pytest

import detente
from detente.stability import FLAG_SHARE, NEAR

DRAWS = 200


@pytest.fixture
def swap_model(monkeypatch):
    from detente.models import registry

    monkeypatch.setitem(registry._REGISTRY, "swap-test", "_swap_model")
    return "swap-test"


def _separate(scenario, model, h, draws=DRAWS, seed=1):
    """The draws' forecasts of a Monte Carlo run stopped after round ``h`` (its own run, same seed: same draws)."""
    return detente.monte_carlo(scenario, model, draws=draws, seed=seed, params={"rounds": h}, point=False).forecasts


@pytest.fixture(scope="module")
def flagship():
    return detente.monte_carlo("korea-2019", "bdm", draws=DRAWS, seed=1)


def test_flagship_median_stability_equals_separate_runs_at_each_horizon(flagship):
    scen = flagship.scenario
    d = flagship.to_dict()
    H = scen.rounds
    for k, iss in enumerate(scen.issues):
        st = d["issues"][iss.key]["stability"]
        assert st["statistic"] == "median"
        a, b = st["horizons"]
        # the flagship's last event is at round 14 of 15: the window starts there and ends two rounds on
        assert (a, b) == (14, H + NEAR)
        runs = np.stack([_separate("korea-2019", "bdm", h)[:, k] for h in range(a, b + 1)], axis=1)
        med = np.median(runs, axis=0)
        assert st["horizon_range"] == pytest.approx([med.min(), med.max()], abs=1e-12)
        assert st["horizon_spread"] == pytest.approx(med.max() - med.min(), abs=1e-12)
        width = iss.scale[1] - iss.scale[0]
        assert st["unstable"] == bool(med.max() - med.min() > FLAG_SHARE * width)
        moving = np.mean(np.ptp(runs, axis=1) > FLAG_SHARE * width)
        assert st["draws_moving"] == pytest.approx(moving, abs=1e-12)
        # the headline is the median at the horizon itself
        assert d["issues"][iss.key]["forecast"] == pytest.approx(med[H - a], abs=1e-12)


def test_playing_past_the_horizon_changes_no_draw(flagship, monkeypatch):
    """The draws are played two rounds further and read at the horizon: every draw's forecast (and the
    by-round history) is what a run stopped at the horizon gives, bit for bit."""
    import detente.stability

    again = detente.monte_carlo("korea-2019", "bdm", draws=DRAWS, seed=1, by_round=True, point=False)
    monkeypatch.setattr(detente.stability, "only_stops", lambda model: False)  # the old path: no run past it
    plain = detente.monte_carlo("korea-2019", "bdm", draws=DRAWS, seed=1, by_round=True, point=False)
    assert plain.stability is None
    assert np.array_equal(again.forecasts, plain.forecasts)
    assert np.array_equal(again.forecasts, flagship.forecasts)
    assert again.by_round.shape == plain.by_round.shape and np.array_equal(again.by_round, plain.by_round)
    assert any("median's stability" in n and "not checked" in n for n in plain.notes)


def _swap(cap):
    """Two actors who swap sides every round (``_swap_model``): a at 2 with capability ``cap``, b at 8 with 1.
    The forecast, the capability-weighted mean, is (2c + 8)/(c + 1) after even rounds and 10 minus that
    after odd ones: every draw cycles, and it moves only when c != 1."""
    return {
        "name": "swap", "rounds": 10,
        "issues": [{"key": "x", "scale": [0, 10]}],
        "actors": [{"key": "a", "capability": cap, "positions": {"x": 2}, "salience": {"x": 1}},
                   {"key": "b", "capability": 1, "positions": {"x": 8}, "salience": {"x": 1}}],
    }


def test_branch_stable_but_median_unstable_is_flagged(swap_model):
    # the point value c = 1 gives 5 every round (the branch's forecast holds although its state cycles);
    # the draws' capabilities lie in [0.5, 3] (uniform): median c = 1.75, so the median alternates
    scen = _swap({"value": 1, "low": 0.5, "high": 3, "dist": "uniform"})
    one = detente.forecast(scen, model=swap_model).to_dict()["issues"]["x"]["stability"]
    assert one["cycle_length"] == 2 and not one["unstable"]
    mc = detente.monte_carlo(scen, swap_model, draws=401, seed=3)  # odd: the median is one draw
    st = mc.to_dict()["issues"]["x"]["stability"]
    c = np.median(mc.values[:, 0])
    even, odd = (2 * c + 8) / (c + 1), (8 * c + 2) / (c + 1)  # f is monotone in c: the median of f is f(median c)
    assert st["unstable"] and st["cycle_length"] == 2
    assert st["horizon_range"] == pytest.approx(sorted([even, odd]), abs=1e-9)
    assert mc.to_dict()["issues"]["x"]["forecast"] == pytest.approx(even, abs=1e-9)  # round 10 is even
    c_all = mc.values[:, 0]
    assert st["draws_moving"] == pytest.approx(np.mean(6 * np.abs(c_all - 1) / (c_all + 1) > FLAG_SHARE * 10), abs=1e-12)
    notes = " ".join(mc.notes)
    assert "x: unstable median" in notes and "alternating with period 2" in notes
    assert "depends on where the rounds stop" in notes


def test_branch_unstable_but_median_stable_is_not_flagged(swap_model):
    # the point value c = 1.4 cycles between 4.5 and 5.5; the draws' capabilities are uniform on
    # [0.5, 1.5], median 1 (f is monotone, so the median of f is f(median c), near f(1) = 5 after every round)
    scen = _swap({"value": 1.4, "low": 0.5, "high": 1.5, "dist": "uniform"})
    one = detente.forecast(scen, model=swap_model).to_dict()["issues"]["x"]["stability"]
    assert one["unstable"] and one["range"] == pytest.approx([4.5, 5.5])
    mc = detente.monte_carlo(scen, swap_model, draws=2001, seed=5)  # many: the drawn median lies near 1
    c = np.median(mc.values[:, 0])
    st = mc.to_dict()["issues"]["x"]["stability"]
    even, odd = (2 * c + 8) / (c + 1), (8 * c + 2) / (c + 1)
    assert abs(even - odd) <= FLAG_SHARE * 10  # the drawn median lies near 1: the construction holds
    assert not st["unstable"]
    assert st["cycle_length"] == 2  # it still alternates, by less than the flag
    assert st["horizon_spread"] == pytest.approx(abs(even - odd), abs=1e-9)
    # but most draws cycle: the note says so, and the cell shows the share
    moving = np.mean(6 * np.abs(mc.values[:, 0] - 1) / (mc.values[:, 0] + 1) > FLAG_SHARE * 10)
    assert st["draws_moving"] == pytest.approx(moving, abs=1e-12) and moving > 0.5
    assert any(n.startswith("x: the median holds over rounds 8 to 12") and f"{moving:.0%}" in n for n in mc.notes)
    assert not any("unstable" in n for n in mc.notes)


def test_a_model_whose_rounds_do_more_than_stop_is_caught_and_not_read_off_one_run(monkeypatch):
    """A model that moves by 1/(rounds left) declares ROUNDS_ONLY_STOP wrongly: the conformance check fails;
    without the declaration Monte Carlo says the median's stability was not checked, and does not guess."""
    from detente.models import registry
    from detente.models.base import ModelParams, Trajectory
    from detente.models.conformance import ConformanceError, check_rounds_only_stop, random_inputs

    m = ModuleType("hurry")
    m.NAME, m.SUMMARY, m.CITATION, m.DYNAMIC, m.ROUND_RECORDS = "hurry", "test", "test", True, {}

    class Params(ModelParams):
        rounds: int = 10

    def run(inputs, params=Params()):
        R = params.rounds
        B, n, D = inputs.shape
        pos = np.empty((B, R + 1, n, D))
        pos[:, 0] = inputs.position
        centre = (inputs.low + inputs.high) / 2
        for t in range(1, R + 1):
            pos[:, t] = pos[:, t - 1] + (centre - pos[:, t - 1]) / (R - t + 1)  # everybody at the centre at the end
        fc = pos.mean(axis=2)
        return Trajectory(pos, fc, np.full(B, R), {"active": Trajectory.active_rounds(inputs, R)})

    m.Params, m.run = Params, run
    inputs = random_inputs(np.random.default_rng(0), 2, 3, 2, generic=True)
    m.ROUNDS_ONLY_STOP = True
    with pytest.raises(ConformanceError, match="rounds_only_stop: position"):
        check_rounds_only_stop(m, inputs, Params(rounds=4))
    del m.ROUNDS_ONLY_STOP
    check_rounds_only_stop(m, inputs, Params(rounds=4))  # not declared: nothing to check
    import sys

    monkeypatch.setitem(sys.modules, "_hurry_model", m)
    monkeypatch.setitem(registry._REGISTRY, "hurry", "_hurry_model")
    mc = detente.monte_carlo(_swap({"value": 1, "low": 0.5, "high": 2}), "hurry", draws=20, seed=1)
    assert mc.stability is None
    assert any("median's stability over nearby horizons was not checked: hurry's rounds do more than stop" in n
               for n in mc.notes)


def _cli(*args: str) -> str:
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "detente", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_every_output_shows_the_median_stability(flagship, tmp_path):
    from detente.report.build import compute
    from detente.report.html import render

    st = {k: v["stability"] for k, v in flagship.to_dict()["issues"].items()}
    args = ["forecast", "korea-2019", "--model", "bdm", "--draws", str(DRAWS), "--seed", "1"]
    got = json.loads(_cli(*args, "--format", "json"))
    assert {k: v["stability"] for k, v in got["issues"].items()} == json.loads(json.dumps(st))
    table = _cli(*args)
    assert "stability" in table and "(median)" in table and "most likely branch)" not in table
    assert "unstable:" in table and "unstable median" in table  # the cell and the note
    rows = [r for r in csv.DictReader(io.StringIO(_cli(*args, "--format", "csv"))) if r["table"] == "summary"]
    assert {r["issue"] for r in rows} == set(st)
    for r in rows:
        assert r["unstable"] == str(st[r["issue"]]["unstable"])
        assert float(r["horizon_spread"]) == pytest.approx(st[r["issue"]]["horizon_spread"], abs=1e-12)
        assert float(r["draws_moving"]) == pytest.approx(st[r["issue"]]["draws_moving"], abs=1e-12)
    data = compute("korea-2019", "bdm", seed=1, draws=DRAWS, sensitivity=False)
    html = render(data)
    assert "<th>stability (median)</th>" in html and "medians after rounds" in html
    assert all(r["stability"] == st[r["issue"]] for r in data["summary"])
    assert any("unstable median" in n for n in data["notes"])


@pytest.mark.parametrize("scenario,model,params", [
    ("emission-ec-1994", "smp", {}),  # stops by itself at round 14 of 100: no second run
    ("korea-2019", "smp", {"state_transitions": "Stochastic"}),
    ("korea-2019", "bdm", {"stop": "convergence"}),
    ("korea-2019-wait", "bdm", {}),
    ("korea-2019", "exchange", {}),
])
def test_reusing_a_run_that_stopped_changes_nothing(scenario, model, params, monkeypatch):
    """A forecast whose run stopped before its horizon is its own longer run (ROUNDS_ONLY_STOP): the JSON
    equals the one made by playing the run again to 2 x horizon + 2 rounds (the reference)."""
    import detente.api
    import detente.stability

    new = detente.forecast(scenario, model=model, seed=5, **params)
    monkeypatch.setattr(detente.stability, "only_stops", lambda m: False)
    monkeypatch.setattr(detente.api, "only_stops", lambda m: False)
    old = detente.forecast(scenario, model=model, seed=5, **params)
    a, b = new.to_dict(), old.to_dict()
    assert a["issues"] == b["issues"] and a["meta"]["notes"] == b["meta"]["notes"]
    if (scenario, model) == ("emission-ec-1994", "smp"):
        assert new.trajectory.position.shape[1] - 1 < 100  # the path without a second run was taken
