"""The median voter model: the weighted median of positions.

Default convention (``condorcet``): the actor position p minimising
``sum_k w_k |x_k - p|`` with ``w_k = c_k s_k`` (the lowest such position when
two tie). Under single-peaked preferences and votes weighted by w it is the
Condorcet winner, the reading used by Bueno de Mesquita (1994) and in the
expected-utility model's ``mu``. ``midpoint`` instead splits an exact tie
halfway, like the textbook median of an even number of equal weights.
"""

from __future__ import annotations

from typing import Literal

from ._common import issue_weights, weighted_median
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "median"
SUMMARY = "Weighted median of positions (the median voter / Condorcet winner)."
CITATION = "Black (1948) JPE 56(1); Bueno de Mesquita (1994) in European Community Decision Making, ch. 4."
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False


class Params(ModelParams):
    """Parameters of the median model.

    Attributes
    ----------
    weights : {"capability_salience", "capability", "equal"}
        Each actor's vote weight.
    convention : {"condorcet", "midpoint"}
        How an exact tie between two positions is resolved (see module doc).
    """

    weights: Literal["capability_salience", "capability", "equal"] = "capability_salience"
    convention: Literal["condorcet", "midpoint"] = "condorcet"


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """The weighted median of the active actors' positions per issue."""
    w = issue_weights(inputs, params.weights)
    return Trajectory.static(inputs, weighted_median(inputs.position, w, params.convention, axis=1))


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """Per draw: the weights, the sort order (int64), the sorted positions and weights,
    their cumulative sum and comparison masks (n x D each), and the trajectory."""
    return Cost(flops_per_draw=20.0 * n * D, bytes_per_draw=(9 * n * D + 8 * D) * F8)
