"""The asymmetric Nash bargaining solution with the status quo as disagreement point.

Each actor's utility is quadratic loss, ``u_i(x) = -s_i (x - x_i)^2``, and the
forecast maximises the weighted Nash product

    sum_i c_i log(u_i(x) - u_i(d))

over the x that every actor prefers to the disagreement point d (the issue's
status quo). Quadratic loss is the usual spatial utility (Achen 2006); note
that multiplying one actor's utility by a positive constant does not move a
Nash solution, so with these utilities salience only decides *who* bargains (an
actor with zero salience has no stake and is left out). Set
``weights="capability_salience"`` to make salience a bargaining weight too.

The product is strictly concave where it is defined, so the maximum is the
unique root of its derivative

    g(x) = sum_i w_i (x_i - x) / (r_i^2 - (x - x_i)^2),   r_i = |d - x_i|,

found by bisection over the feasible interval (max_i(x_i - r_i), min_i(x_i + r_i)).
When no point makes every stakeholder better off than d (actors on both sides
of d, or an actor sitting at d), the disagreement point itself is the forecast.

References: Nash (1950) Econometrica 18(2); Kalai (1977) IJGT 6(3) for the
asymmetric form; Achen (2006) in *The European Union Decides*, ch. 4.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._common import issue_weights
from .base import F8, Cost, Inputs, ModelInputError, ModelParams, Trajectory

NAME = "nash"
SUMMARY = "Asymmetric Nash bargaining solution with the status quo as disagreement point."
CITATION = "Nash (1950) Econometrica 18(2); Kalai (1977) IJGT 6(3); Achen (2006) The European Union Decides, ch. 4."
#: The model forecasts the scenario as it stands; it plays no rounds.
DYNAMIC = False

_ITERATIONS = 200


class Params(ModelParams):
    """Parameters of the Nash bargaining model.

    Attributes
    ----------
    weights : {"capability", "capability_salience"}
        The bargaining weight of each actor in the Nash product.
    """

    weights: Literal["capability", "capability_salience"] = "capability"


def _bounds(x: np.ndarray, w: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Where every stakeholder (weight > 0) gains over the disagreement point ``d``: within ``r_i = |d - x_i|``
    of its position. ``(d[..., None], r, use, lo, hi)``: the interval ``(lo, hi)`` per row (empty: ``lo >= hi``)."""
    d = np.asarray(d, float)[..., None]
    r = np.abs(d - x)
    use = w > 0
    lo = np.where(use, x - r, -np.inf).max(axis=-1)
    hi = np.where(use, x + r, np.inf).min(axis=-1)
    return d, r, use, lo, hi


def solve(x: np.ndarray, w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Maximise sum_i w_i log(r_i^2 - (p - x_i)^2) over p, per row.

    Parameters
    ----------
    x, w : ndarray, shape (..., n)
        Positions and non-negative weights; actors with zero weight are ignored.
    d : ndarray, shape (...)
        The disagreement point.

    Returns
    -------
    ndarray, shape (...)
        The Nash solution, or ``d`` where no point is feasible.
    """
    d, r, use, lo, hi = _bounds(x, w, d)
    feasible = (lo < hi) & use.any(axis=-1)
    a = np.where(feasible, lo, 0.0)
    b = np.where(feasible, hi, 0.0)
    big = np.finfo(float).max / (4 * max(x.shape[-1], 1))
    for _ in range(_ITERATIONS):
        m = 0.5 * (a + b)
        diff = m[..., None] - x
        den = r * r - diff * diff
        # At (or, by rounding, past) an actor's feasibility bound the derivative is
        # +/- infinity, pointing back inside: use a huge finite value of that sign.
        safe = np.where(use & (den > 0), den, 1.0)
        term = np.where(den > 0, -w * diff / safe, -np.sign(diff) * big)
        g = np.where(use, term, 0.0).sum(axis=-1)
        a = np.where(g > 0, m, a)
        b = np.where(g > 0, b, m)
    return np.where(feasible, 0.5 * (a + b), d[..., 0])


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Nash solution per draw and issue. Every issue needs a status quo."""
    sq = inputs.status_quo
    if np.isnan(sq).any():
        raise ModelInputError(
            "the nash model needs a status quo (the disagreement point) on every issue; "
            "set `status_quo` on each issue of the scenario"
        )
    w = issue_weights(inputs, params.weights)
    # Zero salience means no stake: such an actor does not bargain at all.
    w = np.where(inputs.salience > 0, w, 0.0) * inputs.active[:, :, None]
    x = np.moveaxis(inputs.position, 1, -1)  # (B, D, n)
    ww = np.moveaxis(w, 1, -1)
    d = np.broadcast_to(sq, x.shape[:-1])
    why, who = _fallback(x, ww, d)
    return Trajectory.static(inputs, solve(x, ww, d), fallback=why, fallback_actor=who)


#: Why the forecast is the status quo (``info["fallback"]``): 0 it is not, 1 a stakeholder sits
#: at the status quo, 2 stakeholders on both sides of it, 3 nobody has a stake.
FALLBACK_NONE, FALLBACK_AT_SQ, FALLBACK_BOTH_SIDES, FALLBACK_NO_STAKE = 0, 1, 2, 3


def _fallback(x: np.ndarray, w: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row (B, D): why no point beats the disagreement point (a ``FALLBACK_*`` code), and the
    first stakeholder sitting at it (-1 for none)."""
    _, r, use, lo, hi = _bounds(x, w, d)
    at = use & (r == 0)
    why = np.where(~use.any(axis=-1), FALLBACK_NO_STAKE,
                   np.where(at.any(axis=-1), FALLBACK_AT_SQ, np.where(lo < hi, FALLBACK_NONE, FALLBACK_BOTH_SIDES)))
    who = np.where(at.any(axis=-1), np.argmax(at, axis=-1), -1)
    return why.astype(np.int8), who.astype(np.int32)


def notes(traj: Trajectory, b: int, actors: list[str], issues: list[str]) -> list[str]:
    """Why the forecast of an issue is exactly its status quo (the disagreement point), where it is."""
    why, who = traj.info.get("fallback"), traj.info.get("fallback_actor")
    if why is None or who is None:
        return []
    out = []
    for d, key in enumerate(issues):
        code = int(why[b, d])
        if code == FALLBACK_AT_SQ:
            reason = (f"{actors[int(who[b, d])]} sits at the status quo, so no outcome makes every stakeholder "
                      "better off than no agreement")
        elif code == FALLBACK_BOTH_SIDES:
            reason = ("stakeholders sit on both sides of the status quo, so no outcome makes every one of them "
                      "better off than no agreement")
        elif code == FALLBACK_NO_STAKE:
            reason = "no actor has a stake in it"
        else:
            continue
        out.append(f"nash: the forecast of {key} is its status quo (the disagreement point) because {reason}")
    return out


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """Per draw: the weights, utilities and their gradients over the actors on each issue
    (about a dozen n x D arrays) and the trajectory; the search runs a fixed number of
    iterations per issue."""
    return Cost(flops_per_draw=3e4 * D + 1e3 * n * D, bytes_per_draw=(14 * n * D + 16 * D) * F8)
