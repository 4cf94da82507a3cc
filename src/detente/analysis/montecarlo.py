"""Monte Carlo: the forecast's distribution over uncertain inputs and events.

Each draw takes every ranged value from its distribution (see
:mod:`detente.analysis._draws`) and lets every probabilistic event happen
with its probability, independently. All draws run batched through
:func:`detente.simulate.simulate` in chunks; the result does not depend on
the chunk size, and the same seed gives the same numbers bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import models
from ..api import forecast
from ..budget import Budget, Estimate, horizon_of, inputs_bytes, plan_scenario
from ..executor import resolve as resolve_executor
from ..models.base import F8, ModelParams
from ..scenario.schema import Scenario
from ..serialize import JsonResult, input_sha256, meta, threshold_probability
from ..serialize import finite as _f
from ..simulate import events_within, is_dynamic
from ._draws import Input, check_seed, event_index, monte_carlo_draws
from ._run import resolve, run_draws

if TYPE_CHECKING:
    import pandas as pd

#: Central intervals reported, as coverage in percent.
INTERVALS = (50, 80, 95)


def check_draws(draws: Any) -> int:
    """A number of draws as an int >= 1, or a :class:`~detente.errors.DetenteError` on ``draws``
    (the one check of every analysis that draws, and of the report)."""
    from ..errors import DetenteError, Problem

    try:
        n = int(draws)
    except (TypeError, ValueError):
        n = -1
    if n < 1 or n != draws:
        raise DetenteError([Problem(None, None, "draws", f"expected a whole number >= 1, got {draws!r}")])
    return n


def plan_monte_carlo(scenario: Scenario, model: str, params: ModelParams, explicit: set[str] | None, draws: int, *,
                     budget: Budget | None = None, chunk: int | None = None, by_round: bool = False,
                     copies: int = 1, what: str | None = None, lazy: bool = True, further: bool = True) -> Estimate:
    """Check ``draws`` Monte Carlo draws (times ``copies`` variants of each) against the budget before any is drawn.

    Kept per draw: the value of every uncertain input, the events' uniforms
    and outcomes, the final forecasts and the temporaries of drawing; unless the inputs are built chunk
    by chunk (``lazy``, as :func:`monte_carlo` does), also every draw's inputs
    (once, and once per copy). With ``further`` (as :func:`monte_carlo` runs them, ``copies`` 1), the
    draws of a model whose rounds only stop the play are planned as they run: played
    :data:`~detente.stability.NEAR` rounds past the horizon, every round kept (for the median's
    stability). A model that iterates with its own default count (``ROUNDS_PARAM`` left unset) is
    planned at that count, as the count is only known from a run.
    """
    from ._draws import uncertain_inputs

    ext = _extension(scenario, model, params, set(explicit or ())) if further and copies == 1 else None
    if isinstance(ext, tuple):
        params, explicit, by_round = ext[1], ext[2], True
    n, D, E = len(scenario.actors), len(scenario.issues), len(scenario.events)
    K = len(uncertain_inputs(scenario))
    # + the temporaries of drawing one input's column (raw words, uniforms, the inverse CDF's branches)
    per_draw = (0 if lazy else (1 + copies) * inputs_bytes(n, D, E)) + (K + 2 * E + 2 * copies * D + 16) * F8
    return plan_scenario(what or f"Monte Carlo ({model})", scenario, model, params, explicit, draws * copies,
                         budget=budget, held=draws * per_draw, chunk=chunk, by_round=by_round)


def quantile_summary(x: np.ndarray) -> dict[str, Any]:
    """Median, mean and the central 50/80/95% intervals of the draws ``x`` (1-d)."""
    out: dict[str, Any] = {"median": float(np.median(x)), "mean": float(np.mean(x)), "intervals": {}}
    for c in INTERVALS:
        a = (100 - c) / 200
        lo, hi = np.quantile(x, [a, 1 - a])
        out["intervals"][str(c)] = [float(lo), float(hi)]
    return out


@dataclass
class MonteCarloResult(JsonResult):
    """The forecast distribution of one scenario under one model.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    seed : int
    forecasts : ndarray, shape (draws, D)
        Each draw's final forecast per issue.
    happened : ndarray of bool, shape (draws, E)
        Which events happened in which draw.
    values : ndarray, shape (draws, K)
        The drawn value of each uncertain input (columns: ``uncertain``).
    uncertain : list of Input
    notes : list of str
    by_round : ndarray, shape (draws, T + 1, D), optional
        Each draw's forecast after every round (``monte_carlo(..., by_round=True)``).
    point : Result, optional
        The most likely branch (:func:`detente.forecast` at the point values): shown
        beside the median, labelled, never as the forecast; its notes describe the model.
    stability : dict, optional
        Per issue key, the stability of the median (:func:`detente.stability.diagnose_median`:
        its spread over nearby horizons, its period, the share of draws that move there);
        None for a model without rounds, or when it could not be checked (a note says why).
    """

    scenario: Scenario
    model: str
    params: ModelParams
    seed: int
    forecasts: np.ndarray
    happened: np.ndarray
    values: np.ndarray
    uncertain: list[Input]
    notes: list[str] = field(default_factory=list)
    by_round: np.ndarray | None = None
    point: Any = None
    stability: dict[str, dict[str, Any]] | None = None

    def stability_notes(self) -> list[str]:
        """One sentence per issue whose median is unstable, or whose draws move while the median holds."""
        from ..stability import describe

        st = self.stability or {}
        return [text for iss in self.scenario.issues if iss.key in st
                for text in [describe(iss.name, st[iss.key], iss.fmt)] if text]

    def most_likely(self, issue: str) -> float | None:
        """The most likely branch's forecast of one issue (one run, each uncertain event at its likelier
        outcome), shown beside the median; None when it was not run."""
        return None if self.point is None else self.point.forecast[issue]

    @property
    def draws(self) -> int:
        """The number of draws."""
        return int(self.forecasts.shape[0])

    def distribution(self, issue: str) -> dict[str, Any]:
        """Median, mean, intervals, threshold probabilities and draw count of one issue."""
        d = self.scenario.issue_keys.index(issue)
        iss = self.scenario.issues[d]
        x = self.forecasts[:, d]
        out = quantile_summary(x)
        out["thresholds"] = [
            {"name": t.name, "value": t.value, "direction": t.direction, "probability": threshold_probability(x, t.value, t.direction)}
            for t in iss.thresholds
        ]
        out["draws"] = self.draws
        return out

    @property
    def event_shares(self) -> dict[str, float]:
        """The share of draws in which each event happened."""
        return {e.key: float(self.happened[:, j].mean()) for j, e in enumerate(self.scenario.events)}

    def summary(self) -> pd.DataFrame:
        """One row per issue: median, mean, standard deviation and the 50/80/95% intervals."""
        rows = []
        for d, iss in enumerate(self.scenario.issues):
            x = self.forecasts[:, d]
            q = quantile_summary(x)
            row = {"issue": iss.key, "median": q["median"], "mean": q["mean"], "sd": float(np.std(x))}
            for c in INTERVALS:
                row[f"lo{c}"], row[f"hi{c}"] = q["intervals"][str(c)]
            row["label"] = iss.label_for(q["median"])
            row["most_likely"] = self.most_likely(iss.key)
            rows.append(row)
        import pandas as pd  # only where a frame is made
        return pd.DataFrame(rows)

    def thresholds(self) -> pd.DataFrame:
        """One row per named threshold: issue, name, value, direction, probability."""
        rows = []
        for iss in self.scenario.issues:
            for t in self.distribution(iss.key)["thresholds"]:
                rows.append({"issue": iss.key, **t})
        import pandas as pd  # only where a frame is made
        return pd.DataFrame(rows, columns=["issue", "name", "value", "direction", "probability"])

    def fan(self, quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, dict[float, np.ndarray]]:
        """Per issue and quantile, that quantile of the forecast after every round (a fan chart's data).

        Needs ``monte_carlo(..., by_round=True)``.
        """
        if self.by_round is None:
            raise ValueError("run monte_carlo(..., by_round=True) to keep the forecast of every round")
        return {
            iss.key: {q: np.quantile(self.by_round[:, :, d], q, axis=0) for q in quantiles}
            for d, iss in enumerate(self.scenario.issues)
        }

    def to_frame(self) -> pd.DataFrame:
        """Tidy draws: one row per draw x issue, columns ``draw, issue, forecast``."""
        B, D = self.forecasts.shape
        import pandas as pd  # only where a frame is made
        return pd.DataFrame(
            {
                "draw": np.repeat(np.arange(B), D),
                "issue": np.tile(np.asarray(self.scenario.issue_keys, dtype=object), B),
                "forecast": self.forecasts.ravel(),
            }
        )

    def track_record_bands(self) -> list[dict[str, Any]]:
        """Per issue, the model's track-record band (:mod:`detente.calibrate`), centred on the median forecast."""
        from ..calibrate import scenario_bands

        med = np.median(self.forecasts, axis=0) if self.draws else np.full(len(self.scenario.issues), np.nan)
        return scenario_bands(self.scenario, self.model, self.params.model_dump(mode="json"), med)

    def to_dict(self, history: bool = False) -> dict[str, Any]:
        """The forecast JSON contract: per issue the ``forecast`` (the median of the draws), its
        ``distribution`` (band, threshold probabilities), its ``track_record_band``, the ``most_likely``
        branch beside it and the median's ``stability`` (:func:`detente.stability.diagnose_median`); event
        shares. With ``history``, also the most
        likely branch's round-by-round ``history`` (``meta.history`` says so)."""

        point = self.point.issues if self.point is not None else {}
        issues: dict[str, Any] = {}
        dists = [self.distribution(iss.key) for iss in self.scenario.issues]
        bands = self.track_record_bands()
        for iss, dist, band in zip(self.scenario.issues, dists, bands):
            entry: dict[str, Any] = {"forecast": _f(dist["median"]), "scale": [iss.scale[0], iss.scale[1]]}
            if iss.labels:
                entry["label"] = iss.label_for(dist["median"])
            entry["distribution"] = dist
            entry["track_record_band"] = band
            if iss.key in point:
                ml = {"forecast": point[iss.key]["forecast"]}
                if iss.labels:
                    ml["label"] = point[iss.key]["label"]
                entry["most_likely"] = ml
            if self.stability is not None and iss.key in self.stability:
                entry["stability"] = self.stability[iss.key]
            issues[iss.key] = entry
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "issues": issues,
            "events": self.event_shares,
        }
        extra: dict[str, Any] = {}
        if history and self.point is not None:
            out["history"] = self.point.history
            extra["history"] = "the most likely branch (one run, each uncertain event at its likelier outcome)"
        out["meta"] = meta(self.seed, draws=self.draws, input_sha256=input_sha256(self.scenario),
                           uncertain_inputs=len(self.uncertain), **extra, notes=self.notes)
        return out


