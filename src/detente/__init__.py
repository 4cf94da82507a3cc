"""detente: forecast negotiations and collective decisions.

>>> import detente
>>> s = detente.load("korea-2019")                 # a shipped example, a file, or a dict
>>> r = detente.forecast(s, model="compromise")
>>> r.issues["deal"]["forecast"]                    # doctest: +SKIP

The public names below are imported on first use (``import detente`` itself
loads nothing heavy), so the command line and scripts start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    "load": "detente.api",
    "forecast": "detente.api",
    "model_params": "detente.api",
    "Result": "detente.result",
    "Scenario": "detente.scenario",
    "DetenteError": "detente.errors",
    "ScenarioError": "detente.errors",
    "Problem": "detente.errors",
    "monte_carlo": "detente.analysis",
    "sensitivity": "detente.analysis",
    "advise": "detente.analysis",
    "compare": "detente.analysis",
    "score": "detente.analysis",
    "explain": "detente.analysis",
}

__all__ = [
    "__version__", "load", "forecast", "model_params", "Result", "Scenario", "DetenteError", "ScenarioError",
    "Problem", "monte_carlo", "sensitivity", "advise", "compare", "score", "explain",
]

if TYPE_CHECKING:  # what a type checker and an IDE see
    from .analysis.advice import advise
    from .analysis.compare import compare
    from .analysis.explain import explain
    from .analysis.montecarlo import monte_carlo
    from .analysis.score import score
    from .analysis.sensitivity import sensitivity
    from .api import forecast, load, model_params
    from .errors import DetenteError, Problem, ScenarioError
    from .result import Result
    from .scenario import Scenario


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'detente' has no attribute {name!r}") from None
    from ._extras import import_optional

    value = getattr(import_optional(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
