"""Comparison: scenarios and models side by side, and what differs between the scenarios.

Each scenario is forecast by each model (deterministically on the most
likely event branch, or by Monte Carlo with ``draws > 0``: then the forecast
is the median and the 80% interval is given). Differences are taken against
the first scenario (same model) and the first model (same scenario). The
input differences list every number, range, issue, actor and event that is
not the same in a scenario as in the first one; rationales (``why``,
``source``), names and descriptions are not compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..budget import Budget, check_total, plan_scenario, resolve_budget
from ..errors import DetenteError, Problem
from ..executor import Executor
from ..executor import resolve as resolve_executor
from ..models.base import ModelInputError, ModelParams
from ..scenario.schema import Scenario, Value, short_name
from ..serialize import JsonResult, input_sha256, json_value, meta
from ..simulate import most_likely, simulate
from ._draws import check_seed, monte_carlo_draws
from ._run import run_tasks, task_size

if TYPE_CHECKING:
    import pandas as pd

_IGNORED_EVENT_FIELDS = {"why", "source", "name"}


def _value(v: Value | None) -> Any:
    """A Value as a number (point value) or a small dict, without its rationale."""
    return None if v is None else v.compact(rationale=False)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys (``changes.positions.deal``)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        elif not (isinstance(v, dict) or v is None):
            out[f"{prefix}{k}"] = v
    return out


def _label(s: Scenario) -> str:
    """A scenario's file name without its extension, else its name."""
    from pathlib import Path

    return Path(s.source_file).stem if s.source_file else s.name


def diff_scenarios(a: Scenario, b: Scenario) -> list[dict[str, Any]]:
    """Every input that differs from scenario ``a`` to scenario ``b``.

    Returns
    -------
    list of dict
        ``{"actor", "issue", "field", "a", "b"}`` each (``actor``/``issue``
        None where not concerned; ``a`` or ``b`` None for something added or
        removed). Empty for two scenarios with the same inputs.
    """
    out: list[dict[str, Any]] = []

    def add(actor: str | None, issue: str | None, fld: str, va: Any, vb: Any) -> None:
        if va != vb:
            out.append({"actor": actor, "issue": issue, "field": fld, "a": va, "b": vb})

    add(None, None, "rounds", a.rounds, b.rounds)
    add(None, None, "salience_scale", a.salience_scale, b.salience_scale)
    add(None, None, "calendar", a.calendar.model_dump(mode="json") if a.calendar else None,
        b.calendar.model_dump(mode="json") if b.calendar else None)
    # issues
    ia, ib = {i.key: i for i in a.issues}, {i.key: i for i in b.issues}
    for k in ia.keys() | ib.keys():
        if k not in ib:
            add(None, k, "issue", "present", None)
        elif k not in ia:
            add(None, k, "issue", None, "present")
        else:
            x, y = ia[k], ib[k]
            add(None, k, "scale", list(x.scale), list(y.scale))
            add(None, k, "status_quo", x.status_quo, y.status_quo)
            add(None, k, "thresholds", [t.model_dump() for t in x.thresholds], [t.model_dump() for t in y.thresholds])
    # actors
    aa, ab = {x.key: x for x in a.actors}, {x.key: x for x in b.actors}
    for k in [x.key for x in a.actors] + [x.key for x in b.actors if x.key not in aa]:
        if k not in ab:
            add(k, None, "actor", "present", None)
            continue
        if k not in aa:
            add(k, None, "actor", None, "present")
            continue
        xa, ya = aa[k], ab[k]
        add(k, None, "capability", _value(xa.capability), _value(ya.capability))
        for fld in ("positions", "salience"):
            dx, dy = getattr(xa, fld), getattr(ya, fld)
            for ik in list(dx) + [i for i in dy if i not in dx]:
                add(k, ik, "position" if fld == "positions" else "salience", _value(dx.get(ik)), _value(dy.get(ik)))
    # events
    ea = {e.key: _flatten(e.model_dump(mode="json", exclude=_IGNORED_EVENT_FIELDS)) for e in a.events}
    eb = {e.key: _flatten(e.model_dump(mode="json", exclude=_IGNORED_EVENT_FIELDS)) for e in b.events}
    for k in list(ea) + [e for e in eb if e not in ea]:
        if k not in eb:
            add(ea[k].get("actor"), None, f"event {k}", "present", None)
        elif k not in ea:
            add(eb[k].get("actor"), None, f"event {k}", None, "present")
        else:
            for fld in sorted(ea[k].keys() | eb[k].keys()):
                add(ea[k].get("actor"), None, f"event {k}.{fld}", ea[k].get(fld), eb[k].get(fld))
    return sorted(out, key=lambda r: (r["actor"] or "", r["issue"] or "", r["field"]))


