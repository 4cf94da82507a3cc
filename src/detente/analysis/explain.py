"""Explain an outcome: the smallest change to a scenario's inputs that makes a model reproduce it.

Given an outcome on some issues (the scenario's ``record``, or one the caller
gives), :func:`explain` looks for the change to the inputs (every actor's
capability, positions and saliences) that brings the model's forecast of each
of those issues within ``tolerance`` x its scale of the outcome, and is as
small as possible.

Units
-----
A change is measured in units of each input's stated range: moving a
position whose range is 30-60 by 15 points is 0.5 units. An input without a
range is measured in units of its scale (the issue's scale for a position,
the salience scale for a salience, the largest capability in the scenario for
a capability). The size of a change is the sum of its inputs' units (an L1
norm), which favours a few large moves over many small ones: the answer reads
as "these inputs, by this much".

Search
------
Everything runs on the model protocol's batch axis: each candidate set of
inputs is one draw of a batch, run through :func:`detente.simulate.simulate`
with the events fixed (as the record has them, else on their most likely
branch) and one model seed for every draw, so the forecast is a fixed
function of the inputs. Four stages share one budget of model runs
(``evaluations``):

1. *Screen*: each input alone over a grid of its allowed values; the inputs
   that move the forecast toward the outcome are the candidates (at most
   :data:`MAX_CANDIDATES`).
2. *Search*: :func:`scipy.optimize.differential_evolution` (vectorised: a
   generation is one batch) over the candidates, minimising the miss first
   and the size of the change second (a lexicographic penalty), seeded with
   the best single-input changes of the screen. It needs no gradient, so it
   works for models whose forecast jumps (a median, a model with rounds).
3. *Prune*: changes are set back to zero, smallest first, while the outcome
   stays reproduced.
4. *Shrink*: each remaining change is cut back toward zero as far as the
   outcome allows.

Allowed values: a position anywhere on its issue's scale, a salience anywhere
on the salience scale, a capability between 1% and 3 times the largest
capability in the scenario. When the smallest change leaves an analyst's
range, a second search inside the ranges says whether the outcome could have
come from plausible inputs at all (``plausible``). An outcome the search
cannot reach is reported as such, with the closest forecast found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..budget import Budget, inputs_bytes, plan_scenario
from ..errors import DetenteError, Problem
from ..models.base import F8, Inputs, ModelParams
from ..scenario.schema import Scenario
from ..serialize import JsonResult, input_sha256, meta
from ..serialize import json_value as _clean
from ._draws import Input, all_inputs, check_seed, set_input, tile
from ._record import NEIGHBOURHOOD, check_share, recorded_events, target_outcome
from ._run import resolve, run_draws

if TYPE_CHECKING:
    import pandas as pd

#: Default tolerance: the forecast must come within this share of the scale of the outcome (the
#: outcome's neighbourhood, as :mod:`detente.analysis.score` defines it).
TOLERANCE = NEIGHBOURHOOD
#: Default budget of model runs for the whole search: as many as the compute budget's estimate
#: puts at :data:`TARGET_SECONDS`, within these bounds.
EVALUATIONS = (4000, 40000)
TARGET_SECONDS = 10.0
#: Grid points per input in the screen.
GRID = 9
#: Most inputs the search varies at once.
MAX_CANDIDATES = 12
#: Allowed capability, as multiples of the largest capability in the scenario.
CAPABILITY_BOUNDS = (0.01, 3.0)
#: Kinds of input that may change.
KINDS = ("capability", "position", "salience")


@dataclass
class _Space:
    """The inputs the search may change, their units and allowed values (file scale)."""

    inputs: list[Input]
    x0: np.ndarray  # starting values
    unit: np.ndarray  # size of one unit of change
    basis: list[str]  # what a unit is: "range" or "scale" or "largest capability"
    lo: np.ndarray  # allowed values
    hi: np.ndarray


@dataclass
class _Search:
    """One search's answer."""

    z: np.ndarray  # change in units, per input of the space
    forecast: np.ndarray  # (D,)
    miss: float  # largest |forecast - outcome| / scale width over the target issues
    reached: bool


