"""Bueno de Mesquita's expected-utility ("challenge") model.

Every round each actor works out how threatened it is (a security pass with
neutral risk attitudes), turns that into a risk exponent r_i in [0.5, 2], and
then compares, for every other actor j, its expected utility of challenging j
with what it believes j expects from challenging it. The comparison yields an
offer from j -- confrontation (move to x_j), compromise (move part way) or
capitulation (move to x_j) -- and each actor accepts one offer; all moves
happen at once at the end of the round. The forecast is the weighted median of
the positions after each round (Bueno de Mesquita's prediction under majority
rule); the weighted mean is reported alongside it.

This module follows the reading documented in ``docs/models/bdm.md`` (the
model's equations, every choice where the sources are silent, and the
replication):

``variant="scholz2011_code"`` (default)
    What the code of Scholz, Calbert & Smith (2011) computed: the probability
    that i prevails over j sums each voter's gain ``w_k (d_kj^{r_k} -
    d_ki^{r_k})`` (voter k with its own exponent) over the voters that prefer
    i, divided by one number per round, the sum of ``|v_k(x_a, x_b)|`` over
    every voter and every ordered pair of actors. Offers: confrontation first
    (least move), else compromise (smallest weighted offer value), never
    capitulation. Reproduces Bueno de Mesquita's published EC emission run.
``variant="paper"``
    The equations as printed by Scholz et al.: ``P_ij`` is the share of the
    weighted distance differences that favour i, so ``P_ij + P_ji = 1``; the
    offer needing the least move is taken; capitulation is on.

Each (draw, issue) pair is one independent problem (a row of n actors). The
rounds of a row run in a compiled kernel (``_bdm_kernel.py``, numba) that
loops over the actors and performs the floating-point operations of the plain
reference :mod:`detente.models.bdm_reference` (the documented mirror of the
spec) in the same order, so positions, exponents and moves equal the
reference's exactly. Rows are split over ``DETENTE_THREADS`` threads
(:func:`detente.models._jit.split_rows`); the results do not depend on the
split. numba is imported, and the kernels loaded from numba's on-disk cache (filled by
``detente warmup`` after installing, else compiled on the very first use),
when a big batch first runs, not when the module is imported. Small batches
(below ``PURE_MAX_WORK``), and every batch when numba is not installed, run
the same kernel functions as plain Python, with identical numbers.

References
----------
Bueno de Mesquita, B. (1994) "Political forecasting: an expected utility
method", in B. Bueno de Mesquita & F. Stokman (eds.) *European Community
Decision Making*, Yale University Press, ch. 4.

Scholz, J. B., Calbert, G. J. & Smith, G. A. (2011) "Unravelling Bueno De
Mesquita's group decision model", *Journal of Theoretical Politics* 23(4):
510-531.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import numpy as np
from pydantic import Field

from . import _jit
from ._common import issue_weights
from .base import F8, MAX_ROUNDS, Cost, Inputs, ModelInputError, ModelParams, Perspective, Trajectory
from .bdm_reference import CAPITULATION, COMPROMISE, CONFRONTATION, NONE

NAME = "bdm"
SUMMARY = "Bueno de Mesquita's expected-utility (challenge) model, as replicated by Scholz et al. (2011)."
CITATION = (
    "Bueno de Mesquita (1994) in Bueno de Mesquita & Stokman (eds.) European Community Decision "
    "Making, Yale UP, ch. 4; Scholz, Calbert & Smith (2011) JTP 23(4): 510-531."
)
#: The model plays rounds of challenges (``Params.rounds``).
DYNAMIC = True
#: The rounds only stop the play (the stopping rules look at the state, not at the rounds left):
#: a longer run, cut, is the shorter one (``rounds_only_stop`` in the conformance suite).
ROUNDS_ONLY_STOP = True
#: The run given fewer rounds reads off a longer one, info included (a row stopped by the rounds
#: reports no cycle, not converged, its final forecast as the range): ``truncate`` in the conformance suite.
TRUNCATE_INFO: dict[str, Any] = {"cycle_length": 0, "converged": False, "cycle_min": "final", "cycle_max": "final",
                                 "issue_rounds": "rounds"}
#: Both readings of the model, and a status quo term, for the conformance suite.
CONFORMANCE_PARAMS: tuple[dict[str, Any], ...] = ({}, {"variant": "paper"}, {"Q": 0.6, "own_perspective": True})

#: Move codes of ``extras["move_type"]`` (defined, with the tolerances, in :mod:`.bdm_reference`).
MOVE_NAMES = {CONFRONTATION: "confrontation", COMPROMISE: "compromise", CAPITULATION: "capitulation"}
#: What a round did (the exponents it used, the offer each actor took) and the value of a round
#: in which nothing happened (round 0, inactive actors, rounds after a stop).
ROUND_RECORDS: dict[str, Any] = {"risk": 1.0, "move_type": NONE, "move_counterpart": -1}
#: Below this much work (rows x n^2 x rounds) a batch runs in the calling thread.
PARALLEL_MIN_WORK = 200_000
#: The most work (rows x n^2 x rounds) of one call of the kernel: a cancel is seen between two calls.
PIECE_WORK = 1 << 24


class Params(ModelParams):
    """Parameters of the expected-utility model.

    Attributes
    ----------
    variant : {"scholz2011_code", "paper"}
        Which reading of the model (see the module docstring): it fixes the
        formula of the probability P_ij and the defaults of ``offer_choice``
        and ``capitulation``.
    own_perspective : bool
        False (the spec's default): actor i evaluates j's expected utility of
        challenging i with i's own exponent r_i. True: with j's exponent r_j.
    offer_choice : {"priority", "least_move"} or None
        Which of the offers an actor accepts. ``priority``: a confrontation
        (least move) if any, else the compromise with the smallest value of
        ``(|E_i| x_i + |E_j| x_j) / (|E_i| + |E_j|)``, else a capitulation
        (least move) -- what Scholz et al.'s code did. ``least_move``: the
        offer needing the least move. None: ``priority`` for
        ``scholz2011_code``, ``least_move`` for ``paper``. Ties go to the
        lowest actor index.
    capitulation : bool or None
        Whether the capitulation branch (E_j > 0 > E_i, E_j < |E_i|: offer
        x_j) is on. None: off for ``scholz2011_code`` (the authors' code never
        reaches it), on for ``paper``.
    Q : float in [0, 1]
        Probability that nothing changes when i does not challenge j. With the
        default 1 the terms in T and the median mu drop out.
    T : float in [0, 1]
        Probability that a change without challenge favours i (only used when
        Q < 1). Default 0.5: a change is as likely to help as to hurt.
    rounds : int
        Maximum number of rounds (default 10, as in the published run).
    stop : {"rounds", "convergence"}
        ``rounds``: run ``rounds`` rounds unless a state repeats.
        ``convergence``: also stop after a round in which no active actor
        moved more than ``eps * Delta``.
    eps : float
        Convergence threshold, relative to Delta (the initial range).

    Notes
    -----
    Cycle detection is always on: when the positions after a round equal
    (within :data:`~detente.models.bdm_reference.STATE_TOL` times Delta) those after an earlier round, the run ends.
    A repeat of the previous state (nobody moved) is a fixed point: the draw
    has converged and its cycle length is 0. A longer repeat is a cycle; its
    length and the range of the forecast over it are reported.
    """

    variant: Literal["scholz2011_code", "paper"] = "scholz2011_code"
    own_perspective: bool = False
    offer_choice: Literal["priority", "least_move"] | None = None
    capitulation: bool | None = None
    Q: float = Field(1.0, ge=0.0, le=1.0)
    T: float = Field(0.5, ge=0.0, le=1.0)
    rounds: int = Field(10, ge=0, le=MAX_ROUNDS)
    stop: Literal["rounds", "convergence"] = "rounds"
    eps: float = Field(1e-9, ge=0.0)

    def resolved_choice(self) -> str:
        """``offer_choice`` with the variant's default filled in."""
        if self.offer_choice is not None:
            return self.offer_choice
        return "priority" if self.variant == "scholz2011_code" else "least_move"

    def resolved_capitulation(self) -> bool:
        """``capitulation`` with the variant's default filled in."""
        if self.capitulation is not None:
            return self.capitulation
        return self.variant == "paper"


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def _row_deltas(inputs: Inputs) -> np.ndarray:
    """Delta of every (draw, issue) row, shape (B*D,).

    ``inputs.span`` where given (and finite), else max - min of the active
    actors' positions.
    """
    act = inputs.active[:, :, None]
    with np.errstate(invalid="ignore"):
        hi = np.where(act, inputs.position, -np.inf).max(axis=1)
        lo = np.where(act, inputs.position, np.inf).min(axis=1)
        own = hi - lo  # (B, D); -inf for a draw without an active actor
    if inputs.span is not None:
        span = np.broadcast_to(np.asarray(inputs.span, float), own.shape)
        own = np.where(np.isfinite(span), span, own)
    return np.ascontiguousarray(own, dtype=float).reshape(-1)


#: Below this much work (rows x n^2 x rounds) the kernels run as plain Python
#: (:mod:`detente.models._jit`; identical numbers, about 23 us per unit here, so
#: at most ~0.1 s): a small forecast does not wait ~0.5 s for numba to import
#: and load its compiled code. Without numba every size runs as plain Python.
PURE_MAX_WORK = 4000


def _kernel(work: float = float("inf"), fn: str = "run_rows") -> Any:
    """The kernels for ``work`` units: numba-compiled, or plain Python when small or without numba.

    A small batch runs compiled all the same once this process has loaded ``fn``'s compiled code
    (a report's explanation runs thousands of small batches after its Monte Carlo loaded it)."""
    name = __name__.rpartition(".")[0] + "._bdm_kernel"
    loaded = sys.modules.get(name)
    if not _jit.numba_available() or (
            work <= PURE_MAX_WORK and not getattr(getattr(loaded, fn, None), "signatures", None)):
        return _jit.pure_module(name)
    from . import _bdm_kernel  # numba compiles (or loads from its cache) on first call

    return _bdm_kernel


def probabilities(x: Any, w: Any, r: Any = None, *, variant: str = "scholz2011_code", active: Any = None) -> np.ndarray:
    """P_ij, the probability that i's position prevails over j's.

    Parameters
    ----------
    x, w : array_like, shape (m, n)
        Positions and weights c*s of m independent rows.
    r : array_like, shape (m, n), optional
        The voters' exponents (``scholz2011_code`` only; default all 1).
    variant : {"scholz2011_code", "paper"}
    active : array_like of bool, shape (m, n), optional

    Returns
    -------
    ndarray, shape (m, n, n)
        Zero for coincident pairs and pairs with an inactive actor.
    """
    x = np.ascontiguousarray(np.atleast_2d(np.asarray(x, float)))
    w = np.ascontiguousarray(np.broadcast_to(np.asarray(w, float), x.shape))
    act = np.ones(x.shape, bool) if active is None else np.broadcast_to(np.asarray(active, bool), x.shape)
    act = np.ascontiguousarray(act)
    r = np.ones(x.shape) if r is None else np.ascontiguousarray(np.broadcast_to(np.asarray(r, float), x.shape))
    w = np.where(act, w, 0.0)
    delta = np.where(act, x, -np.inf).max(axis=1) - np.where(act, x, np.inf).min(axis=1)
    out = np.empty(x.shape + (x.shape[1],))
    x, w, r, act, delta = (_own(a) for a in (x, w, r, act, delta))
    _kernel(x.size * x.shape[1], "probability_rows").probability_rows(x, w, r, act, np.ascontiguousarray(delta), variant == "paper", out)
    return out


# ---------------------------------------------------------------------------
# The engine: numba kernels over (draw, issue) rows, see _bdm_kernel.py
# ---------------------------------------------------------------------------


def _own(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous, writable array (a copy only when it is not already one).

    numba compiles one machine code per argument type, and an array's type
    includes its layout and whether it is read-only: passing every array in
    one form keeps the kernels to the one signature ``warmup`` compiles.
    """
    return np.require(a, requirements=["C", "W"])


def _rows(inputs: Inputs) -> tuple[np.ndarray, ...]:
    """(B*D, n) rows of positions, weights c*s, saliences, active flags, forecast weights."""
    B, n, D = inputs.shape
    x = np.ascontiguousarray(inputs.position.transpose(0, 2, 1), dtype=float).reshape(B * D, n)
    s = np.ascontiguousarray(inputs.salience.transpose(0, 2, 1), dtype=float).reshape(B * D, n)
    act = np.ascontiguousarray(np.broadcast_to(inputs.active[:, None, :], (B, D, n)), dtype=bool).reshape(B * D, n)
    cap = np.broadcast_to(inputs.capability[:, None, :], (B, D, n)).reshape(B * D, n)
    w = np.where(act, cap * s, 0.0)
    fw = np.ascontiguousarray(issue_weights(inputs).transpose(0, 2, 1)).reshape(B * D, n)
    return tuple(_own(a) for a in (x, w, s, act, fw))


def _checked_rows(inputs: Inputs) -> tuple[np.ndarray, ...]:
    """The kernel's per-(draw, issue) rows and Deltas, after checking every draw has an actor."""
    if not inputs.active.any(axis=1).all():
        raise ModelInputError("bdm: every draw needs at least one active actor")
    return (*_rows(inputs), _own(_row_deltas(inputs)))


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Run the expected-utility model on every draw and issue.

    Parameters
    ----------
    inputs : Inputs
        B draws of n actors on D issues; each issue is run on its own.
        Delta is ``inputs.span`` when given (the initial spread of a run
        played in segments), else the spread of the active actors' positions.
        A state that repeats one of ``inputs.past`` (earlier segments of the
        same run) ends the run as a cycle, like a repeat within the run.
    params : Params

    Returns
    -------
    Trajectory
        ``position`` (B, R+1, n, D); ``forecast`` the weighted median
        (``condorcet`` convention, w = c*s with the ``issue_weights``
        fallback) per round; ``rounds`` per draw (the most over its issues).
        ``extras``: ``mean`` (B, R+1, D) weighted mean; ``risk`` (B, R+1, n,
        D) the exponents used in each round (round 0, inactive actors and
        rounds after a stop hold 1); ``move_type`` (int8: 0 none, 1
        confrontation, 2 compromise, 3 capitulation) and ``move_counterpart``
        (actor index, -1 for none), both (B, R+1, n, D). ``info`` per draw
        and issue (B, D): ``cycle_length`` (0: none; a fixed point is
        ``converged`` with length 0), ``converged``, ``cycle_min`` and
        ``cycle_max`` (the forecast range over the cycle, the final forecast
        when there is none), ``issue_rounds`` (rounds run per issue).

    Raises
    ------
    ModelInputError
        When a draw has no active actor.
    """
    B, n, D = inputs.shape
    M = B * D
    x, w, s, act, fw, delta = _checked_rows(inputs)
    R = params.rounds
    out: dict[str, np.ndarray] = {
        "position": np.empty((M, R + 1, n)),
        "risk": np.empty((M, R + 1, n)),
        "move_type": np.empty((M, R + 1, n), dtype=np.int8),
        "move_counterpart": np.empty((M, R + 1, n), dtype=np.int32),
        "rounds": np.empty(M, dtype=np.int64),
        "cycle_length": np.empty(M, dtype=np.int64),
        "converged": np.empty(M, dtype=bool),
        "forecast": np.empty((M, R + 1)),
        "mean": np.empty((M, R + 1)),
    }
    kern = _kernel(M * n * n * max(R, 1))
    flags = (
        params.variant == "paper", bool(params.own_perspective), params.resolved_choice() == "least_move",
        bool(params.resolved_capitulation()), float(params.Q), float(params.T), int(R),
        params.stop == "convergence", float(params.eps), 0.5,
    )
    arrays = tuple(out[k] for k in ("position", "risk", "move_type", "move_counterpart", "rounds", "cycle_length", "converged",
                                    "forecast", "mean"))

    if inputs.past is None:
        past = np.empty((M, 0, n))
    else:  # (B, P, n, D) -> (B*D, P, n)
        past = _own(np.asarray(inputs.past, float).transpose(0, 3, 1, 2).reshape(M, -1, n))

    def work(lo: int, hi: int) -> None:
        kern.run_rows(lo, hi, x, w, s, act, fw, delta, past, *flags, *arrays)

    # rows are independent: each thread fills its own rows (the compiled kernel releases the GIL; plain
    # Python holds it, so one thread then)
    row_work = n * n * max(R, 1)
    _jit.split_rows(M, work, parallel=kern.COMPILED and M * row_work >= PARALLEL_MIN_WORK,
                    max_rows=max(1, PIECE_WORK // row_work))
    pos, forecast, mean = out["position"], out["forecast"], out["mean"]
    rounds = out["rounds"]
    cyc = out["cycle_length"]
    t = np.arange(R + 1)[None, :]
    in_cycle = (t > (rounds - cyc)[:, None]) & (t <= rounds[:, None]) & (cyc > 0)[:, None]
    final = forecast[np.arange(M), rounds]
    cmin = np.where(cyc > 0, np.where(in_cycle, forecast, np.inf).min(axis=1), final)
    cmax = np.where(cyc > 0, np.where(in_cycle, forecast, -np.inf).max(axis=1), final)

    def per_round(a: np.ndarray) -> np.ndarray:  # (M, R+1[, n]) -> (B, R+1[, n], D)
        a = a.reshape((B, D) + a.shape[1:])
        return np.moveaxis(a, 1, -1)

    rounds_bd = rounds.reshape(B, D)
    return Trajectory(
        position=per_round(pos),
        forecast=per_round(forecast),
        rounds=rounds_bd.max(axis=1),
        extras={
            "mean": per_round(mean),
            "risk": per_round(out["risk"]),
            "move_type": per_round(out["move_type"]),
            "move_counterpart": per_round(out["move_counterpart"]),
            "active": Trajectory.active_rounds(inputs, R),
        },
        info={
            "cycle_length": cyc.reshape(B, D),
            "converged": out["converged"].reshape(B, D),
            "cycle_min": cmin.reshape(B, D),
            "cycle_max": cmax.reshape(B, D),
            "issue_rounds": rounds_bd,
        },
    )


def expected_utilities(inputs: Inputs, params: Params = Params()) -> dict[str, np.ndarray]:
    """Each actor's view of each rival at the input positions (Bueno de Mesquita's quadrant map).

    What the first round computes its offers from: ``eu_self[b, i, j, d]`` =
    E^i(U_ij), i's expected utility of challenging j, with i's risk exponent
    r_i of that round; ``eu_other[b, i, j, d]`` = E^i(U_ji), i's perception
    of j's expected utility of challenging i (with r_i, or with r_j when
    ``own_perspective``). Same variant, P, Q and T as :func:`run`; Delta from
    ``inputs.span`` when given.

    Parameters
    ----------
    inputs : Inputs
    params : Params

    Returns
    -------
    dict
        ``eu_self`` and ``eu_other``, each of shape (B, n, n, D), NaN on the
        diagonal and for every pair involving an inactive actor. Pairs at the
        same position are included (they make no offers to each other).

    Raises
    ------
    ModelInputError
        When a draw has no active actor.
    """
    B, n, D = inputs.shape
    M = B * D
    x, w, s, act, fw, delta = _checked_rows(inputs)
    eu_self = np.empty((M, n, n))
    eu_other = np.empty((M, n, n))
    _kernel(M * n * n, "eu_rows").eu_rows(x, w, s, act, fw, delta, params.variant == "paper", bool(params.own_perspective),
                      float(params.Q), float(params.T), 0.5, eu_self, eu_other)

    def shaped(a: np.ndarray) -> np.ndarray:  # (M, n, n) -> (B, n, n, D)
        return np.ascontiguousarray(a.reshape(B, D, n, n).transpose(0, 2, 3, 1))

    return {"eu_self": shaped(eu_self), "eu_other": shaped(eu_other)}


def perspective(inputs: Inputs, params: Params = Params()) -> Perspective:
    """Bueno de Mesquita's quadrant map: :func:`expected_utilities` as a :class:`~detente.models.base.Perspective`."""
    eu = expected_utilities(inputs, params)
    return Perspective(
        title="expected-utility quadrants",
        description=(
            "Each actor's view of each rival at the start: its own expected utility of challenging the rival "
            "(across) against what it believes the rival expects from challenging it (up), as in Bueno de "
            "Mesquita's figures."
        ),
        x=eu["eu_self"],
        y=eu["eu_other"],
        x_label="E(U) of {actor}",
        y_label="E(U) of rival",
        quadrants=("conflict", "compromise /\ncapitulation", "compromise /\ncapitulation", "status quo"),
    )