@dataclass
class Comparison(JsonResult):
    """Forecasts of several scenarios by several models, and the scenarios' input differences.

    Attributes
    ----------
    scenarios : list of Scenario
    labels : list of str
        A unique label per scenario (its name, numbered when names repeat).
    models : list of str
    draws, seed : int
    table : DataFrame
        One row per scenario x model x issue: ``scenario, model, issue,
        forecast, lo80, hi80, diff_scenario, diff_model``. ``diff_scenario``
        is the change from the first scenario (same model), ``diff_model``
        from the first model (same scenario); NaN where the issue is missing
        there. ``lo80``/``hi80`` are NaN for ``draws == 0``.
    differences : DataFrame
        ``scenario, actor, issue, field, a, b``: each input of a scenario
        that differs from the first scenario's (``a``).
    """

    scenarios: list[Scenario]
    labels: list[str]
    models: list[str]
    draws: int
    seed: int
    table: pd.DataFrame
    differences: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The forecast table (a copy)."""
        return self.table.copy()

    @property
    def identical(self) -> bool:
        """True when every scenario has the same inputs as the first."""
        return self.differences.empty

    def shown_differences(self) -> list[dict[str, str]]:
        """The input differences as a person reads them (:func:`shown_difference`: display names)."""
        return [shown_difference(self.scenarios, r) for r in self.differences.to_dict("records")]

    def to_dict(self) -> dict[str, Any]:
        """``{"scenarios", "models", "forecasts": [rows], "differences": [rows], "meta"}``."""
        return {
            "scenarios": [{"label": lab, "name": s.name, "input_sha256": input_sha256(s)} for lab, s in zip(self.labels, self.scenarios)],
            "models": list(self.models),
            "forecasts": [{k: json_value(v) for k, v in r.items()} for r in self.table.to_dict("records")],
            "differences": [{k: json_value(v) for k, v in r.items()} for r in self.differences.to_dict("records")],
            "meta": meta(self.seed, draws=self.draws, notes=self.notes),
        }


def _part_name(scens: list[Scenario], kind: str, key: str) -> str:
    """The short display name of an actor, issue or event ``key`` in the first scenario that has it (else the key)."""
    for s in scens:
        for part in getattr(s, kind):
            if part.key == key:
                return short_name(getattr(part, "name", None) or part.key)
    return key


def shown_difference(scens: list[Scenario], row: dict[str, Any]) -> dict[str, str]:
    """A row of :func:`diff_scenarios` as a person reads it: actors, issues and events by their display names
    (short, as in every table), values by :func:`show_value`; the keys stay in the JSON and CSV."""
    fld = str(row["field"])
    actor, issue = row.get("actor"), row.get("issue")
    if fld.startswith("event "):
        key, _, part = fld[len("event "):].partition(".")
        what, _, on = part.partition(".")
        if what == "changes" and on.split(".")[0] in ("positions", "salience") and "." in on:
            kind, _, issue = on.partition(".")  # a change of one issue: that issue in its column
            part = "position it moves to" if kind == "positions" else "salience it changes to"
        elif what == "changes" and on:
            part = on
        fld = f"event {_part_name(scens, 'events', key)}" + (f": {part}" if part else "")
    return {
        "scenario": str(row.get("scenario", "")),
        "actor": _part_name(scens, "actors", actor) if isinstance(actor, str) and actor else "",
        "issue": _part_name(scens, "issues", issue) if isinstance(issue, str) and issue else "",
        "field": fld,
        "a": show_value(row["a"]),
        "b": show_value(row["b"]),
    }


def show_value(v: Any) -> str:
    """An input as the comparison shows it: ``45 [35, 55]``, ``0.6``, ``present``, or ``absent``."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "absent"
    if isinstance(v, dict) and "value" in v:
        rng = f" [{v['low']:g}, {v['high']:g}]" if "low" in v and "high" in v else ""
        extra = "".join(f" {k}={v[k]}" for k in ("dist", "sd") if k in v)
        return f"{v['value']:g}{rng}{extra}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def compare(
    scenarios: list[Any],
    models: list[str] | None = None,
    draws: int = 0,
    seed: int = 0,
    *,
    params: dict[str, dict[str, Any]] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    budget: Budget | None = None,
    scheduler: Any = None,
    workers: int | None = None,
) -> Comparison:
    """Forecast every scenario with every model, side by side, and list the input differences.

    Parameters
    ----------
    scenarios : list of Scenario, path, shipped name or dict
    models : list of str, optional
        Model names (default: each scenario's own choice, see :func:`detente.engine.resolve_model`).
    draws : int
        0: one deterministic run each (the most likely event branch); more:
        Monte Carlo with that many draws (the same seed for every run, so
        scenario variants share their draws where their inputs agree).
    seed : int
    params : dict of model name -> dict, optional
        Parameters per model.
    chunk, progress
        See :func:`detente.analysis.monte_carlo`.
    budget : Budget, optional
        The limits, for every run together; checked before any runs.
    scheduler, workers
        Run the scenario x model runs on a Dask cluster (see :func:`detente.analysis.monte_carlo`);
        the result is the same bit for bit.

    Returns
    -------
    Comparison
    """
    from ..engine import load, model_params, resolve_model
    from .montecarlo import check_draws, plan_monte_carlo, quantile_summary

    if not scenarios:
        raise DetenteError([Problem(None, None, "scenarios", "give at least one scenario")])
    if models is not None and not list(models):
        raise DetenteError([Problem(None, None, "models", "give at least one model")])
    s = check_seed(seed)
    if draws != 0:
        check_draws(draws)
    params = dict(params or {})
    scens = [load(x) for x in scenarios]
    if models is None:  # each scenario's own model (resolve_model), with its parameters unless given
        models = []
        for sc in scens:
            name, own = resolve_model(sc)
            if name not in models:
                models.append(name)
                params.setdefault(name, own)
    models = list(models)
    labels: list[str] = []
    for k, sc in enumerate(scens):
        lab = _label(sc)
        if lab in labels:
            lab = f"{lab} #{k + 1}"
        labels.append(lab)
    # every run is checked before the first starts; their times add up
    b = resolve_budget(budget)
    total = 0.0
    for sc in scens:
        for m in models:
            p = model_params(m, params.get(m))
            ex = set(params.get(m) or {})
            unbounded = replace(b, seconds=float("inf"))
            est = (plan_monte_carlo(sc, m, p, ex, int(draws), budget=unbounded, chunk=chunk, further=False) if draws
                   else plan_scenario(f"compare ({m})", sc, m, p, ex, 1, budget=unbounded))
            total += est.seconds
    check_total(f"comparing {len(scens)} scenarios x {len(models)} models", total, b, "fewer draws, scenarios or models")
    job = CompareJob(tuple(scens), tuple(models), {m: model_params(m, params.get(m)) for m in models},
                     {m: frozenset(params.get(m) or {}) for m in models}, int(draws), s)
    with resolve_executor(scheduler, workers) as where:
        tasks = compare_tasks(job, chunk, b, where)
        try:
            parts = run_tasks(run_compare_task, tasks, shared=job, executor=where, runs=[t.stop - t.start for t in tasks],
                              progress=progress if draws else False, what="compare")
        except _Refused as e:
            i, m, reason = e.args
            raise DetenteError([Problem(scens[i].source_file, None, f"model {m}", reason)]) from None
    rows = []
    for lab, (sc, m, fc) in zip([x for x in labels for _ in models], merge_compare(job, tasks, parts)):
        for d, iss in enumerate(sc.issues):
            if draws:
                q = quantile_summary(fc[:, d])
                lo, hi = q["intervals"]["80"]
                rows.append({"scenario": lab, "model": m, "issue": iss.key, "forecast": q["median"], "lo80": lo, "hi80": hi})
            else:
                rows.append({"scenario": lab, "model": m, "issue": iss.key, "forecast": float(fc[0, d]), "lo80": np.nan,
                             "hi80": np.nan})
    import pandas as pd  # only where a frame is made
    df = pd.DataFrame(rows)
    first = df.set_index(["scenario", "model", "issue"])["forecast"]
    ref_s = [first.get((labels[0], m, i), np.nan) for m, i in zip(df["model"], df["issue"])]
    ref_m = [first.get((sl, models[0], i), np.nan) for sl, i in zip(df["scenario"], df["issue"])]
    df["diff_scenario"] = df["forecast"] - np.asarray(ref_s, dtype=float)
    df["diff_model"] = df["forecast"] - np.asarray(ref_m, dtype=float)
    diffs = []
    for lab, sc in zip(labels[1:], scens[1:]):
        diffs += [{"scenario": lab, **r} for r in diff_scenarios(scens[0], sc)]
    ddf = pd.DataFrame(diffs, columns=["scenario", "actor", "issue", "field", "a", "b"])
    notes = ["forecast: " + ("one run each on the most likely event branch (each uncertain event at its likelier "
                             "outcome)" if not draws
                             else f"the median of {draws:,} Monte Carlo draws (seed {s}: the same draws for every "
                             "scenario where their inputs agree); the interval is the central 80% of the draws")]
    return Comparison(scens, labels, models, int(draws), s, df, ddf, notes)