def monte_carlo(
    scenario: Any,
    model: str | None = None,
    draws: int = 1000,
    seed: int = 0,
    chunk: int | None = None,
    params: dict[str, Any] | None = None,
    progress: bool | None = None,
    by_round: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
    budget: Budget | None = None,
    point: bool = True,
    scheduler: Any = None,
    workers: int | None = None,
) -> MonteCarloResult:
    """Forecast a scenario's distribution over its uncertain inputs and events.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str, optional
        A registered model name; default: the scenario's own choice (:func:`detente.engine.resolve_model`).
    draws : int
        Number of Monte Carlo draws.
    seed : int
        Same seed, same output, bit for bit.
    chunk : int, optional
        Draws per batched model call (default 2,000); results do not depend on it.
    params : dict, optional
        The model's parameters.
    progress : bool, optional
        Force the progress bar on or off (default: shown when slow).
    by_round : bool
        Keep every draw's forecast after every round (for fan charts).
    on_chunk : callable, optional
        ``on_chunk(done, total)`` after each chunk of draws; raising from it stops the run.
    budget : Budget, optional
        The limits (default :class:`detente.budget.Budget()`); a run over them is
        refused before it starts (:class:`detente.budget.BudgetError`).
    point : bool
        Also forecast the most likely branch (one run), shown beside the median.
    scheduler : str, Executor or distributed.Client, optional
        Run the draws on a Dask cluster: a scheduler's address (``"tcp://HOST:8786"``), a
        :class:`detente.executor.Executor` or a ``distributed.Client`` (see docs/scale.md). The result
        is the same bit for bit wherever it runs.
    workers : int, optional
        Run the draws on a new local Dask cluster of this many worker processes (closed afterwards).

    For a model that plays rounds, the median's stability over nearby horizons is
    diagnosed too (``stability``): with a model whose rounds only stop the play, the
    draws are played two rounds past the horizon and the headline is read at it.

    Returns
    -------
    MonteCarloResult

    Examples
    --------
    >>> import detente
    >>> mc = detente.monte_carlo("korea-2019", draws=200)
    >>> mc.summary()[["issue", "median", "lo80", "hi80"]]  # doctest: +SKIP
    """
    asked = model
    scen, model, p, explicit = resolve(scenario, model, params)
    n = check_draws(draws)
    s = check_seed(seed)
    mod = models.get(model)
    # an event after the last round is drawn (its stream stays aligned) but is never part of a run
    last = horizon_of(scen, mod, p, explicit) if is_dynamic(mod) else scen.rounds
    inside = events_within(scen, last)
    further, why_not = _further(scen, model, p, explicit, n, budget, chunk, by_round)
    dr = monte_carlo_draws(scen, n, s, lazy=True)
    stab = None
    with resolve_executor(scheduler, workers) as ex:
        if further is None:
            fc, hist = run_draws(
                scen, model, p, dr.inputs, dr.happened, explicit=explicit, chunk=chunk, progress=progress,
                what=f"Monte Carlo ({model})", by_round=by_round, on_chunk=on_chunk, budget=budget, executor=ex,
            )
        else:  # every draw played NEAR rounds past the horizon: the headline is read at it, the nearby horizons beside
            H, p2, ex2 = further
            _, full = run_draws(
                scen, model, p2, dr.inputs, dr.happened & inside[None, :], explicit=ex2, chunk=chunk, progress=progress,
                what=f"Monte Carlo ({model})", by_round=True, on_chunk=on_chunk, budget=budget, executor=ex,
            )
            assert full is not None
            fc = full[:, min(H, full.shape[1] - 1)].copy()
            hist = full[:, : H + 1] if by_round else None  # a view: no second copy of the rounds
            stab = _median_stability(scen, mod, full, H)
    res = forecast(scen, asked, seed=s, budget=budget, stability=False, **dict(params or {})) if point else None
    notes = [headline_note(n, res is not None)]
    if not dr.uncertain and not any(0 < e.probability < 1 for e in scen.events):
        notes.append("no ranged input and no uncertain event: every draw is the same")
    if res is not None:
        notes += res.notes
    if why_not:
        notes.append(why_not)
    happened = dr.happened & inside[None, :]
    out = MonteCarloResult(scen, model, p, s, fc, happened, dr.values, dr.uncertain, notes, by_round=hist, point=res,
                           stability=stab)
    out.notes += out.stability_notes()
    return out