def moves(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> list[dict[str, Any]]:
    """The moves of round ``t`` of draw ``b``: each accepted offer, as a :data:`~detente.models.base.Move`.

    ``kind`` is ``confrontation``, ``compromise`` or ``capitulation``; the
    ``counterpart`` is the actor whose offer was accepted. An accepted offer
    that leaves the position where it was (a compromise of size zero) is not
    a move.
    """
    if t == 0:
        return []
    mt = traj.extras["move_type"][b, t]
    cp = traj.extras["move_counterpart"][b, t]
    before, after = traj.position[b, t - 1], traj.position[b, t]
    out = []
    for i, actor in enumerate(actors):
        for k, issue in enumerate(issues):
            code = int(mt[i, k])
            if code != NONE and before[i, k] != after[i, k]:
                kind, other = MOVE_NAMES[code], actors[int(cp[i, k])]
                out.append({"actor": actor, "issue": issue, "from": float(before[i, k]), "to": float(after[i, k]),
                            "counterpart": other, "kind": kind, "why": f"{kind} with {other}"})
    return out


def warmup() -> bool:
    """Compile the numba kernels into numba's on-disk cache (``detente warmup``).

    Runs every kernel once, compiled, on a three-actor problem in a batch of copies just past
    :data:`PURE_MAX_WORK` (so the compiled kernels run without changing any module setting, which a
    run in another thread would see), so that the first real run of a fresh install loads machine
    code instead of spending ~20 s compiling it. Returns False (and does nothing) without numba.
    """
    if not _jit.numba_available():
        return False
    copies = int(PURE_MAX_WORK) // 9 + 1  # work of a copy: 3 x 3 actor pairs (x rounds)
    x, s, c = np.array([0.0, 40.0, 100.0]), np.array([0.5, 1.0, 0.8]), np.array([1.0, 2.0, 3.0])
    inputs = Inputs.build(np.tile(x, (copies, 1))[:, :, None], np.tile(s, (copies, 1))[:, :, None], np.tile(c, (copies, 1)))
    run(inputs, Params(rounds=2))
    expected_utilities(inputs, Params())
    probabilities(np.tile(x, (copies, 1)), np.tile(c, (copies, 1)))
    return True


def render_round(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> dict[str, Any]:
    """Round ``t`` of draw ``b``: risk exponents and weighted means (the moves come from :func:`moves`).

    Returns
    -------
    dict
        ``{"risk": {actor: {issue: r}}, "mean": {issue: float}}``, with the
        actors taking part in round ``t`` only under ``risk``.
    """
    act = traj.active_at(b, t)
    risk = traj.extras["risk"][b, t]
    return {
        "risk": {a: {iss: float(risk[i, k]) for k, iss in enumerate(issues)} for i, a in enumerate(actors) if act[i]},
        "mean": {iss: float(traj.extras["mean"][b, t, k]) for k, iss in enumerate(issues)},
    }


def summarize(traj: Trajectory, b: int, issues: list[str]) -> dict[str, dict[str, Any]]:
    """Per issue of draw ``b``: final weighted mean, cycle length and range, rounds run."""
    out = {}
    for k, issue in enumerate(issues):
        cyc = int(traj.info["cycle_length"][b, k])
        out[issue] = {
            "mean": float(traj.extras["mean"][b, -1, k]),
            "cycle_length": cyc,
            "cycle_range": [float(traj.info["cycle_min"][b, k]), float(traj.info["cycle_max"][b, k])] if cyc else None,
            "rounds": int(traj.info["issue_rounds"][b, k]),
        }
    return out


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """The arrays :func:`run` allocates, for ``params.rounds`` rounds.

    Per draw and issue: the kernel's rows (positions, weights, saliences,
    forecast weights, active flags: 5 floats per actor), the outputs per round
    and actor (position and risk float64, move type int8, counterpart int32:
    21 bytes), forecast and mean per round, the earlier segments' states it is
    given (``past``, at most as many rounds again) and the cycle masks. Once
    per worker thread: the kernel's workspace of four n x n matrices. Work:
    every pair of actors on every issue in every round.
    """
    R1 = int(params.rounds) + 1
    per = D * (5 * n * F8 + R1 * n * (21 + F8) + R1 * 6 * F8)
    fixed = _jit.threads() * (4 * n * n + 16 * n) * F8
    return Cost(flops_per_draw=20.0 * n * n * D * R1, bytes_per_draw=per, bytes_fixed=fixed)
