"""Track-record bands in a backtest, and the shipped calibration table (issue #15).

Every backtest gives every model's forecast of every issue a band learned
*without that issue's proposal*:

* by default, by grouped cross-conformal prediction: the proposals are dealt
  into :data:`FOLDS` folds (:func:`detente.calibrate.group_folds`) and the bands of
  one fold's issues are learned (:func:`detente.calibrate.fit`, which also
  chooses the difficulty score by an inner grouped cross-validation) from the
  residuals of the other folds;
* with ``holdout_wave``, from the residuals of the other waves only, and only
  the named wave is scored.

The table forecasts read is built by :mod:`detente.backtest.table`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..calibrate import LEVELS, RELIABILITY_LEVELS, Calibration, crps_sample, difficulty, fit, group_folds, pit
from .data import Dataset, proposal_key

#: Folds of the default cross-conformal bands.
FOLDS = 10
#: The levels every band is computed at (the reported ones and the reliability chart's).
ALL_LEVELS: tuple[int, ...] = tuple(sorted(set(LEVELS) | set(RELIABILITY_LEVELS)))


def issue_difficulties(ds: Dataset, caps: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The difficulty scores (:func:`detente.calibrate.difficulty`) of every issue of a dataset."""
    out: dict[str, list[float]] = {}
    for iss, cap in zip(ds.issues, caps):
        n = iss.n
        d = difficulty(np.asarray(iss.position, float).reshape(1, n, 1), np.asarray(iss.salience, float).reshape(1, n, 1),
                       np.asarray(cap, float).reshape(1, n), np.ones((1, n), bool), np.array([iss.low]),
                       np.array([iss.high]))
        for k, v in d.items():
            out.setdefault(k, []).append(float(v[0, 0]))
    return {k: np.asarray(v) for k, v in out.items()}


def waves(ds: Dataset) -> list[str]:
    """The dataset's wave names, in order of first appearance."""
    return list(dict.fromkeys(str(i.meta.get("wave", "")) for i in ds.issues))


def _scores(cal: Calibration, f: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bands = cal.bands(f, lo, hi, d, ALL_LEVELS)
    if len(cal.residuals):
        x = cal.samples(f, lo, hi, d)
        return bands, crps_sample(x, y), pit(x, y)
    nan = np.full(len(f), np.nan)
    return bands, nan, nan


def model_bands(ds: Dataset, forecast: np.ndarray, diffs: dict[str, np.ndarray], *, train: np.ndarray | None = None,
                folds: int = FOLDS, seed: int = 0, source: str = "") -> dict[str, Any]:
    """Bands, CRPS and PIT of one model's forecasts of every issue, each learned without the issue's proposal.

    Parameters
    ----------
    train : ndarray of bool, optional
        Learn from these issues only and score the others (a held-out wave). Default:
        grouped cross-conformal over ``folds`` folds of proposals.

    Returns
    -------
    dict
        ``bands`` (n, len(ALL_LEVELS), 2), NaN where not scored; ``crps``, ``pit`` (n,);
        ``difficulty``: the difficulty chosen for each issue's band (str per issue);
        ``calibration``: the calibration learned from ``train`` (or None for cross-conformal).
    """
    n = len(ds.issues)
    y = np.array([i.outcome for i in ds.issues], float)
    lo = np.array([i.low for i in ds.issues], float)
    hi = np.array([i.high for i in ds.issues], float)
    groups = np.array([str(proposal_key(i)) for i in ds.issues], dtype=object)
    f = np.asarray(forecast, float)
    bands = np.full((n, len(ALL_LEVELS), 2), np.nan)
    crps = np.full(n, np.nan)
    pits = np.full(n, np.nan)
    chosen = np.full(n, "", dtype=object)
    cal_out = None
    if train is not None:
        splits = [(np.asarray(train, bool), ~np.asarray(train, bool))]
    else:
        fold = group_folds(groups, folds, seed)
        splits = [(fold != k, fold == k) for k in np.unique(fold)]
    for tr, te in splits:
        tr = tr & np.isfinite(f)
        te = te & np.isfinite(f)
        if not tr.any() or not te.any():
            continue
        cal = fit(f[tr], y[tr], lo[tr], hi[tr], {k: v[tr] for k, v in diffs.items()}, groups[tr], seed=seed,
                  levels=ALL_LEVELS, source=source)
        b, c, p = _scores(cal, f[te], y[te], lo[te], hi[te], diffs.get(cal.difficulty, np.zeros(n))[te])
        bands[te], crps[te], pits[te], chosen[te] = b, c, p, cal.difficulty
        if train is not None:
            cal_out = cal
    return {"bands": bands, "crps": crps, "pit": pits, "difficulty": chosen, "calibration": cal_out}
