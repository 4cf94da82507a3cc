"""The Python API: load a scenario, forecast it with any model.

``load`` and ``model_params`` live in :mod:`detente.engine` and are re-exported here."""

from __future__ import annotations

import operator
from typing import Any

from . import models
from .budget import Budget, BudgetError, plan_scenario, resolve_budget
from .engine import load, model_params, resolve_model
from .errors import DetenteError, Problem
from .models.base import ModelInputError
from .result import Result
from .simulate import events_within, horizon, is_dynamic, most_likely, simulate, simulate_prefix
from .stability import examined_rounds, only_stops, rounds_param
from .stability import stability as diagnose_stability

__all__ = ["forecast", "load", "model_params", "resolve_model"]


def forecast(scenario: Any, model: str | None = None, *, seed: int | None = None, budget: Budget | None = None,
             stability: bool = True, **params: Any) -> Result:
    """Forecast a scenario with one model.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str, optional
        A name from :func:`detente.models.names`; default: the scenario's own
        ``model`` choice, else the documented fallback (see
        :func:`detente.engine.resolve_model`).
    seed : int, optional
        For stochastic models.
    budget : Budget, optional
        The limits (default :class:`detente.budget.Budget()`); a run over them
        (e.g. too many rounds for the history it would keep) is refused before
        it starts.
    stability : bool
        For a model that plays rounds, also play the run further and diagnose
        cycles, drift and the forecast's spread over nearby horizons
        (:mod:`detente.stability`; ``issues[KEY]["stability"]``).
    **params
        The model's parameters (see ``detente models``).

    Returns
    -------
    Result
        With ``.issues``, ``.history``, ``.to_frame()`` and ``.to_json()``.
    """
    if seed is not None:
        try:
            ok = not isinstance(seed, bool) and 0 <= operator.index(seed) < 2**63
        except TypeError:
            ok = False
        if not ok:
            raise DetenteError([Problem(None, None, "seed", f"expected a whole number from 0 to 2**63-1, got {seed!r}")])
    scen = load(scenario)
    model, params = resolve_model(scen, model, params)
    if seed is None and scen.model is not None and scen.model.seed is not None:
        seed = scen.model.seed
    p = model_params(model, params)
    mod = models.get(model)
    notes: list[str] = list(scen.reading_notes)  # what the reader guessed or mapped
    notes += run_notes(scen, model, p, set(params))
    plan_scenario(f"forecast ({model})", scen, model, p, set(params), 1, budget=budget, history=True)
    inputs = scen.to_inputs(seed=seed or 0)
    longer = _stability_rounds(scen, mod, p, set(params), budget) if stability else None
    long = None  # the stability check's run, when the forecast reads off it
    try:
        if longer is not None:  # one run to the check's rounds gives the forecast too (TRUNCATE_INFO)
            H, L = longer
            long, traj = simulate_prefix(scen, model, p.model_copy(update={"rounds": L}), H, inputs=inputs,
                                         happened=_within(scen, most_likely(scen), H), explicit=set(params) | {"rounds"})
        else:
            traj = simulate(scen, model, p, inputs=inputs, happened=most_likely(scen), explicit=set(params))
    except ModelInputError as e:
        raise DetenteError([Problem(scen.source_file, None, f"model {model}", str(e))]) from None
    model_notes = getattr(mod, "notes", None)
    if model_notes is not None:
        notes += model_notes(traj, 0, [a.name for a in scen.actors], [i.name for i in scen.issues])
    stab = None
    name = rounds_param(mod)
    if stability and name is not None:
        H = (horizon(scen, mod, p, set(params)) if is_dynamic(mod)
             else int(getattr(p, name) if getattr(p, name) is not None else traj.position.shape[1] - 1))
        b = resolve_budget(budget)
        L = examined_rounds(H, b.rounds)
        free = only_stops(mod) and traj.position.shape[1] - 1 < H  # the run stopped by itself: nothing to play
        try:  # the check plays about twice the forecast's rounds: within the budget, or not at all
            if not free:
                plan_scenario(f"stability check ({model})", scen, model, p.model_copy(update={name: L}),
                              set(params) | {"rounds"}, 1, budget=b)
        except BudgetError as e:
            notes.append("the stability check (the run played on to see whether it settles) was skipped: "
                         + "; ".join(pr.reason for pr in e.problems))
        else:
            stab = diagnose_stability(scen, model, p, H, explicit=set(params), seed=seed or 0, max_rounds=b.rounds,
                                      run=traj, long=long)
    last = horizon(scen, mod, p, set(params)) if is_dynamic(mod) else scen.rounds
    return Result(scen, model, p, traj, seed=seed, notes=notes, branch=branch_note(scen, last), stability=stab)


def _stability_rounds(scen: Any, mod: Any, p: Any, explicit: set[str], budget: Budget | None) -> tuple[int, int] | None:
    """``(H, L)`` when the forecast's run to H rounds reads off the stability check's run to L (a dynamic model
    that declares ``TRUNCATE_INFO``, a check within the budget that plays further than H), else None."""
    if not is_dynamic(mod) or getattr(mod, "TRUNCATE_INFO", None) is None:
        return None
    H = horizon(scen, mod, p, explicit)
    b = resolve_budget(budget)
    L = examined_rounds(H, b.rounds)
    if not 1 <= H < L:
        return None
    try:
        plan_scenario(f"stability check ({mod.NAME})", scen, mod.NAME, p.model_copy(update={"rounds": L}),
                      explicit | {"rounds"}, 1, budget=b)
    except BudgetError:
        return None  # the forecast runs alone, and says why the check was skipped
    return H, L


def _within(scen: Any, happened: Any, H: int) -> Any:
    """The events' outcomes with those after round ``H`` left out (the stability check's branch)."""
    return happened & events_within(scen, H)[None, :]


def branch_note(scen: Any, last: int | None = None) -> str | None:
    """What one run does with the uncertain events up to round ``last``: each takes its likelier outcome
    (None without such events)."""
    uncertain = [e for e, within in zip(scen.events, events_within(scen, last)) if within and 0 < e.probability < 1]
    if not uncertain:
        return None
    return ("one run on the most likely branch: each uncertain event takes its likelier outcome ("
            + ", ".join(f"{e.key} p={e.probability:g}: {'happens' if e.probability > 0.5 else 'does not happen'}"
                        for e in uncertain)
            + "); Monte Carlo draws weigh both outcomes of each")


def run_notes(scen: Any, model: str, params: Any, explicit: set[str]) -> list[str]:
    """What a reader must know about how ``model`` plays this scenario (rounds, events beyond the horizon)."""
    mod = models.get(model)
    notes: list[str] = []
    if is_dynamic(mod):
        H = horizon(scen, mod, params, explicit)
        late = [e for e in scen.events if scen.event_round(e) > H]
        if late:
            notes.append(f"events after the last round ({H}) are not part of this run: "
                         + ", ".join(f"{e.key} (round {scen.event_round(e)})" for e in late))
        return notes
    if scen.events:
        notes.append(f"{model} does not play the scenario's rounds: it forecasts the scenario as it stands after the "
                     "events within the horizon")
    elif scen.rounds is not None:
        notes.append(f"{model} does not play rounds: the scenario's horizon ({scen.rounds} rounds) does not change "
                     "its forecast")
    return notes
