"""Small array helpers shared by the models (weights, weighted medians)."""

from __future__ import annotations

import numpy as np

from .base import Inputs


def issue_weights(inputs: Inputs, kind: str = "capability_salience") -> np.ndarray:
    """Per-issue voting weights, shape (B, n, D), never all zero for an issue.

    ``kind`` is ``"capability_salience"`` (c_i s_i, the default of the
    literature), ``"capability"`` (c_i) or ``"equal"`` (1). Inactive actors get
    zero weight. Where every active actor has zero weight on an issue (e.g. no
    one cares about it at all), the issue falls back to capability alone, and
    then to equal weights, so that a forecast is always defined.
    """
    act = inputs.active[:, :, None].astype(float)
    cap = inputs.capability[:, :, None] * act
    if kind == "capability_salience":
        w = cap * inputs.salience
    elif kind == "capability":
        w = np.broadcast_to(cap, inputs.position.shape).copy()
    elif kind == "equal":
        w = np.broadcast_to(act, inputs.position.shape).copy()
    else:  # pragma: no cover - guarded by the Params literals
        raise ValueError(f"unknown weight kind {kind!r}")
    empty = w.sum(axis=1, keepdims=True) <= 0
    if empty.any():
        w = np.where(empty, np.broadcast_to(cap, w.shape), w)
        empty = w.sum(axis=1, keepdims=True) <= 0
        w = np.where(empty, np.broadcast_to(act, w.shape), w)
    return w


def weighted_median(x: np.ndarray, w: np.ndarray, convention: str = "condorcet", axis: int = 1) -> np.ndarray:
    """Weighted median of ``x`` along ``axis`` with non-negative weights ``w``.

    ``condorcet``: the lowest actor position p minimising sum_k w_k |x_k - p|
    (Bueno de Mesquita's median voter position, a Condorcet winner under
    single-peaked preferences); it is the first position, in sorted order,
    at which the cumulative weight reaches half of the total.
    ``midpoint``: the same, except that when the cumulative weight equals half
    the total exactly at a position, the result is the midpoint between it and
    the next position with positive weight (the textbook median of an even
    count of equal weights).
    """
    x = np.moveaxis(np.asarray(x, float), axis, -1)
    w = np.moveaxis(np.asarray(w, float), axis, -1)
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, -1)
    ws = np.take_along_axis(w, order, -1)
    cum = np.cumsum(ws, axis=-1)
    total = cum[..., -1:]
    half = 0.5 * total
    tol = 1e-12 * np.maximum(total, 1e-300)
    idx = np.argmax(cum >= half - tol, axis=-1)[..., None]
    med = np.take_along_axis(xs, idx, -1)[..., 0]
    if convention == "midpoint":
        exact = np.abs(np.take_along_axis(cum, idx, -1) - half) <= tol
        # next position carrying positive weight after idx
        n = xs.shape[-1]
        pos_after = (np.arange(n) > idx) & (ws > 0)
        has_next = pos_after.any(axis=-1, keepdims=True)
        nxt = np.argmax(pos_after, axis=-1)[..., None]
        nxt_x = np.take_along_axis(xs, nxt, -1)
        mid = np.where(exact & has_next, 0.5 * (np.take_along_axis(xs, idx, -1) + nxt_x), np.take_along_axis(xs, idx, -1))
        med = mid[..., 0]
    elif convention != "condorcet":  # pragma: no cover - guarded by the Params literals
        raise ValueError(f"unknown median convention {convention!r}")
    return med


#: Room for the realised exchanges of one round, per actor-issue cell (exchange's trades record).
EXCHANGE_ROOM = 4


def exchange_taking_part(inputs: Inputs) -> np.ndarray:
    """(B, n, D): active actors with capability and salience > 0 on the issue (who may exchange)."""
    return inputs.active[:, :, None] & (inputs.capability[:, :, None] > 0) & (inputs.salience > 0)


def max_exchange_candidates(n: int, D: int) -> int:
    """The most candidate exchanges of one round: every issue pair, actors split in two halves."""
    return max(1, (D * (D - 1) // 2) * (n // 2) * (n - n // 2))
