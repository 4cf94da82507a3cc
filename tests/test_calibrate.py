"""Track-record bands (issue #15): conformal coverage, grouping, the held-out wave, scale, scores."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detente.backtest import load_deu, run_backtest
from detente.backtest.calibration import ALL_LEVELS, issue_difficulties, model_bands
from detente.backtest.capability import capabilities
from detente.calibrate import (
    Calibration,
    conformal_quantile,
    coverage,
    crps_sample,
    difficulty,
    fit,
    group_folds,
    interval_score,
    pit,
    pit_histogram,
    reliability,
)

WIDE = (-1e6, 1e6)  # a scale no synthetic outcome reaches (no clipping)


# ----------------------------------------------------------------------------- conformal coverage


@pytest.mark.parametrize("n", [20, 100, 500])
def test_conformal_coverage_matches_theory_for_several_sizes(n):
    """Split-conformal coverage of a fresh point is exactly k/(n+1), k = ceil((n+1)(1-a)), for continuous
    exchangeable scores (Lei et al. 2018, Thm 2.2). Averaged over R independent calibrations with Laplace
    errors, the observed coverage lies within 4 standard errors of it."""
    rng = np.random.default_rng(n)
    R, m = 400, 200
    for lev in (50, 80, 90):
        covs = []
        for _ in range(R):
            f = rng.uniform(0, 100, n)
            y = f + rng.laplace(0, 10, n)
            cal = fit(f, y, *WIDE, levels=(lev,))
            ft = rng.uniform(0, 100, m)
            yt = ft + rng.laplace(0, 10, m)
            b = cal.bands(ft, WIDE[0], WIDE[1], 0.0, (lev,))
            covs.append(coverage(b, yt)[0])
        k = math.ceil((n + 1) * lev / 100)
        expect = k / (n + 1)
        # per calibration, coverage ~ Beta(k, n+1-k); plus the m test points' binomial noise
        var = k * (n + 1 - k) / ((n + 1) ** 2 * (n + 2)) + expect * (1 - expect) / m
        se = math.sqrt(var / R)
        assert abs(np.mean(covs) - expect) < 4 * se, (n, lev, np.mean(covs), expect, se)


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    s = np.arange(1.0, 11.0)  # 10 scores
    assert conformal_quantile(s, 0.5) == 6.0  # ceil(11 * 0.5) = 6th smallest
    assert conformal_quantile(s, 0.9) == 10.0  # ceil(9.9) = 10
    assert math.isinf(conformal_quantile(s, 0.95))  # ceil(10.45) = 11 > 10: the whole scale


def test_normalized_conformal_adapts_where_errors_grow_with_difficulty():
    """Errors whose spread grows with the difficulty: the grouped CV chooses the adaptive band, which covers
    both easy and hard issues near nominal; the constant band over-covers easy ones and under-covers hard ones."""
    rng = np.random.default_rng(7)
    n = 1500
    d = rng.uniform(0.01, 0.3, n)
    f = rng.uniform(0, 100, n)
    y = f + rng.normal(0, 1, n) * 100 * d
    groups = np.arange(n) // 3
    cal = fit(f, y, *WIDE, {"spread": d / 2e6 * 100}, groups)  # difficulty as a share of the (wide) scale
    assert cal.difficulty == "spread"
    assert cal.cv["spread"] < cal.cv["none"]
    const = fit(f, y, *WIDE)
    ft = rng.uniform(0, 100, 4000)
    dt = rng.uniform(0.01, 0.3, 4000)
    yt = ft + rng.normal(0, 1, 4000) * 100 * dt
    hard = dt > 0.155
    ba = cal.bands(ft, WIDE[0], WIDE[1], dt / 2e6 * 100, (80,))
    bc = const.bands(ft, WIDE[0], WIDE[1], 0.0, (80,))
    for part in (hard, ~hard):
        assert abs(coverage(ba[part], yt[part])[0] - 0.8) < 0.05
    assert coverage(bc[hard], yt[hard])[0] < 0.72 and coverage(bc[~hard], yt[~hard])[0] > 0.88


# ----------------------------------------------------------------------------- grouping


def test_group_folds_keep_each_group_together_and_balance():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 400)
    fold = group_folds(groups, 10, seed=3)
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    sizes = np.bincount(fold)
    assert len(sizes) == 10 and sizes.max() - sizes.min() <= max(np.bincount(groups))
    assert np.array_equal(fold, group_folds(groups, 10, seed=3))  # seeded


@pytest.fixture(scope="module")
def deu():
    ds = load_deu()
    caps, _ = capabilities(ds, "votes")
    return ds, issue_difficulties(ds, caps)


def test_a_proposals_bands_never_see_its_own_issues(deu):
    """Cross-conformal bands: changing every outcome of one proposal leaves that proposal's bands unchanged
    (its issues are never on the learning side of their own split), while other proposals' bands move."""
    ds, diffs = deu
    from dataclasses import replace

    f = np.array([np.average(i.position, weights=i.salience) for i in ds.issues])
    base = model_bands(ds, f, diffs, seed=0)
    target = ds.issues[0].meta["prnr"]
    mine = np.array([i.meta["prnr"] == target for i in ds.issues])
    assert mine.sum() >= 2
    planted = replace(ds, issues=[replace(i, outcome=100.0 - i.outcome if i.meta["prnr"] == target else i.outcome)
                                  for i in ds.issues])
    # make the plant large: the proposal's issues land at the far end of the scale from the forecast
    planted = replace(planted, issues=[replace(i, outcome=0.0 if f[j] > 50 else 100.0) if mine[j] else i
                                       for j, i in enumerate(planted.issues)])
    moved = model_bands(planted, f, diffs, seed=0)
    assert np.array_equal(base["bands"][mine], moved["bands"][mine])
    assert not np.array_equal(base["bands"][~mine], moved["bands"][~mine])