@dataclass
class Explanation(JsonResult):
    """The smallest change to a scenario's inputs that makes one model reproduce an outcome.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    seed : int
    outcome : dict of str -> float
        The outcome to reproduce, per issue.
    tolerance : float
        How close counts as reproduced, as a share of each issue's scale.
    base : dict of str -> float
        The model's forecast with the scenario's inputs (events as below).
    forecast : dict of str -> float
        The forecast after the change.
    reached : bool
        Whether the change reproduces the outcome (within ``tolerance``).
    plausible : bool or None
        Whether some change inside the analyst's ranges reproduces it (None when not asked:
        ``within_ranges`` searched only inside them, or nothing needed to change).
    changes : DataFrame
        One row per changed input, largest change first: ``rank, input, label, kind,
        actor, issue, from, to, change, units, unit, unit_basis, range_low,
        range_high, inside_range``.
    events : dict
        Per event: ``happened`` and ``basis`` (``record`` or ``most likely``).
    evaluations : int
        Model runs made.
    notes : list of str
    """

    scenario: Scenario
    model: str
    params: ModelParams
    seed: int
    outcome: dict[str, float]
    tolerance: float
    base: dict[str, float]
    forecast: dict[str, float]
    reached: bool
    plausible: bool | None
    changes: pd.DataFrame
    events: dict[str, dict[str, Any]]
    evaluations: int
    within_ranges: bool = False
    plausible_forecast: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> float:
        """The size of the change: the sum of its inputs' units."""
        return float(self.changes["units"].abs().sum()) if len(self.changes) else 0.0

    @property
    def inside_ranges(self) -> bool:
        """Whether every changed input stays inside the analyst's range."""
        return bool(self.changes["inside_range"].all()) if len(self.changes) else True

    def status(self) -> str:
        """``already`` (nothing to change), ``reached`` or ``unreachable``."""
        if self.reached and not len(self.changes):
            return "already"
        return "reached" if self.reached else "unreachable"

    def headline(self) -> list[str]:
        """What the explanation says, in a few sentences."""
        out_ = ", ".join(f"{k}={v:g}" for k, v in self.outcome.items())
        base = ", ".join(f"{k} {self.base[k]:.1f}" for k in self.outcome)
        lines = [f"{self.model} forecasts {base}; the outcome is {out_} (within {100 * self.tolerance:g}% of each scale)."]
        st = self.status()
        if st == "already":
            lines.append("The model already reproduces the outcome: nothing needs to change.")
            return lines
        if st == "unreachable":
            fc = ", ".join(f"{k} {self.forecast[k]:.1f}" for k in self.outcome)
            where = "inside the analyst's ranges" if self.within_ranges else "within the allowed values"
            lines.append(f"No change of the inputs {where} found reproduces it: the closest forecast found is {fc}.")
            return lines
        top = self.changes.head(3).to_dict("records")
        moves = "; ".join(f"{r['label']} {r['from']:.3g} -> {r['to']:.3g} ({r['units']:+.2f} units)" for r in top)
        more = f" and {len(self.changes) - 3} more" if len(self.changes) > 3 else ""
        lines.append(f"The smallest change found ({self.size:.2f} units over {len(self.changes)} input"
                     f"{'s' if len(self.changes) != 1 else ''}): {moves}{more}.")
        if self.inside_ranges:
            lines.append("Every change stays inside the analyst's ranges: the outcome was within what the inputs allowed.")
        elif self.plausible is True:
            lines.append("It leaves the analyst's ranges, but a change inside the ranges also reproduces the outcome.")
        elif self.plausible is False:
            lines.append("It leaves the analyst's ranges, and no change inside them was found that reproduces the "
                         "outcome: from plausible inputs, the model could not have produced it.")
        return lines

    def to_frame(self) -> pd.DataFrame:
        """The changes (a copy)."""
        return self.changes.copy()

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "model", "outcome", "status", "reached", "plausible", "base", "forecast", "changes", ...}``."""
        return {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "outcome": dict(self.outcome),
            "tolerance": self.tolerance,
            "status": self.status(),
            "reached": self.reached,
            "plausible": self.plausible,
            "inside_ranges": self.inside_ranges,
            "within_ranges": self.within_ranges,
            "size": self.size,
            "base": dict(self.base),
            "forecast": dict(self.forecast),
            "plausible_forecast": self.plausible_forecast,
            "changes": [{k: _clean(v) for k, v in r.items()} for r in self.changes.to_dict("records")],
            "events": self.events,
            "headline": self.headline(),
            "meta": meta(self.seed, evaluations=self.evaluations, input_sha256=input_sha256(self.scenario),
                         notes=self.notes),
        }



# ----------------------------------------------------------------------------- the search space


def _space(scen: Scenario, kinds: tuple[str, ...], within_ranges: bool) -> _Space:
    """The inputs that may change: of the kinds asked, and (within ranges) only those with a range."""
    cap_max = max(a.capability.value for a in scen.actors)
    chosen, unit, basis, lo, hi = [], [], [], [], []
    for inp in all_inputs(scen):
        if inp.kind not in kinds:
            continue
        v = inp.value
        ranged = v.low is not None and v.high is not None and v.high > v.low
        if within_ranges:
            if not ranged:
                continue
            a, b = float(v.low), float(v.high)  # type: ignore[arg-type]
        elif inp.kind == "capability":
            a, b = CAPABILITY_BOUNDS[0] * cap_max, max(CAPABILITY_BOUNDS[1] * cap_max, v.value)
        else:
            a, b = inp.bound
        if ranged:
            u, why = float(v.high) - float(v.low), "range"  # type: ignore[arg-type]
        elif inp.kind == "capability":
            u, why = cap_max, "largest capability"
        else:
            u, why = inp.bound[1] - inp.bound[0], "scale"
        chosen.append(inp)
        unit.append(u)
        basis.append(why)
        lo.append(min(a, v.value))
        hi.append(max(b, v.value))
    x0 = np.array([i.value.value for i in chosen], dtype=float)
    return _Space(chosen, x0, np.array(unit, float), basis, np.array(lo, float), np.array(hi, float))


class _Evaluator:
    """Forecasts of candidate input values, many per batch, counting model runs against a budget."""

    def __init__(self, scen: Scenario, model: str, params: ModelParams, explicit: set[str], space: _Space,
                 happened: np.ndarray, seed: int, target: dict[str, float], tolerance: float, budget: Budget | None,
                 limit: int, on_batch: Callable[[int, int], None] | None):
        self.scen, self.model, self.params, self.explicit, self.space = scen, model, params, explicit, space
        self.base = scen.to_inputs(seed=seed, batch=1)
        self.base.seed[:] = np.uint64(seed)
        self.happened = happened
        self.idx = np.array([scen.issue_keys.index(k) for k in target])
        self.y = np.array(list(target.values()), dtype=float)
        lo = np.array([scen.issue(k).scale[0] for k in target], float)
        hi = np.array([scen.issue(k).scale[1] for k in target], float)
        self.width = hi - lo
        self.tol = tolerance
        self.budget, self.limit, self.used, self.on_batch = budget, limit, 0, on_batch

    def forecasts(self, X: np.ndarray) -> np.ndarray:
        """The forecast (S, D) of each row of input values X (S, K)."""
        X = np.atleast_2d(X)
        S = X.shape[0]
        inp: Inputs = tile(self.base, S)
        for k, spec in enumerate(self.space.inputs):
            set_input(inp, self.scen, spec, X[:, k])
        hap = np.broadcast_to(self.happened, (S, len(self.happened))).copy()
        fc = run_draws(self.scen, self.model, self.params, inp, hap, explicit=self.explicit, progress=False,
                       budget=self.budget, what=f"explain ({self.model})")[0]
        self.used += S
        if self.on_batch is not None:
            self.on_batch(self.used, self.limit)
        return fc

    def miss(self, fc: np.ndarray) -> np.ndarray:
        """Largest distance to the outcome over the target issues, as a share of the scale, per row."""
        return np.max(np.abs(fc[:, self.idx] - self.y) / self.width, axis=1)

    def excess(self, fc: np.ndarray) -> np.ndarray:
        """How far beyond the tolerance each row misses, summed over the target issues (0: reproduced)."""
        return np.maximum(0.0, np.abs(fc[:, self.idx] - self.y) / self.width - self.tol).sum(axis=1)

    @staticmethod
    def reached(excess: np.ndarray) -> np.ndarray:
        return excess <= 1e-12

    @property
    def left(self) -> int:
        return self.limit - self.used


# ----------------------------------------------------------------------------- the four stages


def _screen(ev: _Evaluator, z: np.ndarray, zlo: np.ndarray, zhi: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """Each input alone over ``G`` points of its allowed values, the others at ``z``: the excess (K, G) and the points."""
    sp = ev.space
    K = len(z)
    pts = zlo[:, None] + np.linspace(0.0, 1.0, G)[None, :] * (zhi - zlo)[:, None]  # (K, G)
    Z = np.repeat(z[None], K * G, axis=0)
    for k in range(K):
        Z[k * G:(k + 1) * G, k] = pts[k]
    return ev.excess(ev.forecasts(sp.x0 + Z * sp.unit)).reshape(K, G), pts


def _pursue(ev: _Evaluator, z: np.ndarray, zlo: np.ndarray, zhi: np.ndarray, stop_at: int,
            G: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Greedy pursuit: repeatedly make the moves with the largest fall of the excess per unit of change.

    Each round screens every input alone from the current change, refines the
    most efficient move, and also tries adding the next most efficient ones
    (on other inputs) while each keeps at least half the first one's
    efficiency. Returns the change, its excess and the last screen's gain per
    unit of each input (the candidates' ranking).
    """
    sp = ev.space
    K = len(z)
    e = float(ev.excess(ev.forecasts((sp.x0 + z * sp.unit)[None]))[0])
    rank = np.zeros(K)
    while e > 1e-12 and ev.used + K * G + 24 <= stop_at:
        xs, pts = _screen(ev, z, zlo, zhi, G)
        step = np.abs(pts - z[:, None])
        ratio = np.where((e - xs > 1e-12) & (step > 0), (e - xs) / np.maximum(step, 1e-300), 0.0)
        # inputs that only move the excess the wrong way still rank (far) below those that help
        rank = ratio.max(axis=1) + 1e-9 * np.ptp(xs, axis=1) / (1.0 + np.ptp(xs))
        if not ratio.max() > 0:
            break
        best_g = ratio.argmax(axis=1)
        top = [int(k) for k in np.argsort(-rank, kind="stable")[:4] if ratio[k].max() > 0]
        k, g = top[0], int(best_g[top[0]])
        # refine the first move between its grid neighbours; then add the next moves one by one
        fine = np.linspace(pts[k, max(g - 1, 0)], pts[k, min(g + 1, G - 1)], 16)
        Z = np.repeat(z[None], len(fine) + len(top) - 1, axis=0)
        Z[: len(fine), k] = fine
        first = fine[int(np.argmin(np.abs(fine - pts[k, g])))]
        for r in range(1, len(top)):
            row = Z[len(fine) + r - 1]
            row[k] = pts[k, g]
            for j in top[1:r + 1]:
                row[j] = pts[j, best_g[j]]
        ex = ev.excess(ev.forecasts(sp.x0 + Z * sp.unit))
        size = np.abs(Z - z).sum(axis=1)
        # the refined first move: the lowest excess, then the smallest step
        i = int(np.lexsort((size[: len(fine)], np.round(ex[: len(fine)], 12)))[0])
        if xs[k, g] < ex[i] - 1e-12 or (abs(xs[k, g] - ex[i]) <= 1e-12 and abs(pts[k, g] - z[k]) < size[i]):
            Z[i, k], ex[i], size[i] = first, xs[k, g], abs(pts[k, g] - z[k])
        choice, best_e = i, ex[i]
        for r in range(1, len(top)):  # a longer combination, if it keeps half the efficiency and helps
            j = len(fine) + r - 1
            if ex[j] < best_e - 1e-12 and (e - ex[j]) / max(size[j], 1e-300) >= 0.5 * ratio[k].max():
                choice, best_e = j, ex[j]
        if not best_e < e - 1e-12:
            break
        z, e = Z[choice].copy(), float(best_e)
    return z, e, rank


