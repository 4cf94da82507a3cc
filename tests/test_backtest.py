"""Backtests: DEU loader, reference numbers, bootstrap, generic format, bad data, the counterweight model.

Expected numbers come from the DEU README (published reference MAEs and
counts), from published voting-power values, or from independent derivations
in the tests themselves, never from the code's own output.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from detente.backtest import (
    load_deu,
    load_outcomes,
    paired_bootstrap,
    power_index,
    run_backtest,
)
from detente.backtest.data import deu_path
from detente.errors import DatasetError
from detente.models import get, names
from detente.models.base import Inputs


@pytest.fixture(scope="module")
def deu():
    return load_deu()


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "deu"
    shutil.copytree(deu_path(), dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def _rewrite(path: Path, fn) -> None:
    """Rewrite a CSV row by row: ``fn(row) -> row or None`` (None drops it)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
        cols = list(rows[0].keys())
    out = [r2 for r in rows if (r2 := fn(dict(r))) is not None]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0].keys()) if out else cols)
        w.writeheader()
        w.writerows(out)


# ---------------------------------------------------------------------------
# the shipped data


def test_shipped_data_is_the_shared_copy_with_readme():
    d = deu_path()
    for f in ("issues.csv", "positions.csv", "council_weights.csv", "gdp_capability.csv", "README.md"):
        assert (d / f).is_file(), f
    readme = (d / "README.md").read_text()
    assert "10.34810/data53" in readme and "CC BY 4.0" in readme and "Thomson" in readme


def test_loader_counts_match_readme(deu):
    assert deu.n_total == 331
    assert len(deu.issues) == 322
    assert len(deu.skipped) == 9
    waves = {i.meta["wave"] for i in deu.issues}
    assert waves == {"DEU_I_EU15", "DEU_II_EU25_27"}
    # only actors with both a position and a salience count
    for i in deu.issues:
        assert np.isfinite(i.position).all() and np.isfinite(i.salience).all() and i.n >= 3


@pytest.fixture(scope="module")
def reference():
    return run_backtest(
        "deu",
        models=[
            "compromise",
            "compromise(capability=equal)",
            "mean",
            "median(weights=equal,convention=midpoint)",
        ],
    )


def test_reference_maes_reproduced(reference):
    # the DEU README's table (322 scored issues of waves I+II)
    assert reference.n_issues == 322
    assert round(reference.mae("compromise"), 2) == 23.43
    assert round(reference.mae("compromise(capability=equal)"), 2) == 23.68
    assert round(reference.mae("mean"), 2) == 23.72
    assert round(reference.mae("median(weights=equal,convention=midpoint)"), 2) == 28.78


def test_json_contract(reference):
    doc = json.loads(reference.to_json())
    assert doc["n_issues"] == 322
    m = doc["models"]["compromise"]
    for k in ("n", "mae", "rmse", "median_ae", "within5", "within10", "by", "mae_diff_vs_compromise"):
        assert k in m
    assert set(m["by"]) == {"wave", "proc", "rule", "type"}
    assert m["by"]["wave"]["DEU_I_EU15"]["n"] == 171
    assert m["by"]["wave"]["DEU_II_EU25_27"]["n"] == 151
    assert sum(g["n"] for g in m["by"]["rule"].values()) == 322
    assert len(doc["per_issue"]) == 322
    first = doc["per_issue"][0]
    assert {"issue", "wave", "outcome", "forecasts"} <= set(first)
    assert len(doc["skipped"]) == 9
    d = doc["models"]["mean"]["mae_diff_vs_compromise"]
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert reference.to_frame().shape[0] == 322
    assert "mae" in reference.to_csv().splitlines()[0]


def test_nash_runs_only_where_there_is_a_reference_point(deu):
    res = run_backtest(deu, models=["nash"])
    with_rp = sum(i.has_status_quo for i in deu.issues)
    assert res.summary["nash"]["n"] == with_rp < 322
    assert res.summary["nash"]["not_run"]["n"] == 322 - with_rp


