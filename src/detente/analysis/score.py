"""Score: every model's forecast against what actually happened.

For each model and each issue with a recorded outcome (or one the caller
gives), two questions:

*How far off?*
    The forecast minus the outcome, on the issue's scale. The forecast is the
    headline ``detente forecast`` prints for the same run: with draws, the
    median of the draws (the most likely branch, one run with each uncertain
    event at its likelier outcome, is shown beside it, labelled); without, that
    one run. When the record says which events happened, the one run *given the
    record's events* is shown too, so that a miss of the events is told apart
    from a miss of the bargaining.
*How surprised?*
    The Monte Carlo probability the model gave to the outcome's neighbourhood:
    the share of draws whose forecast lies within ``neighbourhood`` x the
    issue's scale of the outcome (default 5%, so +/- 5 points on a 0-100
    scale), and the central band of the draws (default 80%), with where the
    outcome falls against it.

Every model runs through :func:`detente.simulate.simulate` (the point
forecast) and :func:`detente.analysis.monte_carlo` (the draws), so a model
registered tomorrow is scored the same way. A model that cannot run the
scenario (``nash`` without a status quo) is listed with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import models as registry
from ..budget import Budget, BudgetError, check_total, plan_scenario, resolve_budget
from ..errors import DetenteError, Problem
from ..scenario.schema import Scenario
from ..serialize import JsonResult, input_sha256, meta
from ..serialize import json_value as _clean
from ..simulate import most_likely
from ._draws import check_seed
from ._record import NEIGHBOURHOOD, check_share, recorded_events, target_outcome
from ._run import run_draws
from .montecarlo import check_draws, monte_carlo, plan_monte_carlo

if TYPE_CHECKING:
    import pandas as pd

#: The central band of the draws reported, in percent.
BAND = 80
#: Monte Carlo draws per model where a score is part of something else (the report's section, the web
#: panel) and nobody asked for a number.
SCORE_DRAWS = 200


@dataclass
class ScoreResult(JsonResult):
    """Every model's forecast of a scenario against its recorded outcome.

    Attributes
    ----------
    scenario : Scenario
    outcome : dict of str -> float
        The outcome scored against, per issue.
    models : list of str
        The models that ran.
    draws, seed : int
        Monte Carlo draws per model (0: point forecasts only) and their seed.
    neighbourhood : float
        The outcome's neighbourhood, as a share of each issue's scale (either side).
    table : DataFrame
        One row per model and issue: ``model, issue, outcome, forecast, error,
        abs_error, forecast_given_record, error_given_record`` and, with draws,
        ``median`` (= ``forecast``), ``most_likely`` and ``error_most_likely`` (the
        one run on the most likely branch), ``p_near, band_low, band_high, where,
        share_below``.
    not_run : dict of str -> str
        Models that could not run the scenario, with the reason.
    notes : list of str
    """

    scenario: Scenario
    outcome: dict[str, float]
    models: list[str]
    draws: int
    seed: int
    neighbourhood: float
    table: pd.DataFrame
    not_run: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def radius(self, issue: str) -> float:
        """The neighbourhood's half-width on ``issue``'s scale."""
        lo, hi = self.scenario.issue(issue).scale
        return self.neighbourhood * (hi - lo)

    def summary(self) -> pd.DataFrame:
        """One row per model: mean absolute error over the scored issues and, with draws, the mean
        probability of the outcome's neighbourhood and how many outcomes fell inside the band."""
        rows = []
        for m in self.models:
            sub = self.table[self.table["model"] == m]
            row: dict[str, Any] = {"model": m, "scored": len(sub), "mae": float(sub["abs_error"].mean())}
            if self.draws:
                row["mean_p_near"] = float(sub["p_near"].mean())
                row["inside_band"] = int((sub["where"] == "inside").sum())
            rows.append(row)
        import pandas as pd  # only where a frame is made
        return pd.DataFrame(rows)

    def headline(self) -> list[str]:
        """One sentence per issue: the outcome, the closest and the farthest model."""
        out = []
        for key, y in self.outcome.items():
            sub = self.table[self.table["issue"] == key]
            if sub.empty:
                continue
            best = sub.loc[sub["abs_error"].idxmin()]
            worst = sub.loc[sub["abs_error"].idxmax()]
            what = "median " if self.draws else ""
            line = (f"{self.scenario.issue(key).name}: recorded {y:g}; closest {best['model']} ({what}{best['forecast']:.1f}, off by "
                    f"{best['error']:+.1f}), farthest {worst['model']} ({what}{worst['forecast']:.1f}, off by "
                    f"{worst['error']:+.1f})")
            if self.draws:
                top = sub.loc[sub["p_near"].idxmax()]
                line += (f"; the most probability within +/-{self.radius(key):g} of the outcome: "
                         f"{top['model']} ({100 * top['p_near']:.0f}% of draws)")
            out.append(line)
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "outcome", "neighbourhood", "band", "models": {MODEL: {"issues": {KEY: row}, ...}}, "meta"}``."""
        per: dict[str, Any] = {}
        summ = {r["model"]: r for r in self.summary().to_dict("records")}
        for m in self.models:
            sub = self.table[self.table["model"] == m]
            per[m] = {
                "issues": {r["issue"]: {k: _clean(v) for k, v in r.items() if k not in ("model", "issue")}
                           for r in sub.to_dict("records")},
                **{k: _clean(v) for k, v in summ[m].items() if k != "model"},
            }
        rec = self.scenario.record
        outcome = {}
        for k, y in self.outcome.items():
            o = rec.issues.get(k) if rec is not None else None
            entry: dict[str, Any] = {"value": y, "radius": self.radius(k), "name": self.scenario.issue(k).name}
            if o is not None and o.value == y:
                entry.update({x: getattr(o, x) for x in ("date", "why", "source") if getattr(o, x) is not None})
                if "date" in entry:
                    entry["date"] = entry["date"].isoformat()
            outcome[k] = entry
        return {
            "scenario": self.scenario.name,
            "outcome": outcome,
            "neighbourhood": self.neighbourhood,
            "band": BAND,
            "events": self.events,
            "models": per,
            "not_run": dict(self.not_run),
            "headline": self.headline(),
            "meta": meta(self.seed, draws=self.draws, input_sha256=input_sha256(self.scenario), notes=self.notes),
        }



def _model_list(models: Any) -> list[str]:
    if models is None:
        return list(registry.names())
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else [str(m) for m in models]
    names = [m for m in names if m]
    known = set(registry.names())
    for m in names:
        if m not in known:
            raise DetenteError([Problem(None, None, "models", f"unknown model {m!r}; models: {', '.join(registry.names())}")])
    if not names:
        raise DetenteError([Problem(None, None, "models", "expected at least one model")])
    return list(dict.fromkeys(names))


def _same_draws(mc: Any, scen: Scenario, model: str, params: Any, draws: int, seed: int) -> Any:
    """``mc`` when it holds the draws :func:`score` would make for ``model`` (else None)."""
    if mc is None or not draws or (mc.model, mc.draws, mc.seed, mc.params) != (model, draws, seed, params):
        return None
    return mc if input_sha256(mc.scenario) == input_sha256(scen) else None


def score(
    scenario: Any,
    models: Any = None,
    *,
    outcome: Any = None,
    draws: int = 500,
    seed: int = 0,
    neighbourhood: float = NEIGHBOURHOOD,
    params: dict[str, dict[str, Any]] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    budget: Budget | None = None,
    given: dict[str, Any] | None = None,
) -> ScoreResult:
    """Score every model's forecast of a scenario against its recorded outcome.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    models : str or list of str, optional
        Model names (a comma-separated string or a list); default every registered model.
    outcome : str or dict, optional
        The outcome to score against (``"deal=15,sanctions=0"`` or ``{"deal": 15}``);
        default the scenario's ``record``.
    draws : int
        Monte Carlo draws per model (0: point forecasts only, no probabilities).
    seed : int
        Seed of the draws and of stochastic models.
    neighbourhood : float
        Half-width of the outcome's neighbourhood as a share of the scale (default 0.05).
    params : dict of model -> dict, optional
        Parameters per model (the scenario's own model also takes the scenario's parameters).
    chunk, progress, budget
        As for :func:`detente.analysis.monte_carlo`; every model's runs are
        checked against the budget before the first starts.
    given : dict of model -> MonteCarloResult, optional
        Draws already made (a report's own Monte Carlo): a model's result is
        used instead of drawing again when it is that model's, of the same
        scenario, with the same number of draws, seed and parameters (the
        same draws, then); otherwise the model draws as usual.

    Returns
    -------
    ScoreResult
    """
    from ..engine import load, model_params

    scen = load(scenario)
    target = target_outcome(scen, outcome)
    names = _model_list(models)
    s = check_seed(seed)
    n = check_draws(draws) if draws else 0
    share = check_share(neighbourhood, "neighbourhood")
    own = scen.model.name if scen.model is not None else None
    resolved: dict[str, tuple[dict[str, Any], Any]] = {}
    for m in names:
        ps = dict((params or {}).get(m) or (dict(scen.model.params) if m == own and scen.model is not None else {}))
        resolved[m] = (ps, model_params(m, ps, source=f"params.{m}"))
    # every model's runs, checked together before any runs
    b = resolve_budget(budget)
    unbounded = type(b)(seconds=float("inf"), memory=b.memory, draws=b.draws, rounds=b.rounds)
    total = 0.0
    for m, (ps, p) in resolved.items():
        total += plan_scenario(f"score ({m})", scen, m, p, set(ps), 2, budget=unbounded).seconds
        if n and _same_draws((given or {}).get(m), scen, m, p, n, s) is None:  # a given Monte Carlo is reused, not run
            total += plan_monte_carlo(scen, m, p, set(ps), n, budget=unbounded, chunk=chunk,
                                      what=f"score: Monte Carlo ({m})").seconds
    check_total(f"scoring {len(names)} model{'s' if len(names) != 1 else ''}", total, b, "fewer draws or models")

    rec_happened, basis = recorded_events(scen)
    likely = most_likely(scen)[0]
    given_record = bool(len(rec_happened)) and bool((rec_happened != likely).any())
    D = len(scen.issues)
    rows: list[dict[str, Any]] = []
    not_run: dict[str, str] = {}
    ran: list[str] = []
    inputs = scen.to_inputs(seed=s, batch=2)
    inputs.seed[:] = np.uint64(s)  # both runs with the point forecast's seed
    happened = np.stack([likely, rec_happened])
    for m, (ps, p) in resolved.items():
        try:
            fc = run_draws(scen, m, p, inputs, happened, explicit=set(ps), progress=False, budget=budget)[0]
            mc = _same_draws((given or {}).get(m), scen, m, p, n, s)
            if mc is None and n:
                mc = monte_carlo(scen, m, draws=n, seed=s, params=ps, chunk=chunk, progress=progress, budget=budget,
                                 point=False)  # the most likely branch is run above, with the record's events too
        except BudgetError:
            raise
        except DetenteError as e:  # the model cannot run this scenario
            not_run[m] = "; ".join(pr.reason for pr in e.problems)
            continue
        ran.append(m)
        for d in range(D):
            key = scen.issues[d].key
            if key not in target:
                continue
            y = target[key]
            lo, hi = scen.issues[d].scale
            # the headline: with draws the median of the draws, else the one run (as `detente forecast`)
            head = float(np.median(mc.forecasts[:, d])) if mc is not None else float(fc[0, d])
            row: dict[str, Any] = {"model": m, "issue": key, "outcome": y, "forecast": head,
                                   "error": head - y, "abs_error": abs(head - y)}
            row["forecast_given_record"] = float(fc[1, d])
            row["error_given_record"] = float(fc[1, d] - y)
            if mc is not None:
                x = mc.forecasts[:, d]
                r = share * (hi - lo)
                a = (100 - BAND) / 200
                blo, bhi = (float(v) for v in np.quantile(x, [a, 1 - a]))
                row.update({
                    "median": head,
                    "most_likely": float(fc[0, d]), "error_most_likely": float(fc[0, d] - y),
                    "p_near": float(np.mean(np.abs(x - y) <= r * (1 + 1e-12))),
                    "band_low": blo, "band_high": bhi,
                    "where": "below" if y < blo else ("above" if y > bhi else "inside"),
                    "share_below": float(np.mean(x < y)),
                })
            rows.append(row)
    if not ran:
        raise DetenteError([Problem(scen.source_file, None, "models", "no model could run the scenario: "
                                    + "; ".join(f"{m}: {r}" for m, r in not_run.items()))])
    if n:
        notes = [f"error = forecast - outcome, on each issue's scale; the forecast is the median of {n:,} Monte Carlo "
                 f"draws (seed {s}), the headline of a forecast with these draws; the most likely branch (one run, "
                 "each uncertain event at its likelier outcome) is shown beside it, labelled, not as the forecast",
                 f"p_near: the share of the draws within {100 * share:g}% of the scale of the outcome; band: the "
                 f"central {BAND}% of the draws"]
    else:
        notes = ["error = forecast - outcome, on each issue's scale; the forecast is one run at the point values, "
                 "each uncertain event on its most likely branch (the headline of a forecast without draws)"]
    if given_record:
        notes.append("given the record's events: one run with the events as the record has them (some differ from "
                     "their most likely branch)")
    events = {e.key: {"happened": bool(rec_happened[j]), "basis": basis[e.key], "most_likely": bool(likely[j])}
              for j, e in enumerate(scen.events)}
    import pandas as pd  # only where a frame is made
    table = pd.DataFrame(rows)
    if not given_record:
        table = table.drop(columns=["forecast_given_record", "error_given_record"])
    return ScoreResult(scen, target, ran, n, s, share, table, not_run, notes, events)
