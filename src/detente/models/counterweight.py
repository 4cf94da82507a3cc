"""The counterweight model: the mean, pushed away from the weighted median.

The forecast on each issue is

    f = clip(m + k (m - M), min_i x_i, max_i x_i)

where ``m`` is the mean of the active actors' positions (unweighted by
default), ``M`` their capability-weighted median (midpoint convention) and
``k >= 0`` the counterweight. With ``k = 0`` it is the plain mean. The idea:
in consensus-minded bodies such as the EU Council a majority bloc does not get
its way in proportion to its size; the outcome overshoots the mean toward the
side of the outvoted minority. The clip keeps the forecast within the range of
the positions (a Pareto-set argument: no actor wants a point outside it).

It needs nothing but positions and capabilities (no status quo, agenda setter
or voting rule), so it runs on any scenario. Salience is not used by default
(``mean_weights="equal"``); zero-capability actors still count in the mean.

Derivation: an empirical regularity, not a game-theoretic solution. Selected
and tuned on DEU wave I only (Thomson et al. 2006 data, 171 issues), under the
pre-registered protocol in ``docs/backtest.md``, then tested once on wave II.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ._common import issue_weights, weighted_median
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "counterweight"
SUMMARY = "Mean of positions pushed away from the weighted median (consensus norm); tuned on DEU wave I."
CITATION = (
    "detente (2025), docs/backtest.md: chosen and tuned on DEU wave I (Thomson, Stokman, Achen & Koenig "
    "(eds.) 2006, The European Union Decides, CUP), tested on DEU wave II (Thomson et al. 2012, JEPP 19(4); "
    "Arregui & Perarnaud 2021, doi:10.34810/data53). An empirical mean/median combination, cf. Achen (2006) "
    "for the mean-type compromise model it extends."
)
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False


class Params(ModelParams):
    """Parameters of the counterweight model.

    Attributes
    ----------
    k : float
        The counterweight, >= 0 (0.5, tuned on DEU wave I). 0 gives the mean.
    mean_weights : {"equal", "capability", "capability_salience"}
        Weights of the mean ``m`` (``equal``: the plain mean).
    median_weights : {"capability", "capability_salience", "equal"}
        Weights of the median ``M`` (``capability``: the weighted median voter).
    clip : bool
        Keep the forecast within [min, max] of the active actors' positions.
    """

    k: float = Field(0.5, ge=0.0)
    mean_weights: Literal["equal", "capability", "capability_salience"] = "equal"
    median_weights: Literal["capability", "capability_salience", "equal"] = "capability"
    clip: bool = True


def forecast(inputs: Inputs, params: Params = Params()) -> np.ndarray:
    """The counterweight forecast per draw and issue, shape (B, D)."""
    x = inputs.position
    wm = issue_weights(inputs, params.mean_weights)
    m = (wm * x).sum(axis=1) / wm.sum(axis=1)
    med = weighted_median(x, issue_weights(inputs, params.median_weights), "midpoint", axis=1)
    f = m + params.k * (m - med)
    if params.clip:
        act = inputs.active[:, :, None]
        lo = np.where(act, x, np.inf).min(axis=1)
        hi = np.where(act, x, -np.inf).max(axis=1)
        f = np.clip(f, lo, hi)
    return f


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Forecast every draw and issue; the model has no rounds."""
    return Trajectory.static(inputs, forecast(inputs, params))


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """Per draw: weights, the weighted median and mean and the pulls toward them (about
    a dozen n x D arrays), and the trajectory."""
    return Cost(flops_per_draw=40.0 * n * D, bytes_per_draw=(12 * n * D + 16 * D) * F8)
