"""Sensitivity: which inputs drive the forecast.

Two methods:

``oat`` (one at a time)
    Every capability, position and salience moves, alone, from the low to
    the high end of its range (or by a default share when it has none:
    +/-10% of the issue scale for positions, +/-20% of the salience scale for
    saliences, +/-20% of the value for capabilities), and every event is
    switched off and on. The swing is the forecast at the high end minus the
    forecast at the low end: a tornado chart's data. All variations run as
    one batch of draws (in chunks only when memory asks), on the scenario's
    most likely event branch.
``sobol`` (global)
    Sobol first-order and total indices, with bootstrap confidence
    intervals, over every ranged input and every uncertain event: SALib's
    Saltelli sampling of the unit hypercube (mapped through each input's own
    distribution) and its estimators, computed here with numpy and equal to
    SALib's bit for bit (:func:`saltelli`, :func:`sobol_indices`). An index measures a share of the forecast's variance, so
    it is the same whether computed on the uniforms or on the values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..budget import Budget, Estimate, inputs_bytes, plan_scenario
from ..errors import DetenteError, Problem
from ..executor import resolve as resolve_executor
from ..models.base import F8, ModelParams
from ..scenario.schema import Scenario, short_name
from ..serialize import JsonResult, input_sha256, meta
from ..serialize import json_value as _clean
from ..simulate import most_likely
from ._draws import Input, LazyInputs, all_inputs, check_seed, set_input, tile, uncertain_inputs
from ._run import resolve, run_draws

if TYPE_CHECKING:
    import pandas as pd

#: Default half-ranges for inputs without a range, as shares.
DEFAULT_SHARES = {"position": 0.10, "salience": 0.20, "capability": 0.20}


def oat_range(inp: Input, scenario: Scenario, shares: dict[str, float] | None = None) -> tuple[float, float]:
    """The low and high end an input is moved across in one-at-a-time analysis (file scale).

    A ranged input uses its range (``value -/+ sd`` inside the limits for a
    normal without ``low``/``high``); otherwise ``value -/+`` the default
    share: of the issue's scale width (positions), of the salience scale
    (saliences) or of the value itself (capabilities), inside the hard bounds.
    """
    sh = {**DEFAULT_SHARES, **(shares or {})}
    v = inp.value
    if v.ranged:
        lo, hi = inp.limits()
        if v.dist == "normal" and (v.low is None or v.high is None):
            lo, hi = max(lo, v.value - v.sd), min(hi, v.value + v.sd)  # type: ignore[operator]
        return float(lo), float(hi)
    if inp.kind == "position":
        iss = scenario.issues[inp.issue]  # type: ignore[index]
        half = sh["position"] * (iss.scale[1] - iss.scale[0])
    elif inp.kind == "salience":
        half = sh["salience"] * scenario.salience_scale
    else:
        half = sh["capability"] * v.value
    return float(max(inp.bound[0], v.value - half)), float(min(inp.bound[1], v.value + half))


@dataclass
class SensitivityResult(JsonResult):
    """What drives each issue's forecast.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    method : {"oat", "sobol"}
    table : DataFrame
        ``oat``: one row per input x issue forecast (``input, label, actor,
        field, input_issue, low, high, issue, base, forecast_low,
        forecast_high, swing``), sorted by issue then by ``|swing|``.
        ``sobol``: one row per input x issue (``input, label, ..., issue, S1,
        S1_conf, ST, ST_conf``), sorted by issue then by ``ST``.
    seed : int
    samples : int
        Sobol base samples (0 for ``oat``).
    runs : int
        Model runs made.
    notes : list of str
    """

    scenario: Scenario
    model: str
    params: ModelParams
    method: str
    table: pd.DataFrame
    seed: int = 0
    samples: int = 0
    runs: int = 0
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def _score(self) -> str:
        return "abs_swing" if self.method == "oat" else "ST"

    def top_drivers(self, k: int = 5, issue: str | None = None) -> list[str]:
        """The ``k`` strongest drivers in plain words, strongest first.

        Parameters
        ----------
        k : int
        issue : str, optional
            Only drivers of this issue's forecast (default: every issue).

        Returns
        -------
        list of str
            E.g. ``"salience of Kim Jong Un and the… on Nuclear deal: +/- 6.1 points on the Nuclear deal
            forecast"`` (the swing with the decimals of the issue's scale).
        """
        df = self.table if issue is None else self.table[self.table["issue"] == issue]
        df = df.sort_values(self._score(), ascending=False, kind="stable").head(k)
        return [_driver(self.scenario, self.method, r) for r in df.to_dict("records")]

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "model", "params", "method", "issues": {KEY: [rows]}, "top_drivers", "meta"}``."""

        issues: dict[str, list[dict[str, Any]]] = {}
        for key in self.scenario.issue_keys:
            rows = self.table[self.table["issue"] == key].drop(columns=["issue"]).to_dict("records")
            issues[key] = [{k: _clean(v) for k, v in r.items()} for r in rows]
        return {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "method": self.method,
            "issues": issues,
            "top_drivers": self.top_drivers(5),
            "meta": meta(self.seed, samples=self.samples, runs=self.runs, input_sha256=input_sha256(self.scenario),
                         notes=self.notes),
        }