def _extension(scen: Scenario, model: str, p: ModelParams, explicit: set[str],
               H: int | None = None) -> tuple[int, ModelParams, set[str]] | str | None:
    """How the draws play past the horizon for the median's stability: ``(H, params, explicit)`` with the
    rounds raised by :data:`~detente.stability.NEAR`; a sentence saying why not (a model whose rounds do
    more than stop the play); or None (no rounds, or a ``ROUNDS_PARAM`` left at the model's default and
    no ``H`` given: only a run tells its count)."""
    from ..stability import NEAR, only_stops, rounds_param

    mod = models.get(model)
    name = rounds_param(mod)
    if name is None:
        return None
    if not only_stops(mod):
        return (f"the median's stability over nearby horizons was not checked: {model}'s rounds do more than "
                "stop the play, so each horizon would need its own run of every draw")
    if is_dynamic(mod):
        H = horizon_of(scen, mod, p, explicit)
    elif getattr(p, name) is not None:
        H = int(getattr(p, name))
    if H is None or H < 1:
        return None
    return H, p.model_copy(update={name: H + NEAR}), set(explicit) | {name}


def _further(scen: Scenario, model: str, p: ModelParams, explicit: set[str], draws: int, budget: Budget | None,
             chunk: int | None, by_round: bool) -> tuple[tuple[int, ModelParams, set[str]] | None, str | None]:
    """Plan the run (against the budget) and say how the draws play: ``((H, params, explicit), None)``
    past the horizon, or ``(None, why not)`` (why is None for a model without rounds)."""
    from ..budget import BudgetError
    from ..simulate import simulate
    from ..stability import NEAR, rounds_param

    ext = _extension(scen, model, p, explicit)
    name = rounds_param(models.get(model))
    if ext is None and name is not None and not is_dynamic(models.get(model)) and getattr(p, name) is None:
        # the model's own default count: one run at the point values says it (planned first, as one draw)
        plan_scenario(f"Monte Carlo ({model})", scen, model, p, explicit, 1, budget=budget)
        T = int(simulate(scen, model, p, inputs=scen.to_inputs()).position.shape[1] - 1)
        ext = _extension(scen, model, p, explicit, T)
    if not isinstance(ext, tuple):
        plan_monte_carlo(scen, model, p, explicit, draws, budget=budget, chunk=chunk, by_round=by_round, further=False)
        return None, ext
    try:
        plan_monte_carlo(scen, model, ext[1], ext[2], draws, budget=budget, chunk=chunk, by_round=True, further=False)
    except BudgetError as e:
        plan_monte_carlo(scen, model, p, explicit, draws, budget=budget, chunk=chunk, by_round=by_round, further=False)
        return None, ("the median's stability over nearby horizons was not checked (the draws would play "
                      f"{NEAR} rounds further): " + "; ".join(pr.reason for pr in e.problems))
    return ext, None


