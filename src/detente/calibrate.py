"""Track-record bands: how far a model's forecasts have landed from real outcomes (issue #15).

A forecast's Monte Carlo band reflects only the ranges someone typed in (input
uncertainty). A *track-record band* says how far this model's forecasts have
landed from what was actually decided: a split-conformal prediction interval
learned from the model's backtest residuals (Vovk, Gammerman & Shafer 2005;
Lei, G'Sell, Rinaldo, Tibshirani & Wasserman 2018, "Distribution-free
predictive inference for regression", JASA 113: 1094-1111).

The pieces, all pure numpy (this module sits in the engine layer, beside
``result.py``, and needs only the core dependencies):

* **Scale.** Residuals are measured as a share of the issue's scale,
  ``(outcome - forecast) / (high - low)``, so a band learned on DEU's 0-100
  issues gives a band of the same relative width on a 0-10 issue.
* **Difficulty** (normalized conformal, Lei et al. 2018, section 5.2): the
  conformity score is ``|residual| / sigma``, where ``d``
  is a difficulty score of the issue computed from its inputs alone
  (:data:`DIFFICULTIES`: ``spread``, the standard deviation of the positions,
  or ``disagreement``, the capability x salience weighted mean absolute
  distance of the positions from their weighted mean, both as a share of the
  scale). ``sigma = max(a + b d, floor)`` is the least-squares line of the
  absolute residuals on ``d`` (``numpy.polyfit``) over the calibration issues,
  floored at a tenth of their mean absolute residual so it never reaches 0.
  ``none`` is the plain constant-width band (``sigma = 1``). Fitting the line on
  the calibration issues themselves costs the exact finite-sample guarantee two
  parameters' worth (negligible at DEU's hundreds of issues; the grouped
  cross-validation and the held-out wave measure the real coverage). :func:`fit` chooses among them by grouped cross-validation
  of the interval score, so the band is adaptive only where the data support it.
* **Quantile.** For nominal coverage ``1 - a`` the band's half-width is the
  ``ceil((n + 1)(1 - a))``-th smallest of the ``n`` calibration scores (infinite,
  i.e. the whole scale, when that exceeds ``n``): the finite-sample
  split-conformal guarantee, coverage >= ``1 - a`` for an exchangeable new issue.
* **Groups.** Linked issues (the issues of one proposal) are never split
  between a fold that learns and a fold that is scored (:func:`group_folds`).

The scores of a band (coverage, the interval or Winkler score, CRPS, PIT) are
here too, so the backtest and the tests use one definition.

The calibration a forecast shows is read from a small table shipped in the
package (``data/calibration.json``), generated from the shipped DEU data by
``python -m detente.backtest.calibration`` (a test regenerates it and compares).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np

#: Nominal coverages (percent) of the bands every backtest and forecast reports.
LEVELS: tuple[int, ...] = (50, 80, 90)
#: Difficulty scores a calibration may scale its band by ("none": a constant width).
DIFFICULTIES: tuple[str, ...] = ("none", "spread", "disagreement")
#: Where the shipped calibration table lives, inside the package.
TABLE_FILE = "calibration.json"
#: One line saying which band is which (CLI, report, web).
EXPLAIN = ("input band (Monte Carlo): only the spread from the ranges typed in, not the model's own error")


# ----------------------------------------------------------------------------- difficulty


def difficulty(position: np.ndarray, salience: np.ndarray, capability: np.ndarray, active: np.ndarray,
               low: np.ndarray, high: np.ndarray) -> dict[str, np.ndarray]:
    """Difficulty scores of every issue of every draw, as a share of the issue's scale.

    Parameters
    ----------
    position, salience : ndarray, shape (B, n, D)
    capability : ndarray, shape (B, n)
    active : ndarray of bool, shape (B, n)
    low, high : ndarray, shape (D,)

    Returns
    -------
    dict
        ``{"none": zeros, "spread": ..., "disagreement": ...}``, each of shape (B, D):
        ``spread`` is the (population) standard deviation of the active actors'
        positions; ``disagreement`` the mean absolute distance of the positions
        from their capability x salience weighted mean, with those weights
        (the unweighted one where every weight is 0). Both divided by ``high - low``.
    """
    pos = np.asarray(position, float)
    on = np.asarray(active, bool)[:, :, None] & np.ones(pos.shape, bool)
    width = (np.asarray(high, float) - np.asarray(low, float))[None, :]
    cnt = on.sum(axis=1)
    mean = np.where(on, pos, 0.0).sum(axis=1) / np.maximum(cnt, 1)
    spread = np.sqrt(np.where(on, (pos - mean[:, None, :]) ** 2, 0.0).sum(axis=1) / np.maximum(cnt, 1))
    w = np.where(on, np.asarray(capability, float)[:, :, None] * np.asarray(salience, float), 0.0)
    tot = w.sum(axis=1)
    w = np.where(tot[:, None, :] > 0, w, on.astype(float))
    tot = np.maximum(w.sum(axis=1), 1e-300)
    wmean = (w * pos).sum(axis=1) / tot
    dis = (w * np.abs(pos - wmean[:, None, :])).sum(axis=1) / tot
    return {"none": np.zeros_like(spread), "spread": spread / width, "disagreement": dis / width}


# ----------------------------------------------------------------------------- grouping


def group_folds(groups: Sequence[Any] | np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold number (0..k-1) per item; all items of one group share a fold.

    The groups are shuffled (``numpy.random.default_rng(seed)``) and dealt out in
    turn, largest first, each to the fold with the fewest items so far, so the
    folds are about equally large. With fewer groups than ``k``, each group is a fold.
    """
    keys, inv = np.unique(np.asarray([str(g) for g in groups], dtype=object).astype(str), return_inverse=True)
    k = max(1, min(int(k), len(keys)))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    sizes = np.bincount(inv, minlength=len(keys))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(len(keys), int)
    load = np.zeros(k, int)
    for g in order:
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += sizes[g]
    return fold_of_group[inv]