def test_capability_options_run(deu):
    for cap in ("equal", "votes", "population", "gdp", "shapley", "banzhaf"):
        res = run_backtest(deu, models=["compromise"], capability=cap)
        assert 15 < res.mae("compromise") < 35
        assert not res.notes
    # equal capability = the README's salience-weighted mean
    assert round(run_backtest(deu, models=["compromise"], capability="equal").mae("compromise"), 2) == 23.68


# ---------------------------------------------------------------------------
# voting power


def _banzhaf_brute(w, q):
    n = len(w)
    sw = [0] * n
    for mask in range(1 << n):
        t = sum(w[i] for i in range(n) if mask >> i & 1)
        for i in range(n):
            if not mask >> i & 1 and t < q <= t + w[i]:
                sw[i] += 1
    return np.array(sw) / sum(sw)


def _shapley_brute(w, q):
    n = len(w)
    piv = np.zeros(n)
    for perm in itertools.permutations(range(n)):
        t = 0
        for i in perm:
            t += w[i]
            if t >= q:
                piv[i] += 1
                break
    return piv / math.factorial(n)


def test_power_indices_exact():
    w, q = (4, 3, 2, 1, 1), 7
    assert np.allclose(power_index(w, q, "shapley"), _shapley_brute(w, q))
    assert np.allclose(power_index(w, q, "banzhaf"), _banzhaf_brute(w, q))
    # EU-15 pre-Nice Council (quota 62 of 87): Shapley-Shubik values as published
    # (Felsenthal & Machover 1998): 11.67% (10 votes), 9.55% (8), 5.52% (5), 4.54% (4), 3.53% (3), 2.07% (2)
    eu15 = (10, 10, 10, 10, 8, 5, 5, 5, 5, 4, 4, 3, 3, 3, 2)
    ss = power_index(eu15, 62, "shapley")
    assert [round(ss[i] * 100, 2) for i in (0, 4, 5, 9, 11, 14)] == [11.67, 9.55, 5.52, 4.54, 3.53, 2.07]
    assert np.allclose(power_index(eu15, 62, "banzhaf"), _banzhaf_brute(eu15, 62))


# ---------------------------------------------------------------------------
# bootstrap


def test_bootstrap_constant_difference_is_exact():
    rng = np.random.default_rng(1)
    b = rng.uniform(0, 50, 200)
    out = paired_bootstrap(b + 3.0, b, n_boot=500, seed=0)
    assert out["n"] == 200
    assert out["mean"] == pytest.approx(3.0)
    assert out["ci95"] == pytest.approx([3.0, 3.0])


def test_bootstrap_interval_matches_normal_theory():
    # paired differences ~ N(2, 4^2) on 400 issues: the 95% interval of the mean
    # difference is about 2 +- 1.96 * 4 / 20 = 2 +- 0.39 (independent derivation)
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 40, 400)
    d = rng.normal(2.0, 4.0, 400)
    res = paired_bootstrap(base + d, base, n_boot=4000, seed=3)
    half = 1.96 * d.std(ddof=1) / math.sqrt(400)
    assert res["mean"] == pytest.approx(d.mean())
    assert res["ci95"][0] == pytest.approx(d.mean() - half, abs=0.06)
    assert res["ci95"][1] == pytest.approx(d.mean() + half, abs=0.06)
    # seeded: same seed, same interval
    assert paired_bootstrap(base + d, base, n_boot=4000, seed=3) == res


# ---------------------------------------------------------------------------
# generic outcomes format


def _scenario(key_sq=None):
    issue_a = {"key": "a", "scale": [0, 100]}
    if key_sq is not None:
        issue_a["status_quo"] = key_sq
    return {
        "name": "tiny",
        "issues": [issue_a, {"key": "b", "scale": [0, 10]}],
        "actors": [
            {"key": "x", "capability": 3, "positions": {"a": 0, "b": 2}, "salience": {"a": 100, "b": 50}},
            {"key": "y", "capability": 1, "positions": {"a": 100, "b": 10}, "salience": {"a": 100, "b": 50}},
            {"key": "z", "capability": 1, "positions": {"a": 40, "b": 4}, "salience": {"a": 50, "b": 50}},
        ],
    }