# ----------------------------------------------------------------------------- the held-out wave


def _copy_deu(tmp: Path) -> Path:
    src = Path(load_deu().path)
    dst = tmp / "deu"
    shutil.copytree(src, dst)
    return dst


def _rewrite(path: Path, fn) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    rows = [fn(r) for r in rows]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def test_holdout_wave_never_learns_from_the_named_wave(tmp_path):
    """A planted outcome on the held-out wave (every outcome moved to the far end of the scale) changes its
    scores but not one of its bands: they are learned from the other wave only."""
    models = ["compromise", "mean"]
    clean = run_backtest("deu", models=models, holdout_wave="DEU_II_EU25_27")
    folder = _copy_deu(tmp_path)

    def plant(r):
        if r["wave"] == "DEU_II_EU25_27" and r["out"]:
            r["out"] = "100.0" if float(r["out"]) < 50 else "0.0"
        return r

    _rewrite(folder / "issues.csv", plant)
    planted = run_backtest("deu", data=str(folder), models=models, holdout_wave="DEU_II_EU25_27")
    assert clean.n_issues == planted.n_issues == 151
    for m in models:
        assert np.array_equal(clean.bands[m], planted.bands[m])
        assert planted.summary[m]["coverage"]["90"] < clean.summary[m]["coverage"]["90"]
    # the reverse: planting on wave II does move wave I's bands when wave I is held out (the plant is visible)
    a = run_backtest("deu", models=["compromise"], holdout_wave="DEU_I_EU15")
    b = run_backtest("deu", data=str(folder), models=["compromise"], holdout_wave="DEU_I_EU15")
    assert not np.array_equal(a.bands["compromise"], b.bands["compromise"])