def _driver(scenario: Scenario, method: str, r: dict[str, Any]) -> str:
    """One of :meth:`SensitivityResult.top_drivers`, from its row of the table."""
    if method == "oat":
        iss = scenario.issue(r["issue"])
        return f"{r['label']}: +/- {iss.fmt(r['abs_swing'] / 2)} points on the {iss.short_name()} forecast"
    # Sobol estimates can fall slightly below 0 by sampling error: say "about 0%"
    s1, st = (max(0.0, 100 * r[c]) for c in ("S1", "ST"))
    return (f"{r['label']}: {s1:.0f}% of the variance of the {scenario.issue(r['issue']).short_name()} forecast alone, "
            f"{st:.0f}% with interactions")


def _describe(inp: Input, scenario: Scenario) -> dict[str, Any]:
    return {
        "input": inp.key(scenario),
        "label": inp.label(scenario),
        "actor": scenario.actors[inp.actor].key,
        "field": inp.kind,
        "input_issue": None if inp.issue is None else scenario.issues[inp.issue].key,
    }


def sensitivity(
    scenario: Any,
    model: str | None = None,
    method: str = "oat",
    *,
    samples: int = 1024,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    shares: dict[str, float] | None = None,
    events: bool = True,
    chunk: int | None = None,
    progress: bool | None = None,
    budget: Budget | None = None,
    scheduler: Any = None,
    workers: int | None = None,
) -> SensitivityResult:
    """Which inputs move each issue's forecast, and by how much.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str
    method : {"oat", "sobol"}
        One at a time (tornado) or global Sobol indices.
    samples : int
        Sobol: base samples N (a power of two; the model runs N x (K + 2)
        times for K uncertain inputs and events).
    seed : int
        Sobol: the sequence's scrambling and the bootstrap; both methods:
        the seed of stochastic models.
    params : dict, optional
        The model's parameters.
    shares : dict, optional
        OAT: default half-ranges of inputs without a range (see
        :data:`DEFAULT_SHARES`).
    events : bool
        Include the scenario's events (OAT: every event off vs on; Sobol:
        events with 0 < probability < 1).
    chunk, progress
        Sobol: draws per model call and the progress bar (see
        :func:`detente.analysis.monte_carlo`).
    budget : Budget, optional
        The limits; an analysis over them is refused before it starts.
    scheduler, workers
        Run the model runs on a Dask cluster (an address, an Executor or a Client) or on a new local
        cluster of ``workers`` processes, as for :func:`detente.analysis.monte_carlo`; the result is
        the same bit for bit.

    Returns
    -------
    SensitivityResult
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    s = check_seed(seed)
    if method not in ("oat", "sobol"):
        raise DetenteError([Problem(None, None, "method", f"unknown method {method!r}; use 'oat' or 'sobol'")])
    where = (scheduler, workers)
    if method == "oat":
        return _oat(scen, model, p, explicit, s, shares, events, budget, where)
    return _sobol(scen, model, p, explicit, s, samples, events, chunk, progress, budget, where)


def plan_oat(scen: Scenario, model: str, p: ModelParams, explicit: set[str] | None, events: bool = True,
             budget: Budget | None = None) -> Estimate:
    """Check a one-at-a-time analysis against the budget (one run per end of every input and event)."""
    n, D, E = len(scen.actors), len(scen.issues), len(scen.events)
    R = 1 + 2 * n * (1 + 2 * D) + (2 * E if events else 0)
    return plan_scenario(f"sensitivity ({model})", scen, model, p, explicit, R, budget=budget,
                         held_per_run=inputs_bytes(n, D, E) + 2 * D * F8, chunk=R)


def oat_rows(scenario: Any, model: str | None = None, *, seed: int = 0, params: dict[str, Any] | None = None,
             budget: Budget | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The one-at-a-time analysis as plain rows, without pandas: what a report draws.

    The rows are those of :func:`sensitivity`'s ``table`` (``method="oat"``, its defaults otherwise), in its
    order (by issue, then by ``|swing|``, largest first), each a dict of the table's columns; beside them its
    :meth:`~SensitivityResult.top_drivers` (5). The same numbers: the same runs, not another method.

    Returns
    -------
    rows : list of dict
    top_drivers : list of str
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    rows, _, _ = _oat_runs(scen, model, p, explicit, check_seed(seed), None, True, budget)
    order = {k: i for i, k in enumerate(scen.issue_keys)}

    def by_swing(r: dict[str, Any]) -> tuple[bool, float]:  # largest first, not-a-number last (as pandas sorts)
        a = abs(float(r["swing"]))
        return (a != a, -a if a == a else 0.0)

    for r in rows:
        r["abs_swing"] = abs(r["swing"])
    # sorted() is stable, as the table's sort: equal keys keep the order the runs made them in
    table = sorted(rows, key=lambda r: (order[r["issue"]], *by_swing(r)))
    top = sorted(table, key=by_swing)[:5]
    return table, [_driver(scen, "oat", r) for r in top]


def _oat(scen: Scenario, model: str, p: ModelParams, explicit: set[str], seed: int, shares, events: bool,
         budget: Budget | None = None, where: tuple[Any, Any] = (None, None)) -> SensitivityResult:
    rows, R, notes = _oat_runs(scen, model, p, explicit, seed, shares, events, budget, where)
    import pandas as pd  # only where a frame is made
    df = pd.DataFrame(rows)
    df["abs_swing"] = df["swing"].abs()
    order = {k: i for i, k in enumerate(scen.issue_keys)}
    df = df.assign(_o=df["issue"].map(order)).sort_values(["_o", "abs_swing"], ascending=[True, False], kind="stable")
    df = df.drop(columns="_o").reset_index(drop=True)
    return SensitivityResult(scen, model, p, "oat", df, seed=seed, runs=R, notes=notes)


def _oat_runs(scen: Scenario, model: str, p: ModelParams, explicit: set[str], seed: int, shares, events: bool,
              budget: Budget | None = None, where: tuple[Any, Any] = (None, None)) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The one-at-a-time analysis's runs: its rows (unsorted), the runs made and its notes."""
    inputs = all_inputs(scen)
    E = len(scen.events)
    ev_idx = list(range(E)) if events else []
    R = 1 + 2 * len(inputs) + 2 * len(ev_idx)
    plan_oat(scen, model, p, explicit, events, budget)
    base = scen.to_inputs(batch=1, seed=seed)
    batch = tile(base, R)
    batch.seed[:] = np.uint64(seed)  # the same randomness in every variation
    hap = most_likely(scen, R)
    ranges = []
    for k, inp in enumerate(inputs):
        lo, hi = oat_range(inp, scen, shares)
        ranges.append((lo, hi))
        set_input(batch, scen, inp, np.array([lo, hi]), rows=slice(1 + 2 * k, 3 + 2 * k))
    off = 1 + 2 * len(inputs)
    for m, j in enumerate(ev_idx):
        hap[off + 2 * m, j] = False
        hap[off + 2 * m + 1, j] = True
    with resolve_executor(*where) as ex:  # opened once the analysis is checked (a cluster takes seconds to start)
        # one batch in process (chunks only when memory asks); tasks that keep every worker busy on a cluster
        chunk = None if ex.distributed else R
        fc = run_draws(scen, model, p, batch, hap, explicit=explicit, chunk=chunk, progress=False, what="sensitivity",
                       budget=budget, executor=ex)[0]
    rows = []
    for d, iss in enumerate(scen.issues):
        for k, inp in enumerate(inputs):
            lo, hi = ranges[k]
            flo, fhi = fc[1 + 2 * k, d], fc[2 + 2 * k, d]
            rows.append({**_describe(inp, scen), "low": lo, "high": hi, "issue": iss.key, "base": fc[0, d],
                         "forecast_low": flo, "forecast_high": fhi, "swing": fhi - flo})
        for m, j in enumerate(ev_idx):
            ev = scen.events[j]
            flo, fhi = fc[off + 2 * m, d], fc[off + 2 * m + 1, d]
            rows.append({"input": f"event.{ev.key}", "label": f"event {short_name(ev.name or ev.key)} (off vs on)",
                         "actor": ev.actor, "field": "event",
                         "input_issue": None, "low": 0.0, "high": 1.0, "issue": iss.key, "base": fc[0, d],
                         "forecast_low": flo, "forecast_high": fhi, "swing": fhi - flo})
    notes = ["one at a time on the most likely event branch; inputs without a range moved by "
             + ", ".join(f"{k} +/-{100 * v:g}%" for k, v in {**DEFAULT_SHARES, **(shares or {})}.items())]
    return rows, R, notes