# ----------------------------------------------------------------------------- conformal


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ``ceil((n+1) level)``-th smallest score (inf if past ``n``)."""
    s = np.asarray(scores, float)
    s = s[np.isfinite(s)]
    n = s.size
    k = math.ceil((n + 1) * level - 1e-9)
    if n == 0 or k > n:
        return math.inf
    return float(np.partition(s, k - 1)[k - 1])


@dataclass(frozen=True)
class Calibration:
    """A learned track record: the band half-widths of one model, as shares of the scale.

    Attributes
    ----------
    difficulty : str
        One of :data:`DIFFICULTIES`.
    a, b, floor : float
        ``sigma = max(a + b d, floor)`` (``1, 0, 1`` for ``none``).
    quantiles : dict of str -> float
        Per nominal coverage (``"50"``, ``"80"``, ``"90"``): the conformal quantile of
        ``|residual| / (width x sigma)``.
    residuals : tuple of float
        The signed normalized residuals ``(y - f) / (width x sigma)`` it was learned
        from, sorted (the predictive distribution behind CRPS and PIT).
    n, n_groups : int
        Issues and groups (proposals) it was learned from.
    source : str
        What it was learned from, in words.
    cv : dict
        The grouped cross-validation that chose ``difficulty``: mean interval
        score (share of the scale, averaged over the levels) per candidate.
    """

    difficulty: str
    a: float
    b: float
    floor: float
    quantiles: dict[str, float]
    residuals: tuple[float, ...] = ()
    n: int = 0
    n_groups: int = 0
    source: str = ""
    cv: dict[str, float] = field(default_factory=dict)

    def sigma(self, d: np.ndarray | float) -> np.ndarray:
        """The scale factor of the band for difficulty ``d``."""
        d = np.asarray(d, float)
        return np.ones_like(d) if self.difficulty == "none" else np.maximum(self.a + self.b * d, self.floor)

    def bands(self, forecast: np.ndarray, low: np.ndarray | float, high: np.ndarray | float,
              diff: np.ndarray | float = 0.0, levels: Sequence[int] = LEVELS) -> np.ndarray:
        """Bands ``[lo, hi]`` of every forecast at every level, clipped to the scale.

        Returns an array of shape ``forecast.shape + (len(levels), 2)``.
        """
        f = np.asarray(forecast, float)
        lo_, hi_ = np.broadcast_to(np.asarray(low, float), f.shape), np.broadcast_to(np.asarray(high, float), f.shape)
        half = (hi_ - lo_) * self.sigma(np.broadcast_to(np.asarray(diff, float), f.shape))
        out = np.empty(f.shape + (len(levels), 2))
        for i, lev in enumerate(levels):
            q = self.quantiles[str(lev)]
            h = np.where(np.isinf(q), np.inf, half * (q if np.isfinite(q) else 0.0))
            out[..., i, 0] = np.maximum(lo_, f - h)
            out[..., i, 1] = np.minimum(hi_, f + h)
        return out

    def samples(self, forecast: np.ndarray, low: np.ndarray, high: np.ndarray, diff: np.ndarray) -> np.ndarray:
        """The predictive sample of every forecast: ``f + width x sigma x e`` for each learned residual ``e``,
        clipped to the scale; shape ``forecast.shape + (n,)``."""
        f = np.asarray(forecast, float)[..., None]
        lo_, hi_ = np.asarray(low, float)[..., None], np.asarray(high, float)[..., None]
        e = np.asarray(self.residuals, float)
        x = f + (hi_ - lo_) * self.sigma(np.asarray(diff, float))[..., None] * e
        return np.clip(x, lo_, hi_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite quantiles as ``"inf"``)."""
        d = asdict(self)
        d["quantiles"] = {k: (v if math.isfinite(v) else "inf") for k, v in self.quantiles.items()}
        d["residuals"] = [round(float(x), 6) for x in self.residuals]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        """The inverse of :meth:`to_dict`."""
        return cls(difficulty=d["difficulty"], a=float(d["a"]), b=float(d["b"]), floor=float(d["floor"]),
                   quantiles={k: float(v) for k, v in d["quantiles"].items()},
                   residuals=tuple(float(x) for x in d.get("residuals", ())), n=int(d.get("n", 0)),
                   n_groups=int(d.get("n_groups", 0)), source=str(d.get("source", "")), cv=dict(d.get("cv", {})))


