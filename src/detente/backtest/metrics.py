"""Error metrics and the paired bootstrap of MAE differences."""

from __future__ import annotations

import numpy as np


def metrics(forecast: np.ndarray, outcome: np.ndarray) -> dict[str, float | int]:
    """MAE, RMSE, median absolute error and the shares within 5 and 10 points.

    NaN forecasts (issues the model did not run on) are left out; ``n`` counts
    the rest.
    """
    ok = np.isfinite(forecast)
    e = np.abs(np.asarray(forecast, float)[ok] - np.asarray(outcome, float)[ok])
    n = int(e.size)
    if n == 0:
        nan = float("nan")
        return {"n": 0, "mae": nan, "rmse": nan, "median_ae": nan, "within5": nan, "within10": nan}
    return {
        "n": n,
        "mae": float(e.mean()),
        "rmse": float(np.sqrt((e**2).mean())),
        "median_ae": float(np.median(e)),
        "within5": float((e <= 5).mean()),
        "within10": float((e <= 10).mean()),
    }


def paired_bootstrap(
    err_a: np.ndarray, err_b: np.ndarray, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, object]:
    """Bootstrap interval of ``mean(err_a) - mean(err_b)`` over paired issues.

    Issues are resampled with replacement (the same resample for both
    models, so the interval reflects the paired difference); the interval is
    the percentile interval of the resampled differences. Pairs where either
    error is NaN are dropped.

    Parameters
    ----------
    err_a, err_b : ndarray, shape (n,)
        Absolute errors of two models on the same issues.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of ``numpy.random.default_rng`` (same seed, same resamples).
    level : float
        Coverage of the interval.

    Returns
    -------
    dict
        ``{"n": pairs, "mean": observed difference, "ci95": [lo, hi]}``.
    """
    a = np.asarray(err_a, float)
    b = np.asarray(err_b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n = int(d.size)
    if n == 0:
        return {"n": 0, "mean": float("nan"), "ci95": [float("nan"), float("nan")]}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    boots = d[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [alpha, 1.0 - alpha])
    return {"n": n, "mean": float(d.mean()), "ci95": [float(lo), float(hi)]}
