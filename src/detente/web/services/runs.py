"""Runs: forecasts and analyses computed, stored and read back; reports built on demand.

``POST /api/forecast`` computes what it answers: the forecast (its history,
summary, moves and notes) and the analyses asked for, with no chart
(:func:`detente.report.build.compute` with ``figures=False``). The report of
such a run (its charts, the model's perspective map) is built when it is asked
for (:func:`report_of`), from the request the run stored, so it shows the same
forecast. Background jobs, ``/api/sensitivity`` and ``/api/compare`` store the
whole report (the browser shows its charts at once).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ..._cancel import Cancelled
from ..._version import __version__
from ...report import build as report_build
from ...serialize import jsonable
from ..schemas import AdviceRequest, RunRequest, ScenarioInput
from ..store import RunStore
from .scenarios import load_input

Progress = Callable[[float, str], None]


def _scenarios(req: RunRequest) -> tuple[Any, list[Any]]:
    scen, _ = load_input(req)
    return scen, [load_input(c)[0] for c in req.compare]


def _sensitivity(req: RunRequest, kind: str) -> bool:
    return req.sensitivity or kind == "sensitivity"


def check(req: RunRequest, kind: str, budget: Any) -> None:
    """Refuse bad input, and work over the budget, before a background job is queued (DetenteError)."""
    scen, compare = _scenarios(req)
    report_build.plan_report(scen, req.model, dict(req.params), draws=req.draws, sensitivity=_sensitivity(req, kind),
                             compare=compare, budget=budget)


def execute(runs: RunStore, req: RunRequest, kind: str, budget: Any, *, figures: bool = True,
            progress: Progress | None = None, cancel: threading.Event | None = None) -> dict[str, Any]:
    """Compute a run and store it; the stored run's summary row.

    With ``figures`` the stored results are the whole report (``kind``
    ``detente-report``); without, what a forecast answers
    (``detente-forecast``), the report being built later by :func:`report_of`.
    Either way the results keep the request (``request``) and the resolved
    scenario (``scenario_input``).

    Raises
    ------
    DetenteError
        Bad input or over the budget.
    Cancelled
        When ``cancel`` was set; nothing is stored.
    StoreError
        When the run cannot be stored.
    """
    scen, compare = _scenarios(req)
    sens = _sensitivity(req, kind)
    data = report_build.compute(scen, req.model, dict(req.params), seed=req.seed, draws=req.draws, sensitivity=sens,
                                compare=compare, progress=progress, cancel=cancel, budget=budget, figures=figures,
                                interface="web")
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    data["scenario_input"] = jsonable(scen.to_dict())
    data["request"] = {"model": req.model, "params": jsonable(req.params), "seed": req.seed, "draws": req.draws,
                       "sensitivity": sens}
    given = req.given()
    if req.compare:
        given["compare"] = [c.given() for c in req.compare]
    m = data["meta"]
    return runs.add(kind=kind, name=scen.name, scenario=given, model=m["model"], params=m["params"],
                    seed=req.seed, draws=req.draws, version=__version__, results=data)


def stored(runs: RunStore, req: RunRequest, kind: str, budget: Any, *, figures: bool = True,
           cancel: threading.Event | None = None) -> dict[str, Any]:
    """:func:`execute`, answered with the whole stored run (as ``GET /api/runs/{id}`` gives it)."""
    return runs.get(execute(runs, req, kind, budget, figures=figures, cancel=cancel)["id"])  # type: ignore[return-value]


def report_of(run: dict[str, Any], budget: Any, cancel: threading.Event | None = None) -> dict[str, Any]:
    """The report data of a stored run: stored with it, or built now from the request it stored.

    A run stored without its figures is computed again with the same
    scenario, model, parameters, seed and draws, so the report shows the
    forecast the run answered (every model is deterministic given its seed).
    """
    res = run["results"]
    if res.get("kind") != "detente-forecast":
        return res
    req = res["request"]
    given = dict(run["scenario"])
    compare = [load_input(ScenarioInput(**c))[0] for c in given.pop("compare", [])]
    scen, _ = load_input(ScenarioInput(**given))
    return report_build.compute(scen, req["model"], dict(req["params"]), seed=req["seed"], draws=req["draws"],
                                sensitivity=req["sensitivity"], compare=compare, cancel=cancel, budget=budget,
                                interface="web")


def advice(req: AdviceRequest, budget: Any) -> dict[str, Any]:
    """Advice for one actor (``detente advise``): ``{scenario, advice}``."""
    from ...analysis import advise

    scen, _ = load_input(req)
    res = advise(scen, req.actor, issue=req.issue, model=req.model or None, draws=req.draws or 200, seed=req.seed or 0,
                 params=dict(req.params), progress=False, budget=budget)
    return {"scenario": scen.name, "advice": jsonable(res.to_dict())}