def _search(ev: _Evaluator, budget_runs: int, seed: int, fc0: np.ndarray) -> _Search:
    """Pursue, search, prune and shrink within ``budget_runs`` model runs (see the module docstring).

    ``fc0`` is the forecast with the starting values, shape (D,).
    """
    from scipy.optimize import differential_evolution
    from scipy.stats import qmc

    sp = ev.space
    K = len(sp.inputs)
    stop_at = ev.used + budget_runs

    def result(z: np.ndarray, fc: np.ndarray) -> _Search:
        return _Search(z, fc, float(ev.miss(fc[None])[0]), bool(ev.reached(ev.excess(fc[None]))[0]))

    if ev.reached(ev.excess(fc0[None]))[0] or K == 0:
        return result(np.zeros(K), fc0)
    zlo, zhi = (sp.lo - sp.x0) / sp.unit, (sp.hi - sp.x0) / sp.unit
    G = int(np.clip((stop_at - ev.used) // (6 * K), 3, GRID))

    # 1. greedy pursuit: the most efficient single moves, one after another (up to 60% of the runs)
    zg, eg, rank = _pursue(ev, np.zeros(K), zlo, zhi, ev.used + int(0.6 * (stop_at - ev.used)), G)

    # 2. search: differential evolution over the inputs the pursuit moved and the next most efficient ones
    order = sorted(range(K), key=lambda k: (zg[k] == 0, -rank[k], k))
    cand = [k for k in order if zg[k] != 0 or rank[k] > 0][:max(MAX_CANDIDATES, int(np.sum(zg != 0)))]
    z, e = zg, eg
    pop = max(3 * len(cand), 16)
    reserve = 3 * len(cand) * 12  # runs kept for pruning and shrinking
    gens = (stop_at - ev.used - reserve) // pop - 1
    if cand and gens >= 2:
        C = np.array(cand)
        M = len(C)
        # the box's largest change, so that any step toward the outcome outweighs any size of change
        big = 1.0 + float(np.sum(np.maximum(np.abs(zlo[C]), np.abs(zhi[C]))))

        def objective(zc: np.ndarray) -> np.ndarray:  # zc: (M, S), scipy's vectorised layout
            Z = np.repeat(z0[None], zc.shape[1], axis=0)
            Z[:, C] = zc.T
            x = ev.excess(ev.forecasts(sp.x0 + Z * sp.unit))
            return x / ev.tol * big + np.abs(zc).sum(axis=0)

        z0 = np.zeros(K)
        lo_c, hi_c = zlo[C], np.maximum(zhi[C], zlo[C] + 1e-12)  # differential_evolution needs lo < hi
        init = lo_c + qmc.LatinHypercube(d=M, seed=seed).random(pop) * (hi_c - lo_c)
        init[0] = zg[C]
        init[1] = 0.0
        init = np.clip(init, lo_c, hi_c)
        res = differential_evolution(objective, list(zip(lo_c, hi_c)), maxiter=int(gens), init=init, seed=seed,
                                     vectorized=True, updating="deferred", polish=False, tol=0.0, atol=0.0)
        zd = np.zeros(K)
        zd[C] = np.clip(res.x, zlo[C], zhi[C])
        ed = float(ev.excess(ev.forecasts((sp.x0 + zd * sp.unit)[None]))[0])
        if (ed, np.abs(zd).sum()) < (e, np.abs(z).sum()):
            z, e = zd, ed
    fc = ev.forecasts((sp.x0 + z * sp.unit)[None])[0]
    if not ev.reached(ev.excess(fc[None]))[0]:
        return result(z, fc)

    # 3. prune: zero changes, smallest first, while the outcome stays reproduced
    while ev.used < stop_at:
        nz = [int(k) for k in np.argsort(np.abs(z), kind="stable") if z[k] != 0]
        if len(nz) <= 1:
            break
        trials = np.repeat(z[None], len(nz), axis=0)
        for r, k in enumerate(nz):
            trials[r, k] = 0.0
        tf = ev.forecasts(sp.x0 + trials * sp.unit)
        ok = np.flatnonzero(ev.reached(ev.excess(tf)))
        if not len(ok):
            break
        z, fc = trials[ok[0]], tf[ok[0]]

    # 4. shrink: cut one change at a time back toward zero, the largest saving first
    factors = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98])
    F = len(factors)
    for _ in range(3 * max(len(cand), 1)):
        nz = [k for k in range(K) if z[k] != 0]
        if not nz or ev.used + len(nz) * F > stop_at:
            break
        trials = np.repeat(z[None], len(nz) * F, axis=0)
        for r, k in enumerate(nz):
            trials[r * F:(r + 1) * F, k] = z[k] * factors
        tf = ev.forecasts(sp.x0 + trials * sp.unit)
        size = np.where(ev.reached(ev.excess(tf)), np.abs(trials).sum(axis=1), np.inf)
        best = int(np.argmin(size))
        if not size[best] < np.abs(z).sum() - 1e-9:
            break
        z, fc = trials[best], tf[best]
    return result(z, fc)