# -- the plan: tasks, one task, the merge ---------------------------------------------------------
@dataclass(frozen=True)
class CompareJob:
    """What every task of one comparison shares (sent once): the scenarios, models, parameters, draws, seed."""

    scenarios: tuple[Scenario, ...]
    models: tuple[str, ...]
    params: dict[str, ModelParams]
    explicit: dict[str, frozenset[str]]
    draws: int
    seed: int


@dataclass(frozen=True)
class CompareTask:
    """Scenario ``scenario`` under ``model``: draws ``start .. stop`` (the one deterministic run when ``draws == 0``)."""

    scenario: int
    model: str
    start: int
    stop: int


def compare_tasks(job: CompareJob, chunk: int | None, budget: Budget | None, ex: Executor | None = None
                  ) -> list[CompareTask]:
    """One task per scenario x model (scenarios outer), its draws in chunks of
    :func:`detente.analysis._run.task_size` (the same as its Monte Carlo's)."""
    out: list[CompareTask] = []
    for i, sc in enumerate(job.scenarios):
        for m in job.models:
            if not job.draws:
                out.append(CompareTask(i, m, 0, 1))
                continue
            size = task_size(sc, m, job.params[m], job.draws, len(sc.actors), len(sc.issues), set(job.explicit[m]), chunk,
                             budget, ex or Executor())
            out += [CompareTask(i, m, a, min(job.draws, a + size)) for a in range(0, job.draws, size)]
    return out