def _median_stability(scen: Scenario, mod: Any, full: np.ndarray, H: int) -> dict[str, dict[str, Any]]:
    """Per issue, :func:`detente.stability.diagnose_median` of the draws' forecasts by round ``full`` (B, T+1, D)."""
    from ..stability import NEAR, bargaining_start, diagnose_median

    T1 = H + NEAR + 1
    if full.shape[1] < T1:  # every draw stopped early: it holds its final forecast
        full = np.concatenate([full, np.repeat(full[:, -1:], T1 - full.shape[1], axis=1)], axis=1)
    start = bargaining_start(scen, mod, H)
    return {iss.key: diagnose_median(full[:, :, d], H, float(iss.scale[1] - iss.scale[0]), start=start)
            for d, iss in enumerate(scen.issues)}


def headline_note(draws: int, point: bool = True) -> str:
    """What the forecast of a run with draws is, and what is shown beside it."""
    return (f"The forecast is the median of {draws:,} Monte Carlo draws; its band is the spread of the draws, and "
            "each named threshold's probability the share of draws past it"
            + ("; the most likely branch (one run, each uncertain event at its likelier outcome) is shown beside "
               "it, labelled, not as the forecast" if point else ""))


@dataclass
class EventEffect:
    """Forecasts with one event forced to happen and forced not to, on the same draws.

    Attributes
    ----------
    scenario : Scenario
    model : str
    event : str
        The event's key.
    on, off : ndarray, shape (draws, D)
        Final forecasts with the event forced on / off (every other input and
        event as drawn: common random numbers).
    """

    scenario: Scenario
    model: str
    event: str
    on: np.ndarray
    off: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        """Per-draw forecast change caused by the event (on - off), shape (draws, D)."""
        return self.on - self.off

    def to_frame(self) -> pd.DataFrame:
        """One row per issue: medians on/off, the mean change and its 10th-90th percentiles."""
        rows = []
        for d, iss in enumerate(self.scenario.issues):
            x = self.diff[:, d]
            rows.append(
                {
                    "issue": iss.key,
                    "median_on": float(np.median(self.on[:, d])),
                    "median_off": float(np.median(self.off[:, d])),
                    "mean_change": float(x.mean()),
                    "change_p10": float(np.quantile(x, 0.1)),
                    "change_p90": float(np.quantile(x, 0.9)),
                    "share_up": float(np.mean(x > 0)),
                    "share_down": float(np.mean(x < 0)),
                }
            )
        import pandas as pd  # only where a frame is made
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``{"event", "model", "draws", "issues": {KEY: row}}``."""
        df = self.to_frame()
        return {
            "event": self.event,
            "model": self.model,
            "draws": int(self.on.shape[0]),
            "issues": {r["issue"]: {k: v for k, v in r.items() if k != "issue"} for r in df.to_dict("records")},
        }


def event_effect(
    scenario: Any,
    model: str | None = None,
    event_key: str = "",
    draws: int = 1000,
    seed: int = 0,
    *,
    params: dict[str, Any] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    budget: Budget | None = None,
    scheduler: Any = None,
    workers: int | None = None,
) -> EventEffect:
    """How one event shapes the forecast: the same draws with the event forced on and off.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str
    event_key : str
        The event's key.
    draws, seed, params, chunk, progress, budget, scheduler, workers
        As for :func:`monte_carlo`; both branches use the same draws.

    Returns
    -------
    EventEffect
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    j = event_index(scen, event_key)
    n = check_draws(draws)
    s = check_seed(seed)
    plan_monte_carlo(scen, model, p, explicit, n, budget=budget, chunk=chunk, copies=2, what=f"event effect ({model})",
                     lazy=False)
    dr = monte_carlo_draws(scen, n, s)
    from ._draws import tile

    hap = np.concatenate([dr.happened, dr.happened])
    hap[:n, j] = True
    hap[n:, j] = False
    with resolve_executor(scheduler, workers) as ex:
        fc = run_draws(scen, model, p, tile(dr.inputs, 2), hap, explicit=explicit, chunk=chunk, progress=progress,
                       what=f"event effect ({model})", budget=budget, executor=ex)[0]
    return EventEffect(scen, model, event_key, fc[:n], fc[n:])
