"""The model registry: every model is a module following :mod:`detente.models.base`."""

from __future__ import annotations

from typing import Any

from .base import Inputs, Model, ModelInputError, ModelParams, Move, Perspective, Trajectory
from .registry import (
    _REGISTRY,  # noqa: F401  (the registry itself, for tests and plug-ins)
    DEFAULT_MODEL,
    UnknownModelError,
    get,
    make_params,
    names,
    register,
    warmup,
)


def check_model(model: Any, **kw: Any) -> dict[str, str]:
    """Check a model (registry name or module) against the protocol: see :mod:`detente.models.conformance`."""
    from .conformance import check_model as check

    return check(model, **kw)


__all__ = [
    "Inputs", "Trajectory", "ModelParams", "ModelInputError", "Model", "Move", "Perspective",
    "DEFAULT_MODEL", "UnknownModelError", "get", "names", "register", "make_params", "warmup", "check_model",
]
