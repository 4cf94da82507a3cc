"""Advice, compare and backtests as plans of independent tasks (issue #16).

Each of them is cut into pure, picklable tasks that a process anywhere can run (each task draws its
own draws from the seed), and the tasks' results are put back together in task order. The
references here are computed the plain way, in one process and one batch: every draw of every
lever (or every issue) in a single model call, or issue by issue. The result must be bit for bit
the same for any cutting into tasks, for tasks run in any order, and after a pickle round trip.
"""

from __future__ import annotations

import importlib
import json
import pickle
import random
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import detente
from detente.analysis import advice as adv
from detente.analysis import advise, compare
from detente.analysis._draws import monte_carlo_draws
from detente.backtest import load_deu, run_backtest
from detente.backtest import run as bt
from detente.backtest.capability import capabilities
from detente.errors import DetenteError
from detente.models.base import Inputs
from detente.simulate import most_likely, simulate

cmp = importlib.import_module("detente.analysis.compare")  # the module (detente.analysis.compare is the function)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def _shuffled(fn, tasks: list, job, seed: int) -> list:
    """Every task's result, in task order, the tasks run in a shuffled order on pickled copies (as a cluster would)."""
    order = list(range(len(tasks)))
    random.Random(seed).shuffle(order)
    job2 = pickle.loads(pickle.dumps(job))
    parts: list = [None] * len(tasks)
    for i in order:
        parts[i] = fn(pickle.loads(pickle.dumps(tasks[i])), job2)
    return parts


# -- the draws of a task ------------------------------------------------------------------------
@pytest.mark.parametrize("scen", ["korea-2019", "korea-2019-window"])
def test_a_tasks_draws_are_those_rows_of_the_whole_runs_draws(scen):
    sc = detente.load(scen)
    whole = monte_carlo_draws(sc, 50, 9)
    for first, k in [(0, 50), (0, 7), (13, 20), (49, 1)]:
        part = monte_carlo_draws(sc, k, 9, first=first)
        rows = slice(first, first + k)
        for name in ("position", "salience", "capability", "active", "seed"):
            assert np.array_equal(getattr(part.inputs, name), getattr(whole.inputs, name)[rows]), name
        assert np.array_equal(part.happened, whole.happened[rows])
        lazy = monte_carlo_draws(sc, k, 9, first=first, lazy=True).inputs.take(slice(2, k))
        assert np.array_equal(lazy.seed, whole.inputs.seed[first + 2 : first + k])


# -- advice ---------------------------------------------------------------------------------------
def _advice_reference(scen: str, actor: str, model: str, draws: int, seed: int, lever: adv._Lever, a: int):
    """A lever's forecasts the plain way: the whole run's draws, the ally column, the lever, one model call."""
    sc = detente.load(scen)
    dr = monte_carlo_draws(sc, draws, seed)
    aug, base, _ = adv._with_ally(sc, a, dr.inputs, dr.happened)
    x = Inputs(base.position.copy(), base.salience.copy(), base.capability.copy(), base.active.copy(),
               base.low, base.high, base.status_quo, base.seed)
    h = dr.happened.copy()
    mv = lever.move
    d = mv.issue
    lo, hi = sc.to_inputs().low, sc.to_inputs().high
    if mv.kind == "own position":  # the actor's own position, moved by the signed step and kept on the scale
        x.position[:, a, d] = np.clip(x.position[:, a, d] + mv.step, lo[d], hi[d])
    elif mv.kind == "salience":
        x.salience[:, a, d] = np.clip(x.salience[:, a, d] + mv.step, 0, 1)
    elif mv.kind == "remove":  # the actor stays out: inactive, and its join events do not happen
        j = mv.actors[0]
        x.active[:, j] = False
        h[:, [e for e, ev in enumerate(sc.events) if ev.actor == sc.actors[j].key and ev.type == "join"]] = False
    p = detente.model_params(model, {})
    return simulate(aug, model, p, inputs=x, happened=h).final


