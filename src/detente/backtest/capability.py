"""Capabilities for DEU actors, and exact voting-power indices of weighted games.

DEU has no capability column: the backtest supplies one. Options
(:data:`CAPABILITIES`):

``equal``
    Every actor 1.
``votes`` (default)
    The Council vote weights of the treaty in force: pre-Nice (``eu15``) for a
    wave whose name mentions ``EU15`` or is wave I (``DEU_I_...``), Nice
    (``eu25_av``) for every other wave (wave II and any later wave in the file).
    The Commission and Parliament get the largest state's weight.
``population``
    The ``eu25_ap`` population column (the last one, covering every state);
    Commission and Parliament get the largest state's population.
``gdp``
    ``gdp_capability.csv``.
``shapley`` / ``banzhaf``
    The Shapley-Shubik index / normalised Banzhaf index of the treaty-era vote
    weights in the qualified-majority game among the member states that count
    on the issue, with quota ``ceil(f * total weight)``, ``f`` the treaty's
    quota share (62/87 pre-Nice, 255/345 Nice). Commission and Parliament get
    the largest state's index.

An actor the tables do not know (a new member, an unnamed body) gets the mean
of the values of the issue's actors found in the table (Commission and
Parliament excluded); the backtest reports it in
``notes``.

Power indices are computed exactly by generating functions (Brams & Affuso
1976; Bilbao et al. 2000): with integer weights, the number of coalitions of
size ``s`` and weight ``w`` is the coefficient of ``x^s y^w`` in
``prod_k (1 + x y^{w_k})``. The table without player ``i`` is obtained by
deconvolution, ``C_{-i}[s][w] = C[s][w] - C_{-i}[s-1][w - w_i]``, so all n
indices cost O(n^2 W). Player i swings a coalition S (i not in S) when
``q - w_i <= w(S) < q``; Banzhaf counts swings, Shapley-Shubik weighs a swing
of an s-member coalition by ``s! (n-s-1)! / n!``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .data import Dataset, Issue

CAPABILITIES = ("equal", "votes", "population", "gdp", "shapley", "banzhaf")

#: Quota share of the Council's qualified majority by weight column.
QUOTA_SHARE = {"eu15": 62 / 87, "eu25_av": 255 / 345}

SUPRANATIONAL = ("com", "ep")


def era_column(wave: str) -> str:
    """The vote-weight column of the treaty in force for a wave name."""
    w = wave.upper()
    if "EU15" in w or w.startswith("DEU_I_") or w in ("I", "DEU_I", "1"):
        return "eu15"
    return "eu25_av"


def quota_share(wave: str) -> float:
    """The qualified-majority quota as a share of the total weight."""
    return QUOTA_SHARE[era_column(wave)]


def _coalition_table(weights: tuple[int, ...]) -> np.ndarray:
    """``C[s, w]``: number of coalitions of size s and total weight w (float64, exact < 2**53)."""
    n, W = len(weights), sum(weights)
    C = np.zeros((n + 1, W + 1))
    C[0, 0] = 1.0
    for k, wk in enumerate(weights):
        # add player k: C[s, w] += C[s-1, w-wk] (iterate on a copy)
        C[1 : k + 2, wk:] += C[: k + 1, : W + 1 - wk].copy()
    return C


@lru_cache(maxsize=256)
def power_index(weights: tuple[int, ...], quota: int, kind: str = "shapley") -> tuple[float, ...]:
    """Shapley-Shubik (``kind="shapley"``) or normalised Banzhaf index, exactly.

    Parameters
    ----------
    weights : tuple of int
        Non-negative integer vote weights.
    quota : int
        Total weight a winning coalition needs.
    kind : {"shapley", "banzhaf"}

    Returns
    -------
    tuple of float
        The index of each player (sums to 1 unless no player is ever pivotal).
    """
    n = len(weights)
    C = _coalition_table(weights)
    W = C.shape[1] - 1
    fact = [math.factorial(k) for k in range(n + 1)]
    coef = np.array([fact[s] * fact[n - s - 1] / fact[n] for s in range(n)]) if n else np.zeros(0)
    out = []
    for wi in weights:
        # deconvolve: table of coalitions without this player
        Ci = np.zeros((n, W + 1))
        for s in range(n):
            Ci[s] = C[s]
            if s >= 1 and wi <= W:
                Ci[s, wi:] -= Ci[s - 1, : W + 1 - wi]
        lo, hi = max(quota - wi, 0), min(quota - 1, W)
        if lo > hi:
            out.append(0.0)
            continue
        swings = Ci[:, lo : hi + 1].sum(axis=1)  # by coalition size
        out.append(float(swings @ coef) if kind == "shapley" else float(swings.sum()))
    total = sum(out)
    if kind == "banzhaf" and total > 0:
        out = [v / total for v in out]
    return tuple(out)


def _largest_rule(
    values: dict[str, float], issue: Issue, fill_largest: bool = True, top: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Values per actor of ``issue``: supranational actors get the largest state's value.

    ``top`` is that value (default: the largest among the issue's states).
    """
    if top is None:
        states = [values[a] for a in issue.actors if a in values and a not in SUPRANATIONAL]
        top = max(states) if states else 1.0
    known = [values[a] for a in issue.actors if a in values]
    fill = float(np.mean(known)) if known else 1.0
    out, unknown = [], []
    for a in issue.actors:
        if a in SUPRANATIONAL and fill_largest:
            out.append(top)
        elif a in values:
            out.append(values[a])
        else:
            out.append(fill)
            unknown.append(a)
    return np.array(out, float), unknown


