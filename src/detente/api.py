"""The Python API: load a scenario, forecast it with any model."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from . import models
from .budget import Budget, plan_scenario
from .errors import DetenteError, Problem
from .models.base import ModelInputError, ModelParams
from .result import Result
from .scenario import Scenario
from .scenario import load as _load
from .simulate import is_dynamic, most_likely, simulate


def load(source: Any) -> Scenario:
    """Load and validate a scenario from a file path, a shipped example's name, or a dict.

    Raises :class:`detente.errors.ScenarioError` listing every problem.
    """
    return _load(source)


def model_params(model: str, params: dict[str, Any] | None = None, *, source: str = "params") -> ModelParams:
    """Validate a model's parameters, turning mistakes into a :class:`DetenteError`."""
    try:
        m = models.get(model)
    except models.UnknownModelError as e:
        raise DetenteError([Problem(None, None, "model", str(e))]) from None
    try:
        return m.Params(**(params or {}))
    except ValidationError as e:
        raise DetenteError(
            [
                Problem(None, None, f"{source}.{'.'.join(str(x) for x in err['loc'])}", _reason(err))
                for err in e.errors()
            ]
        ) from None


def _reason(err: Any) -> str:
    """A parameter's validation error in plain words (a cap on rounds says it is one)."""
    if err["type"] == "extra_forbidden":
        return "unknown parameter"
    if err["type"] == "less_than_equal" and err["loc"] and err["loc"][-1] in ("rounds", "max_turns", "passes"):
        return (f"at most {err['ctx']['le']:,}, the model's hard cap on rounds, got {err.get('input')!r} "
                "(below the cap, the compute budget's --max-rounds applies)")
    return err["msg"]


def forecast(scenario: Any, model: str | None = None, *, seed: int | None = None, budget: Budget | None = None,
             **params: Any) -> Result:
    """Forecast a scenario with one model.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str, optional
        A name from :func:`detente.models.names`; default: the scenario's own
        ``model`` choice, else ``"compromise"``.
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
    if model is None:
        model = scen.model.name if scen.model else "compromise"
        if scen.model and not params:
            params = dict(scen.model.params)
    if seed is None and scen.model is not None and scen.model.seed is not None:
        seed = scen.model.seed
    p = model_params(model, params)
    notes: list[str] = []
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
