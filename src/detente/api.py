"""The Python API: load a scenario, forecast it with any model.

``load`` and ``model_params`` live in :mod:`detente.engine` and are re-exported here."""

from __future__ import annotations

from typing import Any

from . import models
from .budget import Budget, plan_scenario
from .engine import load, model_params, resolve_model
from .errors import DetenteError, Problem
from .models.base import ModelInputError
from .result import Result
from .simulate import is_dynamic, most_likely, simulate

__all__ = ["forecast", "load", "model_params", "resolve_model"]


def forecast(scenario: Any, model: str | None = None, *, seed: int | None = None, budget: Budget | None = None,
             **params: Any) -> Result:
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
    **params
        The model's parameters (see ``detente models``).

    Returns
    -------
    Result
        With ``.issues``, ``.history``, ``.to_frame()`` and ``.to_json()``.
    """
    scen = load(scenario)
    model, params = resolve_model(scen, model, params)
    if seed is None and scen.model is not None and scen.model.seed is not None:
        seed = scen.model.seed
    p = model_params(model, params)
    notes: list[str] = list(scen.reading_notes)  # what the reader guessed or mapped
    if scen.events:
        taken = [e for e in scen.events if e.probability > 0.5]
        uncertain = [e for e in scen.events if 0 < e.probability < 1]
        if uncertain:
            notes.append(
                "deterministic run: the most likely branch of each uncertain event was taken ("
                + ", ".join(f"{e.key} p={e.probability:g}: {'happens' if e in taken else 'does not happen'}" for e in uncertain)
                + "); use --draws for Monte Carlo over events"
            )
    if not is_dynamic(models.get(model)) and scen.events:
        notes.append(f"{model} does not play the scenario's rounds: it forecasts the scenario as it stands after the "
                     "events within the horizon")
    plan_scenario(f"forecast ({model})", scen, model, p, set(params), 1, budget=budget, history=True)
    inputs = scen.to_inputs(seed=seed or 0)
    try:
        traj = simulate(scen, model, p, inputs=inputs, happened=most_likely(scen), explicit=set(params))
    except ModelInputError as e:
        raise DetenteError([Problem(scen.source_file, None, f"model {model}", str(e))]) from None
    return Result(scen, model, p, traj, seed=seed, notes=notes)
