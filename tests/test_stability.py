"""Stability diagnostics (issue #12, point 2): cycles, drift and the spread over nearby horizons are
found and flagged; a forecast that settles is not. Expected numbers come from the construction of
each case or from separate runs at each horizon (the slow reference)."""

from __future__ import annotations

import numpy as np
import pytest

import detente
from detente import models
from detente.stability import FLAG_SHARE, NEAR, diagnose

SWAP = {
    "name": "two actors who swap sides every round",
    "rounds": 10,
    "issues": [{"key": "x", "scale": [0, 10]}],
    "actors": [
        {"key": "a", "capability": 3, "positions": {"x": 2}, "salience": {"x": 1}},
        {"key": "b", "capability": 1, "positions": {"x": 8}, "salience": {"x": 1}},
    ],
}


@pytest.fixture
def swap_model(monkeypatch):
    from detente.models import registry

    monkeypatch.setitem(registry._REGISTRY, "swap-test", "_swap_model")
    return "swap-test"


def test_a_constructed_two_cycle_is_flagged(swap_model):
    r = detente.forecast(SWAP, model=swap_model)
    st = r.to_dict()["issues"]["x"]["stability"]
    # a at 2 (weight 3) and b at 8: mean (3*2 + 8)/4 = 3.5; reflected, (3*8 + 2)/4 = 6.5; and back
    assert st["cycle_length"] == 2
    assert st["range"] == pytest.approx([3.5, 6.5])
    assert st["horizon_spread"] == pytest.approx(3.0)
    assert st["unstable"] is True
    assert r.forecast["x"] == pytest.approx(3.5)  # round 10 is even
    notes = " ".join(r.to_dict()["meta"]["notes"])
    assert "cycles with period 2" in notes and "depends on where the rounds stop" in notes


def test_a_settled_forecast_is_not_flagged():
    r = detente.forecast("korea-2019", model="smp")
    for key, iss in r.to_dict()["issues"].items():
        st = iss["stability"]
        assert st["unstable"] is False, key
        assert st["cycle_length"] == 0 and st["settled_at"] is not None and st["horizon_spread"] == 0.0
    assert not any("unstable" in n for n in r.all_notes)


def test_spread_over_horizons_equals_separate_runs_at_each_horizon():
    """The EC emission case (Bueno de Mesquita 1994) under bdm oscillates without settling: the spread
    over rounds 8..12 is the spread of five separate forecasts with rounds=8..12."""
    r = detente.forecast("emission-ec-1994", model="bdm")
    (key, iss), = r.to_dict()["issues"].items()
    st = iss["stability"]
    H = 10
    ref = [detente.forecast("emission-ec-1994", model="bdm", rounds=h, stability=False).forecast[key]
           for h in range(H - NEAR, H + NEAR + 1)]
    assert st["horizons"] == [H - NEAR, H + NEAR]
    assert st["horizon_spread"] == pytest.approx(max(ref) - min(ref), abs=1e-12)
    assert st["horizon_range"] == pytest.approx([min(ref), max(ref)], abs=1e-12)
    assert st["horizon_spread"] > FLAG_SHARE * 6 and st["unstable"]
    assert st["cycle_length"] == 0 and st["settled_at"] is None


def test_diagnose_cycle_fixed_point_and_drift():
    # a 3-cycle entered at round 2: states A B C A B C ...
    A, B, C = [1.0, 9.0], [5.0, 5.0], [9.0, 1.0]
    states = np.array([[0.0, 0.0], [2.0, 2.0]] + [A, B, C] * 5)
    f = np.array([0.0, 2.0] + [4.0, 5.0, 6.0] * 5)
    st = diagnose(f, states, horizon=10, width=10.0)
    assert st["cycle_length"] == 3 and st["range"] == [4.0, 6.0] and st["unstable"]
    # settles at round 3: never flagged, whatever the horizon after it
    states = np.array([[0.0], [1.0], [2.0]] + [[3.0]] * 20)
    f = states[:, 0].copy()
    st = diagnose(f, states, horizon=10, width=10.0)
    assert st == {**st, "cycle_length": 0, "settled_at": 3, "horizon_spread": 0.0, "unstable": False}
    # drifts by 0.5 a round: no repeat, spread over rounds 8..12 is 4 x 0.5
    states = (0.5 * np.arange(23))[:, None]
    st = diagnose(states[:, 0], states, horizon=10, width=100.0)
    assert st["cycle_length"] == 0 and st["settled_at"] is None
    assert st["horizon_spread"] == pytest.approx(2.0) and st["unstable"]


