"""The stacked combination's fitting (issue #15, point 5): LAD by linear programming, grouped selection."""

from __future__ import annotations

import numpy as np

from detente.backtest.stacking import FAMILIES, Data, cv_mae, fit_family, lad


def test_convex_lad_matches_a_brute_force_grid():
    rng = np.random.default_rng(0)
    A = rng.uniform(0, 100, (60, 2))
    y = 0.3 * A[:, 0] + 0.7 * A[:, 1] + rng.laplace(0, 5, 60)
    w = lad(A, y, convex=True)
    assert np.all(w >= -1e-9) and abs(w.sum() - 1) < 1e-9
    grid = np.linspace(0, 1, 10_001)
    obj = [np.abs(A @ np.array([g, 1 - g]) - y).sum() for g in grid]
    assert np.abs(A @ w - y).sum() <= min(obj) + 1e-6
    assert abs(w[0] - grid[int(np.argmin(obj))]) < 1e-3


def test_free_lad_is_the_median_regression():
    # with one constant column, LAD is the median
    y = np.array([1.0, 2.0, 7.0, 9.0, 50.0])
    assert lad(np.ones((5, 1)), y, convex=False)[0] == 7.0
    # an exact linear relation is recovered
    rng = np.random.default_rng(1)
    A = np.column_stack([np.ones(40), rng.uniform(0, 10, 40)])
    assert np.allclose(lad(A, 3 + 2 * A[:, 1], convex=False), [3, 2], atol=1e-7)


def _synthetic(n=120, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, n)
    F = np.column_stack([truth + rng.normal(0, s, n) for s in (5, 20, 40)])
    return Data(names=["a", "b", "c"], F=F, X=rng.normal(size=(n, 2)), feature_names=["x1", "x2"],
                cell=np.array(["A/Q", "B/U"] * (n // 2)), y=truth, groups=np.arange(n) // 3,
                wave=np.array(["w"] * n), ref=F[:, 1])


def test_families_find_the_best_forecast_and_cv_is_grouped():
    d = _synthetic()
    tr = np.ones(len(d.y), bool)
    for fam in FAMILIES:
        pred = fit_family(fam, d, tr)(tr)
        assert np.abs(pred - d.y).mean() < np.abs(d.F[:, 1] - d.y).mean()
    base = cv_mae("S1", d, tr)
    assert base < np.abs(d.F[:, 1] - d.y).mean()
