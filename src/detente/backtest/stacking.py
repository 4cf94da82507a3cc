"""The fourth attempt (issue #15, point 5): a stacked combination of the models, evaluated by grouped nested CV.

The protocol is in ``docs/backtest.md`` ("Fourth attempt: a stacked combination
(protocol)"), committed before this module computed any stacked forecast.
``python -m detente.backtest.stacking`` reproduces every number of the result.

Families, each fitted by least absolute deviations (the MAE's own loss) as a
linear program (``scipy.optimize.linprog``, method ``highs``): minimise
``sum(u + v)`` subject to ``X beta + u - v = y``, ``u, v >= 0``:

``S1``
    convex weights (``beta >= 0``, ``sum beta = 1``) on the base forecasts;
``S2``
    S1 in each procedure x voting-rule cell (a cell with fewer than
    :data:`MIN_CELL` training issues uses the pooled S1 weights);
``S3``
    free coefficients on an intercept, the base forecasts and the issue
    features, the forecast clipped to the scale.

The base forecasts are every model of a default backtest at its defaults that
forecasts every issue (a model that needs a reference point does not), in the
backtest's order. Groups are proposals.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..calibrate import group_folds
from .calibration import issue_difficulties
from .capability import capabilities
from .data import Dataset, load_deu, proposal_key
from .metrics import paired_bootstrap
from .result import REFERENCE
from .run import _specs, run_models

FAMILIES = ("S1", "S2", "S3")
#: A procedure x rule cell needs this many training issues for its own weights (S2).
MIN_CELL = 30
FOLDS = 10


@dataclass
class Data:
    """What the stack sees of each issue: base forecasts, features, outcome, group, wave."""

    names: list[str]
    F: np.ndarray  # (n, K) base forecasts
    X: np.ndarray  # (n, P) features (S3)
    feature_names: list[str]
    cell: np.ndarray  # (n,) procedure x rule cell label
    y: np.ndarray
    groups: np.ndarray
    wave: np.ndarray
    ref: np.ndarray  # the compromise model's forecasts


def lad(A: np.ndarray, y: np.ndarray, *, convex: bool) -> np.ndarray:
    """Least-absolute-deviations coefficients of ``y ~ A beta`` (convex: ``beta >= 0``, ``sum beta = 1``)."""
    from scipy.optimize import linprog

    n, k = A.shape
    c = np.concatenate([np.zeros(k), np.ones(2 * n)])
    A_eq = np.hstack([A, np.eye(n), -np.eye(n)])
    b_eq = y
    bounds: Sequence[tuple[float | None, float | None]]
    if convex:
        A_eq = np.vstack([A_eq, np.concatenate([np.ones(k), np.zeros(2 * n)])])
        b_eq = np.concatenate([y, [1.0]])
        bounds = [(0, None)] * k + [(0, None)] * (2 * n)
    else:
        bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if not res.success:  # pragma: no cover - an LAD problem always has a solution
        raise RuntimeError(res.message)
    return np.asarray(res.x[:k])


def fit_family(fam: str, d: Data, tr: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Fit one family on the issues ``tr`` (bool mask); returns a predictor of issue indices (bool mask)."""
    if fam == "S1":
        w = lad(d.F[tr], d.y[tr], convex=True)
        return lambda te: d.F[te] @ w
    if fam == "S2":
        pooled = lad(d.F[tr], d.y[tr], convex=True)
        ws = {}
        for c in np.unique(d.cell):
            m = tr & (d.cell == c)
            ws[c] = lad(d.F[m], d.y[m], convex=True) if m.sum() >= MIN_CELL else pooled

        def pred(te: np.ndarray) -> np.ndarray:
            idx = np.flatnonzero(te)
            return np.array([d.F[i] @ ws.get(d.cell[i], pooled) for i in idx])

        return pred
    A = np.hstack([np.ones((len(d.y), 1)), d.F, d.X])
    beta = lad(A[tr], d.y[tr], convex=False)
    return lambda te: np.clip(A[te] @ beta, 0.0, 100.0)


def cv_mae(fam: str, d: Data, mask: np.ndarray, folds: int = FOLDS, seed: int = 0) -> float:
    """Grouped ``folds``-fold CV MAE of one family within ``mask``."""
    idx = np.flatnonzero(mask)
    fold = group_folds(d.groups[idx], folds, seed)
    err = np.empty(len(idx))
    for k in np.unique(fold):
        tr = np.zeros(len(d.y), bool)
        te = np.zeros(len(d.y), bool)
        tr[idx[fold != k]] = True
        te[idx[fold == k]] = True
        err[fold == k] = np.abs(fit_family(fam, d, tr)(te) - d.y[te])
    return float(err.mean())