def run_compare_task(t: CompareTask, job: CompareJob) -> np.ndarray:
    """The final forecasts of one task, shape (draws, D): Monte Carlo draws ``start .. stop``
    drawn from the seed, or the most likely event branch at the point values. A model that cannot
    run the scenario raises :class:`_Refused`."""
    sc, m = job.scenarios[t.scenario], t.model
    if job.draws:
        dr = monte_carlo_draws(sc, t.stop - t.start, job.seed, lazy=True, first=t.start)
        inputs, happened = dr.inputs.full(), dr.happened
    else:
        inputs, happened = sc.to_inputs(seed=job.seed), most_likely(sc)
    try:
        return simulate(sc, m, job.params[m], inputs=inputs, happened=happened, explicit=set(job.explicit[m])).final
    except ModelInputError as e:
        raise _Refused(t.scenario, m, str(e)) from None


class _Refused(Exception):
    """A model that cannot run a scenario: ``args`` are the scenario's index, the model and the reason
    (plain values: the exception crosses from a worker of a cluster)."""


def merge_compare(job: CompareJob, tasks: list[CompareTask], parts: list[np.ndarray]
                  ) -> list[tuple[Scenario, str, np.ndarray]]:
    """Per scenario x model (scenarios outer), its forecasts: the tasks' rows in draw order."""
    got: dict[tuple[int, str], list[np.ndarray]] = {}
    for t, part in zip(tasks, parts):
        got.setdefault((t.scenario, t.model), []).append(part)
    return [(sc, m, np.concatenate(got[(i, m)])) for i, sc in enumerate(job.scenarios) for m in job.models]