@pytest.mark.parametrize("model", ["bdm", "compromise"])
def test_advice_levers_equal_the_plain_one_batch_run(model):
    res = advise("korea-2019", "trump", model=model, draws=30, seed=2, progress=False)
    sc = detente.load("korea-2019")
    a = sc.actor_keys.index("trump")
    dr = monte_carlo_draws(sc, 30, 2)
    point = simulate(sc, model, detente.model_params(model, {}), inputs=sc.to_inputs(seed=2), happened=most_likely(sc)).final[0]
    levers = adv._Levers(sc, a, dr, adv._with_ally(sc, a, dr.inputs, dr.happened)[1], "new-ally", point)
    checked = 0
    for lev in levers.single(list(range(len(sc.issues)))):
        if lev.kind not in ("own position", "salience", "remove"):
            continue
        fc = _advice_reference("korea-2019", "trump", model, 30, 2, lev, a)
        issues = [lev.issue] if lev.issue is not None else range(len(sc.issues))
        for d in issues:
            row = res.table[(res.table["issue"] == sc.issues[d].key) & (res.table["lever"] == lev.description)]
            assert len(row) == 1, lev.description
            assert row["forecast"].iloc[0] == float(np.median(fc[:, d]))  # bit for bit
            checked += 1
    assert checked >= 3 * len(sc.issues)


@pytest.mark.parametrize("model,chunk", [("compromise", 1), ("compromise", 7), ("bdm", 45), ("bdm", 10_000)])
def test_advice_does_not_depend_on_how_it_is_cut_into_tasks(model, chunk):
    ref = advise("korea-2019", "dprk", model=model, draws=23, seed=4, progress=False)
    res = advise("korea-2019", "dprk", model=model, draws=23, seed=4, chunk=chunk, progress=False)
    _same(res.table, ref.table)
    _same(res.base, ref.base)
    assert res.runs == ref.runs
    assert res.to_dict() == ref.to_dict()


def test_advice_tasks_cover_every_lever_and_draw_once():
    moves = [adv.BASE] + [adv._Move("remove", None, (j,)) for j in range(5)]
    for size in (1, 4, 11, 23, 24, 500):
        tasks = adv.advice_tasks(moves, 11, size)
        seen = np.zeros((len(moves), 11), dtype=int)
        for t in tasks:
            assert len(t.moves) * (t.stop - t.start) <= max(size, t.stop - t.start)  # about `size` runs a task
            seen[t.lever : t.lever + len(t.moves), t.start : t.stop] += 1
            assert list(t.moves) == moves[t.lever : t.lever + len(t.moves)]
        assert (seen == 1).all(), size


def test_advice_tasks_run_in_any_order_and_after_pickling_give_the_same_forecasts():
    sc = detente.load("korea-2019-window")
    a = 1
    dr = monte_carlo_draws(sc, 17, 3)
    aug, base, ally = adv._with_ally(sc, a, dr.inputs, dr.happened)
    p = detente.model_params("bdm", {})
    point = simulate(sc, "bdm", p, inputs=sc.to_inputs(seed=3), happened=most_likely(sc)).final[0]
    levers = adv._Levers(sc, a, dr, base, ally, point)
    job = adv._AdviceJob(sc, aug, "bdm", p, frozenset(), 3, a, float(base.capability[0, -1]), levers.lo, levers.hi,
                         tuple(levers.joins(j) for j in range(len(sc.actors))))
    moves = [adv.BASE] + [lev.move for lev in levers.single([1])]
    one = adv.merge_advice(*(lambda ts: (ts, [adv._run_advice_task(t, job) for t in ts]))(adv.advice_tasks(moves, 17, 10**6)),
                           len(moves), 17)
    tasks = adv.advice_tasks(moves, 17, 8)
    parts = _shuffled(adv._run_advice_task, tasks, job, 0)
    assert np.array_equal(adv.merge_advice(tasks, parts, len(moves), 17), one)


# -- compare --------------------------------------------------------------------------------------
SCENARIOS = ["korea-2019", "korea-2019-wait", "korea-2019-window"]


@pytest.mark.parametrize("chunk", [None, 4])
def test_compare_with_draws_is_each_pairs_monte_carlo(chunk):
    res = compare(SCENARIOS, models=["bdm", "compromise"], draws=21, seed=6, chunk=chunk, progress=False)
    for lab, scen in zip(res.labels, SCENARIOS):
        for m in ("bdm", "compromise"):
            mc = detente.monte_carlo(scen, m, draws=21, seed=6, progress=False, point=False)
            summ = mc.summary().set_index("issue")
            got = res.table[(res.table["scenario"] == lab) & (res.table["model"] == m)].set_index("issue")
            for col, ref in (("forecast", "median"), ("lo80", "lo80"), ("hi80", "hi80")):
                assert np.array_equal(got[col].to_numpy(), summ.loc[got.index, ref].to_numpy()), (lab, m, col)