def test_holdout_wave_takes_any_wave_name_and_new_actors(tmp_path):
    """A copy with a third wave (new name, a new actor) is held out like the shipped ones."""
    folder = _copy_deu(tmp_path)
    with (folder / "issues.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    first = [r for r in rows if r["prnr"] == rows[0]["prnr"]]
    new = []
    for r in first:
        r = dict(r)
        r["isnr"], r["prnr"], r["wave"] = "x" + r["isnr"], "x" + r["prnr"], "DEU_III_TEST"
        new.append(r)
    with (folder / "issues.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0])).writerows(new)
    with (folder / "positions.csv").open(newline="", encoding="utf-8") as fh:
        pos = list(csv.DictReader(fh))
    ids = {r["isnr"][1:] for r in new}
    extra = [dict(p, isnr="x" + p["isnr"]) for p in pos if p["isnr"] in ids]
    extra += [{"isnr": "x" + i, "actor": "hr", "actor_name": "Croatia", "position": "40", "salience": "50"} for i in ids]
    with (folder / "positions.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, fieldnames=list(pos[0])).writerows(extra)
    res = run_backtest("deu", data=str(folder), models=["compromise"], holdout_wave="DEU_III_TEST")
    assert res.n_issues == len(new)
    assert {it["wave"] for it in res.issues} == {"DEU_III_TEST"}
    d = res.to_dict()
    assert set(d["per_issue"][0]["bands"]["compromise"]) == {"50", "80", "90"}
    assert set(d["models"]["compromise"]["coverage"]) == {"50", "80", "90"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "detente", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "220"})


def test_unknown_holdout_wave_exits_2_naming_the_waves():
    r = _cli("backtest", "deu", "--models", "compromise", "--holdout-wave", "DEU_IX")
    assert r.returncode == 2
    assert "DEU_IX" in r.stderr and "DEU_I_EU15" in r.stderr and "DEU_II_EU25_27" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_holdout_prints_coverage_and_interval_scores():
    r = _cli("backtest", "deu", "--models", "compromise,mean", "--holdout-wave", "DEU_II_EU25_27")
    assert r.returncode == 0, r.stderr
    assert "cover 80%" in r.stdout and "IS 80%" in r.stdout and "held-out wave DEU_II_EU25_27" in r.stdout
    r = _cli("backtest", "deu", "--models", "compromise,mean", "--holdout-wave", "DEU_II_EU25_27", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_issues"] == 151
    for m in ("compromise", "mean"):
        for lev in ("50", "80", "90"):
            assert 0 <= d["models"][m]["coverage"][lev] <= 1
            assert d["models"][m]["interval_score"][lev] > 0
        lo, hi = d["per_issue"][0]["bands"][m]["80"]
        assert 0 <= lo <= hi <= 100


# ----------------------------------------------------------------------------- scale


def test_bands_scale_with_the_issue_scale():
    cal = Calibration("spread", 0.1, 1.0, 0.01, {"50": 0.2, "80": 0.5, "90": 0.7})
    b100 = cal.bands(np.array([40.0]), 0.0, 100.0, np.array([0.1]))
    b10 = cal.bands(np.array([4.0]), 0.0, 10.0, np.array([0.1]))
    shifted = cal.bands(np.array([1040.0]), 1000.0, 1100.0, np.array([0.1]))
    assert np.allclose(b10, b100 / 10)
    assert np.allclose(shifted, b100 + 1000)
    # 80%: 40 +- 100 x (0.1 + 0.1) x 0.5 = [30, 50]; clipped to the scale at 90%: 40 +- 14
    assert np.allclose(b100[0, 1], [30, 50]) and np.allclose(b100[0, 2], [26, 54])
    assert np.allclose(cal.bands(np.array([5.0]), 0.0, 100.0, np.array([0.1]))[0, 2], [0, 19])


def test_difficulty_is_a_share_of_the_scale():
    pos = np.array([[[0.0], [50.0], [100.0]]])
    sal = np.ones((1, 3, 1))
    d100 = difficulty(pos, sal, np.ones((1, 3)), np.ones((1, 3), bool), np.array([0.0]), np.array([100.0]))
    d10 = difficulty(pos / 10, sal, np.ones((1, 3)), np.ones((1, 3), bool), np.array([0.0]), np.array([10.0]))
    assert np.isclose(d100["spread"][0, 0], np.std([0, 0.5, 1.0]))
    assert np.isclose(d100["disagreement"][0, 0], np.mean(np.abs(np.array([0, 0.5, 1.0]) - 0.5)))
    for k in d100:
        assert np.allclose(d100[k], d10[k])


# ----------------------------------------------------------------------------- scores


def test_interval_score_by_hand():
    b = np.array([[[10.0, 30.0]], [[10.0, 30.0]], [[10.0, 30.0]]])
    y = np.array([20.0, 5.0, 40.0])
    # 80% band: a = 0.2, penalty 2/a = 10 per point outside
    assert np.allclose(interval_score(b, y, (80,))[:, 0], [20.0, 20 + 50.0, 20 + 100.0])


def test_crps_and_pit_against_slow_references():
    rng = np.random.default_rng(1)
    x = rng.normal(50, 10, (5, 40)).round()  # ties on purpose
    y = np.array([50.0, 20.0, 80.0, x[3, 0], 49.5])
    grid = np.linspace(-100, 200, 300_001)
    for j in range(5):
        F = (x[j][None, :] <= grid[:, None]).mean(axis=1)
        ref = np.trapezoid((F - (grid >= y[j])) ** 2, grid)  # CRPS = integral of (F - 1{x >= y})^2
        assert abs(crps_sample(x[j : j + 1], y[j : j + 1])[0] - ref) < 2e-3
        below = sum(v < y[j] for v in x[j]) / 40
        equal = sum(v == y[j] for v in x[j]) / 40
        assert pit(x[j : j + 1], y[j : j + 1])[0] == pytest.approx(below + equal / 2)


def test_reliability_and_pit_histogram_equal_a_direct_computation(deu):
    ds, diffs = deu
    f = np.array([np.median(i.position) for i in ds.issues])
    y = np.array([i.outcome for i in ds.issues])
    p = model_bands(ds, f, diffs, seed=0)
    rel = reliability(p["bands"], y, ALL_LEVELS)
    for i, lev in enumerate(ALL_LEVELS):
        inside = 0
        for j in range(len(y)):
            lo, hi = p["bands"][j, i]
            inside += lo <= y[j] <= hi
        assert rel["nominal"][i] == lev / 100
        assert rel["observed"][i] == pytest.approx(inside / len(y))
    from fractions import Fraction

    counts = [0] * 10
    for v in p["pit"]:  # exact arithmetic: a PIT of exactly 0.7 is in the bin [0.7, 0.8)
        counts[min(int(Fraction(v).limit_denominator(10_000) * 10), 9)] += 1
    assert pit_histogram(p["pit"]) == counts
    # the backtest reports the same numbers for the same forecasts
    res = run_backtest("deu", models=["compromise", "median(weights=equal)"], seed=0)
    s = res.summary["compromise"]
    fc = res.forecasts["compromise"]
    q = model_bands(ds, fc, diffs, seed=0)
    assert s["reliability"] == reliability(q["bands"], y, ALL_LEVELS)
    assert s["pit_histogram"] == pit_histogram(q["pit"])
    assert s["crps"] == pytest.approx(float(np.mean(q["crps"])))
    cov80 = np.mean([(b[0] <= yy <= b[1]) for b, yy in zip(res.bands["compromise"][:, 1], y)])
    assert s["coverage"]["80"] == pytest.approx(cov80)
    by = s["prob_by"]["wave"]["DEU_I_EU15"]
    w1 = np.array([it["wave"] == "DEU_I_EU15" for it in res.issues])
    assert by["coverage"]["80"] == pytest.approx(np.mean([(b[0] <= yy <= b[1]) for b, yy in
                                                          zip(res.bands["compromise"][w1, 1], y[w1])]))


# ----------------------------------------------------------------------------- forecasts show the band


def test_the_shipped_table_regenerates_from_the_data():
    """data/calibration.json is exactly what `python -m detente.backtest.table` builds from the shipped DEU data."""
    from detente.backtest.table import build_table, table_path

    text = json.dumps(build_table(), indent=1, sort_keys=True) + "\n"
    assert table_path().read_text(encoding="utf-8") == text


def test_a_forecast_carries_its_track_record_band_scaled_to_each_issue():
    import detente
    from detente.calibrate import Calibration as Cal
    from detente.calibrate import difficulty as diff_of
    from detente.calibrate import table

    res = detente.forecast("korea-2019", "compromise")
    d = res.to_dict()
    entry = table()["models"]["compromise"]
    cal = Cal.from_dict(entry["calibration"])
    inp = res.scenario.to_inputs()
    dd = diff_of(inp.position, inp.salience, inp.capability, inp.active, inp.low, inp.high)[cal.difficulty][0]
    for k, iss in enumerate(d["issues"].values()):
        band = iss["track_record_band"]
        assert band["learned_from"] == table()["source"] and band["nominal"] == "80"
        f = iss["forecast"]
        lo, hi = iss["scale"]
        half = (hi - lo) * max(cal.a + cal.b * dd[k], cal.floor) * cal.quantiles["80"]
        assert band["bands"]["80"] == pytest.approx([max(lo, f - half), min(hi, f + half)])
        assert band["bands"]["50"][0] >= band["bands"]["80"][0] >= band["bands"]["90"][0]


def test_a_model_without_a_track_record_says_so():
    import detente
    from detente.calibrate import track_record

    cal, why = track_record("no-such-model")
    assert cal is None and "no track record" in why
    res = detente.forecast("korea-2019", "compromise", weights="equal")
    for iss in res.to_dict()["issues"].values():
        band = iss["track_record_band"]
        assert band["bands"] is None and "no track record for compromise with these parameters" in band["why"]


def test_cli_forecast_table_shows_the_band_and_says_which_is_which():
    r = _cli("forecast", "korea-2019")
    assert r.returncode == 0, r.stderr
    assert "track record (80%)" in r.stdout and "input band (Monte Carlo)" in r.stdout
    r = _cli("forecast", "korea-2019", "--draws", "50", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for iss in d["issues"].values():
        assert set(iss["track_record_band"]["bands"]) == {"50", "80", "90"}


def test_the_report_shows_both_bands():
    from detente.report import build, html

    data = build.compute("korea-2019", "compromise", draws=40, sensitivity=False, seed=1)
    res = data["result"]
    for row in data["summary"]:
        assert row["track_record"] == res["issues"][row["issue"]]["track_record_band"]["bands"]["80"]
        assert "p5" in row  # the input band of the same rows
    assert "input band" in data["bands_note"] and "Track record 80%" in data["bands_note"]
    page = html.render(data)
    assert "track record 80%" in page and "input band: 5&ndash;95% of draws" in page and "bands-note" in page


def test_the_backtest_report_draws_the_reliability_chart_from_a_direct_computation():
    import re

    from detente.report.backtest import render_backtest

    res = run_backtest("deu", models=["compromise", "mean"], holdout_wave="DEU_II_EU25_27")
    page = render_backtest(res)
    assert "<svg" in page and "Reliability of the track-record bands" in page and "PIT histograms" in page
    table = page[page.index('class="summary reliability"'):]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><td>([^<]+)</td>((?:<td class=\"num\">[\d.]+%</td>)+)</tr>", table)
    assert [r[0] for r in rows] == ["compromise", "mean"]
    for label, cells in rows:
        shown = [float(x) for x in re.findall(r"([\d.]+)%", cells)]
        assert len(shown) == 9
        for lev, i in ((50, 4), (80, 7), (90, 8)):  # the reported bands, counted directly
            b = res.bands[label][:, LEVELS_INDEX[lev]]
            direct = np.mean([lo <= y <= hi for (lo, hi), y in zip(b, res.outcome)])
            assert shown[i] == pytest.approx(100 * direct, abs=0.05)


LEVELS_INDEX = {50: 0, 80: 1, 90: 2}
