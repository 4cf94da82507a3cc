"""The unweighted mean of positions: a reference point for every other model."""

from __future__ import annotations

from . import compromise
from .base import Cost, Inputs, ModelParams, Trajectory

NAME = "mean"
SUMMARY = "Unweighted mean of the actors' positions (reference)."
CITATION = "A naive reference model; see Achen (2006) for its use as a baseline on DEU."
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False


class Params(ModelParams):
    """The mean model has no parameters."""


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """The mean of the active actors' positions per issue."""
    return Trajectory.static(inputs, compromise.forecast(inputs, compromise.Params(weights="equal")))


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """As :func:`detente.models.compromise.cost` (the same computation with equal weights)."""
    return compromise.cost(n, D, compromise.Params(weights="equal"))