def _column_max(dataset: Dataset, col: str) -> float | None:
    """The largest value of a ``council_weights.csv`` column (the largest state's)."""
    vals = []
    for row in dataset.council_weights:
        try:
            v = float(row.get(col, ""))
        except ValueError:
            continue
        if math.isfinite(v):
            vals.append(v)
    return max(vals) if vals else None


def _column(dataset: Dataset, col: str, issue: Issue) -> dict[str, float]:
    """Actor code -> value of a ``council_weights.csv`` column, matched by actor name."""
    by_name = {}
    for row in dataset.council_weights:
        text = row.get(col, "")
        try:
            v = float(text)
        except ValueError:
            continue
        if math.isfinite(v):
            by_name[row.get("name", "").strip().lower()] = v
    return {a: by_name[nm.strip().lower()] for a, nm in zip(issue.actors, issue.names) if nm.strip().lower() in by_name}


def capabilities(dataset: Dataset, kind: str = "votes") -> tuple[list[np.ndarray], list[str]]:
    """Capability of every actor of every scored issue, and notes on gaps.

    Parameters
    ----------
    dataset : Dataset
    kind : str
        One of :data:`CAPABILITIES`, or ``scenario`` for the outcomes format
        (the scenarios' own capabilities).

    Returns
    -------
    caps : list of ndarray
        One array per issue of ``dataset.issues``, aligned with ``issue.actors``.
    notes : list of str
        Human-readable notes (actors given a fallback value).
    """
    if kind not in CAPABILITIES + ("scenario",):
        raise ValueError(f"unknown capability {kind!r}; choose from {', '.join(CAPABILITIES + ('scenario',))}")
    caps: list[np.ndarray] = []
    unknown: dict[str, set[str]] = {}
    for issue in dataset.issues:
        if kind == "equal":
            c = np.ones(issue.n)
        elif kind == "scenario":
            if issue.capability is None:
                raise ValueError("capability 'scenario' needs a dataset whose scenarios give capabilities (the outcomes format)")
            c = np.asarray(issue.capability, float)
        elif not dataset.council_weights:
            raise ValueError(f"capability {kind!r} needs Council weights (the deu format); use 'scenario' or 'equal'")
        elif kind == "votes":
            col = era_column(issue.meta.get("wave", ""))
            c, miss = _largest_rule(_column(dataset, col, issue), issue, top=_column_max(dataset, col))
            unknown.setdefault(f"votes ({col})", set()).update(miss)
        elif kind == "population":
            c, miss = _largest_rule(_column(dataset, "eu25_ap", issue), issue, top=_column_max(dataset, "eu25_ap"))
            unknown.setdefault("population", set()).update(miss)
        elif kind == "gdp":
            vals = {a: dataset.gdp[a] for a in issue.actors if a in dataset.gdp}
            c, miss = _largest_rule(vals, issue, fill_largest=False)
            unknown.setdefault("gdp", set()).update(miss)
        else:  # power indices
            col = era_column(issue.meta.get("wave", ""))
            votes = _column(dataset, col, issue)
            states = [a for a in issue.actors if a in votes and a not in SUPRANATIONAL]
            wts = tuple(int(round(votes[a])) for a in states)
            q = math.ceil(QUOTA_SHARE[col] * sum(wts) - 1e-9)
            idx = dict(zip(states, power_index(wts, q, kind))) if wts else {}
            c, miss = _largest_rule(idx, issue)
            # a state that is never pivotal (index 0) would vanish from weighted models
            unknown.setdefault(f"{kind} ({col})", set()).update(miss)
        caps.append(np.asarray(c, float))
    notes = [
        f"{what}: no value for actor(s) {', '.join(sorted(acts))}; given the mean of the issue's actors found in the table"
        for what, acts in unknown.items()
        if acts
    ]
    return caps, notes
