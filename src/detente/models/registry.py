"""The registry of models: name -> module, looked up (and imported) on first use."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .base import ModelParams

# name -> module path; a model is imported only when used.
_REGISTRY: dict[str, str] = {
    "compromise": "detente.models.compromise",
    "median": "detente.models.median",
    "mean": "detente.models.mean",
    "nash": "detente.models.nash",
    "bdm": "detente.models.bdm",
    "smp": "detente.models.smp",
    "counterweight": "detente.models.counterweight",
    "focal": "detente.models.focal",
    "exchange": "detente.models.exchange",
}


#: The documented fallback: the model used when neither the caller nor the scenario chooses one.
#: Everything above ``models/`` reaches it only through :func:`detente.engine.resolve_model`.
DEFAULT_MODEL = "compromise"


class UnknownModelError(KeyError):
    """No model of that name."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


def names() -> list[str]:
    """The names of every registered model, in registry order."""
    available = []
    for name in _REGISTRY:
        try:
            get(name)
        except ImportError:  # pragma: no cover - a model whose module is missing
            continue
        available.append(name)
    return available


def register(name: str, module_path: str) -> None:
    """Add a model module to the registry (for plug-ins and later models)."""
    _REGISTRY[name] = module_path


def get(name: str) -> ModuleType:
    """The model module called ``name``."""
    try:
        path = _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; available: {', '.join(_REGISTRY)}"
        ) from None
    return importlib.import_module(path)


def make_params(name: str, params: dict[str, Any] | None = None) -> ModelParams:
    """Validate ``params`` against the model's ``Params`` (pydantic errors on bad input)."""
    return get(name).Params(**(params or {}))


def warmup() -> list[str]:
    """Compile every model's kernels into their on-disk caches; the names of the models that compiled.

    A model module may define ``warmup() -> bool`` (True when it compiled
    something); ``detente warmup`` calls this once after installing.
    """
    done = []
    for name in names():
        hook = getattr(get(name), "warmup", None)
        if hook is not None and hook():
            done.append(name)
    return done
