"""The engine's entry: load a scenario, choose its model, validate the model's parameters.

The one "which model" rule lives here (:func:`resolve_model`): forecast, Monte Carlo,
sensitivity, advice, compare, report, CLI and web all call it, so one scenario gets one model.
This module sits below ``analysis``, ``backtest``, ``report`` and the interfaces; it imports only
``models``, ``scenario``, ``errors`` (see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from . import models
from .errors import DetenteError, Problem
from .models.base import ModelParams
from .scenario import Scenario
from .scenario import load as _load

__all__ = ["load", "model_params", "resolve_model"]


def resolve_model(scenario: Scenario, model: str | None = None,
                  params: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The model to run and its parameters: the caller's ``model`` if given, else the scenario's
    own ``model`` choice, else :data:`detente.models.DEFAULT_MODEL` (``compromise``).

    When the model comes from the scenario and the caller gave no parameters, the scenario's
    parameters come with it; a caller's explicit model never takes the scenario's parameters.
    """
    params = dict(params or {})
    if model is None:
        choice = scenario.model
        model = choice.name if choice is not None else models.DEFAULT_MODEL
        if choice is not None and not params:
            params = dict(choice.params)
    return model, params


def load(source: Any, *, salience_scale: int | None = None) -> Scenario:
    """Load and validate a scenario from a file path, a shipped example's name, a dict, or a DataFrame.

    ``salience_scale`` (1 or 100) declares the scale of a stakeholder table's saliences
    (see :func:`detente.scenario.load`). Raises :class:`detente.errors.ScenarioError`
    listing every problem.
    """
    return _load(source, salience_scale=salience_scale)


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


def scenario_seed(scenario: Scenario, seed: int | None) -> int:
    """The seed of a run: the one given, else the scenario's own (``model: {seed: ...}``), else 0."""
    if seed is not None:
        return seed
    choice = scenario.model
    return choice.seed if choice is not None and choice.seed is not None else 0