def _fit_one(forecast: np.ndarray, outcome: np.ndarray, width: np.ndarray, d: np.ndarray, kind: str,
             levels: Sequence[int]) -> Calibration:
    """One calibration with a given difficulty (no choice)."""
    e = (outcome - forecast) / width
    a, b, floor = 1.0, 0.0, 1.0
    if kind != "none":
        mae = float(np.mean(np.abs(e)))
        floor = max(0.1 * mae, 1e-9)
        if np.ptp(d) > 0 and d.size >= 3:
            b, a = (float(v) for v in np.polyfit(d, np.abs(e), 1))
        else:  # no spread of difficulty: no information, a constant band
            a, b = max(mae, floor), 0.0
    cal = Calibration(kind, a, b, floor, {})
    r = e / cal.sigma(d)
    q = {str(lev): conformal_quantile(np.abs(r), lev / 100.0) for lev in levels}
    return Calibration(kind, a, b, floor, q, tuple(float(x) for x in np.sort(r)))


def fit(forecast: np.ndarray, outcome: np.ndarray, low: np.ndarray, high: np.ndarray,
        difficulties: dict[str, np.ndarray] | None = None, groups: Sequence[Any] | None = None, *,
        choose: Sequence[str] | None = None, folds: int = 5, seed: int = 0, levels: Sequence[int] = LEVELS,
        source: str = "") -> Calibration:
    """Learn a track record from forecasts and the outcomes they were scored against.

    Parameters
    ----------
    forecast, outcome, low, high : ndarray, shape (n,)
        Issues where the forecast is NaN are left out.
    difficulties : dict of str -> ndarray (n,), optional
        Candidate difficulty scores (as from :func:`difficulty`); without them
        the band has a constant width (relative to the scale).
    groups : sequence, optional
        The group (proposal) of each issue, for the cross-validation that chooses
        the difficulty; default: every issue its own group.
    choose : sequence of str, optional
        The candidates to choose among (default: ``none`` and every key of
        ``difficulties``). The one with the lowest mean interval score in
        ``folds``-fold grouped cross-validation is used; a tie keeps the simpler
        (earlier) one.
    folds, seed : int
        The cross-validation's folds and the seed of :func:`group_folds`.
    """
    f = np.asarray(forecast, float)
    y = np.asarray(outcome, float)
    lo, hi = np.broadcast_to(np.asarray(low, float), f.shape), np.broadcast_to(np.asarray(high, float), f.shape)
    ok = np.isfinite(f) & np.isfinite(y)
    diffs = {"none": np.zeros(f.shape)}
    diffs.update({k: np.asarray(v, float) for k, v in (difficulties or {}).items()})
    cands = [c for c in (choose or list(diffs)) if c in diffs]
    g = np.asarray([str(x) for x in (groups if groups is not None else range(len(f)))], dtype=object)
    f, y, lo, hi, g = f[ok], y[ok], lo[ok], hi[ok], g[ok]
    diffs = {k: v[ok] for k, v in diffs.items()}
    width = hi - lo
    cv: dict[str, float] = {}
    if len(cands) > 1 and len(np.unique(g)) >= 2:
        fold = group_folds(g, folds, seed)
        for c in cands:
            tot = []
            for k in np.unique(fold):
                tr, te = fold != k, fold == k
                cal = _fit_one(f[tr], y[tr], width[tr], diffs[c][tr], c, levels)
                b = cal.bands(f[te], lo[te], hi[te], diffs[c][te], levels)
                tot.append(interval_score(b, y[te], levels) / width[te][:, None])
            cv[c] = float(np.mean(np.concatenate(tot)))
        best = min(cands, key=lambda c: (round(cv[c], 12), cands.index(c)))
    else:
        best = cands[0]
    cal = _fit_one(f, y, width, diffs[best], best, levels)
    return replace(cal, n=int(f.size), n_groups=int(len(np.unique(g))), source=source, cv=cv)


