"""The record of what happened (issue #18): its format, `score` and `explain`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import detente
from detente import cli
from detente.analysis import explain, monte_carlo, score
from detente.budget import Budget, BudgetError
from detente.errors import DetenteError, ScenarioError
from detente.serialize import input_sha256


def _v(x: float, w: float = 4.0) -> dict:
    return {"value": x, "low": max(0.0, x - w / 2), "high": min(100.0, x + w / 2)}


def planted_scenario(ax: float = 40.0, by: float = 50.0) -> dict:
    """Five actors on two issues; a's position on x and b's on y have wide ranges, every other input a
    narrow one (4 points), so that moving those two is by far the cheapest change in units of range."""
    spec = [("a", 50, 40, 30), ("b", 40, 70, 50), ("c", 60, 20, 80), ("d", 30, 90, 10), ("e", 45, 60, 60)]
    actors = []
    for key, cap, px, py in spec:
        pos = {"x": _v(px), "y": _v(py)}
        if key == "a":
            pos["x"] = {"value": ax, "low": 20, "high": 80}
        if key == "b":
            pos["y"] = {"value": by, "low": 10, "high": 70}
        actors.append({"key": key, "capability": _v(cap), "positions": pos, "salience": {"x": _v(60), "y": _v(70)}})
    return {"name": "planted", "issues": [{"key": "x"}, {"key": "y"}], "actors": actors, "rounds": 10}


# -- the format ---------------------------------------------------------------------------------------------
def _with_record(record: dict) -> dict:
    d = detente.load("korea-2019").to_dict()
    d["record"] = record
    return d


def test_flagship_carries_the_record_with_sources():
    s = detente.load("korea-2019")
    assert {k: o.value for k, o in s.record.issues.items()} == {"deal": 15, "sanctions": 0, "exercises": 25}
    assert all(o.why and o.source and o.date for o in s.record.issues.values())
    assert {k: e.happened for k, e in s.record.events.items()} == {"year-end-deadline": True, "us-election-2020": True}
    wait = detente.load("korea-2019-wait")  # inherits the base's record and adds its own event
    assert wait.record.issues == s.record.issues and wait.record.events["dprk-reengages"].happened is False


def test_record_is_validated_like_any_input_every_problem_at_once():
    bad = {"issues": {"dael": 15, "sanctions": 120, "exercises": {"value": 3, "date": "2019-01-01"}},
           "events": {"nope": True, "us-election-2020": "maybe"}}
    with pytest.raises(ScenarioError) as e:
        detente.load(_with_record(bad))
    text = e.value.report()
    for needle in ("record.issues.dael: unknown issue 'dael'", "record.issues.sanctions.value: outcome 120 is outside",
                   "record.issues.exercises.date: recorded on 2019-01-01, before the scenario's date",
                   "record.events.nope: unknown event 'nope'", "record.events.us-election-2020: expected true/false"):
        assert needle in text
    # the same rules when the Scenario is built directly (one validator)
    with pytest.raises(Exception, match="outside the scale"):
        detente.load("korea-2019").with_changes(record={"issues": {"deal": 101}})


def test_record_round_trips_and_stays_out_of_the_input_hash():
    s = detente.load("korea-2019")
    again = detente.load(s.to_dict())
    assert again.record == s.record and input_sha256(again) == input_sha256(s)
    assert input_sha256(s.with_changes(record=None)) == input_sha256(s)


def test_record_line_numbers_in_a_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: t\nissues: [{key: x}]\nactors:\n  - {key: a, capability: 1, positions: {x: 10}, salience: {x: 50}}\n"
                 "  - {key: b, capability: 1, positions: {x: 90}, salience: {x: 50}}\nrecord:\n  issues:\n    x: 300\n")
    with pytest.raises(ScenarioError) as e:
        detente.load(p)
    pr = e.value.problems[0]
    assert pr.line == 8 and pr.field == "record.issues.x.value" and "300" in pr.reason


# -- score ---------------------------------------------------------------------------------------------------
SMALL = {
    "name": "small",
    "calendar": {"start": "2020-01-01", "round": "1 month"},
    "issues": [{"key": "x"}, {"key": "y", "scale": [0, 10]}],
    "actors": [
        {"key": "a", "capability": 2, "positions": {"x": {"value": 20, "low": 0, "high": 40, "dist": "uniform"}, "y": 2},
         "salience": {"x": 50, "y": 100}},
        {"key": "b", "capability": 1, "positions": {"x": 80, "y": 8}, "salience": {"x": 100, "y": 50}},
        {"key": "c", "capability": 1, "positions": {"x": 60, "y": 5}, "salience": {"x": 50, "y": 50}},
    ],
    "events": [{"key": "shift", "type": "change", "actor": "c", "date": "2020-03-01", "probability": 0.8,
                "changes": {"positions": {"x": 0}}}],
    "record": {"issues": {"x": 40, "y": {"value": 4, "why": "as reported"}}, "events": {"shift": False}},
}


def _compromise(cap, sal, pos):
    w = np.asarray(cap, float) * np.asarray(sal, float)
    return float((w * np.asarray(pos, float)).sum() / w.sum())


def test_score_numbers_recomputed_by_hand():
    res = score(SMALL, ["compromise"], draws=400, seed=5)
    t = res.table.set_index("issue")
    # point forecast: the event (p = 0.8) happens on the most likely branch, so c stands at 0 on x
    fx = _compromise([2, 1, 1], [0.5, 1, 0.5], [20, 80, 0])  # = (20 + 80) / 2.5 = 40
    fy = _compromise([2, 1, 1], [1, 0.5, 0.5], [2, 8, 5])  # = (4 + 4 + 2.5) / 3 = 3.5
    # given the record's events (the shift did not happen): c at 60
    assert t.loc["x", "forecast_given_record"] == pytest.approx(_compromise([2, 1, 1], [0.5, 1, 0.5], [20, 80, 60]))
    # Monte Carlo: recompute every draw from its drawn input and event, by hand
    mc = monte_carlo(SMALL, "compromise", draws=400, seed=5)
    a_x = mc.values[:, 0]
    c_x = np.where(mc.happened[:, 0], 0.0, 60.0)
    w = np.array([2 * 0.5, 1 * 1.0, 1 * 0.5])
    fcx = (w[0] * a_x + w[1] * 80 + w[2] * c_x) / w.sum()
    # with draws the forecast is the median of the draws (the one headline of `detente forecast --draws`);
    # the most likely branch is beside it
    mx = float(np.median(fcx))
    assert abs(mx - fx) > 0.5  # the construction: the median is not the branch
    assert t.loc["x", "forecast"] == pytest.approx(mx) and t.loc["x", "error"] == pytest.approx(mx - 40)
    assert t.loc["x", "most_likely"] == pytest.approx(fx) and t.loc["x", "error_most_likely"] == pytest.approx(fx - 40)
    assert t.loc["y", "forecast"] == pytest.approx(fy) and t.loc["y", "abs_error"] == pytest.approx(0.5)
    assert t.loc["y", "most_likely"] == pytest.approx(fy)
    assert t.loc["x", "p_near"] == pytest.approx(np.mean(np.abs(fcx - 40) <= 5))
    assert 0 < t.loc["x", "p_near"] < 1
    assert (t.loc["x", "band_low"], t.loc["x", "band_high"]) == pytest.approx(tuple(np.quantile(fcx, [0.1, 0.9])))
    assert t.loc["y", "p_near"] == 1.0  # y is certain: 3.5 is within 0.5 (5% of 0-10) of 4
    assert res.radius("y") == pytest.approx(0.5)
    s = res.summary().iloc[0]
    assert s["mae"] == pytest.approx((abs(mx - 40) + 0.5) / 2)
    assert "median of 400 Monte Carlo draws" in res.notes[0] and "most likely branch" in res.notes[0]
    # without draws, the one run is the forecast
    t0 = score(SMALL, ["compromise"], draws=0).table.set_index("issue")
    assert t0.loc["x", "forecast"] == pytest.approx(fx) and "most_likely" not in t0.columns


def test_score_every_model_on_the_flagship_and_json():
    res = score("korea-2019", draws=0)
    assert set(res.models) | set(res.not_run) == set(detente.models.names())
    d = json.loads(res.to_json())
    assert d["outcome"]["deal"]["value"] == 15 and d["outcome"]["deal"]["source"]
    assert set(d["models"]["compromise"]["issues"]) == {"deal", "sanctions", "exercises"}


def test_score_is_deterministic_and_outcome_override():
    a = score(SMALL, ["compromise", "median"], draws=100, seed=2)
    b = score(SMALL, ["compromise", "median"], draws=100, seed=2)
    assert a.to_json() == b.to_json()
    c = score(SMALL, ["compromise"], outcome="x=50", draws=0)
    assert list(c.table["issue"]) == ["x"] and c.table["outcome"].iloc[0] == 50


def test_score_without_record_is_a_clear_error():
    d = dict(SMALL)
    d.pop("record")
    with pytest.raises(DetenteError, match="records no outcome"):
        score(d, ["compromise"], draws=0)


# -- explain -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["compromise", "bdm"])  # a static and a dynamic model
def test_explain_recovers_a_planted_change(model):
    base, planted = planted_scenario(), planted_scenario(ax=65, by=25)
    assert not detente.models.get("compromise").DYNAMIC and detente.models.get("bdm").DYNAMIC
    fc = detente.forecast(planted, model=model).forecast
    before = detente.forecast(base, model=model).forecast
    assert abs(fc["x"] - before["x"]) > 3 and abs(fc["y"] - before["y"]) > 3  # the plant moves both issues
    ex = explain(base, {"x": fc["x"], "y": fc["y"]}, model, tolerance=0.01, seed=1)
    assert ex.reached and ex.status() == "reached"
    assert set(ex.changes["input"].head(2)) == {"a.position.x", "b.position.y"}
    a = ex.changes.set_index("input").loc["a.position.x"]
    b = ex.changes.set_index("input").loc["b.position.y"]
    assert a["to"] > a["from"] and b["to"] < b["from"]  # in the planted directions
    assert a["units"] == pytest.approx((a["to"] - 40) / 60) and a["unit_basis"] == "range"
    for k in ("x", "y"):
        assert abs(ex.forecast[k] - fc[k]) <= 1.0 + 1e-9


def test_explain_unreachable_is_reported():
    # capabilities only move a weighted mean between the positions (20..90 on x): 97 is out of reach
    ex = explain(planted_scenario(), "x=97", "compromise", vary="capability", seed=0, evaluations=2000)
    assert not ex.reached and ex.status() == "unreachable"
    assert "No change of the inputs" in " ".join(ex.headline())
    assert ex.forecast["x"] < 92
    # inside the ranges only, positions can still not reach 97 either
    ex2 = explain(planted_scenario(), "x=97", "compromise", within_ranges=True, evaluations=2000)
    assert ex2.status() == "unreachable" and ex2.within_ranges


def test_explain_says_when_only_implausible_inputs_reproduce_the_outcome():
    # x = 85 needs a's position beyond its range (80) or big moves elsewhere; nothing inside the ranges gets there
    ex = explain(planted_scenario(), "x=88", "compromise", tolerance=0.01, seed=0, evaluations=6000)
    assert ex.reached and not ex.inside_ranges and ex.plausible is False
    ex2 = explain(planted_scenario(), "x=55", "compromise", tolerance=0.01, seed=0, evaluations=4000)
    assert ex2.reached and ex2.inside_ranges and ex2.plausible is True


def test_explain_is_deterministic_under_a_seed():
    kw = dict(model="bdm", tolerance=0.01, seed=4, evaluations=3000)
    a = explain(planted_scenario(), "x=62,y=33", **kw).to_dict()
    b = explain(planted_scenario(), "x=62,y=33", **kw).to_dict()
    a["meta"].pop("created", None), b["meta"].pop("created", None)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_explain_already_reproduced_and_budget():
    fc = detente.forecast(planted_scenario(), model="compromise").forecast
    ex = explain(planted_scenario(), {"x": fc["x"]}, "compromise")
    assert ex.status() == "already" and not len(ex.changes)
    with pytest.raises(BudgetError, match="max-draws"):
        explain(planted_scenario(), "x=60", "compromise", evaluations=5000, budget=Budget(draws=1000))


@pytest.mark.parametrize("outcome, needle", [
    ("deal=x", "deal: expected a number, got 'x'"),
    ("deal=150", "deal: 150 is outside the issue's scale [0, 100]"),
    ("dael=15", "unknown issue 'dael'"),
    ("deal", "expected issue=value, got 'deal'"),
    ("deal=nan", "deal: expected a finite number"),
    ("deal=1,deal=2", "issue 'deal' is given twice"),
])
def test_cli_bad_outcome_exits_2_naming_the_issue_and_value(capsys, outcome, needle):
    for cmd in ("explain", "score"):
        assert cli.main([cmd, "korea-2019", "--outcome", outcome, "--draws" if cmd == "score" else "--seed", "0"]) == 2
        err = capsys.readouterr().err
        assert needle in " ".join(err.split()) and "Traceback" not in err


def test_cli_score_and_explain_json(capsys):
    assert cli.main(["score", "korea-2019", "--models", "compromise,nash", "--draws", "50", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["models"]) == {"compromise", "nash"} and d["neighbourhood"] == 0.05
    assert cli.main(["explain", "korea-2019", "--model", "median", "--evaluations", "2000", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["model"] == "median" and d["outcome"] == {"deal": 15, "sanctions": 0, "exercises": 25}
    assert d["status"] in ("reached", "unreachable") and d["changes"]


# -- the report ----------------------------------------------------------------------------------------------
def test_report_shows_what_happened_only_with_a_record():
    from detente.report.build import compute
    from detente.report.html import render

    data = compute(SMALL, "compromise", sensitivity=False, seed=1, record=True)
    rec = data["record"]
    assert set(rec["score"]["models"]) == set(detente.models.names()) - set(rec["score"]["not_run"])
    assert rec["explain"]["model"] == "compromise" and rec["explain"]["outcome"] == {"x": 40, "y": 4}
    html = render(data)
    assert '<section id="record"><h2>What happened</h2>' in html
    assert "Every model against the record" in html and "What would have had to be different (compromise)" in html
    plain = dict(SMALL)
    plain.pop("record")
    data = compute(plain, "compromise", sensitivity=False, record=True)
    assert data["record"] is None and '<section id="record">' not in render(data)
    assert compute(SMALL, "compromise", sensitivity=False)["record"] is None  # off unless asked (the web app's runs)


# -- backtest --explain -----------------------------------------------------------------------------------------
def test_backtest_explain_largest_misses(capsys):
    from detente.backtest import load_deu, run_backtest
    from detente.backtest.scenarios import issue_scenario, largest_misses

    assert cli.main(["backtest", "deu", "--models", "mean", "--explain", "2", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ds = load_deu()
    res = run_backtest(ds, models="mean")
    worst = largest_misses(res.outcome, res.forecasts["mean"], 2)
    err = np.abs(res.forecasts["mean"] - res.outcome)
    assert err[worst[0]] == np.nanmax(err) and err[worst[0]] >= err[worst[1]]
    assert [e["model"] for e in d["explanations"]] == ["mean", "mean"]
    for e, j in zip(d["explanations"], worst):
        key = ds.issues[j].key
        assert e["outcome"] == {key: ds.issues[j].outcome}
        assert e["base"][key] == pytest.approx(res.forecasts["mean"][j])  # the scenario forecasts what the backtest did
        assert e["status"] == "reached" and e["changes"]
    # a model that couples issues sees the issue's whole proposal
    scen = issue_scenario(ds, worst[0], [np.ones(i.n) for i in ds.issues], couples_issues=True)
    assert ds.issues[worst[0]].key in scen.issue_keys and list(scen.record.issues) == [ds.issues[worst[0]].key]


# -- the web app ---------------------------------------------------------------------------------------------
def test_web_score_and_explain(tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    app = create_app(tmp_path / "runs.sqlite3")
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        r = c.post("/api/score", json={"scenario": SMALL, "models": ["compromise", "median"], "draws": 100, "seed": 5})
        assert r.status_code == 200, r.text
        sc = r.json()["score"]
        ref = score(SMALL, ["compromise", "median"], draws=100, seed=5).to_dict()
        assert sc["models"] == json.loads(json.dumps(ref["models"]))  # the same numbers as in-process
        r = c.post("/api/explain", json={"scenario": planted_scenario(), "model": "compromise", "outcome": "x=60",
                                         "seed": 1})
        assert r.status_code == 200, r.text
        ex = r.json()["explanation"]
        assert ex["status"] == "reached" and ex["changes"][0]["input"] == "a.position.x"
        for bad, needle in (({"name": "korea-2019", "outcome": "deal=150"}, "outside the issue's scale"),
                            ({"name": "korea-2019", "outcome": "nope=1"}, "unknown issue 'nope'"),
                            ({"scenario": {**SMALL, "record": None}}, "records no outcome"),
                            ({"name": "korea-2019", "models": ["nobody"]}, "unknown model 'nobody'")):
            r = c.post("/api/score", json=bad)
            assert r.status_code == 422 and needle in r.text and "Traceback" not in r.text


def test_web_score_runs_what_the_command_line_runs(tmp_path):
    """The web panel takes the scenario's own seed (as `detente score` does), `draws: 0` as point forecasts
    only, and parameters given without a model for the scenario's own model."""
    from fastapi.testclient import TestClient

    from detente.web import create_app

    seeded = {**SMALL, "model": {"name": "median", "seed": 7}}
    app = create_app(tmp_path / "runs.sqlite3")
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        r = c.post("/api/score", json={"scenario": seeded, "models": ["compromise", "median"], "draws": 60})
        assert r.status_code == 200, r.text
        ref = score(detente.load(seeded), ["compromise", "median"], draws=60, seed=7).to_dict()
        assert r.json()["score"]["models"] == json.loads(json.dumps(ref["models"]))
        assert r.json()["score"]["meta"]["seed"] == 7
        r = c.post("/api/score", json={"scenario": SMALL, "models": ["compromise"], "draws": 0})
        assert r.status_code == 200, r.text
        assert r.json()["score"]["meta"]["draws"] == 0
        r = c.post("/api/score", json={"scenario": SMALL, "models": ["compromise"], "draws": 0,
                                       "params": {"nonsense": 1}})
        assert r.status_code == 422 and "nonsense" in r.text  # the parameters reached the model, not dropped


def test_score_table_headlines_the_median_with_draws_and_the_branch_beside_it():
    import os
    import subprocess
    import sys

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "detente", "score", "korea-2019", "--models", "bdm", *args],
                           capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "250"})
        assert r.returncode == 0, r.stderr
        return r.stdout

    ref = score("korea-2019", ["bdm"], draws=60, seed=3).table.set_index("issue")
    text = cli("--draws", "60", "--seed", "3")
    assert "forecast (median)" in text and "most likely branch" in text
    name = detente.load("korea-2019").issue("sanctions").name
    block = text[text.index(f"{name}: recorded"):]
    row = next(line for line in block.splitlines() if line.lstrip("│┃| ").startswith("bdm"))
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert float(cells[1]) == pytest.approx(ref.loc["sanctions", "median"], abs=0.051)
    assert cells[3].startswith(f"{ref.loc['sanctions', 'most_likely']:.1f}")
    assert abs(ref.loc["sanctions", "median"] - ref.loc["sanctions", "most_likely"]) > 1  # the two differ here
    assert "median of 60 Monte Carlo draws" in " ".join(text.split())
    plain = cli("--draws", "0")
    assert "forecast (median)" not in plain and "most likely\nbranch" not in plain and "Monte Carlo" not in plain