def _changes(scen: Scenario, sp: _Space, z: np.ndarray) -> pd.DataFrame:
    rows = []
    for k in np.argsort(-np.abs(z), kind="stable"):
        if z[k] == 0:
            continue
        inp = sp.inputs[k]
        v = inp.value
        to = float(sp.x0[k] + z[k] * sp.unit[k])
        ranged = v.low is not None and v.high is not None
        inside = bool(ranged and v.low - 1e-9 <= to <= v.high + 1e-9)
        rows.append({
            "input": inp.key(scen), "label": inp.label(scen), "kind": inp.kind,
            "actor": scen.actors[inp.actor].key,
            "issue": None if inp.issue is None else scen.issues[inp.issue].key,
            "from": float(sp.x0[k]), "to": to, "change": to - float(sp.x0[k]),
            "units": float(z[k]), "unit": float(sp.unit[k]), "unit_basis": sp.basis[k],
            "range_low": v.low, "range_high": v.high, "inside_range": inside,
        })
    import pandas as pd  # only where a frame is made
    df = pd.DataFrame(rows, columns=["input", "label", "kind", "actor", "issue", "from", "to", "change", "units", "unit",
                                     "unit_basis", "range_low", "range_high", "inside_range"])
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


def _kinds(vary: Any) -> tuple[str, ...]:
    if vary is None:
        return KINDS
    items = [x.strip() for x in vary.split(",")] if isinstance(vary, str) else [str(x).strip() for x in vary]
    items = [x for x in items if x]
    out = []
    for x in items:
        k = {"capabilities": "capability", "positions": "position", "saliences": "salience"}.get(x, x)
        if k not in KINDS:
            raise DetenteError([Problem(None, None, "vary", f"unknown kind of input {x!r}; kinds: {', '.join(KINDS)}")])
        out.append(k)
    if not out:
        raise DetenteError([Problem(None, None, "vary", f"expected one or more of {', '.join(KINDS)}")])
    return tuple(dict.fromkeys(out))


