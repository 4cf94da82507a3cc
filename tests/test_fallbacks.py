"""No quiet fallbacks (issue #12, point 5): a model that falls back says why; an event after the last
round is a warning and never 'happens'; invalid flag values are exit-2 problems."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import detente


def _scenario(b_at: float) -> dict:
    return {
        "name": "nash at the status quo",
        "issues": [{"key": "x", "name": "Tariff", "scale": [0, 10], "status_quo": 5}],
        "actors": [
            {"key": "a", "name": "Alpha Corp", "capability": 1, "positions": {"x": 8}, "salience": {"x": 1}},
            {"key": "b", "name": "Beta Union", "capability": 1, "positions": {"x": b_at}, "salience": {"x": 1}},
        ],
    }


def test_nash_says_why_it_returns_the_status_quo():
    r = detente.forecast(_scenario(5), model="nash")  # Beta Union sits at the status quo
    assert r.forecast["x"] == 5.0
    assert any("Beta Union sits at the status quo" in n and "Tariff" in n for n in r.all_notes)
    r = detente.forecast(_scenario(2), model="nash")  # on both sides of 5: nothing beats no agreement
    assert r.forecast["x"] == 5.0
    assert any("both sides of the status quo" in n for n in r.all_notes)
    # both above the status quo: a real bargain (between 5 and 8), and no fallback note
    r = detente.forecast(_scenario(7), model="nash")
    assert 5.0 < r.forecast["x"] < 8.0
    assert not any("nash:" in n for n in r.all_notes)


LATE = {
    "name": "an event after the horizon", "rounds": 12,
    "issues": [{"key": "x", "scale": [0, 10]}],
    "actors": [{"key": "a", "capability": 1, "positions": {"x": 2}, "salience": {"x": 1}},
               {"key": "b", "capability": 1, "positions": {"x": 8}, "salience": {"x": 1}}],
    "events": [{"name": "far", "type": "change", "round": 40, "actor": "a", "probability": 0.9,
                "changes": {"positions": {"x": 9}}}],
}


@pytest.mark.parametrize("model", ["bdm", "compromise"])
def test_an_event_after_the_last_round_is_a_warning_and_does_not_happen(model):
    s = detente.load(LATE)
    (w,) = s.warnings()
    assert w.field == "events[far].round" and "after the scenario's last round (12)" in w.reason
    r = detente.forecast(s, model=model)
    assert r.events[0]["happened"] is False
    assert not any("far p=0.9: happens" in n for n in r.all_notes)
    # it changes nothing: the same forecast as without it
    assert r.forecast == detente.forecast({**LATE, "events": []}, model=model).forecast


@pytest.mark.parametrize("args, flag", [
    (["forecast", "--draws", "-5"], "--draws"),
    (["sensitivity", "--method", "sobol", "--samples", "100"], "--samples"),
    (["sensitivity", "--top", "0"], "--top"),
    (["forecast", "--seed", "-1"], "seed"),
    (["compare", "korea-2019", "korea-2019", "--draws", "-1"], "--draws"),
])
def test_invalid_flag_values_are_exit_2_problems(args, flag):
    r = subprocess.run([sys.executable, "-m", "detente", *args], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 2, r.stderr
    assert f"{flag}: expected" in r.stderr and "Traceback" not in r.stderr


def test_web_validate_lists_the_warning_and_refuses_negative_draws(tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    web = {"base_url": "http://127.0.0.1", "headers": {"X-Detente": "1"}}
    with TestClient(create_app(tmp_path / "runs.db"), **web) as c:
        r = c.post("/api/validate", json={"scenario": LATE})
        assert r.status_code == 200 and r.json()["warnings"][0]["field"] == "events[far].round"
        assert c.post("/api/forecast", json={"name": "korea-2019", "draws": -5}).status_code == 422
        assert c.post("/api/forecast", json={"name": "korea-2019", "seed": -1}).status_code == 422


def test_monte_carlo_counts_no_draw_in_which_a_late_event_happens():
    mc = detente.monte_carlo(LATE, "bdm", draws=50, seed=3)
    assert mc.event_shares == {"far": 0.0}
    # and it changes no draw: the same as without the event (no other input is uncertain)
    assert (mc.forecasts == detente.monte_carlo({**LATE, "events": []}, "bdm", draws=50, seed=3).forecasts).all()
