"""A test model whose bargaining is a 2-cycle by construction: every round each actor's position is
reflected across the middle of the scale (x -> low + high - x). The forecast is the capability-weighted
mean, so with unequal capabilities it alternates between two values for ever."""

from __future__ import annotations

import numpy as np

from detente.models.base import Inputs, ModelParams, Trajectory

NAME = "swap-test"
SUMMARY = "Reflects every position each round (a 2-cycle by construction); tests only."
CITATION = "tests/_swap_model.py"
DYNAMIC = True
ROUND_RECORDS: dict = {}  # no extras of what happened during a round
ROUNDS_ONLY_STOP = True  # a reflection per round, whatever the rounds left


class Params(ModelParams):
    rounds: int = 10


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    B, n, D = inputs.shape
    R = params.rounds
    pos = np.empty((B, R + 1, n, D))
    pos[:, 0] = inputs.position
    for t in range(1, R + 1):
        pos[:, t] = inputs.low + inputs.high - pos[:, t - 1]
    w = inputs.capability[:, None, :, None] * inputs.active[:, None, :, None]
    fc = (w * pos).sum(axis=2) / w.sum(axis=2)
    return Trajectory(pos, fc, np.full(B, R), {"active": Trajectory.active_rounds(inputs, R)})
