"""From a validated scenario to the plain arrays the models run on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..models.base import Inputs

if TYPE_CHECKING:  # schema imports this module when asked for arrays; a type hint only here
    from .schema import Scenario


def to_inputs(s: Scenario, *, batch: int = 1, seed: int = 0) -> Inputs:
    """The scenario's point values as :class:`Inputs`, repeated ``batch`` times.

    Salience is divided by the file's ``salience_scale`` (to 0-1). Actors
    with a ``join`` event start inactive. Per-draw seeds are
    ``seed + arange(batch)`` (see :mod:`detente.analysis` for Monte Carlo).
    """
    n, D = len(s.actors), len(s.issues)
    pos = np.empty((n, D))
    sal = np.empty((n, D))
    cap = np.empty(n)
    for i, a in enumerate(s.actors):
        cap[i] = a.capability.value
        for d, iss in enumerate(s.issues):
            pos[i, d] = a.positions[iss.key].value
            sal[i, d] = a.salience[iss.key].value / s.salience_scale
    # an actor with a `join` event takes part only from its join on
    joining = {e.actor for e in s.events if e.type == "join"}
    active = np.array([a.key not in joining for a in s.actors], dtype=bool)
    low = np.array([iss.scale[0] for iss in s.issues], dtype=float)
    high = np.array([iss.scale[1] for iss in s.issues], dtype=float)
    sq = np.array([np.nan if iss.status_quo is None else iss.status_quo for iss in s.issues], dtype=float)
    seeds = (np.uint64(seed) + np.arange(batch, dtype=np.uint64)).astype(np.uint64)
    return Inputs(
        position=np.repeat(pos[None], batch, axis=0),
        salience=np.repeat(sal[None], batch, axis=0),
        capability=np.repeat(cap[None], batch, axis=0),
        active=np.repeat(active[None], batch, axis=0),
        low=low,
        high=high,
        status_quo=sq,
        seed=seeds,
    )