def select_and_fit(d: Data, tr: np.ndarray, seed: int = 0) -> tuple[str, dict[str, float], Callable]:
    """The protocol's selection: the family with the lowest inner grouped CV MAE on ``tr``, fitted on all of ``tr``."""
    scores = {f: cv_mae(f, d, tr, seed=seed) for f in FAMILIES}
    best = min(FAMILIES, key=lambda f: (round(scores[f], 12), FAMILIES.index(f)))
    return best, scores, fit_family(best, d, tr)


def prepare(ds: Dataset | None = None, seed: int = 0) -> Data:
    """Base forecasts (capability ``votes``) and features of every scored DEU issue."""
    ds = ds or load_deu()
    specs = [s for s in _specs(None) if s.capability is None and s.name == s.label]
    forecasts, _nr, failures, _notes = run_models(ds, specs, "votes", seed=seed)
    names = [s.label for s in specs if s.label in forecasts and np.isfinite(forecasts[s.label]).all()]
    F = np.column_stack([forecasts[n] for n in names])
    ref = forecasts[REFERENCE]
    caps, _ = capabilities(ds, "votes")
    spread = issue_difficulties(ds, caps)["spread"] * 100.0
    mean = np.array([float(np.mean(i.position)) for i in ds.issues])
    rp = np.array([i.status_quo for i in ds.issues])
    has_rp = np.isfinite(rp)
    X = np.column_stack([
        [i.meta.get("proc") == "COD" for i in ds.issues],
        [i.meta.get("rule") == "Unan" for i in ds.issues],
        has_rp,
        np.where(has_rp, np.nan_to_num(rp) - ref, 0.0),
        spread,
        spread * (mean - ref),
    ]).astype(float)
    return Data(
        names=names, F=F, X=X,
        feature_names=["COD", "unanimity", "rp present", "rp - compromise", "spread", "spread x (mean - compromise)"],
        cell=np.array([f"{i.meta.get('proc')}/{i.meta.get('rule')}" for i in ds.issues]),
        y=np.array([i.outcome for i in ds.issues], float),
        groups=np.array([str(proposal_key(i)) for i in ds.issues]),
        wave=np.array([str(i.meta.get("wave", "")) for i in ds.issues]),
        ref=ref,
    )


def evaluate(d: Data | None = None, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """Every number of the protocol: nested grouped CV (primary), each family's outer CV, both wave splits."""
    d = d or prepare(seed=seed)
    n = len(d.y)
    everything = np.ones(n, bool)
    fold = group_folds(d.groups, FOLDS, seed)
    stacked = np.empty(n)
    per_family = {f: np.empty(n) for f in FAMILIES}
    picked = []
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        best, scores, pred = select_and_fit(d, tr, seed)
        picked.append({"fold": int(k), "family": best, "inner_cv": scores})
        stacked[te] = pred(te)
        for f in FAMILIES:
            per_family[f][te] = fit_family(f, d, tr)(te)
    e_stack, e_ref = np.abs(stacked - d.y), np.abs(d.ref - d.y)
    out: dict[str, Any] = {
        "n": n, "base": d.names, "features": d.feature_names,
        "nested": {"mae_stack": float(e_stack.mean()), "mae_compromise": float(e_ref.mean()),
                   "diff": paired_bootstrap(e_stack, e_ref, n_boot=n_boot, seed=seed), "picked": picked},
        "families_outer_cv": {f: float(np.abs(per_family[f] - d.y).mean()) for f in FAMILIES},
        "by_wave_nested": {},
        "across_waves": {},
    }
    for w in dict.fromkeys(d.wave):
        m = d.wave == w
        out["by_wave_nested"][w] = {"n": int(m.sum()), "mae_stack": float(e_stack[m].mean()),
                                    "mae_compromise": float(e_ref[m].mean()),
                                    "diff": paired_bootstrap(e_stack[m], e_ref[m], n_boot=n_boot, seed=seed)}
    for w in dict.fromkeys(d.wave):
        te = d.wave == w
        tr = everything & ~te
        best, scores, pred = select_and_fit(d, tr, seed)
        e = np.abs(pred(te) - d.y[te])
        out["across_waves"][f"fit on the other waves, score {w}"] = {
            "family": best, "inner_cv": scores, "n": int(te.sum()), "mae_stack": float(e.mean()),
            "mae_compromise": float(e_ref[te].mean()),
            "diff": paired_bootstrap(e, e_ref[te], n_boot=n_boot, seed=seed)}
    full_best, full_scores, _ = select_and_fit(d, everything, seed)
    out["on_everything"] = {"family": full_best, "inner_cv": full_scores}
    if full_best in ("S1", "S2"):
        out["on_everything"]["pooled_weights"] = dict(zip(d.names, (float(x) for x in lad(d.F, d.y, convex=True))))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation as JSON."""
    ap = argparse.ArgumentParser(prog="python -m detente.backtest.stacking", description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(json.dumps(evaluate(seed=args.seed), indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