def _outcomes_dir(tmp_path: Path, rows: list[str]) -> Path:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "one.json").write_text(json.dumps(_scenario(30)))
    (d / "two.json").write_text(json.dumps(_scenario()))
    (d / "outcomes.csv").write_text("scenario,issue,outcome,wave\n" + "\n".join(rows) + "\n")
    return d


def test_generic_outcomes_format(tmp_path):
    d = _outcomes_dir(tmp_path, ["one.json,a,30,w1", "one.json,b,5,w1", "two.json,a,20,w2", "two.json,2,,w2"])
    res = run_backtest("outcomes", data=str(d), models=["compromise", "mean"])
    assert res.n_issues == 3 and len(res.skipped) == 1 and res.skipped[0]["line"] == 5
    # hand computation: issue a: (3*1*0 + 1*1*100 + 1*.5*40) / (3 + 1 + .5) = 120/4.5
    fa = 120 / 4.5
    fb = (3 * 0.5 * 2 + 1 * 0.5 * 10 + 1 * 0.5 * 4) / (1.5 + 0.5 + 0.5)
    expected = np.mean([abs(fa - 30), abs(fb - 5), abs(fa - 20)])
    assert res.mae("compromise") == pytest.approx(expected)
    assert res.mae("mean") == pytest.approx(np.mean([abs(140 / 3 - 30), abs(16 / 3 - 5), abs(140 / 3 - 20)]))
    assert res.summary["mean"]["by"]["wave"]["w2"]["n"] == 1
    # the folder itself is recognised as an outcomes dataset
    assert run_backtest(str(d), models=["mean"]).n_issues == 3


def test_generic_outcome_outside_scale(tmp_path):
    d = _outcomes_dir(tmp_path, ["one.json,a,30,w1", "one.json,b,11,w1"])
    with pytest.raises(DatasetError) as e:
        load_outcomes(d)
    p = e.value.problems[0]
    assert p.file.endswith("outcomes.csv") and p.line == 3 and p.field == "outcome"


def test_a_broken_scenario_of_an_outcomes_folder_is_named_with_its_line(tmp_path):
    d = _outcomes_dir(tmp_path, ["one.json,a,30,w1", "two.json,a,20,w2"])
    (d / "two.json").write_text('{"name": "two",\n "issues": [{"key": "a", "scale": [0, 100]}],\n "actors": 7}\n')
    with pytest.raises(DatasetError) as e:
        load_outcomes(d)
    (p,) = e.value.problems
    assert p.file == str(d / "two.json") and p.line == 3 and p.field == "actors"


# ---------------------------------------------------------------------------
# malformed DEU copies


def test_missing_file(tmp_path):
    d = _copy(tmp_path)
    (d / "positions.csv").unlink()
    with pytest.raises(DatasetError) as e:
        load_deu(d)
    assert e.value.problems[0].file.endswith("positions.csv")
    assert "not found" in e.value.problems[0].reason


def test_missing_column(tmp_path):
    d = _copy(tmp_path)
    _rewrite(d / "issues.csv", lambda r: {k: v for k, v in r.items() if k != "out"})
    with pytest.raises(DatasetError) as e:
        load_deu(d)
    p = e.value.problems[0]
    assert p.file.endswith("issues.csv") and p.field == "out" and p.line == 1


def test_outcome_outside_scale(tmp_path):
    d = _copy(tmp_path)
    _rewrite(d / "issues.csv", lambda r: {**r, "out": "150"} if r["isnr"] == "d00032i3" else r)
    with pytest.raises(DatasetError) as e:
        load_deu(d)
    (p,) = e.value.problems
    # d00032i3 is the third data row: line 4 of issues.csv
    assert p.file.endswith("issues.csv") and p.line == 4 and p.field == "out"
    assert "outside" in p.reason


def test_issue_with_no_positions(tmp_path):
    d = _copy(tmp_path)
    _rewrite(d / "positions.csv", lambda r: None if r["isnr"] == "d00032i2" else r)
    with pytest.raises(DatasetError) as e:
        load_deu(d)
    (p,) = e.value.problems
    assert p.file.endswith("issues.csv") and p.line == 3 and "d00032i2" in p.reason