def default_evaluations(scen: Scenario, model: str, params: ModelParams, explicit: set[str]) -> int:
    """Model runs of a search by default: as many as the budget's estimate puts at :data:`TARGET_SECONDS`,
    within :data:`EVALUATIONS`."""
    per_run = plan_scenario("explain", scen, model, params, explicit, 1000, budget=_UNBOUNDED).seconds / 1000
    return int(np.clip(TARGET_SECONDS / max(per_run, 1e-9), *EVALUATIONS))


_UNBOUNDED = Budget(seconds=float("inf"), memory=1 << 60, draws=1 << 60, rounds=Budget().rounds)


def plan_explain(scen: Scenario, model: str, params: ModelParams, explicit: set[str], evaluations: int,
                 budget: Budget | None) -> float:
    """Check the search's model runs against the budget before any runs; the estimated seconds."""
    n, D, E = len(scen.actors), len(scen.issues), len(scen.events)
    K = len(all_inputs(scen))
    batch = max(K * GRID, 4 * MAX_CANDIDATES * 10)
    return plan_scenario(f"explain ({model})", scen, model, params, explicit, evaluations, budget=budget,
                         held=batch * (2 * inputs_bytes(n, D, E) + (K + 2 * D) * F8)).seconds


def explain(
    scenario: Any,
    outcome: Any = None,
    model: str | None = None,
    *,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    within_ranges: bool = False,
    vary: Any = None,
    evaluations: int | None = None,
    params: dict[str, Any] | None = None,
    budget: Budget | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> Explanation:
    """The smallest change to a scenario's inputs that makes ``model`` reproduce an outcome.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    outcome : str or dict, optional
        ``"deal=15,sanctions=0"`` or ``{"deal": 15, "sanctions": 0}``: any subset
        of the issues. Default: the scenario's recorded outcome (``record``).
    model : str, optional
        Default: the scenario's own choice (:func:`detente.engine.resolve_model`).
    seed : int
        Seeds the search and the model's draws: the same seed gives the same answer.
    tolerance : float
        How close counts as reproducing the outcome, as a share of each issue's
        scale (default 0.01: within 1 point on a 0-100 scale).
    within_ranges : bool
        Search only inside the analyst's ranges (inputs without a range stay fixed).
    vary : str or list, optional
        The kinds of input that may change (``capability``, ``position``,
        ``salience``); default all.
    evaluations : int, optional
        Model runs the whole search may make, checked against the budget before
        it starts. Default: as many as the budget's estimate puts at 10 seconds,
        between 4,000 and 40,000.
    params : dict, optional
        The model's parameters.
    budget : Budget, optional
    on_batch : callable, optional
        ``on_batch(done, total)`` after each batch of runs; raising from it stops the search.

    Returns
    -------
    Explanation
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    target = target_outcome(scen, outcome)
    s = check_seed(seed)
    tol = check_share(tolerance, "tolerance")
    kinds = _kinds(vary)
    if evaluations is None:
        evaluations = default_evaluations(scen, model, p, explicit)
    try:
        limit = int(evaluations)
    except (TypeError, ValueError):
        limit = -1
    if limit < 200 or limit != evaluations:
        raise DetenteError([Problem(None, None, "evaluations", f"expected a whole number of model runs >= 200, got {evaluations!r}")])
    plan_explain(scen, model, p, explicit, limit, budget)
    happened, basis = recorded_events(scen)
    events = {e.key: {"happened": bool(happened[j]), "basis": basis[e.key]} for j, e in enumerate(scen.events)}

    def evaluator(space: _Space) -> _Evaluator:
        return _Evaluator(scen, model, p, explicit, space, happened, s, target, tol, budget, limit, on_batch)

    space = _space(scen, kinds, within_ranges)
    need = 3 * 3 * len(space.inputs) + 200
    if need > limit:
        raise DetenteError([Problem(None, None, "evaluations", f"{limit:,} model runs are too few to search "
                                    f"{len(space.inputs):,} inputs (at least {need:,}); raise --evaluations")])
    ev = evaluator(space)
    base_fc = ev.forecasts(space.x0[None])[0]
    # without ranges, keep about a third of the runs for the search inside the ranges
    first = ev.left if within_ranges else int(ev.left * 0.65)
    found = _search(ev, first, s, base_fc)
    changes = _changes(scen, space, found.z)
    plausible: bool | None = None
    plausible_fc: dict[str, float] | None = None
    said = [f"{k} {'happens' if v['happened'] else 'does not happen'} ({v['basis']})" for k, v in events.items()]
    notes = ["events: " + ", ".join(said) if said else "the scenario has no events"]
    outside = found.reached and len(changes) and not bool(changes["inside_range"].all())
    inner = _space(scen, kinds, True) if outside and not within_ranges else None
    if within_ranges:
        notes.append("searched inside the analyst's ranges only; inputs without a range stayed fixed")
    elif inner is not None and not inner.inputs:
        notes.append("no input has a range, so whether the change is plausible is for the reader to judge")
    elif inner is not None and ev.left < 9 * len(inner.inputs) + 200:
        notes.append("too few model runs were left to search inside the ranges; raise --evaluations to know whether "
                     "a change inside them would do")
    elif inner is not None:  # the smallest change leaves the ranges: could anything inside them do?
        ev2 = evaluator(inner)
        ev2.used = ev.used
        got = _search(ev2, max(ev2.left, 0), s, base_fc)
        ev.used = ev2.used
        plausible = got.reached
        plausible_fc = {k: float(got.forecast[scen.issue_keys.index(k)]) for k in target}
    elif found.reached and len(changes):
        plausible = True
    notes.append(f"units: each input's stated range (high - low); without a range, its scale (the issue's for a "
                 f"position, 0-{scen.salience_scale} for a salience, the largest capability for a capability)")
    notes.append(f"{ev.used:,} model runs (budget {limit:,}), seed {s}")
    idx = {k: scen.issue_keys.index(k) for k in scen.issue_keys}
    return Explanation(
        scen, model, p, s, target, tol,
        base={k: float(base_fc[i]) for k, i in idx.items()},
        forecast={k: float(found.forecast[i]) for k, i in idx.items()},
        reached=found.reached, plausible=plausible, changes=changes, events=events, evaluations=ev.used,
        within_ranges=within_ranges, plausible_forecast=plausible_fc, notes=notes,
    )


__all__ = ["explain", "Explanation", "plan_explain"]