# ----------------------------------------------------------------------------- scores


def coverage(bands: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Per level, the share of outcomes inside their band (NaN bands left out); ``bands`` shape (n, L, 2)."""
    b = np.asarray(bands, float)
    y = np.asarray(outcome, float)[:, None]
    ok = np.isfinite(b[..., 0])
    inside = (b[..., 0] <= y) & (y <= b[..., 1])
    return np.where(ok.sum(axis=0) > 0, (inside & ok).sum(axis=0) / np.maximum(ok.sum(axis=0), 1), np.nan)


def interval_score(bands: np.ndarray, outcome: np.ndarray, levels: Sequence[int] = LEVELS) -> np.ndarray:
    """The interval (Winkler) score of every band, shape (n, L) (Gneiting & Raftery 2007, eq. 43).

    For a central ``1 - a`` band ``[l, u]`` and outcome ``y``:
    ``(u - l) + (2/a)(l - y) 1{y < l} + (2/a)(y - u) 1{y > u}``; lower is better.
    """
    b = np.asarray(bands, float)
    y = np.asarray(outcome, float)[:, None]
    a = 1.0 - np.asarray(levels, float)[None, :] / 100.0
    lo, hi = b[..., 0], b[..., 1]
    return (hi - lo) + (2.0 / a) * np.maximum(lo - y, 0.0) + (2.0 / a) * np.maximum(y - hi, 0.0)


def crps_sample(samples: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """CRPS of an empirical predictive distribution (equal-weight sample) for each outcome.

    ``CRPS = E|X - y| - E|X - X'| / 2`` (Gneiting & Raftery 2007, eq. 21), with the
    sample's own distribution; ``samples`` shape (n, m). The pair term uses the
    sorted sample: ``sum_ij |x_i - x_j| = 2 sum_i (2i - m - 1) x_(i)``.
    """
    x = np.sort(np.asarray(samples, float), axis=-1)
    y = np.asarray(outcome, float)[:, None]
    m = x.shape[-1]
    i = np.arange(1, m + 1)
    pair = 2.0 * ((2 * i - m - 1) * x).sum(axis=-1) / (m * m)
    return np.abs(x - y).mean(axis=-1) - 0.5 * pair


def pit(samples: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """The (mid-)probability integral transform of each outcome under its predictive sample:
    ``P(X < y) + P(X = y) / 2`` (ties at the scale's ends are common in DEU)."""
    x = np.asarray(samples, float)
    y = np.asarray(outcome, float)[:, None]
    return (x < y).mean(axis=-1) + 0.5 * (x == y).mean(axis=-1)


#: Nominal coverages of the reliability chart (percent).
RELIABILITY_LEVELS: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def reliability(bands: np.ndarray, outcome: np.ndarray, levels: Sequence[int] = RELIABILITY_LEVELS) -> dict[str, Any]:
    """Nominal against observed coverage (the reliability chart's numbers); ``bands`` at ``levels``."""
    cov = coverage(bands, outcome)
    return {"nominal": [lev / 100.0 for lev in levels], "observed": [float(c) for c in cov]}


def pit_histogram(values: np.ndarray, bins: int = 10) -> list[int]:
    """Counts of PIT values in ``bins`` equal bins ``[k/bins, (k+1)/bins)`` of [0, 1] (the last one closed).

    PIT values of a sample of m are multiples of 1/(2m), so many sit exactly on a
    bin edge; ``numpy.histogram``'s float edges (``0.7000000000000001``) put some
    of them one bin low, so the bin is ``floor(v x bins)`` with a 1e-9 tolerance.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    k = np.clip(np.floor(v * bins + 1e-9).astype(int), 0, bins - 1)
    return [int(c) for c in np.bincount(k, minlength=bins)]


# ----------------------------------------------------------------------------- the shipped table


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    try:
        text = (resources.files("detente") / "data" / TABLE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"models": {}}
    return json.loads(text)


def table() -> dict[str, Any]:
    """The shipped calibration table (read once): ``{"source", "capability", "levels", "models": {name: ...}}``."""
    return _table()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal parameters, ``rounds`` aside (a forecast plays its scenario's horizon)."""
    return {k: v for k, v in a.items() if k != "rounds"} == {k: v for k, v in b.items() if k != "rounds"}


def track_record(model: str, params: dict[str, Any] | None = None) -> tuple[Calibration | None, str]:
    """The shipped track record of a registered model with these parameters, or None and why not.

    The table holds each model's default parameters and the variants a default
    backtest scores (``exchange(variant=greedy)``); a forecast whose parameters
    match one of them (``rounds`` aside) gets its track record, any other has none.
    """
    tab = _table()
    source = tab.get("source", "")
    entries = [e for e in tab.get("models", {}).values() if e.get("model") == model]
    if not entries:
        return None, f"{model} has no track record: it was not scored on {source or 'any real decisions'}"
    for e in entries:
        if params is None or _same(params, e.get("params") or {}):
            return Calibration.from_dict(e["calibration"]), ""
    return None, (f"no track record for {model} with these parameters: the ones scored on {source} are "
                  + "; ".join(", ".join(f"{k}={v}" for k, v in (e.get("params") or {}).items()) or "its defaults"
                              for e in entries))


def forecast_bands(model: str, params: dict[str, Any] | None, forecast: np.ndarray, low: np.ndarray, high: np.ndarray,
                   diffs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The ``track_record_band`` entry of every issue of one forecast (same for every issue when there is none).

    Each entry: ``{"bands": {"50": [lo, hi], "80": ..., "90": ...}, "nominal": "80" (the band
    shown in tables), "learned_from": str, "difficulty": str, "n": int}``, or
    ``{"bands": None, "why": str}``.
    """
    cal, why = track_record(model, params)
    if cal is None:
        return [{"bands": None, "why": why} for _ in range(len(forecast))]
    d = diffs.get(cal.difficulty, np.zeros(len(forecast)))
    b = cal.bands(np.asarray(forecast, float), np.asarray(low, float), np.asarray(high, float), d)
    tab = _table()
    return [
        {"bands": {str(lev): [float(b[j, i, 0]), float(b[j, i, 1])] for i, lev in enumerate(LEVELS)},
         "nominal": "80", "learned_from": cal.source or tab.get("source", ""), "difficulty": cal.difficulty,
         "n": cal.n}
        for j in range(len(forecast))
    ]


def scenario_bands(scenario: Any, model: str, params: dict[str, Any] | None,
                   forecast: Sequence[float] | np.ndarray) -> list[dict[str, Any]]:
    """:func:`forecast_bands` for a scenario's forecast: difficulty from the scenario's point inputs."""
    inp = scenario.to_inputs()
    low, high = np.asarray(inp.low, float), np.asarray(inp.high, float)
    diffs = {k: v[0] for k, v in difficulty(inp.position, inp.salience, inp.capability, inp.active, low, high).items()}
    return forecast_bands(model, params, np.asarray(forecast, float), low, high, diffs)


def band_text(entry: dict[str, Any], fmt: Any = None, level: str = "80") -> str:
    """A track-record band for a table cell: ``lo-hi`` or ``none``."""
    b = (entry or {}).get("bands")
    if not b:
        return "none"
    f = fmt or (lambda v: f"{v:.1f}")
    return f"{f(b[level][0])}-{f(b[level][1])}"


def band_note(entries: Sequence[dict[str, Any]]) -> str:
    """The one line under a table: what the track-record band was learned from, or why there is none."""
    e = next(iter(entries), {}) or {}
    if not e.get("bands"):
        return f"No track-record band: {e.get('why', 'no track record')}; {EXPLAIN}."
    return (f"Track record {e['nominal']}%: where real outcomes fell {e['nominal']}% of the time around this model's "
            f"forecasts on {e['learned_from']}; {EXPLAIN}.")
