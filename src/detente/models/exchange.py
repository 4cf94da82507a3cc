"""The exchange model: actors trade voting positions across issues they care about unequally.

Stokman & Van Oosten (1994) model a collective decision on several issues at
once. The expected outcome of each issue is the compromise point (the
capability x salience weighted mean of the actors' *voting* positions). Two
actors who stand on opposite sides of the expected outcome on two issues, and
who care about those issues in different proportions, gain by a trade: each
moves its voting position toward the other on the issue it cares about less.

Notation for one candidate exchange (all at the start of a round): actor
``i`` demands issue ``p`` and supplies on issue ``q``; actor ``j`` demands
``q`` and supplies on ``p``. ``w_kl = c_k s_kl`` is actor ``k``'s weight on
issue ``l``, ``W_l`` its sum over the actors taking part in issue ``l``, and
``O_l`` the expected outcome.

* **Possible** when ``i`` and ``j`` are on opposite sides of ``O_p`` and of
  ``O_q``, and ``s_ip s_jq > s_iq s_jp`` (``i`` cares relatively more about
  ``p``, ``j`` about ``q``). Every actor taking part has a salience > 0 on
  both issues.
* **Shifts.** ``j`` moving toward ``x_ip`` shifts ``O_p`` toward ``i`` by
  ``dp``; ``i`` moving toward ``x_jq`` shifts ``O_q`` toward ``j`` by
  ``dq``. A move shifts the outcome by ``w |move| / W``.
* **Equal gain** (the exchange rate of Stokman & Van Oosten): ``i`` gains
  ``s_ip dp - s_iq dq`` and ``j`` gains ``s_jq dq - s_jp dp``. Setting the two
  equal gives ``dq = r dp`` with ``r = (s_ip + s_jp) / (s_iq + s_jq)``, and the
  common gain ``dp (s_ip s_jq - s_iq s_jp) / (s_iq + s_jq)``.
* **Limits.** No actor moves past its partner's position, and no outcome is
  shifted past the position of the actor it is shifted toward:
  ``dp <= min(w_jp |x_ip - x_jp| / W_p, |x_ip - O_p|)`` and the same for
  ``dq`` on ``q``; the larger of the two shifts that respects both limits is
  taken (``dp = min(dp_max, dq_max / r)``).

**One round.** Every possible exchange is evaluated against the round's
starting state and they are realised greedily in order of decreasing gain
(ties: lowest actor, then issue, index first); an actor takes part in at most
one exchange per issue per round (neither of the four actor-issue cells of
an exchange may already be in a realised exchange of that round). The
realised moves change the actors' voting positions; the forecast after the
round is the compromise point of the new positions. With ``passes > 1`` later
rounds start from those positions and stop early when no exchange is
possible. One round is the default (the one-shot model). The parameter is not
called ``rounds`` on purpose: a scenario's horizon does not turn the one-shot
model into a dynamic one, so the model plays the scenario as it stands after
its events (like the compromise model), the same way in a forecast and in a
backtest.

A single issue, or actors who all care about every issue in the same
proportion, admit no exchange: the forecast is then the compromise point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from .. import _cancel
from ._common import issue_weights
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "exchange"
SUMMARY = "Equal-gain exchange of voting positions across issues, then the compromise point (Stokman & Van Oosten)."
CITATION = (
    "Stokman & Van Oosten (1994) 'The exchange of voting positions: an object-oriented model of policy networks', "
    "in Bueno de Mesquita & Stokman (eds.) European Community Decision Making, Yale UP, 105-127; "
    "Arregui, Stokman & Thomson (2006) in Thomson et al. (eds.) The European Union Decides, CUP, ch. 5."
)

#: The model trades across issues: a backtest gives it each proposal as one multi-issue scenario.
COUPLES_ISSUES = True
#: One-shot: the model plays the scenario as it stands after its events (see ``passes``).
DYNAMIC = False

#: Largest number of candidate exchanges (draws x n^2 x D^2) evaluated at once.
_CHUNK_CELLS = 2_000_000
#: Gains at or below this are not exchanges.
_TOL = 1e-12


class Params(ModelParams):
    """Parameters of the exchange model.

    Attributes
    ----------
    passes : int
        Maximum number of exchange rounds (default 1, the one-shot model of
        Stokman & Van Oosten). A draw stops early when no exchange is
        possible.
    """

    passes: int = Field(1, ge=0, le=1000)


def _taking_part(inputs: Inputs) -> np.ndarray:
    """(B, n, D): active actors with capability and salience > 0 on the issue."""
    return inputs.active[:, :, None] & (inputs.capability[:, :, None] > 0) & (inputs.salience > 0)


def candidates(x: np.ndarray, s: np.ndarray, c: np.ndarray, part: np.ndarray) -> dict[str, np.ndarray]:
    """Every candidate exchange of one round, for a batch.

    Parameters
    ----------
    x, s : ndarray, shape (B, n, D)
        Voting positions and saliences.
    c : ndarray, shape (B, n)
        Capabilities.
    part : ndarray of bool, shape (B, n, D)
        Who takes part in each issue.

    Returns
    -------
    dict
        Arrays of shape (B, n, n, D, D) indexed ``[b, i, j, p, q]`` (``i``
        demands ``p`` and supplies ``q``; ``j`` the reverse): ``gain`` (the
        equal gain, 0 where no exchange is possible), ``move_j`` (``j``'s signed
        move on ``p``) and ``move_i`` (``i``'s signed move on ``q``); plus
        ``outcome`` (B, D), the expected outcome before the round.
    """
    w = c[:, :, None] * s * part
    W = w.sum(axis=1)  # (B, D)
    safe_W = np.where(W > 0, W, 1.0)
    O = (w * x).sum(axis=1) / safe_W
    side = np.sign(x - O[:, None, :]) * part  # (B, n, D), 0 = on the outcome or not taking part

    # [b, i, j, p, q] views
    def I(a: np.ndarray, issue: str) -> np.ndarray:  # actor i on issue p or q
        return a[:, :, None, :, None] if issue == "p" else a[:, :, None, None, :]

    def J(a: np.ndarray, issue: str) -> np.ndarray:
        return a[:, None, :, :, None] if issue == "p" else a[:, None, :, None, :]

    def Q(a: np.ndarray, issue: str) -> np.ndarray:  # per-issue (B, D)
        return a[:, None, None, :, None] if issue == "p" else a[:, None, None, None, :]

    s_ip, s_iq, s_jp, s_jq = I(s, "p"), I(s, "q"), J(s, "p"), J(s, "q")
    advantage = s_ip * s_jq - s_iq * s_jp
    possible = (
        (I(side, "p") * J(side, "p") < 0)
        & (I(side, "q") * J(side, "q") < 0)
        & (advantage > 0)
    )
    x_ip, x_jp, x_iq, x_jq = I(x, "p"), J(x, "p"), I(x, "q"), J(x, "q")
    W_p, W_q = Q(safe_W, "p"), Q(safe_W, "q")
    w_jp, w_iq = J(w, "p"), I(w, "q")
    with np.errstate(divide="ignore", invalid="ignore"):
        dp_max = np.minimum(w_jp * np.abs(x_ip - x_jp) / W_p, np.abs(x_ip - Q(O, "p")))
        dq_max = np.minimum(w_iq * np.abs(x_jq - x_iq) / W_q, np.abs(x_jq - Q(O, "q")))
        r = (s_ip + s_jp) / (s_iq + s_jq)
        dp = np.minimum(dp_max, dq_max / r)
        dq = dp * r
        gain = np.where(possible, dp * advantage / (s_iq + s_jq), 0.0)
        move_j = np.where(possible, np.sign(x_ip - x_jp) * dp * W_p / w_jp, 0.0)
        move_i = np.where(possible, np.sign(x_jq - x_iq) * dq * W_q / w_iq, 0.0)
    gain = np.where(gain > _TOL, gain, 0.0)
    return {"gain": gain, "move_j": move_j, "move_i": move_i, "outcome": O}


def _select(gain: np.ndarray) -> np.ndarray:
    """Greedy choice of non-overlapping exchanges, by decreasing gain (one draw at a time).

    ``gain`` has shape (B, n, n, D, D); returns a boolean mask of the same
    shape. Ties are broken by the flat index (lowest ``i``, ``j``, ``p``,
    ``q`` first), so the choice is deterministic.
    """
    B, n, _, D, _ = gain.shape
    flat = gain.reshape(B, -1)
    chosen = np.zeros_like(flat, dtype=bool)
    for b in range(B):
        idx = np.flatnonzero(flat[b] > 0)
        if idx.size == 0:
            continue
        idx = idx[np.argsort(-flat[b, idx], kind="stable")]
        used = np.zeros((n, D), dtype=bool)
        i_, j_, p_, q_ = np.unravel_index(idx, (n, n, D, D))
        for k in range(idx.size):
            i, j, p, q = i_[k], j_[k], p_[k], q_[k]
            if used[i, p] or used[i, q] or used[j, p] or used[j, q]:
                continue
            used[i, p] = used[i, q] = used[j, p] = used[j, q] = True
            chosen[b, idx[k]] = True
    return chosen.reshape(gain.shape)


def play_round(x: np.ndarray, s: np.ndarray, c: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One round of exchanges for a batch.

    Returns
    -------
    new_x : ndarray (B, n, D)
        Voting positions after the round.
    n_exchanges : ndarray of int (B,)
        Exchanges realised in each draw.
    partner : ndarray of int (B, n, D)
        The actor each moved cell traded with (-1 where the cell did not move).
    in_return : ndarray of int (B, n, D)
        The issue on which the partner moved in return (-1 where none).
    """
    cand = candidates(x, s, c, part)
    chosen = _select(cand["gain"])
    B, n, D = x.shape
    # j's move on p: sum over i and q; i's move on q: sum over j and p (each cell at most once)
    delta = np.einsum("bijpq,bijpq->bjp", chosen, cand["move_j"]) + np.einsum("bijpq,bijpq->biq", chosen, cand["move_i"])
    partner = np.full((B, n, D), -1, dtype=np.int64)
    in_return = np.full((B, n, D), -1, dtype=np.int64)
    b_, i_, j_, p_, q_ = np.nonzero(chosen)
    partner[b_, j_, p_] = i_
    in_return[b_, j_, p_] = q_
    partner[b_, i_, q_] = j_
    in_return[b_, i_, q_] = p_
    return x + delta, chosen.reshape(B, -1).sum(axis=1), partner, in_return


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Play up to ``params.passes`` rounds of exchanges for every draw.

    Returns
    -------
    Trajectory
        ``position`` holds the voting positions after each round; ``forecast``
        the compromise point of those positions. ``extras``: ``exchanges``
        (B, T + 1) realised per round, ``partner`` and ``in_return``
        (B, T + 1, n, D) for every moved actor-issue cell (-1 elsewhere).
        ``rounds`` counts the rounds with at least one exchange.
    """
    B, n, D = inputs.shape
    R = int(params.passes)
    w = issue_weights(inputs, "capability_salience")
    part = _taking_part(inputs)
    pos = np.empty((B, R + 1, n, D))
    pos[:, 0] = inputs.position
    exchanges = np.zeros((B, R + 1), dtype=np.int64)
    partner = np.full((B, R + 1, n, D), -1, dtype=np.int64)
    in_return = np.full((B, R + 1, n, D), -1, dtype=np.int64)
    rounds = np.zeros(B, dtype=np.int64)
    alive = np.ones(B, dtype=bool)
    step = max(1, _CHUNK_CELLS // max(1, n * n * D * D))
    for t in range(1, R + 1):
        _cancel.check()  # a cancelled web request stops between two rounds
        pos[:, t] = pos[:, t - 1]
        idx = np.flatnonzero(alive)
        for c0 in range(0, idx.size, step):
            rows = idx[c0 : c0 + step]
            new_x, k, pa, ir = play_round(pos[rows, t - 1], inputs.salience[rows], inputs.capability[rows], part[rows])
            pos[rows, t] = new_x
            exchanges[rows, t] = k
            partner[rows, t] = pa
            in_return[rows, t] = ir
        moved = exchanges[:, t] > 0
        rounds[moved] = t
        alive &= moved
        if not alive.any():
            pos[:, t + 1 :] = pos[:, t : t + 1]
            break
    forecast = (w[:, None] * pos).sum(axis=2) / w.sum(axis=1)[:, None]
    return Trajectory(
        position=pos,
        forecast=forecast,
        rounds=rounds,
        extras={"exchanges": exchanges, "partner": partner, "in_return": in_return,
                "active": Trajectory.active_rounds(inputs, R)},
    )


def moves(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> list[dict[str, Any]]:
    """The moves of round ``t`` of draw ``b``: every actor-issue cell moved by a trade.

    Each is a :data:`~detente.models.base.Move` of kind ``"trade"`` whose
    ``counterpart`` is the trade partner, plus ``in_return_on``: the issue on
    which the partner moved in return.
    """
    if t == 0:
        return []
    pa = traj.extras["partner"][b, t]
    ir = traj.extras["in_return"][b, t]
    out = []
    for i, actor in enumerate(actors):
        for k, issue in enumerate(issues):
            if pa[i, k] >= 0:
                partner, other = actors[int(pa[i, k])], issues[int(ir[i, k])]
                out.append({
                    "actor": actor,
                    "issue": issue,
                    "from": float(traj.position[b, t - 1, i, k]),
                    "to": float(traj.position[b, t, i, k]),
                    "counterpart": partner,
                    "kind": "trade",
                    "why": f"trade: {partner} moves on {other} in return",
                    "in_return_on": other,
                })
    return out


def render_round(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> dict[str, Any]:
    """Round ``t`` of draw ``b``: ``{"exchanges": int}``, the exchanges realised (the moves come from :func:`moves`)."""
    return {"exchanges": int(traj.extras["exchanges"][b, t])}


def summarize(traj: Trajectory, b: int, issues: list[str]) -> dict[str, dict[str, Any]]:
    """Per issue of draw ``b``: the compromise point before any exchange and the shift the exchanges made."""
    return {
        issue: {
            "compromise_before_exchange": float(traj.forecast[b, 0, k]),
            "shift_by_exchange": float(traj.forecast[b, -1, k] - traj.forecast[b, 0, k]),
        }
        for k, issue in enumerate(issues)
    }


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """For the budget (:mod:`detente.budget`): per draw, the candidate exchanges of a
    pass (every pair of actors x every pair of issues, about a dozen float arrays of
    n x n x D x D) and the recorded positions, partners and issues in return of
    every pass (n x D each)."""
    R1 = int(params.passes) + 1
    per = 14 * n * n * D * D * F8 + 4 * R1 * n * D * F8
    return Cost(flops_per_draw=100.0 * n * n * D * D * R1, bytes_per_draw=per)