def test_static_models_have_no_stability_and_say_rounds_do_not_matter():
    r = detente.forecast(SWAP, model="compromise")
    assert "stability" not in r.to_dict()["issues"]["x"]
    assert any("does not play rounds" in n and "10 rounds" in n for n in r.all_notes)
    assert models.get("exchange").ROUNDS_PARAM == "passes"
    ex = detente.forecast("korea-2019", model="exchange").to_dict()["issues"]
    assert all("stability" in v for v in ex.values())


def test_a_stability_check_over_the_budget_is_skipped_with_a_note_not_refused():
    from detente.budget import Budget, plan_scenario
    from detente.engine import model_params

    s = detente.load("emission-ec-1994")
    p = model_params("bdm", {})
    one = plan_scenario("f", s, "bdm", p, set(), 1).seconds           # the forecast itself (10 rounds)
    check = plan_scenario("c", s, "bdm", p.model_copy(update={"rounds": 22}), {"rounds"}, 1).seconds
    assert check > one
    r = detente.forecast(s, model="bdm", budget=Budget(seconds=(one + check) / 2))
    assert "stability" not in r.to_dict()["issues"]["emission-ec-1994"]
    assert any(n.startswith("the stability check") and "skipped" in n for n in r.all_notes)


@pytest.mark.parametrize("model", ["bdm", "smp", "exchange"])
def test_the_flagship_window_equals_separate_runs_and_holds_the_headline(model):
    """With the flagship's events (rounds 3 and 14 of 15), each horizon of the window is one separate
    run with that many rounds (``passes`` for exchange), and the headline is one of them."""
    from detente.stability import rounds_param

    r = detente.forecast("korea-2019", model=model)
    name = rounds_param(models.get(model))
    for key, iss in r.to_dict()["issues"].items():
        st = iss["stability"]
        a, b = st["horizons"]
        ref = [detente.forecast("korea-2019", model=model, stability=False, **{name: h}).forecast[key]
               for h in range(a, b + 1)]
        assert st["horizon_range"] == pytest.approx([min(ref), max(ref)], abs=1e-9), key
        assert min(ref) - 1e-9 <= r.forecast[key] <= max(ref) + 1e-9


def _first_repeat_reference(S: np.ndarray, tol: float, start: int = 0) -> tuple[int, int] | None:
    """Slow and plain: the first round t whose state equals an earlier one (every position within tol, NaN
    where NaN), and the most recent such earlier round."""
    for t in range(start + 1, len(S)):
        for a in range(t - 1, start - 1, -1):
            if all((abs(S[a, i] - S[t, i]) <= tol) or (np.isnan(S[a, i]) and np.isnan(S[t, i]))
                   for i in range(S.shape[1])):
                return t, a
    return None


def test_repeat_search_agrees_with_a_plain_search():
    """diagnose() looks only at rounds whose sum of positions is near (a shortcut): on drifting runs,
    planted cycles, states within the tolerance and NaN actors it finds what comparing everything finds."""
    rng = np.random.default_rng(11)
    width = 100.0
    tol = 1e-9 * width
    for case in range(120):
        L, n = int(rng.integers(3, 40)), int(rng.integers(1, 6))
        S = rng.uniform(0, 100, (L + 1, n))
        if case % 3:  # plant a repeat: a later round copies an earlier one, nudged within (or just past) tol
            a, t = sorted(rng.choice(L + 1, 2, replace=False))
            S[t] = S[a] + rng.choice([0.0, 0.5 * tol, 2 * tol]) * rng.choice([-1, 1], n)
        if case % 4 == 0:
            S[:, 0] = np.nan
        if case % 5 == 0:  # sums equal, positions not: the shortcut must not stop at the sum
            S[-1] = S[0][::-1] if n > 1 else S[-1]
        start = int(rng.integers(0, 2))
        f = np.nan_to_num(S).mean(axis=1)
        st = diagnose(f, S, horizon=L, width=width, start=start)
        ref = _first_repeat_reference(S, tol, start)
        if ref is None:
            assert st["cycle_length"] == 0 and st["settled_at"] is None, case
        else:
            t, a = ref
            if t - a == 1:
                assert st["settled_at"] == a and st["cycle_length"] == 0, case
            else:
                assert st["cycle_length"] == t - a and st["settled_at"] is None, case
