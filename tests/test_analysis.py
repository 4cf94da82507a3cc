"""Tests of detente.analysis: Monte Carlo, sensitivity, advice, comparison, and their CLI.

Expected numbers come from hand derivations on small synthetic scenarios
(the compromise model is a weighted mean, so its answers are closed-form).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import detente
from detente import cli
from detente.analysis import advise, compare, event_effect, monte_carlo, sensitivity
from detente.errors import DetenteError
from detente.result import input_sha256


def _v(value, half=0.0, **kw):
    """A value with a symmetric range of half-width ``half`` (a bare number when 0)."""
    if half == 0 and not kw:
        return value
    return {"value": value, "low": value - half, "high": value + half, **kw}


#: An actor with zero salience: it never moves a compromise forecast.
MUTE = {"key": "mute", "capability": 1, "positions": {"x": 5}, "salience": {"x": 0}}


def toy(half=10.0, events=(), c_cap=None):
    """Three actors on one 0-100 issue; ``half`` is the half-width of a's and b's position ranges."""
    return detente.load(
        {
            "name": "toy",
            "issues": [{"key": "x", "scale": [0, 100], "thresholds": [{"name": "high", "value": 50, "direction": "above"}]}],
            "actors": [
                {"key": "a", "capability": 40, "positions": {"x": _v(30, half)}, "salience": {"x": 60}},
                {"key": "b", "capability": 20, "positions": {"x": _v(70, half)}, "salience": {"x": 80}},
                {"key": "c", "capability": c_cap or 10, "positions": {"x": 50}, "salience": {"x": 50}},
            ],
            "events": list(events),
        }
    )


# -- Monte Carlo ----------------------------------------------------------------------------------------
def test_intervals_shrink_with_ranges_and_vanish_for_point_inputs():
    widths = []
    for half in (20.0, 10.0, 2.0, 0.0):
        mc = monte_carlo(toy(half), draws=400, seed=3)
        iv = mc.to_dict()["issues"]["x"]["distribution"]["intervals"]
        widths.append([iv[c][1] - iv[c][0] for c in ("50", "80", "95")])
    widths = np.array(widths)
    assert np.all(widths[:-1] > widths[1:])  # every interval narrows as the ranges narrow
    assert np.all(widths[-1] == 0.0)  # point inputs: every draw is the point forecast
    # and the point forecast is the weighted mean (hand computed)
    w = np.array([40 * 0.6, 20 * 0.8, 10 * 0.5])
    x = np.array([30, 70, 50])
    assert monte_carlo(toy(0.0), draws=5).forecasts[:, 0] == pytest.approx(np.full(5, (w @ x) / w.sum()))


def test_triangular_draws_have_the_right_moments():
    # one ranged position, triangular on [20, 40] with mode 30: mean 30, variance (a^2+b^2+c^2-ab-ac-bc)/18
    s = detente.load({"name": "t", "issues": [{"key": "x"}], "actors": [
        {"key": "a", "capability": 1, "positions": {"x": {"value": 30, "low": 20, "high": 40}}, "salience": {"x": 50}}, MUTE]})
    mc = monte_carlo(s, draws=20000, seed=1)
    x = mc.forecasts[:, 0]
    var = (20**2 + 40**2 + 30**2 - 20 * 40 - 20 * 30 - 40 * 30) / 18
    assert x.mean() == pytest.approx(30, abs=0.1)
    assert x.var() == pytest.approx(var, rel=0.05)
    assert x.min() >= 20 and x.max() <= 40


def test_normal_draws_are_clipped_to_the_scale():
    s = detente.load({"name": "t", "issues": [{"key": "x", "scale": [0, 10]}], "actors": [
        {"key": "a", "capability": 1, "positions": {"x": {"value": 9, "dist": "normal", "sd": 5}}, "salience": {"x": 50}}, MUTE]})
    x = monte_carlo(s, draws=2000, seed=0).forecasts[:, 0]
    assert x.min() >= 0 and x.max() <= 10
    # P(N(9, 5) >= 10) = 1 - Phi(0.2) = 0.4207: that mass sits exactly on the upper bound
    assert np.mean(x == 10) == pytest.approx(0.4207, abs=0.04)


def _change(p, pos=90.0):
    return {"key": "shift", "type": "change", "round": 1, "actor": "c", "probability": p, "changes": {"positions": {"x": pos}}}


def test_probability_one_event_equals_a_deterministic_change_and_zero_equals_none():
    baked = detente.load({**toy().to_dict(), "actors": [
        *toy().to_dict()["actors"][:2], {"key": "c", "capability": 10, "positions": {"x": 90}, "salience": {"x": 50}}]})
    sure = monte_carlo(toy(events=[_change(1.0)]), draws=300, seed=5)
    np.testing.assert_array_equal(sure.forecasts, monte_carlo(baked, draws=300, seed=5).forecasts)
    assert sure.event_shares == {"shift": 1.0}
    never = monte_carlo(toy(events=[_change(0.0)]), draws=300, seed=5)
    np.testing.assert_array_equal(never.forecasts, monte_carlo(toy(), draws=300, seed=5).forecasts)
    assert never.event_shares == {"shift": 0.0}


def test_events_happen_in_their_share_of_draws():
    mc = monte_carlo(toy(events=[_change(0.3)]), draws=4000, seed=2)
    assert mc.event_shares["shift"] == pytest.approx(0.3, abs=0.025)
    # in draws where c moved to 90 the forecast is higher by w_c * (90 - 50) / W
    w = np.array([24.0, 16.0, 5.0])
    jump = w[2] * 40 / w.sum()
    on = mc.happened[:, 0]
    assert mc.forecasts[on, 0].mean() - mc.forecasts[~on, 0].mean() == pytest.approx(jump, abs=0.4)


def test_determinism_and_chunk_independence():
    s = toy(events=[_change(0.5)])
    a = monte_carlo(s, draws=500, seed=11)
    b = monte_carlo(s, draws=500, seed=11, chunk=7)
    c = monte_carlo(s, draws=123, seed=11, chunk=50)
    assert np.array_equal(a.forecasts, b.forecasts)
    assert np.array_equal(a.happened, b.happened)
    assert np.array_equal(a.forecasts[:123], c.forecasts)  # draw k depends on (seed, k) only
    assert not np.array_equal(a.forecasts, monte_carlo(s, draws=500, seed=12).forecasts)


def test_stochastic_model_is_chunk_independent():
    p = {"state_transitions": "Stochastic"}
    a = monte_carlo(toy(), model="smp", draws=24, seed=4, params=p)
    b = monte_carlo(toy(), model="smp", draws=24, seed=4, params=p, chunk=5)
    assert np.array_equal(a.forecasts, b.forecasts)


def test_flagship_events_shape_its_forecast():
    eff = event_effect("korea-2019", "compromise", "year-end-deadline", draws=200, seed=0)
    d = eff.diff
    # the deadline moves Pyongyang to 10 on the deal (below every drawn forecast) and raises its salience:
    # the deal forecast falls in every draw; the other issues do not move
    assert np.all(d[:, 0] < 0)
    assert np.all(d[:, 1:] == 0)
    with pytest.raises(DetenteError, match="unknown event"):
        event_effect("korea-2019", "compromise", "no-such-event", draws=10)


def test_thresholds_and_to_frame():
    mc = monte_carlo(toy(), draws=300, seed=0)
    p = mc.to_dict()["issues"]["x"]["distribution"]["thresholds"][0]["probability"]
    assert p == pytest.approx(np.mean(mc.forecasts[:, 0] >= 50))
    df = mc.to_frame()
    assert list(df.columns) == ["draw", "issue", "forecast"] and len(df) == 300


# -- sensitivity ------------------------------------------------------------------------------------------
def test_oat_swing_equals_the_analytic_derivative_for_compromise():
    s = toy(half=10.0)
    res = sensitivity(s, "compromise", "oat", events=False)
    df = res.to_frame().set_index("input")
    c = np.array([40.0, 20.0, 10.0])
    sal = np.array([0.6, 0.8, 0.5])
    x = np.array([30.0, 70.0, 50.0])
    w = c * sal
    # a position moving across [v - 10, v + 10]: swing = w_i * 20 / sum(w)
    assert df.loc["a.position.x", "swing"] == pytest.approx(w[0] * 20 / w.sum())
    assert df.loc["b.position.x", "swing"] == pytest.approx(w[1] * 20 / w.sum())
    # c's unranged position moves by the default +/-10% of the scale: swing = w_c * 20 / sum(w)
    assert df.loc["c.position.x", "swing"] == pytest.approx(w[2] * 20 / w.sum())

    # a's unranged salience moves by +/-20 points of the 0-100 scale: recompute the weighted mean
    def f(sa):
        ww = c * np.array([sa, 0.8, 0.5])
        return ww @ x / ww.sum()

    assert df.loc["a.salience.x", "swing"] == pytest.approx(f(0.8) - f(0.4))
    # ranked by |swing| (a tornado)
    sw = res.table[res.table["issue"] == "x"]["abs_swing"].to_numpy()
    assert np.all(np.diff(sw) <= 0)
    assert "position of a on x" in res.top_drivers(1)[0]


def test_sobol_recovers_the_only_input_that_matters():
    s = detente.load({"name": "one", "issues": [{"key": "x"}], "actors": [
        {"key": "a", "capability": 10, "positions": {"x": {"value": 50, "low": 0, "high": 100, "dist": "uniform"}}, "salience": {"x": 50}},
        {"key": "b", "capability": 10, "positions": {"x": 40}, "salience": {"x": 50}},
        # zero salience: c's position and capability cannot matter
        {"key": "z", "capability": {"value": 5, "low": 1, "high": 9}, "positions": {"x": {"value": 50, "low": 0, "high": 100}}, "salience": {"x": 0}},
    ]})
    res = sensitivity(s, "compromise", "sobol", samples=256, seed=1)
    df = res.to_frame().set_index("input")
    assert df.loc["a.position.x", "S1"] == pytest.approx(1.0, abs=0.05)
    assert df.loc["a.position.x", "ST"] == pytest.approx(1.0, abs=0.05)
    for k in ("z.capability", "z.position.x"):
        assert abs(df.loc[k, "S1"]) < 0.05 and abs(df.loc[k, "ST"]) < 0.05
    assert {"S1_conf", "ST_conf"} <= set(df.columns)


def test_sensitivity_rejects_a_bad_method():
    with pytest.raises(DetenteError, match="method"):
        sensitivity(toy(), method="tornado")


# -- advice -------------------------------------------------------------------------------------------------
def test_advice_finds_the_planted_best_lever():
    s = detente.load({"name": "plant", "issues": [{"key": "x", "scale": [0, 100]}], "actors": [
        {"key": "me", "capability": 10, "positions": {"x": 0}, "salience": {"x": 50}},
        {"key": "big", "capability": 100, "positions": {"x": 100}, "salience": {"x": 50}},
        {"key": "s1", "capability": 10, "positions": {"x": 100}, "salience": {"x": 50}},
        {"key": "s2", "capability": 10, "positions": {"x": 80}, "salience": {"x": 50}},
    ]})
    adv = advise(s, "me", draws=4, seed=0)
    w = np.array([500.0, 5000.0, 500.0, 500.0])
    x = np.array([0.0, 100.0, 100.0, 80.0])
    W = w.sum()
    assert adv.base["forecast"].iloc[0] == pytest.approx(w @ x / W)
    assert adv.best_persuasion_target("x") == "big"  # the largest weight gives most per unit of shift
    t = adv.to_frame()
    row = t[(t["kind"] == "persuade") & (t["target"] == "big") & (t["cost"] == 10)].iloc[0]
    assert row["gain_mean"] == pytest.approx(w[1] * 10 / W)
    assert row["gain_per_unit"] == pytest.approx(w[1] / W)
    # the planted best: persuading big to move 50 points (38.5) beats keeping it out
    # (90.8 -> 60: 30.8), a coalition moving 25 each (23.1) and everything else
    best = adv.best("x")
    assert (best["kind"], best["target"], best["cost"]) == ("persuade", "big", 50.0)
    assert best["gain_mean"] == pytest.approx(w[1] * 50 / W)
    removed = t[(t["kind"] == "remove") & (t["target"] == "big")].iloc[0]
    assert removed["gain_mean"] == pytest.approx(w @ x / W - np.delete(w * x, 1).sum() / np.delete(w, 1).sum())
    assert best["p_helps"] == 1.0 and best["gain_p10"] == pytest.approx(best["gain_p90"])


def test_advice_reports_spread_under_uncertainty():
    adv = advise(toy(half=20.0), "a", "x", draws=100, seed=0)
    t = adv.to_frame()
    assert (t["gain_p10"] <= t["gain_median"] + 1e-12).all() and (t["gain_median"] <= t["gain_p90"] + 1e-12).all()
    assert t["p_helps"].between(0, 1).all()


def test_advice_unknown_actor_or_issue():
    with pytest.raises(DetenteError, match="unknown actor 'kim'"):
        advise(toy(), "kim")
    with pytest.raises(DetenteError, match="unknown issue"):
        advise(toy(), "a", issue="y")


# -- compare ---------------------------------------------------------------------------------------------------
def test_compare_identical_scenarios_reports_no_difference():
    cmp = compare([toy(), toy()], ["compromise", "median"], draws=0)
    assert cmp.identical and cmp.differences.empty
    assert np.all(cmp.table["diff_scenario"] == 0)


def test_compare_lists_the_differences():
    other = toy().to_dict()
    other["actors"][2]["positions"]["x"] = 60
    other["events"] = [_change(0.4)]
    cmp = compare([toy(), detente.load(other)], ["compromise"], draws=50)
    d = cmp.differences
    assert set(d["field"]) == {"position", "event shift"}
    row = d[d["field"] == "position"].iloc[0]
    assert (row["actor"], row["issue"], row["a"], row["b"]) == ("c", "x", 50.0, 60.0)
    assert cmp.table["lo80"].notna().all()


# -- CLI and JSON contract -----------------------------------------------------------------------------------
def test_cli_unknown_actor_exits_2(capsys):
    assert cli.main(["advise", "korea-2019", "--actor", "nobody", "--draws", "5"]) == 2
    e = capsys.readouterr().err
    assert "actor" in e and "nobody" in e and "Traceback" not in e


def test_cli_sensitivity_and_compare_run(capsys):
    assert cli.main(["sensitivity", "korea-2019", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("input,")
    assert cli.main(["compare", "korea-2019", "korea-2019", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["differences"] == []


def test_forecast_draws_json_fits_the_contract(capsys):
    assert cli.main(["forecast", "korea-2019", "--draws", "60", "--seed", "2", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    s = detente.load("korea-2019")
    assert {"scenario", "model", "params", "issues", "events", "meta"} <= set(d)
    assert set(d["issues"]) == set(s.issue_keys)
    for iss in s.issues:
        e = d["issues"][iss.key]
        assert isinstance(e["forecast"], float) and e["scale"] == list(iss.scale)
        dist = e["distribution"]
        assert dist["median"] == e["forecast"] and dist["draws"] == 60 and isinstance(dist["mean"], float)
        (a50, b50), (a80, b80), (a95, b95) = (dist["intervals"][k] for k in ("50", "80", "95"))
        assert a95 <= a80 <= a50 <= dist["median"] <= b50 <= b80 <= b95
        assert [t["name"] for t in dist["thresholds"]] == [t.name for t in iss.thresholds]
        for t in dist["thresholds"]:
            assert set(t) == {"name", "value", "direction", "probability"} and 0 <= t["probability"] <= 1
    assert set(d["events"]) == {e.key for e in s.events}
    assert all(0 <= v <= 1 for v in d["events"].values())
    m = d["meta"]
    assert (m["seed"], m["draws"], m["version"]) == (2, 60, detente.__version__)
    assert m["input_sha256"] == input_sha256(s)


def test_python_api_exports():
    assert detente.monte_carlo is monte_carlo and detente.advise is advise
    assert {"monte_carlo", "sensitivity", "advise", "compare"} <= set(detente.__all__)


def test_fan_of_a_static_model_is_its_final_distribution_and_chunking_does_not_matter():
    from detente.analysis import monte_carlo

    a = monte_carlo("korea-2019", draws=60, seed=3, by_round=True, chunk=7)
    b = monte_carlo("korea-2019", draws=60, seed=3, by_round=True, chunk=60)
    assert np.array_equal(a.by_round, b.by_round)
    # a model without rounds has one state, which is its final forecast
    assert a.by_round.shape == (60, 1, 3)
    assert np.array_equal(a.by_round[:, -1], a.forecasts)
    fan = a.fan((0.5,))
    assert np.allclose(fan["deal"][0.5], np.quantile(a.forecasts[:, 0], 0.5))


def test_fan_of_a_dynamic_model_ends_at_the_final_forecasts():
    from detente.analysis import monte_carlo

    seen = []
    r = monte_carlo("korea-2019", model="bdm", draws=20, seed=1, by_round=True, chunk=8, on_chunk=lambda d, t: seen.append((d, t)))
    assert seen == [(8, 20), (16, 20), (20, 20)]
    assert r.by_round.shape[1] == 16  # the flagship's 15-round horizon
    assert np.array_equal(r.by_round[:, -1], r.forecasts)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "ten", None])
def test_every_drawing_entry_point_refuses_a_bad_number_of_draws_alike(bad):
    # one check (analysis.montecarlo.check_draws) for Monte Carlo, the event effect, advice,
    # comparison with draws and the report's plan: the same problem on the field 'draws'
    from detente.report.build import plan_report

    calls = [
        lambda: monte_carlo(toy(), draws=bad),
        lambda: event_effect(toy(events=[{"name": "e", "type": "change", "actor": "a", "round": 1, "probability": 0.5,
                                          "changes": {"capability": 50}}]), "compromise", "e", draws=bad),
        lambda: advise(toy(), "a", draws=bad),
    ]
    if bad:  # the report and compare read 0 and None as "no Monte Carlo"
        calls.append(lambda: plan_report(toy(), None, {}, draws=bad, sensitivity=False))
        calls.append(lambda: compare([toy(), toy()], draws=bad))
    for call in calls:
        with pytest.raises(DetenteError) as e:
            call()
        (p,) = e.value.problems
        assert p.field == "draws" and f"expected a whole number >= 1, got {bad!r}" in p.reason


@pytest.mark.parametrize("K, N, seed", [(1, 1, 0), (3, 8, 5), (58, 64, 0), (7, 256, 123)])
def test_saltelli_sample_is_salibs_bit_for_bit(K, N, seed):
    import warnings

    from SALib.sample import sobol as sobol_sample

    from detente.analysis.sensitivity import saltelli

    problem = {"num_vars": K, "names": [f"x{i}" for i in range(K)], "bounds": [[0.0, 1.0]] * K}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = sobol_sample.sample(problem, N, calc_second_order=False, scramble=True, seed=seed)
        got = saltelli(K, N, seed)
    assert got.shape == want.shape == (N * (K + 2), K)
    assert np.array_equal(got, want)


def test_oat_rows_are_the_table_without_pandas():
    """``oat_rows`` (the report's path) gives the rows of ``sensitivity(method="oat")``'s table, in its order,
    and its top drivers: on the flagship and on a scenario whose swings tie (stable order) or are not numbers."""
    import math

    from detente.analysis.sensitivity import oat_rows

    cases = [("korea-2019", "bdm", 0), ("korea-2019", "compromise", 3)]
    for scen, model, seed in cases:
        res = detente.sensitivity(scen, model, method="oat", seed=seed, progress=False)
        rows, top = oat_rows(scen, model, seed=seed)
        want = res.to_frame().to_dict("records")
        assert [list(r) for r in rows] == [list(r) for r in want]
        def missing(v):  # the frame shows a missing value (None) as not-a-number
            return v is None or (isinstance(v, float) and math.isnan(v))

        for a, b in zip(rows, want):
            for k in a:
                assert a[k] == b[k] or (missing(a[k]) and missing(b[k])), (k, a[k], b[k])
        assert top == res.top_drivers(5)
    ties = [r["abs_swing"] for r in oat_rows("korea-2019", "compromise")[0]]
    assert len(ties) != len(set(ties))  # ties happen: their order is the table's
