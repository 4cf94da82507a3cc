"""The compromise model: the capability x salience weighted mean of positions.

The forecast on each issue is ``sum_i c_i s_i x_i / sum_i c_i s_i``. Despite its
simplicity it is the benchmark that elaborate bargaining models have failed to
beat on real EU decisions (Achen 2006; Van den Bos 1991).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._common import issue_weights
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "compromise"
SUMMARY = "Capability x salience weighted mean of positions (the field's benchmark)."
CITATION = (
    "Van den Bos (1991) Dutch EC Policy Making; Achen (2006) in Thomson et al. (eds.) "
    "The European Union Decides, CUP, ch. 4."
)
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False


class Params(ModelParams):
    """Parameters of the compromise model.

    Attributes
    ----------
    weights : {"capability_salience", "capability", "equal"}
        What each position is weighted by. ``capability_salience`` is the
        compromise model proper; ``equal`` gives the plain mean.
    """

    weights: Literal["capability_salience", "capability", "equal"] = "capability_salience"


def forecast(inputs: Inputs, params: Params = Params()) -> np.ndarray:
    """The weighted mean of positions per issue, shape (B, D)."""
    w = issue_weights(inputs, params.weights)
    return (w * inputs.position).sum(axis=1) / w.sum(axis=1)


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Forecast every draw and issue; the model has no rounds."""
    return Trajectory.static(inputs, forecast(inputs, params))


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """Per draw: the weights and their product with the positions (n x D each), the
    one-state trajectory (a copy of the positions), and a few per-issue sums."""
    return Cost(flops_per_draw=10.0 * n * D, bytes_per_draw=(4 * n * D + 8 * D) * F8)
