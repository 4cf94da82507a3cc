"""The flagship (2019 US-North Korea talks) and the forecast contract through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import detente
from conftest import emission_weighted_mean
from detente import models
from detente.cli import main as cli_main
from detente.models import Inputs, ModelParams, Trajectory
from detente.simulate import simulate

FLAGSHIP = ["korea-2019", "korea-2019-window", "korea-2019-wait"]
STATIC = ["compromise", "median", "mean", "nash"]


@pytest.mark.parametrize("name", FLAGSHIP)
def test_flagship_loads_and_carries_rationales(name):
    s = detente.load(name)
    keys = set(s.actor_keys)
    assert {"trump", "dprk", "state", "congress", "rok", "china", "japan", "russia"} <= keys
    assert {"deal", "sanctions", "exercises"} <= set(s.issue_keys)
    for a in s.actors:
        assert a.capability.why, a.key
        for iss in s.issue_keys:
            for v in (a.positions[iss], a.salience[iss]):
                assert v.why and v.low is not None and v.high is not None, (a.key, iss)
                assert v.why.startswith("Assumption") or '"' in v.why or "\u201c" in v.why, (a.key, iss, v.why)
    kinds = {e.key: e for e in s.events}
    assert any("deadline" in k for k in kinds)
    election = [e for e in s.events if "election" in e.key]
    assert election and 0 < election[0].probability < 1 and election[0].actor == "trump"


@pytest.mark.parametrize("name", FLAGSHIP)
@pytest.mark.parametrize("model", STATIC)
def test_flagship_forecasts_with_every_baseline(name, model):
    r = detente.forecast(name, model=model)
    s = r.scenario
    for iss in s.issues:
        f = r.issues[iss.key]["forecast"]
        assert iss.scale[0] <= f <= iss.scale[1]
    d = json.loads(r.to_json())
    assert d["meta"]["events"] and all("happened" in e for e in d["meta"]["events"])


def test_variants_differ_from_the_base_only_where_they_say():
    base, window = detente.load("korea-2019"), detente.load("korea-2019-window")
    assert base.actor_keys == window.actor_keys
    assert base.actor("dprk").positions["deal"] != window.actor("dprk").positions["deal"]
    assert base.actor("china").model_dump() == window.actor("china").model_dump()


def test_election_changes_the_static_forecast():
    s = detente.load("korea-2019")
    ev = [j for j, e in enumerate(s.events) if "election" in e.key][0]
    m = models.get("compromise")
    on = np.zeros((1, len(s.events)), bool)
    on[0, ev] = True
    off = np.zeros((1, len(s.events)), bool)
    f_on = simulate(s, "compromise", m.Params(), happened=on).final
    f_off = simulate(s, "compromise", m.Params(), happened=off).final
    assert not np.allclose(f_on, f_off)


# --------------------------------------------------------------------------- the runner, with a toy dynamic model


class _Drift:
    """A toy dynamic model: each round every active actor moves halfway to the weighted mean."""

    NAME = "drift"
    SUMMARY = CITATION = "test"
    DYNAMIC = True
    ROUND_RECORDS: dict = {}

    class Params(ModelParams):
        rounds: int = 5

    @staticmethod
    def run(inputs: Inputs, params) -> Trajectory:
        x = inputs.position.copy()
        w = inputs.weights()
        hist, fc = [x.copy()], []
        for _ in range(params.rounds + 1):
            m = (w * x).sum(1) / w.sum(1)
            fc.append(m)
            if len(hist) <= params.rounds:
                x = np.where(inputs.active[:, :, None], x + 0.5 * (m[:, None] - x), x)
                hist.append(x.copy())
        B = x.shape[0]
        return Trajectory(np.stack(hist, 1), np.stack(fc, 1), np.full(B, params.rounds),
                          extras={"active": Trajectory.active_rounds(inputs, params.rounds)})


@pytest.fixture
def drift(monkeypatch):
    import sys

    mod = type(sys)("detente_test_drift")
    for k in ("NAME", "SUMMARY", "CITATION", "DYNAMIC", "ROUND_RECORDS", "Params", "run"):
        setattr(mod, k, getattr(_Drift, k))
    sys.modules["detente_test_drift"] = mod
    models.register("drift", "detente_test_drift")
    yield mod
    models._REGISTRY.pop("drift", None)


def _scenario(events):
    return detente.load(
        {
            "name": "toy",
            "rounds": 6,
            "issues": [{"key": "i", "scale": [0, 100]}],
            "actors": [
                {"key": "a", "capability": 1, "positions": {"i": 0}, "salience": {"i": 100}},
                {"key": "b", "capability": 1, "positions": {"i": 100}, "salience": {"i": 100}},
                {"key": "c", "capability": 2, "positions": {"i": 100}, "salience": {"i": 100}},
            ],
            "events": events,
        }
    )


def test_runner_segments_reproduce_an_uninterrupted_run(drift):
    # an event that changes nothing must not change the trajectory
    s = _scenario([{"name": "noop", "type": "change", "actor": "a", "round": 3, "changes": {"capability": 1}}])
    plain = _scenario([])
    a = simulate(s, "drift", drift.Params())
    b = simulate(plain, "drift", drift.Params())
    assert a.position.shape[1] == 7  # rounds 0..6 (the scenario's horizon)
    np.testing.assert_allclose(a.position, b.position)


def test_runner_join_leave_and_deadline(drift):
    s = _scenario(
        [
            {"name": "c joins", "type": "join", "actor": "c", "round": 3},
            {"name": "end", "type": "deadline", "round": 5},
        ]
    )
    tr = simulate(s, "drift", drift.Params())
    act = tr.extras["active"][0]
    assert not act[:3, 2].any() and act[3:, 2].all()
    # before c joins, a and b meet in the middle: positions after round 2 are 37.5 and 62.5
    np.testing.assert_allclose(tr.position[0, 2, :2, 0], [37.5, 62.5])
    # the deadline at round 5 means rounds 5 and 6 are not played: the history ends at round 4
    assert tr.position.shape[1] == 5
    assert tr.info["ended_round"][0] == 4


class _Pull(_Drift):
    """``drift`` that records how far its actors moved in each round (``moved``): NaN in round 0,
    which is no round, and 0 for a round in which nothing happened."""

    NAME = "pull"
    ROUND_RECORDS = {"moved": 0.0}

    @staticmethod
    def run(inputs: Inputs, params) -> Trajectory:
        tr = _Drift.run(inputs, params)
        moved = np.abs(np.diff(tr.position, axis=1)).sum(axis=(2, 3))
        tr.extras["moved"] = np.concatenate([np.full((moved.shape[0], 1), np.nan), moved], axis=1)
        return tr


def test_a_draw_past_its_deadline_records_nothing_happening(monkeypatch):
    # two draws; in draw 0 the deadline at round 3 happens: its later rounds (in the segments
    # after the deadline, cut at the change of round 5) hold its state, and the round records
    # say "nothing happened" (ROUND_RECORDS), not the segment's round 0 (no round at all)
    import sys

    mod = type(sys)("detente_test_pull")
    for k in ("NAME", "SUMMARY", "CITATION", "DYNAMIC", "ROUND_RECORDS", "Params", "run"):
        setattr(mod, k, getattr(_Pull, k))
    monkeypatch.setitem(sys.modules, "detente_test_pull", mod)
    monkeypatch.setitem(models._REGISTRY, "pull", "detente_test_pull")
    assert models.check_model("pull", examples=2)["output"] == "ok"
    s = _scenario([
        {"name": "end", "type": "deadline", "round": 3, "probability": 0.5},
        {"name": "shift", "type": "change", "actor": "a", "round": 5, "changes": {"positions": {"i": 10}}},
    ])
    tr = simulate(s, "pull", _Pull.Params(), inputs=s.to_inputs(batch=2), happened=np.array([[True, True], [False, True]]))
    moved = tr.extras["moved"]
    assert tr.position.shape[1] == 7 and tr.info["ended_round"].tolist() == [2, 6]
    assert np.isnan(moved[:, 0]).all()
    assert (moved[0, 1:3] > 0).all() and (moved[0, 3:] == 0.0).all()  # before / after its deadline
    assert (moved[1, 1:] > 0).all()
    np.testing.assert_array_equal(tr.position[0, 3:], np.broadcast_to(tr.position[0, 2], tr.position[0, 3:].shape))


def test_a_dynamic_model_must_declare_its_round_records():
    import sys

    mod = type(sys)("detente_test_norecords")
    for k in ("NAME", "SUMMARY", "CITATION", "DYNAMIC", "Params", "run"):
        setattr(mod, k, getattr(_Drift, k))
    with pytest.raises(models.conformance.ConformanceError, match="a dynamic model needs ROUND_RECORDS"):
        models.check_model(mod, examples=1)
    mod.ROUND_RECORDS = {"moves": 0}  # not one of its extras
    with pytest.raises(models.conformance.ConformanceError, match="ROUND_RECORDS names 'moves'"):
        models.check_model(mod, examples=1)


def test_probability_one_event_equals_a_deterministic_event(drift):
    ev = {"name": "b softens", "type": "change", "actor": "b", "round": 2, "changes": {"positions": {"i": 50}}}
    p1 = _scenario([{**ev, "probability": 1.0}])
    det = _scenario([ev])
    none = _scenario([])
    p0 = _scenario([{**ev, "probability": 0.0}])
    np.testing.assert_array_equal(simulate(p1, "drift", drift.Params()).position, simulate(det, "drift", drift.Params()).position)
    np.testing.assert_array_equal(simulate(p0, "drift", drift.Params()).position, simulate(none, "drift", drift.Params()).position)


# --------------------------------------------------------------------------- CLI


def test_cli_forecast_json_contract(capsys, emission_csv):
    assert cli_main(["forecast", str(emission_csv), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"scenario", "model", "params", "issues", "history", "meta"}
    (key,) = d["issues"]
    assert d["issues"][key]["forecast"] == pytest.approx(emission_weighted_mean())  # the compromise point
    assert d["issues"][key]["scale"] == [4.0, 10.0]
    assert d["history"][0]["round"] == 0
    assert d["history"][0]["positions"]["UK"][key] == 10.0
    assert set(d["meta"]) >= {"version", "seed", "input_sha256"} and len(d["meta"]["input_sha256"]) == 64


def test_cli_default_runs_the_flagship(capsys):
    assert cli_main(["forecast"]) == 0
    text = capsys.readouterr().out
    assert "US-North Korea nuclear talks" in text
    assert "deal" in text.lower()


def test_cli_csv_is_tidy(capsys, emission_csv):
    import csv
    import io

    assert cli_main(["forecast", str(emission_csv), "-m", "median", "-f", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    positions = [r for r in rows if r["table"] == "positions"]  # the tidy rows, beside a per-issue summary
    assert len(positions) == 10 and {r["round"] for r in positions} == {"0"}
    assert [r["table"] for r in rows].count("summary") == 1


def test_cli_bad_param_and_model(capsys, emission_csv):
    assert cli_main(["forecast", str(emission_csv), "-m", "median", "-p", "convention=sideways"]) == 2
    assert "convention" in capsys.readouterr().err
    assert cli_main(["forecast", str(emission_csv), "-m", "nope"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_cli_lists(capsys):
    assert cli_main(["models"]) == 0
    assert "compromise" in capsys.readouterr().out
    assert cli_main(["scenarios"]) == 0
    assert "korea-2019" in capsys.readouterr().out
    assert cli_main(["--version"]) == 0
    assert detente.__version__ in capsys.readouterr().out


def test_python_api_frame():
    r = detente.forecast("korea-2019")
    df = r.to_frame()
    assert list(df.columns[:4]) == ["round", "actor", "issue", "position"]
    assert set(df["issue"]) == {"deal", "sanctions", "exercises"}


def test_runner_keeps_a_converged_history_short():
    # KTAB's reference run (spec): ten turns, 11 states; SActor-02 never moves from 82.5 90.9 0.1
    r = detente.forecast("ktab-dummy-3dim", model="smp")
    assert len(r.history) == 11
    assert [round(v, 1) for v in r.history[-1]["positions"]["SActor-02"].values()] == [82.5, 90.9, 0.1]


@pytest.mark.parametrize("at", [2, 4, 9])
def test_a_no_op_event_never_changes_a_bdm_run(at):
    # bdm cycles on the flagship's sanctions issue early on; a segment boundary (an event
    # that changes nothing) must neither restart a stopped run nor re-measure its span
    d = detente.load("korea-2019").to_dict()
    plain = detente.load(d)
    d["events"] = d.get("events", []) + [
        {"name": "nothing", "type": "change", "actor": "china", "round": at, "changes": {"capability": plain.actor("china").capability.value}}
    ]
    noop = detente.load(d)
    p = models.get("bdm").Params()
    a = simulate(plain, "bdm", p)
    b = simulate(noop, "bdm", p, happened=np.append(most_likely_of(plain), True)[None])
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(a.forecast, b.forecast)


def most_likely_of(s):
    from detente.simulate import most_likely

    return most_likely(s)[0]


@pytest.mark.parametrize("model, field", [("bdm", "risk"), ("smp", "ideals"), ("smp", "pce")])
def test_an_actor_that_joins_at_round_3_is_absent_from_rounds_0_to_2(model, field):
    # the runner plays rounds 1-2 without c, then c joins: each round's model fields (and moves)
    # follow who takes part in that round, not who takes part at the end
    s = _scenario([{"name": "c joins", "type": "join", "actor": "c", "round": 3}])
    d = s.to_dict()
    d["actors"][0]["positions"]["i"] = 20  # a, b and c all apart, so that every model moves someone
    d["actors"].append({"key": "e", "capability": 1, "positions": {"i": 60}, "salience": {"i": 60}})
    res = detente.forecast(detente.load(d), model, rounds=6, stop_fraction=0.0) if model == "smp" else \
        detente.forecast(detente.load(d), model, rounds=6)
    hist = res.history
    assert len(hist) >= 4  # round 3 is played (bdm may converge after it)
    for h in hist:
        present = "c" in h[field]
        assert present == (h["round"] >= 3), (h["round"], sorted(h[field]))
        assert ("c" in h["positions"]) == (h["round"] >= 3)
        assert all(m["actor"] != "c" and m["counterpart"] != "c" for m in h["moves"] if h["round"] < 3)


def test_rounds_after_an_early_stop_record_nothing():
    # smp stops on its own (small movement) before the event at round 6; the runner pads rounds
    # up to the event with the final state and no challenges (not copies of the last turn's)
    s = _scenario([{"name": "c joins", "type": "join", "actor": "c", "round": 6}])
    d = s.to_dict()
    d["rounds"] = 8
    d["actors"][0]["positions"]["i"] = 20
    d["actors"].append({"key": "e", "capability": 1, "positions": {"i": 60}, "salience": {"i": 60}})
    scen = detente.load(d)
    first = models.get("smp").run(scen.to_inputs(), models.get("smp").Params(rounds=5))
    stopped = int(first.rounds[0])
    assert 1 <= stopped < 5  # the run stops early in the first segment
    assert first.extras["target"][0, stopped].max() >= 0  # with challenges in its last turn
    hist = detente.forecast(scen, "smp").history
    for h in hist[stopped + 1 : 6]:
        assert h["challenges"] == [] and h["bargains"] == [] and h["moves"] == []
        assert h["positions"] == hist[stopped]["positions"]
