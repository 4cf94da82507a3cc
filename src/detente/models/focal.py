"""The focal model: the median of a compromise-centred forecast with exact hits on focal points.

Real decisions often land *exactly* on a focal point: an actor's stated
position or a round point of the scale (its ends and its midpoint). In DEU
wave I, 63% of outcomes equal some actor's position and 51% are 0, 50 or 100.
The focal model turns that into a predictive distribution for the outcome and
forecasts its **median**, the point that minimises the expected absolute error:

* with probability ``1 - pi`` the outcome is Laplace-distributed around the
  compromise point ``C`` (the capability x salience weighted mean) with scale
  ``b``;
* with probability ``pi`` it is exactly one of the focal points ``p_k``: every
  active actor's position (prior mass ``(1 - scale_share) w_i / sum w``, with
  ``w_i`` the actor's capability x salience) and the scale's low end, midpoint
  and high end (``scale_share / 3`` each); the prior masses are tilted toward
  the compromise by ``exp(-|p_k - C| / h)`` and renormalised to sum to ``pi``.

The forecast is the (lowest) median of that mixture, computed exactly. With
``pi = 0`` it is the compromise point. It always lies within the scale
(between the compromise and the focal points, all of which are on the scale).
It needs only positions, saliences, capabilities and the scale, so it runs on
any scenario; the scale defaults to the range of the positions when none is
given.

Derivation: an empirical predictive distribution, not a game-theoretic
solution. Chosen among seven candidate families and tuned on DEU wave I only
(10-fold cross-validation), under the second pre-registered protocol in
``docs/backtest.md``, then tested once on DEU wave II.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ._common import issue_weights
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "focal"
SUMMARY = "Median of a compromise-centred outcome distribution with exact hits on actor positions and scale points; tuned on DEU wave I."
CITATION = (
    "detente (2025), docs/backtest.md ('Second attempt'): chosen and tuned on DEU wave I (Thomson, Stokman, "
    "Achen & Koenig (eds.) 2006, The European Union Decides, CUP), tested on DEU wave II (Thomson et al. 2012, "
    "JEPP 19(4); Arregui & Perarnaud 2021, doi:10.34810/data53). Derived as the median (the absolute-loss "
    "optimal point) of a mixture of a Laplace around the compromise point of Achen (2006) and point masses on "
    "focal points (actors' positions, the scale's ends and midpoint)."
)
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False


class Params(ModelParams):
    """Parameters of the focal model (defaults tuned on DEU wave I).

    Attributes
    ----------
    pi : float
        Probability that the outcome is exactly a focal point, in [0, 1)
        (0.4). 0 gives the compromise point.
    h : float
        Distance scale (in scale units) of the tilt of the focal points toward
        the compromise point, > 0 (2.0: essentially the focal points nearest
        the compromise).
    scale_share : float
        Share of the focal prior mass on the scale points (low end, midpoint,
        high end), in [0, 1] (0.3); the rest is spread over the actors'
        positions by capability x salience.
    b : float
        Scale of the Laplace around the compromise point, > 0 (20.0; assumes a
        0-100-like scale, so it is measured in units of 1/100 of the scale's
        width).
    """

    pi: float = Field(0.4, ge=0.0, lt=1.0)
    h: float = Field(2.0, gt=0.0)
    scale_share: float = Field(0.3, ge=0.0, le=1.0)
    b: float = Field(20.0, gt=0.0)


def _laplace_cdf(x: np.ndarray, mu: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = (x - mu) / b
    return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0.0)), 1.0 - 0.5 * np.exp(-np.maximum(z, 0.0)))


def _laplace_ppf(q: np.ndarray, mu: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-300, 1.0 - 1e-16)
    return np.where(q < 0.5, mu + b * np.log(2.0 * q), mu - b * np.log(2.0 * (1.0 - q)))


def forecast(inputs: Inputs, params: Params = Params()) -> np.ndarray:
    """The focal forecast per draw and issue, shape (B, D)."""
    x = inputs.position  # (B, n, D)
    B, n, D = x.shape
    w = issue_weights(inputs, "capability_salience")  # zero for inactive actors
    C = (w * x).sum(axis=1) / w.sum(axis=1)  # (B, D): the compromise point
    pi = float(params.pi)
    if pi == 0.0:
        return C
    lo = np.broadcast_to(inputs.low, (B, D))
    hi = np.broadcast_to(inputs.high, (B, D))
    width = np.where(hi > lo, hi - lo, 100.0)
    b = params.b * width / 100.0
    h = params.h * width / 100.0
    # focal points and prior masses: actors (n), then low, midpoint, high
    pts = np.concatenate([x, np.stack([lo, 0.5 * (lo + hi), hi], axis=1)], axis=1)  # (B, n+3, D)
    prior = np.concatenate(
        [(1.0 - params.scale_share) * w / w.sum(axis=1, keepdims=True), np.full((B, 3, D), params.scale_share / 3.0)],
        axis=1,
    )
    dist = np.abs(pts - C[:, None])
    # tilt toward the compromise; subtract the smallest distance before exp (no underflow to 0/0)
    tilt = prior * np.exp(-(dist - np.where(prior > 0, dist, np.inf).min(axis=1, keepdims=True)) / h[:, None])
    mass = pi * tilt / tilt.sum(axis=1, keepdims=True)  # (B, K, D), sums to pi
    # exact median of (1 - pi) Laplace(C, b) + sum_k mass_k delta(p_k): the lowest x with CDF(x) >= 1/2
    order = np.argsort(pts, axis=1, kind="stable")
    ps = np.take_along_axis(pts, order, 1)
    ms = np.take_along_axis(mass, order, 1)
    cum = np.cumsum(ms, axis=1)  # mass at or below each sorted point
    cont = (1.0 - pi) * _laplace_cdf(ps, C[:, None], b[:, None])
    # candidate 1: a focal point whose CDF (mass included) reaches 1/2
    at_point = np.where((ms > 0) & (cont + cum >= 0.5 - 1e-12), ps, np.inf)
    # candidate 2: a point of the continuous part, between two consecutive focal points,
    # where (1 - pi) F(x) + (mass below x) = 1/2
    seg_below = np.concatenate([np.zeros((B, 1, D)), cum], axis=1)  # mass below segment j (j = 0..K)
    left = np.concatenate([np.full((B, 1, D), -np.inf), ps], axis=1)
    right = np.concatenate([ps, np.full((B, 1, D), np.inf)], axis=1)
    q = (0.5 - seg_below) / (1.0 - pi)
    ok = (q > 0) & (q < 1)
    xq = _laplace_ppf(np.where(ok, q, 0.5), C[:, None], b[:, None])
    ok &= (xq >= left) & (xq < right)
    in_seg = np.where(ok, xq, np.inf)
    # inactive actors are zero-mass points: they only split a segment, which leaves the solution unchanged
    return np.minimum(at_point.min(axis=1), in_seg.min(axis=1))


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Forecast every draw and issue; the model has no rounds."""
    return Trajectory.static(inputs, forecast(inputs, params))


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """Per draw: the candidate focal points and each actor's attraction to them (about
    thirty n x D arrays), a grid of per-issue candidates, and the trajectory."""
    return Cost(flops_per_draw=40.0 * n * D, bytes_per_draw=(32 * n * D + 128 * D) * F8)