def check_samples(n: int, field: str = "samples", given: Any = None) -> int:
    """Sobol' base samples: a power of two >= 2, else a problem naming ``field``."""
    if n < 2 or n & (n - 1):
        raise DetenteError([Problem(None, None, field, f"expected a power of two >= 2 (Sobol' points are balanced only "
                                    f"in blocks of a power of two), e.g. 64, 128 or 1024; got {n if given is None else given!r}")])
    return n


def saltelli(K: int, N: int, seed: int) -> np.ndarray:
    """Saltelli's sample without second order on [0, 1]^K: the rows of SALib's
    ``SALib.sample.sobol.sample(..., calc_second_order=False, scramble=True, seed=seed)``, equal to them
    bit for bit, built with numpy instead of SALib's Python loop over every element (1.8 s at N = 1,024
    and K = 58). For each of the N points of a scrambled Sobol' sequence in 2K dimensions (A its first
    K coordinates, B the others): A, then A with its k-th coordinate taken from B for k = 1 .. K, then B.
    """
    A, B = saltelli_bases(K, N, seed)
    return saltelli_rows(A, B)


def saltelli_bases(K: int, N: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two base samples A and B (each N x K) of :func:`saltelli`: the first and last K coordinates of
    N points of a scrambled Sobol' sequence in 2K dimensions."""
    from scipy.stats import qmc

    base = qmc.Sobol(d=2 * K, scramble=True, seed=seed).random(N)
    return base[:, :K], base[:, K:]


def saltelli_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The rows of Saltelli's sample from its bases A and B (N x K each): for each of the N points, A, then A
    with its k-th column taken from B for k = 1 .. K, then B; N (K + 2) rows of K. Any values that are an
    elementwise function of A's and B's (inputs mapped through their distributions) give that function of
    the sample's rows, computed on 2N rows instead of N (K + 2)."""
    N, K = A.shape
    X = np.repeat(A[:, None, :], K + 2, axis=1)
    k = np.arange(K)
    X[:, 1 + k, k] = B
    X[:, K + 1] = B
    return X.reshape(N * (K + 2), K)


#: The bootstrap of the Sobol' indices' confidence intervals: resamples and level (SALib's defaults).
RESAMPLES, CONF_LEVEL = 100, 0.95
#: Factors whose bootstrap estimates are computed in one step (bounds the memory: factors x N x resamples floats).
_FACTORS_PER_STEP = 8


def sobol_indices(Y: np.ndarray, K: int, N: int, seed: int) -> dict[str, np.ndarray]:
    """First-order and total Sobol' indices, with bootstrap confidence intervals, of every column of ``Y``.

    ``Y`` (N (K + 2), D) holds the outputs of the rows of :func:`saltelli` (K factors, N base
    samples). The estimators are Saltelli et al. (2010, Comput. Phys. Commun. 181: 259-270) on the
    outputs centred and scaled by their standard deviation, and the intervals ``z * sd`` of
    :data:`RESAMPLES` bootstrap estimates (the rows resampled with ``numpy.random.default_rng(seed)
    .integers(N, size=(N, RESAMPLES))``, the same draws for every column): SALib's
    ``SALib.analyze.sobol.analyze(problem, Y[:, d], calc_second_order=False, seed=seed)``, equal to it
    bit for bit (tests/test_sensitivity_sobol.py), without its repeated work: SALib builds and measures
    the resampled A and B again for every factor and estimator (about 2 s at N = 1,024, K = 58 and
    three outputs; here the shared parts are computed once per output and the factors in steps).

    Returns ``{"S1", "S1_conf", "ST", "ST_conf"}``, each of shape (D, K).
    """
    from scipy.special import ndtri  # imported here: scipy takes 0.15 s to import

    R, D = Y.shape
    step = K + 2
    if R != N * step:
        raise ValueError(f"expected {N * step} outputs for N = {N} and K = {K} factors, got {R}")
    eps = np.finfo(float).eps
    r = np.random.default_rng(seed).integers(N, size=(N, RESAMPLES))
    z = ndtri(0.5 + CONF_LEVEL / 2)
    out = {k: np.zeros((D, K)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    for d in range(D):
        y = Y[:, d]
        y = (y - y.mean()) / y.std()
        rows = y.reshape(N, step)
        A, B = rows[:, 0], rows[:, step - 1]
        ABt = np.ascontiguousarray(rows[:, 1 : K + 1].T)  # (K, N): factor j's column of AB, contiguous
        diff = ABt - A
        first, total = B * diff, diff**2  # per row: what the estimators average (a resample averages its rows)
        # the point estimates (SALib: zeros, with a warning, when A and B do not vary)
        ab = np.r_[A, B]
        if np.ptp(ab) > eps:
            var = np.var(ab, axis=0)
            if var > eps:
                out["S1"][d] = np.mean(first, axis=1) / var
                out["ST"][d] = 0.5 * np.mean(total, axis=1) / var
        # the bootstrap: A and B resampled once for their spread and variance, the factors' rows in steps
        abr = np.r_[A[r], B[r]]
        if np.ptp(abr) <= eps:
            continue  # SALib: every resampled estimate is 0, and so is the interval
        var_r = np.var(abr, axis=0)
        ok = var_r > eps
        s1 = np.zeros((K, RESAMPLES))
        st = np.zeros((K, RESAMPLES))
        for j0 in range(0, K, _FACTORS_PER_STEP):
            j1 = min(K, j0 + _FACTORS_PER_STEP)
            np.divide(np.mean(first[j0:j1, r], axis=1), var_r, out=s1[j0:j1], where=ok)
            np.divide(0.5 * np.mean(total[j0:j1, r], axis=1), var_r, out=st[j0:j1], where=ok)
        out["S1_conf"][d] = z * s1.std(axis=1, ddof=1)
        out["ST_conf"][d] = z * st.std(axis=1, ddof=1)
    return out


def _sobol(scen: Scenario, model: str, p: ModelParams, explicit: set[str], seed: int, samples: int, events: bool,
           chunk, progress, budget: Budget | None = None, where: tuple[Any, Any] = (None, None)) -> SensitivityResult:
    try:
        N = int(samples)
    except (TypeError, ValueError):
        N = 0
    if N != samples:
        N = -1
    check_samples(N, "samples", samples)
    unc = uncertain_inputs(scen)
    ev_idx = [j for j, e in enumerate(scen.events) if 0 < e.probability < 1] if events else []
    K = len(unc) + len(ev_idx)
    if K == 0:
        raise DetenteError([Problem(scen.source_file, None, "actors", "nothing is uncertain: give some values a low/high range "
                                    "(or events a probability) for Sobol analysis")])
    n, D, E = len(scen.actors), len(scen.issues), len(scen.events)
    # Saltelli sampling without second order: N x (K + 2) runs, each a row of K uniforms
    plan_scenario(f"Sobol ({model})", scen, model, p, explicit, N * (K + 2), budget=budget,
                  held_per_run=inputs_bytes(n, D, E) + (2 * K + 2 * D) * F8, chunk=chunk)
    names = [u.key(scen) for u in unc] + [f"event.{scen.events[j].key}" for j in ev_idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's advice to use a power of two is in our docstring
        A, B = saltelli_bases(K, N, seed)
    R = N * (K + 2)
    # every run's inputs are built chunk by chunk from its row of values (on a cluster, by the worker): the
    # values of Saltelli's rows (:func:`saltelli`), each input's distribution applied to A's and B's only
    U = len(unc)
    va, vb = np.empty((N, U)), np.empty((N, U))
    for k, inp in enumerate(unc):
        va[:, k], vb[:, k] = inp.ppf(A[:, k]), inp.ppf(B[:, k])
    # the values of row (i, c) of Saltelli's sample: input k from B where c is 1 + k (or B's row), else from A
    values = saltelli_rows(np.hstack([va, A[:, U:]]), np.hstack([vb, B[:, U:]]))
    event_u = values[:, U:]  # the events' uniforms (their columns are the sample's own)
    values = np.ascontiguousarray(values[:, :U])
    batch = LazyInputs(scen, seed, values, unc, same_seed=True)  # the same randomness in every run
    hap = most_likely(scen, R)
    for m, j in enumerate(ev_idx):
        hap[:, j] = event_u[:, m] < scen.events[j].probability
    with resolve_executor(*where) as ex:  # opened once the analysis is checked (a cluster takes seconds to start)
        Y = run_draws(scen, model, p, batch, hap, explicit=explicit, chunk=chunk, progress=progress,
                      what=f"Sobol ({model})", budget=budget, executor=ex)[0]
    rows = []
    notes = [f"Saltelli sampling, {N} base samples, {K} factors, {R} model runs; 95% bootstrap confidence intervals"]
    labels = [u.label(scen) for u in unc] + [f"event {short_name(scen.events[j].name or scen.events[j].key)} (happens or not)"
                                          for j in ev_idx]
    described = [_describe(u, scen) for u in unc] + [
        {"input": names[len(unc) + m], "label": labels[len(unc) + m], "actor": scen.events[j].actor, "field": "event", "input_issue": None}
        for m, j in enumerate(ev_idx)
    ]
    varies = np.array([np.ptp(Y[:, d]) > 1e-12 * max(1.0, float(np.abs(Y[:, d]).max())) for d in range(D)], dtype=bool)
    S = {k: np.zeros((D, K)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if varies.any():
        with np.errstate(all="ignore"):
            # SALib seeds its bootstrap only when `if seed:` holds, so a seed of 0 would have left the confidence
            # intervals to the global random state: seed + 1 keeps every seed reproducible (the numbers SALib gives)
            for name, v in sobol_indices(Y[:, varies], K, N, seed + 1).items():
                S[name][varies] = v
    for d, iss in enumerate(scen.issues):
        if not varies[d]:
            notes.append(f"{iss.key}: the forecast does not vary; every index is 0")
        for k in range(K):
            rows.append({**described[k], "issue": iss.key, "S1": float(S["S1"][d, k]), "S1_conf": float(S["S1_conf"][d, k]),
                         "ST": float(S["ST"][d, k]), "ST_conf": float(S["ST_conf"][d, k])})
    import pandas as pd  # only where a frame is made
    df = pd.DataFrame(rows)
    order = {k: i for i, k in enumerate(scen.issue_keys)}
    df = df.assign(_o=df["issue"].map(order)).sort_values(["_o", "ST"], ascending=[True, False], kind="stable")
    df = df.drop(columns="_o").reset_index(drop=True)
    return SensitivityResult(scen, model, p, "sobol", df, seed=seed, samples=N, runs=R, notes=notes)