def test_compare_without_draws_is_each_pairs_point_forecast_and_the_cut_does_not_matter():
    res = compare(SCENARIOS, models=["bdm", "smp"], seed=2, progress=False)
    for lab, scen in zip(res.labels, SCENARIOS):
        for m in ("bdm", "smp"):
            fc = detente.forecast(scen, model=m, seed=2).forecast
            got = res.table[(res.table["scenario"] == lab) & (res.table["model"] == m)]
            assert {r["issue"]: r["forecast"] for r in got.to_dict("records")} == fc
    job = cmp.CompareJob(tuple(res.scenarios), ("bdm",), {"bdm": detente.model_params("bdm", {})}, {"bdm": frozenset()}, 9, 1)
    whole = cmp.merge_compare(job, *(lambda ts: (ts, [cmp.run_compare_task(t, job) for t in ts]))(cmp.compare_tasks(job, 100, None)))
    cut = cmp.compare_tasks(job, 2, None)
    assert len(cut) == 3 * 5
    parts = [cmp.run_compare_task(t, pickle.loads(pickle.dumps(job))) for t in cut]
    for (s1, m1, a), (s2, m2, b) in zip(whole, cmp.merge_compare(job, cut, parts)):
        assert s1 is s2 and m1 == m2 and np.array_equal(a, b)


# -- backtests ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deu():
    return load_deu()


def _issue_by_issue(ds, name: str, params: dict, kind: str, reps: int, seed: int) -> np.ndarray:
    """The plain reference: each issue alone, all its draws in one model call, the forecast their mean
    (the actors padded, as inactive, to the most of any issue with the same scale and status quo)."""
    module = detente.models.get(name)
    caps = capabilities(ds, kind)[0]
    out = np.full(len(ds.issues), np.nan)
    key = [(i.low, i.high, None if np.isnan(i.status_quo) else i.status_quo) for i in ds.issues]
    for j in range(len(ds.issues)):
        seeds = np.array([bt.issue_seed(seed, j, k) for k in range(reps)], dtype=np.uint64)
        pad = max(i.n for i, k in zip(ds.issues, key) if k == key[j])
        try:
            out[j] = module.run(bt.build_inputs(ds, [j], caps, reps, seeds, pad), module.Params(**params)).final[:, 0].mean()
        except detente.models.base.ModelInputError:
            pass
    return out


@pytest.mark.parametrize("spec,reps,issues", [("compromise", 1, None), ("median(weights=equal,convention=midpoint)", 1, None),
                                              ("nash", 1, None), ("bdm", 1, None), ("smp", 3, 40)])
def test_backtest_forecasts_equal_the_issue_by_issue_run(deu, spec, reps, issues):
    ds = deu if issues is None else replace(deu, issues=deu.issues[:issues])
    s = bt.parse_spec(spec)
    ref = _issue_by_issue(ds, s.name, s.params, "votes", reps, 5)
    specs = bt._specs([spec])
    for size in (1, 37, 1024):
        job, _ = bt.backtest_job(ds, specs, "votes", reps, 5, {sp.label: size for sp in specs})
        tasks = bt.backtest_tasks(job)
        fc, not_run, failures = bt.merge_backtest(job, [sp.label for sp in specs], tasks,
                                                  [bt.run_backtest_task(t, job) for t in tasks])
        assert not failures
        assert np.array_equal(fc[s.label], ref, equal_nan=True), size
        assert not_run.get(s.label, {"n": 0})["n"] == int(np.isnan(ref).sum())


def test_backtest_tasks_in_any_order_after_pickling(deu):
    specs = bt._specs(["mean", "exchange", "focal(pi=0.2)"])
    job, _ = bt.backtest_job(deu, specs, "votes", 1, 0, {sp.label: 64 for sp in specs})
    tasks = bt.backtest_tasks(job)
    labels = [sp.label for sp in specs]
    ref = bt.merge_backtest(job, labels, tasks, [bt.run_backtest_task(t, job) for t in tasks])
    got = bt.merge_backtest(job, labels, tasks, _shuffled(bt.run_backtest_task, tasks, job, 1))
    assert got[0].keys() == ref[0].keys() == set(labels)
    for k in labels:
        assert np.array_equal(got[0][k], ref[0][k], equal_nan=True)
    assert got[1:] == ref[1:]
    # every issue of every model is in exactly one task
    for i in range(len(specs)):
        covered = sorted(j for t in tasks if t.spec == i for u in t.units for j in u)
        assert covered == list(range(len(deu.issues)))