def test_skipped_issue_is_counted_and_reported(tmp_path):
    d = _copy(tmp_path)
    _rewrite(d / "issues.csv", lambda r: {**r, "out": ""} if r["isnr"] == "d00032i1" else r)
    res = run_backtest("deu", data=str(d), models=["mean"])
    assert res.n_issues == 321
    doc = res.to_dict()
    assert doc["n_skipped"] == 10
    assert any(s["issue"] == "d00032i1" and s["line"] == 2 and s["reason"] == "no outcome" for s in doc["skipped"])


def test_new_wave_and_unknown_actor_just_work(tmp_path):
    d = _copy(tmp_path)
    with (d / "issues.csv").open(newline="") as fh:
        cols = next(csv.reader(fh))
    row = dict.fromkeys(cols, "")
    row.update({"isnr": "x20001i1", "wave": "DEU_III_EU28", "proc": "OLP", "counvte": "QMV", "type": "Reg", "out": "60"})
    with (d / "issues.csv").open("a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=cols).writerow(row)
    with (d / "positions.csv").open("a", newline="") as fh:
        w = csv.writer(fh)
        for a, nm, x, s in [("com", "European Commission", 100, 50), ("de", "Germany", 40, 80),
                            ("hr", "Croatia", 0, 60), ("zz", "Atlantis", 50, 50)]:
            w.writerow(["x20001i1", a, nm, x, s])
    for cap in ("votes", "shapley", "population", "gdp"):
        res = run_backtest("deu", data=str(d), models=["compromise"], capability=cap)
        assert res.n_issues == 323
        assert res.summary["compromise"]["by"]["wave"]["DEU_III_EU28"]["n"] == 1
        assert any("zz" in n for n in res.notes)
    # votes: Nice weights for an unknown wave: com 29 (largest state), de 29, hr 7,
    # zz = mean of the issue's states found in the table = (29 + 7) / 2 = 18
    res = run_backtest("deu", data=str(d), models=["compromise"], capability="votes")
    w = np.array([29 * 0.5, 29 * 0.8, 7 * 0.6, 18 * 0.5])
    x = np.array([100, 40, 0, 50])
    assert res.forecasts["compromise"][-1] == pytest.approx((w * x).sum() / w.sum())


def test_unknown_model_is_a_user_error():
    from detente.errors import DetenteError

    with pytest.raises(DetenteError):
        run_backtest("deu", models=["no_such_model"])
    with pytest.raises(DetenteError):
        run_backtest("deu", models=["mean(bogus=1)"])


def test_cli_json(tmp_path):
    import typer
    from typer.testing import CliRunner

    from detente.cli.backtest import register

    app = typer.Typer()

    @app.callback()
    def _main() -> None:  # pragma: no cover - typer needs a callback for subcommands
        pass

    register(app)
    r = CliRunner().invoke(app, ["backtest", "deu", "--models", "mean", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_issues"] == 322 and round(doc["models"]["mean"]["mae"], 2) == 23.72
    r = CliRunner().invoke(app, ["backtest", "deu", "--data", str(tmp_path / "nowhere")])
    assert r.exit_code == 2


# ---------------------------------------------------------------------------
# the counterweight model


def test_counterweight_registered_and_protocol():
    assert "counterweight" in names()
    m = get("counterweight")
    for attr in ("NAME", "SUMMARY", "CITATION", "Params", "run"):
        assert hasattr(m, attr)
    assert "wave I" in m.CITATION


def _random_inputs(B=6, n=7, D=3, seed=0):
    rng = np.random.default_rng(seed)
    return Inputs.build(
        rng.integers(0, 11, (B, n, D)) * 10.0,
        rng.uniform(0, 1, (B, n, D)),
        rng.uniform(1, 10, (B, n)),
        low=0.0,
        high=100.0,
    )


def test_counterweight_by_hand():
    m = get("counterweight")
    # positions 0, 0, 60, 100 with capabilities 1, 1, 1, 3: mean 40; the
    # capability-weighted median: cumulative weights 1, 2, 3, 6 of total 6 reach
    # half (3) exactly at 60, so the midpoint convention gives (60 + 100) / 2 = 80
    inp = Inputs.build([0.0, 0.0, 60.0, 100.0], [0.5, 0.5, 0.5, 0.5], [1.0, 1.0, 1.0, 3.0])
    f = m.run(inp, m.Params(k=0.5)).final[0, 0]
    assert f == pytest.approx(40 + 0.5 * (40 - 80))
    # clipped to the range of positions
    assert m.run(inp, m.Params(k=10)).final[0, 0] == pytest.approx(0.0)
    # k = 0 is the plain mean
    assert m.run(inp, m.Params(k=0)).final[0, 0] == pytest.approx(40.0)


def test_counterweight_batched_equals_single():
    m = get("counterweight")
    inp = _random_inputs()
    batched = m.run(inp, m.Params()).final
    for b in range(inp.shape[0]):
        assert np.allclose(m.run(inp.take([b]), m.Params()).final[0], batched[b])


def test_counterweight_inactive_equals_removed():
    m = get("counterweight")
    inp = _random_inputs(B=1, n=8, seed=3)
    act = np.ones((1, 8), bool)
    act[0, [1, 5]] = False
    with_inactive = Inputs.build(inp.position, inp.salience, inp.capability, active=act, low=0.0, high=100.0)
    keep = [0, 2, 3, 4, 6, 7]
    removed = Inputs.build(inp.position[:, keep], inp.salience[:, keep], inp.capability[:, keep], low=0.0, high=100.0)
    # move the inactive actors' positions far away: they must still not matter
    far = inp.position.copy()
    far[0, [1, 5]] = 1000.0
    moved = Inputs.build(far, inp.salience, inp.capability, active=act, low=0.0, high=100.0)
    a = m.run(with_inactive, m.Params()).final
    assert np.allclose(a, m.run(removed, m.Params()).final)
    assert np.allclose(a, m.run(moved, m.Params()).final)


def test_counterweight_within_range_of_positions():
    m = get("counterweight")
    for seed in range(5):
        inp = _random_inputs(seed=seed)
        f = m.run(inp, m.Params(k=2.0)).final
        assert (f >= inp.position.min(axis=1) - 1e-9).all() and (f <= inp.position.max(axis=1) + 1e-9).all()


def test_counterweight_no_context_needed():
    # no status quo, no roles, no voting rule: still a forecast
    m = get("counterweight")
    inp = Inputs.build([10.0, 50.0, 90.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert np.isfinite(m.run(inp, m.Params()).final).all()


def test_draws_average_and_seeds_do_not_depend_on_batching(tmp_path, monkeypatch):
    import detente.backtest.run as backtest_run

    d = _outcomes_dir(tmp_path, ["one.json,a,30,w1", "one.json,b,5,w1", "two.json,a,20,w2", "two.json,b,4,w2"])
    spec = "smp(state_transitions=Stochastic, rounds=6)"  # stochastic: each draw uses its own seed
    whole = run_backtest("outcomes", data=str(d), models=[spec], draws=5, seed=5)
    (label,) = [k for k in whole.forecasts if k.startswith("smp")]
    # one issue per model call instead of every issue of a scale group in one call
    monkeypatch.setattr(backtest_run, "CHUNK", 5)
    split = run_backtest("outcomes", data=str(d), models=[spec], draws=5, seed=5)
    np.testing.assert_array_equal(whole.forecasts[label], split.forecasts[label])
    # the seeds matter (the test could fail): another seed draws other transitions
    other = run_backtest("outcomes", data=str(d), models=[spec], draws=5, seed=6)
    assert not np.array_equal(whole.forecasts[label], other.forecasts[label])
    # a forecast is the average of its draws: a deterministic model's draws are all the same
    one = run_backtest("outcomes", data=str(d), models=["mean"], draws=0)
    three = run_backtest("outcomes", data=str(d), models=["mean"], draws=3, seed=5)
    np.testing.assert_allclose(one.forecasts["mean"], three.forecasts["mean"], rtol=1e-15)