def test_a_model_that_fails_is_reported_and_the_others_are_scored(deu, monkeypatch):
    mod = detente.models.get("mean")

    def broken(inputs, params):
        if inputs.shape[0] > 3:  # fails on some tasks only: the whole model is reported, not half its issues
            raise RuntimeError("boom")
        return real(inputs, params)

    real = mod.run
    monkeypatch.setattr(mod, "run", broken)
    res = run_backtest(deu, models=["mean"], n_boot=50)
    assert res.failures == {"mean": "RuntimeError: boom"}
    assert "compromise" in res.forecasts and "mean" not in res.forecasts


# -- the parameter grid ---------------------------------------------------------------------------
def test_grid_specs_are_every_combination():
    got = [s.label for s in bt.grid_specs({"focal.pi": [0.2, 0.4], "focal.h": [2], "capability": ["votes", "equal"]})]
    assert got == ["focal(pi=0.2,h=2,capability=votes)", "focal(pi=0.2,h=2,capability=equal)",
                   "focal(pi=0.4,h=2,capability=votes)", "focal(pi=0.4,h=2,capability=equal)"]
    caps_only = bt.grid_specs({"capability": ["equal", "shapley"]}, "mean,median(convention=lower)")
    assert [(s.name, s.params, s.capability) for s in caps_only] == [  # the reference model is crossed too
        ("compromise", {}, "equal"), ("compromise", {}, "shapley"), ("mean", {}, "equal"), ("mean", {}, "shapley"),
        ("median", {"convention": "lower"}, "equal"), ("median", {"convention": "lower"}, "shapley")]
    assert bt.parse_grid(["focal.pi=0.1, 0.3", "capability=votes"]) == {"focal.pi": [0.1, 0.3], "capability": ["votes"]}


def test_a_grid_point_scores_as_the_same_model_run_alone(deu):
    res = run_backtest(deu, grid={"focal.pi": [0.2, 0.6], "capability": ["equal", "votes"]}, n_boot=100)
    assert list(res.forecasts) == ["compromise", "focal(pi=0.2,capability=equal)", "focal(pi=0.2,capability=votes)",
                                   "focal(pi=0.6,capability=equal)", "focal(pi=0.6,capability=votes)"]
    alone = run_backtest(deu, models=["focal(pi=0.6)"], capability="equal", n_boot=100)
    assert np.array_equal(res.forecasts["focal(pi=0.6,capability=equal)"], alone.forecasts["focal(pi=0.6)"])
    ref = _issue_by_issue(deu, "focal", {"pi": 0.2}, "votes", 1, 0)
    assert np.array_equal(res.forecasts["focal(pi=0.2,capability=votes)"], ref, equal_nan=True)
    # the models given with --models run beside a grid of other models' parameters
    both = run_backtest(deu, models="median", grid={"focal.pi": [0.3]}, n_boot=10)
    assert list(both.forecasts) == ["compromise", "median", "focal(pi=0.3)"]


@pytest.mark.parametrize("grid,msg", [
    ({"focal": [1]}, "a grid key is MODEL.PARAM or capability"),
    ({"focal.pi": []}, "has no values"),
    ({"focal.pi": list(range(40)), "focal.h": list(range(30))}, "the grid has 1,200 model configurations; at most 1,000"),
])
def test_a_bad_grid_is_refused_naming_it(deu, grid, msg):
    with pytest.raises(DetenteError) as e:
        run_backtest(deu, grid=grid)
    (p,) = e.value.problems
    assert p.field == "grid" and msg in p.reason


def test_cli_grid(capsys):
    from detente.cli import main

    assert main(["backtest", "deu", "--grid", "focal.pi=0.2,0.4", "-g", "capability=equal", "-f", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert list(d["models"]) == ["compromise", "focal(pi=0.2,capability=equal)", "focal(pi=0.4,capability=equal)"]
    assert main(["backtest", "deu", "--grid", "focal.pi"]) == 2
    err = capsys.readouterr().err
    assert "grid" in err and "MODEL.PARAM=v1,v2" in err
    assert main(["backtest", "deu", "--grid", "focal.nope=1"]) == 2
    assert "focal(nope=1)" in capsys.readouterr().err
