"""KTAB's Spatial Model of Politics (SMP), vectorised.

The SMP of the KAPSARC Toolkit for Behavioral Analysis (Wise, Howe & Efird)
lets actors bargain in a multi-dimensional policy space. Each turn:

1. *Valuation.* A Probabilistic Condorcet Election (PCE) over the actors'
   positions (voters weighted by capability, risk-neutral utilities) gives
   each position a probability; from it every actor's risk attitude R in
   [-1, 1] (``BigRRange``) and every actor's estimate of the others' R
   (``BigRAdjust``).
2. *Challenges.* Each actor looks for the rival whose position it would most
   profit from challenging, counting on third parties' votes
   (``ThirdPartyCommit``, ``VotingRule``); it proposes at most one challenge.
3. *Bargains.* Each challenge yields a bargain: a position for the initiator
   and one for the receiver, interpolated by salience and win probability
   (``InterVecBrgn``).
4. *Resolution.* Every actor holds a PCE (``VotingRule``,
   ``VictoryProbModel``, ``PCEModel``) among its status quo and the bargains
   it is part of, and moves to its side of the winner (``StateTransitions``:
   the most probable, or a draw).
5. Ideals follow positions through the accommodation matrix.

The run stops after ``rounds`` turns, or when the total movement of a turn
falls below ``stop_fraction`` of the first turn's.

Positions are normalised to [0, 1] per issue (``(x - low) / (high - low)``)
and mapped back. Saliences are on the 0-1 scale; KTAB requires each actor's
saliences to sum to at most 1 across issues: an actor whose saliences sum to
more is rescaled by that sum (``info["salience_rescaled"]`` marks it).

The forecast of each issue after each turn is the capability-weighted mean
position of the most probable *cluster* of positions, where clusters are the
single-linkage groups of active actors whose positions are within 1e-3
(Euclidean, on the [0, 1] scale) and the cluster probabilities come from a PCE
over the clusters (each cluster voted on at its members' capability-weighted
mean position, utilities = each actor's own true utilities, weights as in the
valuation; a tie for the most probable goes to the smallest position, issue 1
first). None of this depends on the order in which the actors are listed.
See ``docs/models/smp.md`` for every choice made where KTAB's
description is silent, and the replication of KTAB's reference run.
"""

from __future__ import annotations

import contextvars
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from .. import _cancel
from . import _smp_core as core
from .base import F8, MAX_ROUNDS, Cost, Inputs, ModelInputError, ModelParams, Trajectory

NAME = "smp"
SUMMARY = "KTAB's Spatial Model of Politics: multi-dimensional challenges, bargains and Condorcet elections."
CITATION = (
    "Wise, Howe & Efird, 'An Introduction to the KAPSARC Toolkit for Behavioral Analysis (KTAB)' and "
    "'Multidimensional Bargaining using KTAB', KAPSARC discussion papers (2015); Wise & Bankes (2015) "
    "'Non-spatial Probabilistic Condorcet Election Methodology', arXiv."
)

#: The model plays turns of challenges and bargains (``Params.rounds``).
DYNAMIC = True
#: The rounds only stop the play (the stopping rules look at the state, not at the rounds left):
#: a longer run, cut, is the shorter one (``rounds_only_stop`` in the conformance suite).
ROUNDS_ONLY_STOP = True
#: The run given fewer turns reads off a longer one, info included (``truncate`` in the conformance suite).
TRUNCATE_INFO: dict[str, Any] = {"turns": "rounds"}
#: Stochastic transitions (seeded per draw) and the consistent preset, for the conformance suite.
CONFORMANCE_PARAMS: tuple[dict[str, Any], ...] = ({}, {"state_transitions": "Stochastic"}, {"preset": "consistent"})



def conformance_exceptions(params: "Params") -> dict[str, str]:
    """Checks of the conformance suite the SMP does not pass with ``params``, and why."""
    out = {}
    if params.state_transitions == "Stochastic":
        out["order"] = ("stochastic transitions draw each actor's random number in actor order, so listing the "
                        "actors in another order gives them other draws (the distribution is the same)")
    out["inactive"] = ("equal only up to round-off: an inactive actor's zero terms change the order of numpy's "
                       "vectorised sums over actors, so PCE probabilities and forecasts can differ in the last bit "
                       "(and positions too, after unrounded bargains, amplified over the rounds); "
                       "on inputs with exact ties (actors at identical positions) round-off can decide which tied "
                       "challenge wins, so the two runs may differ by a whole move; "
                       "tests/test_conformance.py checks it to 1e-9 of the scale on tie-free inputs")
    return out


#: Elements of one (Bc, n, n) array per batch chunk.
CHUNK = 1 << 20

_SPELLINGS = {
    "voting_rule": {"proportional": "Prop", "prop": "Prop"},
    "big_r_adjust": {"no": "None", "none": "None", "nora": "None", "onethirdra": "OneThird",
                     "halfra": "Half", "twothirdsra": "TwoThirds", "fullra": "Full"},
}


class Params(ModelParams):
    """Parameters of the SMP.

    KTAB's nine model parameters are fields with snake_case names; their KTAB
    names (``VictoryProbModel``, ``PCEModel``, ``StateTransitions``,
    ``VotingRule``, ``BigRAdjust``, ``BigRRange``, ``ThirdPartyCommit``,
    ``InterVecBrgn``, ``BargnModel``) are accepted as aliases. Defaults are
    KTAB's.

    Attributes
    ----------
    preset : {"ktab", "consistent"}
        ``ktab`` reproduces KTAB including its quirks (capability-only weights
        in the PCEs, a linear victory ratio in challenges, bargains rounded to
        1e-4). ``consistent`` removes these three: PCE voters are weighted by
        total salience x capability like in challenges, challenges use
        ``victory_prob_model``, bargains are not rounded. The three quirk
        fields below override the preset when set.
    victory_prob_model : {"Linear", "Square", "Quartic", "Octic", "Binary"}
    pce_model : {"Conditional", "MarkovIncentive", "MarkovUniform"}
    state_transitions : {"Deterministic", "Stochastic"}
        Stochastic draws each actor's winning option from the PCE with a numpy
        Generator seeded by the draw's ``inputs.seed``, so results are
        reproducible and independent of batching.
    voting_rule : {"Prop", "Binary", "PropBin", "PropCbc", "Cubic", "ASymProsp"}
        ``Proportional`` is accepted for ``Prop``.
    big_r_adjust : {"OneThird", "None", "Half", "TwoThirds", "Full"}
        ``No`` is accepted for ``None``. ``Full`` works (KTAB throws).
    big_r_range : {"Mid", "Min", "Max"}
    third_party_commit : {"SemiCommit", "NoCommit", "FullCommit"}
    inter_vec_brgn : {"S2P2", "S1P1", "S2PMax"}
    bargn_model : {"InitOnlyInterp"}
        KTAB's bargaining model; only the one KTAB implements.
    rounds : int
        Stop after this many turns (KTAB: 100).
    stop_fraction : float
        Stop once a turn's total movement is below this fraction of the first
        turn's (KTAB: 0.02), from turn 2 on.
    accommodation : list of list of float, optional
        N x N matrix A (entries in [0, 1], row sums <= 1): ideal_i <- sum_j A_ij
        x_j + (1 - sum_j A_ij) ideal_i after each turn. Identity by default
        (ideals follow positions).
    round_bargains : bool, optional
        Round bargain positions to 1e-4 (on the [0, 1] scale). Default from preset.
    pce_weights : {"capability", "capability_salience"}, optional
        Voter weights in the PCEs. Default from preset.
    challenge_victory : {"linear", "model"}, optional
        Win probability in challenges: KTAB's linear ratio or ``victory_prob_model``.
        Default from preset.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    preset: Literal["ktab", "consistent"] = "ktab"
    victory_prob_model: Literal["Linear", "Square", "Quartic", "Octic", "Binary"] = Field(
        "Linear", alias="VictoryProbModel")
    pce_model: Literal["Conditional", "MarkovIncentive", "MarkovUniform"] = Field("Conditional", alias="PCEModel")
    state_transitions: Literal["Deterministic", "Stochastic"] = Field("Deterministic", alias="StateTransitions")
    voting_rule: Literal["Prop", "Binary", "PropBin", "PropCbc", "Cubic", "ASymProsp"] = Field(
        "Prop", alias="VotingRule")
    big_r_adjust: Literal["OneThird", "None", "Half", "TwoThirds", "Full"] = Field("OneThird", alias="BigRAdjust")
    big_r_range: Literal["Mid", "Min", "Max"] = Field("Mid", alias="BigRRange")
    third_party_commit: Literal["SemiCommit", "NoCommit", "FullCommit"] = Field(
        "SemiCommit", alias="ThirdPartyCommit")
    inter_vec_brgn: Literal["S2P2", "S1P1", "S2PMax"] = Field("S2P2", alias="InterVecBrgn")
    bargn_model: Literal["InitOnlyInterp"] = Field("InitOnlyInterp", alias="BargnModel")
    rounds: int = Field(100, ge=1, le=MAX_ROUNDS, alias="max_turns")
    stop_fraction: float = Field(0.02, ge=0.0)
    accommodation: list[list[float]] | None = None
    round_bargains: bool | None = None
    pce_weights: Literal["capability", "capability_salience"] | None = None
    challenge_victory: Literal["linear", "model"] | None = None

    @field_validator("voting_rule", "big_r_adjust", mode="before")
    @classmethod
    def _spellings(cls, v: Any, info: Any) -> Any:
        if v is None and info.field_name == "big_r_adjust":
            return "None"
        if isinstance(v, str):
            return _SPELLINGS[info.field_name].get(v.strip().lower(), v.strip())
        return v

    @field_validator("accommodation")
    @classmethod
    def _check_accommodation(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        a = np.asarray(v, dtype=float)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError("accommodation must be a square N x N matrix")
        if not np.all(np.isfinite(a)) or (a < 0).any() or (a > 1).any():
            raise ValueError("accommodation entries must be in [0, 1]")
        if (a.sum(1) > 1 + 1e-9).any():
            raise ValueError("accommodation row sums must be <= 1")
        return v

    def quirks(self) -> dict[str, Any]:
        """The effective quirk settings (preset, overridden by explicit fields)."""
        k = self.preset == "ktab"
        return {
            "round_bargains": (k if self.round_bargains is None else self.round_bargains),
            "pce_weights": self.pce_weights or ("capability" if k else "capability_salience"),
            "challenge_victory": self.challenge_victory or ("linear" if k else "model"),
        }


# ----------------------------------------------------------------------------- engine


class _Cfg:
    def __init__(self, p: Params):
        q = p.quirks()
        self.vpm = p.victory_prob_model
        self.pcem = p.pce_model
        self.stochastic = p.state_transitions == "Stochastic"
        self.rule = p.voting_rule
        self.adj = p.big_r_adjust
        self.rrange = p.big_r_range
        self.commit = p.third_party_commit
        self.ivb = p.inter_vec_brgn
        self.max_turns = p.rounds
        self.stop = p.stop_fraction
        self.rnd = q["round_bargains"]
        self.cap_sal = q["pce_weights"] == "capability_salience"
        self.cvpm = None if q["challenge_victory"] == "linear" else p.victory_prob_model


def _valuation(x, ideal, s, wp, act, cfg):
    """Distances, risk attitudes and true utilities at a state."""
    dist = core.distances(ideal, s, x)
    C = core.coalitions(1.0 - dist, wp, cfg.rule, opt=act)
    P = core.victory(C, cfg.vpm)
    p = core.pce(C, P, act[:, None, :], cfg.pcem)[:, 0]
    R = core.risk_from_p(p, act, cfg.rrange)
    ut = core.utility(dist, R[:, :, None])
    return dist, R, ut


def _report(x, ideal, s, R, wp, cap, act, cfg):
    """Clusters, the PCE probability of each actor's position, and the forecast.

    Every quantity is a function of the *set* of actors, not of their order:
    the clusters are connected components, each is voted on at its members'
    capability-weighted mean position (plain mean if their capabilities are
    all 0), and among clusters tied for the highest probability the one with
    the lexicographically smallest position (issue 1 first) wins.

    Each draw elects among its own clusters (the draws grouped by their count):
    padding to a batch's most would change numpy's summation lengths, so the
    last bit of a draw's numbers with the draws it runs with.
    """
    Bc, n, D = x.shape
    lab = core.clusters(x, act)
    Ms = np.maximum(1, (lab == np.arange(n)[None, :]).sum(-1))
    Mu = np.unique(Ms)
    if len(Mu) == 1:
        return (lab,) + _elect(x, ideal, s, R, wp, cap, act, lab, int(Mu[0]), cfg)
    p_actor, fc = np.empty((Bc, n)), np.empty((Bc, D))
    for M in Mu:
        g = np.flatnonzero(Ms == M)
        p_actor[g], fc[g] = _elect(x[g], ideal[g], s[g], R[g], wp[g], cap[g], act[g], lab[g], int(M), cfg)
    return lab, p_actor, fc


def _elect(x, ideal, s, R, wp, cap, act, lab, M, cfg):
    """:func:`_report`'s election among the clusters (labels ``lab``) of draws with M clusters (M >= 1):
    each actor's PCE probability and the forecast. Its set-up and its results are compiled where the turn's
    kernels run (:func:`_elect_kernels`: the same numbers)."""
    Bc, n, D = x.shape
    fz = _elect_kernels(Bc, n, D)
    if fz is None:
        order, valid, centre = _elect_setup(lab, cap, x, M)
    else:
        lab = np.ascontiguousarray(lab, dtype=np.int64)
        cap, x = np.ascontiguousarray(cap, dtype=float), np.ascontiguousarray(x, dtype=float)
        order, valid, centre = np.empty((Bc, M), dtype=np.int64), np.empty((Bc, M), dtype=np.bool_), np.empty((Bc, M, D))
        fz.elect_setup_rows(0, Bc, lab, cap, x, M, _sum_plan(n), D > 1, order, valid, centre)
    Vr = core.utilities(ideal, s, centre, R)
    C = core.coalitions(Vr, wp, cfg.rule, opt=valid)
    P = core.victory(C, cfg.vpm)
    pr = core.pce(C, P, valid[:, None, :], cfg.pcem)[:, 0]
    if fz is None:
        return _elect_finish(pr, order, valid, centre, lab, act, cap, x)
    p_actor, fc = np.empty((Bc, n)), np.empty((Bc, D))
    fz.elect_finish_rows(0, Bc, np.ascontiguousarray(pr, dtype=float), order, valid, centre, lab,
                         np.ascontiguousarray(act, dtype=np.bool_), cap, x, _sum_plan(n), D > 1, p_actor, fc)
    return p_actor, fc


def _elect_setup(lab, cap, x, M):
    """:func:`_elect`'s clusters in numpy: the slots' actors ``order`` (Bc, M) (the representatives first),
    which slots are clusters (``valid``), and the clusters' capability-weighted centres (Bc, M, D)."""
    n = x.shape[1]
    isrep = lab == np.arange(n)[None, :]
    order = np.argsort(~isrep, axis=-1, kind="stable")[:, :M]
    valid = np.take_along_axis(isrep, order, -1)
    G = valid[:, :, None] & (lab[:, None, :] == order[:, :, None])  # (Bc, M, n): members of each cluster
    W = np.where(G, cap[:, None, :], 0.0)
    W = np.where(W.sum(-1, keepdims=True) > 0, W, G.astype(float))
    Wsum = W.sum(-1, keepdims=True)
    centre = core._mm(W, x) / np.where(Wsum > 0, Wsum, 1.0)  # (Bc, M, D)
    return order, valid, centre


def _elect_finish(pr, order, valid, centre, lab, act, cap, x):
    """:func:`_elect`'s results in numpy from the clusters' probabilities ``pr`` (Bc, M)."""
    Bc, n, D = x.shape
    by_label = np.zeros((Bc, n))
    np.put_along_axis(by_label, order, np.where(valid, pr, 0.0), -1)
    p_actor = np.where(act, np.take_along_axis(by_label, np.maximum(lab, 0), -1), 0.0)
    pmax = pr.max(-1, keepdims=True)
    tied = valid & (pr >= pmax * (1 - core.TIE_TOL))
    for k in range(D):  # ties: the smallest position, issue by issue
        ck = np.where(tied, centre[:, :, k], np.inf)
        tied &= ck <= ck.min(-1, keepdims=True)
    best_slot = np.argmax(tied, axis=-1)
    best = np.take_along_axis(order, best_slot[:, None], -1)
    members = lab == best
    w = np.where(members, cap, 0.0)
    ws = w.sum(-1, keepdims=True)
    w = np.where(ws > 0, w, members.astype(float))
    ws = w.sum(-1, keepdims=True)
    none = ws[:, 0] <= 0  # no active actor at all: plain mean of every position
    w = np.where(none[:, None], 1.0, w)
    ws = w.sum(-1, keepdims=True)
    fc = np.einsum("bi,bik->bk", w, x) / ws
    return p_actor, fc


#: Whether :func:`_elect` may use its compiled set-up and results (tests switch it off to compare).
USE_ELECT_KERNELS = True
_ELECT_OK: dict[tuple[int, int], bool] = {}


def _sum_plan(n: int) -> np.ndarray:
    """numpy's pairwise summation of n terms as a program (``_smp_kernel.pairwise_plan``, made once per n)."""
    from . import _smp_kernel

    return _smp_kernel.pairwise_plan(n)


def _elect_kernels(Bc: int, n: int, D: int) -> Any:
    """The module of :func:`_elect`'s compiled set-up and results (:mod:`._smp_fused`), or None (numpy then):
    where the turn's kernels run (``_smp_core._turn_kernel``), once they are found to give numpy's numbers at
    n actors on D issues (:func:`_elect_ok`; the products' order is numpy's build's)."""
    if not USE_ELECT_KERNELS or core._turn_kernel(Bc, n) is None:
        return None
    from . import _smp_fused

    if (n, D) not in _ELECT_OK:
        _ELECT_OK[n, D] = _elect_ok(_smp_fused, n, D)
    return _smp_fused if _ELECT_OK[n, D] else None


def _elect_ok(fz: Any, n: int, D: int) -> bool:
    """Do the compiled set-up and results of :func:`_elect` give its numpy's numbers at n actors on D issues?
    Compared once, on random clusters (some of capability 0, some actors inactive) with numbers spread over
    many magnitudes, for a few draws and up to 8 clusters (the sums run over the actors)."""
    rng = np.random.default_rng(n * 31 + D)
    ok = True
    for Bc in (1, 2):  # the sums' lengths are the actors' count: a few draws and clusters tell
        x = rng.uniform(-1, 1, (Bc, n, D)) * 10.0 ** rng.uniform(-4, 4, (Bc, n, D))
        cap = rng.uniform(0, 1, (Bc, n)) * 10.0 ** rng.uniform(-4, 4, (Bc, n)) * (rng.random((Bc, n)) < 0.8)
        act = rng.random((Bc, n)) < 0.9
        lab = np.arange(n)[None, :].repeat(Bc, 0)
        join = rng.random((Bc, n)) < 0.6
        for b in range(Bc):
            for i in range(1, n):
                if join[b, i]:
                    lab[b, i] = lab[b, rng.integers(0, i)]
        lab = np.where(act, lab, -1)
        reps = (lab == np.arange(n)[None, :]).sum(-1)
        most = max(1, min(8, int(reps.min())))  # (a draw may have no active actor, so no cluster)
        for M in sorted({1, most, max(1, most // 2)}):
            want = _elect_setup(lab, cap, x, M)
            got = (np.empty((Bc, M), dtype=np.int64), np.empty((Bc, M), dtype=np.bool_), np.empty((Bc, M, D)))
            fz.elect_setup_rows(0, Bc, lab, cap, x, M, _sum_plan(n), D > 1, *got)
            ok &= all(np.array_equal(a, b) for a, b in zip(want, got))
            pr = rng.uniform(0, 1, (Bc, M)) * want[1]
            pr[:, -1] = pr[:, 0]  # a tie
            order, valid, centre = want
            p_want, fc_want = _elect_finish(pr, order, valid, centre, lab, act, cap, x)
            p_got, fc_got = np.empty((Bc, n)), np.empty((Bc, D))
            fz.elect_finish_rows(0, Bc, pr, order, valid, centre, lab, act, cap, x, _sum_plan(n), D > 1, p_got, fc_got)
            ok &= np.array_equal(p_want, p_got) and np.array_equal(fc_want, fc_got)
    if not ok:  # the same numbers either way, only slower: say so once, where a user can see it
        warnings.warn(f"smp: this numpy sums the report's products at {n} actors on {D} issues in an order the "
                      "compiled report does not copy, so its numpy runs (the same numbers, slower)",
                      RuntimeWarning, stacklevel=2)
    return bool(ok)


def _step(x, ideal, s, sigma, wp, wc, act, nact, A, dist, R, ut, cfg, unif, meanwhile=None):
    """One turn from a state; returns the new state and the turn's record. ``meanwhile``: other work for this
    thread while the kernel threads start on the challenges (``_smp_core.challenges``). The resolution's set-up
    and outcome are compiled where the turn's kernels run (:func:`_glue_kernels`: the same numbers)."""
    Bc, n, D = x.shape
    got = core.challenge_inputs(dist, R, cfg.adj)
    Rhat = core.estimate_risk(R, cfg.adj) if got is None else got[2]
    target, prob, gain = core.challenges(dist, Rhat, wc, sigma, act, cfg.rule, cfg.commit, cfg.cvpm,
                                         meanwhile=meanwhile, terms=None if got is None else got[:2])
    bI, bR = core.bargains(x, s, target, prob, cfg.ivb, cfg.rnd)
    has = target >= 0
    tj = np.where(has, target, 0)
    N = np.maximum(nact, 1).astype(float)
    fz = _glue_kernels(Bc, n, D)
    if fz is None:
        Q, S = _resolution_setup(target, act, ut)
    else:
        target, act = np.ascontiguousarray(target, dtype=np.int64), np.ascontiguousarray(act, dtype=np.bool_)
        Q, S = np.empty((Bc, n, n + 1), dtype=np.bool_), np.empty((Bc, n))
        fz.resolution_setup_rows(0, Bc, target, act, np.ascontiguousarray(ut, dtype=float), _sum_plan(n), Q, S)
    V = core.resolution_values(ideal, s, bI, bR, R, ut, S, tj, N)  # (Bc, n_a, 1 + n)
    C = core.coalitions(V, wp, cfg.rule, opt=Q.any(1), among=Q)  # only the pairs of each actor's own election
    P = core.victory(C, cfg.vpm)
    p = core.pce(C, P, Q, cfg.pcem)
    info = dict(target=target, prob=prob, gain=gain, bI=bI, bR=bR)
    if fz is not None and unif is None and A is None:
        newx, newideal, choice = np.empty((Bc, n, D)), np.empty((Bc, n, D)), np.empty((Bc, n), dtype=np.int64)
        fz.resolution_choice_rows(0, Bc, np.ascontiguousarray(p, dtype=float), Q, *(np.ascontiguousarray(a, dtype=float)
                                  for a in (bI, bR, x, ideal)), act, newx, newideal, choice)
        return newx, newideal, {**info, "choice": choice}
    newx, newideal, choice = _resolution_choice(p, Q, bI, bR, x, ideal, act, A, unif)
    return newx, newideal, {**info, "choice": choice}


def _resolution_setup(target, act, ut):
    """:func:`_step`'s elections of the resolution ``Q`` (Bc, n, n + 1) (actor i's: the status quo 0 and the bargain
    1 + j of every initiator j that is i or targets i) and each voter's sum ``S`` (Bc, n) of its utilities of the
    active actors' positions, in numpy."""
    Bc, n = act.shape
    k = np.arange(n)
    has = target >= 0
    S = np.where(act[:, None, :], ut, 0.0).sum(-1)  # (Bc, n_a)
    Q = np.zeros((Bc, n, n + 1), dtype=bool)
    Q[:, :, 0] = True
    Q[:, :, 1:] = has[:, None, :] & ((k[:, None] == k[None, :])[None] | (target[:, None, :] == k[None, :, None]))
    return Q, S


def _resolution_choice(p, Q, bI, bR, x, ideal, act, A, unif):
    """:func:`_step`'s outcome in numpy: each actor's choice in its election (the most probable, or drawn with
    ``unif``), its new position and ideal, and the chosen bargain's initiator (-1: none)."""
    n = act.shape[1]
    k = np.arange(n)
    if unif is None:
        pmax = p.max(-1, keepdims=True)
        o = np.argmax(Q & (p >= pmax * (1 - core.TIE_TOL)), axis=-1)
    else:
        cum = np.cumsum(p, -1)
        hit = Q & (cum > unif[:, :, None] * cum[:, :, -1:])
        last = (n) - np.argmax(Q[:, :, ::-1], axis=-1)
        o = np.where(hit.any(-1), np.argmax(hit, axis=-1), last)
    m = o - 1
    mm = np.maximum(m, 0)
    own = (m == k[None, :])
    newp = np.where(own[:, :, None], np.take_along_axis(bI, mm[:, :, None], 1),
                    np.take_along_axis(bR, mm[:, :, None], 1))
    newx = np.where(((m >= 0) & act)[:, :, None], newp, x)
    if A is None:
        newideal = np.where(act[:, :, None], newx, ideal)
    else:
        Ae = A[None] * act[:, None, :]
        newideal = core._mm(Ae, newx) + (1.0 - Ae.sum(-1, keepdims=True)) * ideal
        newideal = np.where(act[:, :, None], newideal, ideal)
    choice = np.where(act, m, -1)
    return newx, newideal, choice


#: Whether :func:`_step` may use its compiled set-up and outcome of the resolution (tests switch it off to compare).
USE_GLUE_KERNELS = True
_GLUE_OK: dict[tuple[int, int], bool] = {}


def _glue_kernels(Bc: int, n: int, D: int) -> Any:
    """The module of :func:`_step`'s compiled resolution set-up and outcome (:mod:`._smp_fused`), or None (numpy
    then): where the turn's kernels run (``_smp_core._turn_kernel``), once they are found to give numpy's numbers
    at n actors on D issues (:func:`_glue_ok`)."""
    if not USE_GLUE_KERNELS or core._turn_kernel(Bc, n) is None:
        return None
    from . import _smp_fused

    if (n, D) not in _GLUE_OK:
        _GLUE_OK[n, D] = _glue_ok(_smp_fused, n, D)
    return _smp_fused if _GLUE_OK[n, D] else None


def _glue_ok(fz: Any, n: int, D: int) -> bool:
    """Do the compiled resolution set-up and outcome give :func:`_step`'s numpy numbers at n actors on D issues?
    Compared once on random turns (initiators without a target, inactive actors, utilities over many
    magnitudes, tied probabilities, elections with no probable option)."""
    rng = np.random.default_rng(n * 17 + D)
    ok = True
    for Bc in ((1, 2) if n <= 400 else (1,)):  # n x n per draw: as much as a turn's own arrays
        act = rng.random((Bc, n)) < 0.9
        target = np.where(rng.random((Bc, n)) < 0.8, rng.integers(0, n, (Bc, n)), -1)
        ut = rng.uniform(-1, 1, (Bc, n, n)) * 10.0 ** rng.uniform(-4, 4, (Bc, n, n))
        Q, S = _resolution_setup(target, act, ut)
        Qk, Sk = np.empty((Bc, n, n + 1), dtype=np.bool_), np.empty((Bc, n))
        fz.resolution_setup_rows(0, Bc, target, act, ut, _sum_plan(n), Qk, Sk)
        ok &= np.array_equal(Q, Qk) and S.tobytes() == Sk.tobytes()
        p = np.where(Q, rng.random(Q.shape), 0.0)
        p[:, :, 1] = p[:, :, 0] * (1 - 1e-12)  # ties within the tolerance
        p[:, 0, :] = 0.0  # no option at all
        bI, bR, x, ideal = (rng.uniform(0, 1, (Bc, n, D)) for _ in range(4))
        want = _resolution_choice(p, Q, bI, bR, x, ideal, act, None, None)
        got = (np.empty((Bc, n, D)), np.empty((Bc, n, D)), np.empty((Bc, n), dtype=np.int64))
        fz.resolution_choice_rows(0, Bc, p, Q, bI, bR, x, ideal, act, *got)
        ok &= all(a.tobytes() == b.tobytes() for a, b in zip(want, got))
    if not ok:  # the same numbers either way, only slower: say so once, where a user can see it
        warnings.warn(f"smp: this numpy sums the resolution's utilities at {n} actors in an order the compiled "
                      "resolution does not copy, so its numpy runs (the same numbers, slower)",
                      RuntimeWarning, stacklevel=2)
    return bool(ok)


def _run_state(Bc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A chunk's draws' run state: running, on their last turn, turns run, the first turn's movement."""
    return np.ones(Bc, dtype=bool), np.zeros(Bc, dtype=bool), np.zeros(Bc, dtype=int), np.zeros(Bc)


def _change(t: int, idx: np.ndarray, moved: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Turn t's movement of draws ``idx`` as a fraction of their first turn's (recorded at t = 1)."""
    if t == 1:
        first[idx] = moved
    return moved / (first[idx] + 1e-4)


#: From this many actors, in a chunk of at most :data:`BESIDE_MAX_DRAWS` draws, with more than one kernel thread,
#: :func:`_run_chunk` runs each state's report in a thread beside the turn from that state (the same numbers):
#: both have stretches of numpy that run on one core, which the other then fills.
BESIDE_MIN_ACTORS = 64
BESIDE_MAX_DRAWS = 4
#: Whether that report runs in the turn's own thread while the other kernel threads start on the challenges
#: (``_jit.split_rows``' ``meanwhile``; then this thread joins them), rather than in a thread of its own: the
#: same numbers; no third thread on two cores, and the report's Python (numpy's calls on small arrays) no
#: longer holds the interpreter's lock while the turn's thread waits for it.
REPORT_DURING_CHALLENGES = True


def _run_chunk(x0, s, cap, act, A, seeds, cfg):
    Bc, n, D = x0.shape
    sigma = s.sum(-1)
    c = np.where(act, cap, 0.0)
    wp = c * sigma if cfg.cap_sal else c
    wc = c * sigma
    nact = act.sum(-1)
    gens = [np.random.default_rng(int(sd)) for sd in seeds] if cfg.stochastic else None
    x = x0.copy()
    ideal = x0.copy()
    st = {k: [] for k in ("x", "ideal", "pce", "cluster", "risk", "forecast")}
    tn = {k: [] for k in ("target", "prob", "gain", "bI", "bR", "choice", "change")}
    # turn 0 carries no challenges
    tn["target"].append(np.full((Bc, n), -1))
    tn["prob"].append(np.zeros((Bc, n)))
    tn["gain"].append(np.zeros((Bc, n)))
    tn["bI"].append(x0.copy())
    tn["bR"].append(x0.copy())
    tn["choice"].append(np.full((Bc, n), -1))
    tn["change"].append(np.zeros(Bc))
    alive, final, rounds, first = _run_state(Bc)
    from . import _jit

    t = 0
    # a few draws of many actors: each state's report (its clusters and their election) runs beside the turn
    # from that state, which does not read it (the two share the kernel threads; each is its own numbers)
    beside = n >= BESIDE_MIN_ACTORS and Bc <= BESIDE_MAX_DRAWS and _jit.threads() > 1
    report_thread = (ThreadPoolExecutor(1, thread_name_prefix="detente-report") if beside and not REPORT_DURING_CHALLENGES
                     else nullcontext())
    # one pool of kernel threads for the chunk's calls (several a turn)
    with _jit.shared_threads(), report_thread as side:
        while True:
            _cancel.check()  # a cancelled web request stops between two turns
            idx = np.flatnonzero(alive)
            sub = lambda a: a[idx]  # noqa: E731
            dist, R, ut = _valuation(sub(x), sub(ideal), sub(s), sub(wp), sub(act), cfg)
            rep_args = (sub(x), sub(ideal), sub(s), R, sub(wp), sub(c), sub(act), cfg)
            st["x"].append(x.copy())
            st["ideal"].append(ideal.copy())
            alive &= ~final
            if alive.any() and beside and REPORT_DURING_CHALLENGES:
                # the state's report in this thread while the other kernel threads start on the challenges
                got: list[Any] = []
                def report_now() -> None:
                    with _jit.one_thread():  # the other kernel threads have the challenges
                        got.append(_report(*rep_args))

                step = _turn(x, ideal, s, sigma, wp, wc, act, nact, A, cfg, gens, idx, alive, dist, R, ut, report_now)
                lab, pa, fc = got[0]
            elif alive.any() and beside:  # the state's report in a thread of its own while the turn is played
                rep = side.submit(contextvars.copy_context().run, _report, *rep_args)
                try:
                    step = _turn(x, ideal, s, sigma, wp, wc, act, nact, A, cfg, gens, idx, alive, dist, R, ut)
                finally:
                    lab, pa, fc = rep.result()  # (its own arrays only; waited for before anything is raised)
            else:
                lab, pa, fc = _report(*rep_args)
                if alive.any():
                    step = _turn(x, ideal, s, sigma, wp, wc, act, nact, A, cfg, gens, idx, alive, dist, R, ut)
            if t == 0:
                rec = {"pce": np.zeros((Bc, n)), "cluster": np.full((Bc, n), -1), "risk": np.zeros((Bc, n)),
                       "forecast": np.zeros((Bc, D))}
            else:
                rec = {k: st[k][-1].copy() for k in ("pce", "cluster", "risk", "forecast")}
            rec["pce"][idx], rec["cluster"][idx], rec["risk"][idx], rec["forecast"][idx] = pa, lab, R, fc
            for k, v in rec.items():
                st[k].append(v)
            if not alive.any():
                break
            t += 1
            idx2, newx, newideal, info, frac = step(t, first)
            rec_t = {"target": np.full((Bc, n), -1), "prob": np.zeros((Bc, n)), "gain": np.zeros((Bc, n)),
                     "bI": x.copy(), "bR": x.copy(), "choice": np.full((Bc, n), -1), "change": np.zeros(Bc)}
            for k in ("target", "prob", "gain", "bI", "bR", "choice"):
                rec_t[k][idx2] = info[k]
            rec_t["change"][idx2] = frac
            for k, v in rec_t.items():
                tn[k].append(v)
            x[idx2] = newx
            ideal[idx2] = newideal
            rounds[idx2] = t
            final[idx2] = (t >= cfg.max_turns) | ((t >= 2) & (frac < cfg.stop))
    out = {k: np.stack(v, axis=1) for k, v in {**st, **tn}.items()}
    return out, rounds


def _turn(x, ideal, s, sigma, wp, wc, act, nact, A, cfg, gens, idx, alive, dist, R, ut, meanwhile=None):
    """:func:`_run_chunk`'s turn from the state of the draws ``idx`` for those still ``alive``: the new
    positions and the turn's record, and a function of (t, first) that gives them with the movement
    (``meanwhile``: see :func:`_step`)."""
    n = x.shape[1]
    keep = alive[idx]
    idx2 = idx[keep]
    unif = None
    if gens is not None:
        unif = np.zeros((len(idx2), n))
        for r, b in enumerate(idx2):
            unif[r, act[b]] = gens[b].random(int(nact[b]))
    newx, newideal, info = _step(
        x[idx2], ideal[idx2], s[idx2], sigma[idx2], wp[idx2], wc[idx2], act[idx2], nact[idx2], A,
        dist[keep], R[keep], ut[keep], cfg, unif, meanwhile)
    moved = np.where(act[idx2], np.sqrt(((newx - x[idx2]) ** 2).sum(-1)), 0.0).sum(-1)
    return lambda t, first: (idx2, newx, newideal, info, _change(t, idx2, moved, first))


#: Up to this many actors a chunk of at least ``_smp_core.KERNEL_MIN_WORK`` (draws x n^3) runs its turns in the
#: compiled passes of :mod:`._smp_fused` (same numbers), with the settings they cover (:func:`_fused`).
FUSED_MAX_ACTORS = 30
#: From this many draws in a chunk the fused passes run whatever the work (below, from
#: ``_smp_core.KERNEL_MIN_WORK`` draws x n^3 on, like the kernels).
FUSED_MIN_DRAWS = 8
#: Whether the fused passes may be used at all (tests switch them off to compare).
USE_FUSED = True
_FUSED_OK: bool | None = None


def _fused(Bc: int, n: int, cfg: _Cfg, A: np.ndarray | None) -> Any:
    """The module of fused passes for a chunk of Bc draws of n actors, or None (``_run_chunk`` then): with
    numba, from :data:`FUSED_MIN_DRAWS` draws (a single forecast of few actors stays in numpy, without
    importing numba).

    They cover the Conditional PCE, deterministic transitions, SemiCommit, the linear victory model and
    KTAB's linear ratio in challenges, without an accommodation matrix: KTAB's defaults, with any voting
    rule, risk range and estimate, and bargaining rule.
    """
    if not USE_FUSED or A is not None or n > FUSED_MAX_ACTORS or not _fused_settings(cfg):
        return None
    work = Bc * n**3 if Bc < FUSED_MIN_DRAWS else max(Bc * n**3, core.KERNEL_MIN_WORK)
    kern = core._kernel(work)
    if kern is None:  # numba absent or disabled, or too little work
        return None
    # the passes copy the PCE's whole product and the coalitions' pair-at-a-time sums: the resolution's
    # n + 1 options must stay below the sizes where numpy's path and the kernels change method
    if n + 1 >= min(core.GATHER_MIN_OPTIONS, kern.FEW_OPTIONS):
        return None
    from . import _smp_fused

    return _smp_fused if _fused_ok(_smp_fused) else None


def _fused_settings(cfg: _Cfg) -> bool:
    """Are these the settings the fused passes cover?"""
    return (cfg.pcem == "Conditional" and not cfg.stochastic and cfg.commit == "SemiCommit" and cfg.cvpm is None
            and cfg.vpm == "Linear")


def _fused_ok(fz: Any) -> bool:
    """Do the fused passes' dot products sum in ``np.einsum``'s order on this machine? (Checked once.)

    The order is numpy's build's (its baseline SIMD loop), not a standard's: each einsum ``smp`` does is
    compared, on numbers spread over many magnitudes, with the kernels' :func:`._smp_fused.dot2` (both
    operands contiguous along the sum) or :func:`._smp_fused.dot_seq` (the centres and forecast on more
    than one issue); on any difference the fused passes are not used.
    """
    global _FUSED_OK
    if _FUSED_OK is None:
        rng = np.random.default_rng(0)
        wide = lambda *sh: rng.uniform(-1, 1, sh) * 10.0 ** rng.uniform(-4, 4, sh)  # noqa: E731
        ok = True
        for n in (1, 2, 3, 7, 8, 9, 16, 17, 31):  # around the lengths where numpy's loops change step
            for Bc in (1, 40):
                q, lp = wide(Bc, 2, n), wide(Bc, n, n)
                L = core._mm(q, lp.swapaxes(-1, -2))  # the PCEs
                mine = fz.dot_probe(np.repeat(q, n, axis=1).reshape(-1, n), np.repeat(lp[:, None], 2, 1).reshape(-1, n),
                                    False)
                ok &= np.array_equal(L.reshape(-1), mine)
                for D in (1, 2, 3, 4, 9):
                    x, W, w = wide(Bc, n, D), wide(Bc, 2, n), wide(Bc, n)
                    seq = D > 1
                    xt = np.ascontiguousarray(x.transpose(0, 2, 1))  # (Bc, D, n)
                    cen = core._mm(W, x)  # the report's centres, (Bc, 2, D)
                    mine = fz.dot_probe(np.repeat(W[:, :, None], D, 2).reshape(-1, n),
                                        np.repeat(xt[:, None], 2, 1).reshape(-1, n), seq)
                    ok &= np.array_equal(cen.reshape(-1), mine)
                    fc = np.einsum("bi,bik->bk", w, x)  # the forecast
                    ok &= np.array_equal(fc.reshape(-1), fz.dot_probe(np.repeat(w[:, None], D, 1).reshape(-1, n),
                                                                      xt.reshape(-1, n), seq))
                    d = x[:, :, None, :] - x[:, None, :, :]  # the clusters' distances
                    ok &= np.array_equal(np.einsum("bijk,bijk->bij", d, d).reshape(-1),
                                         fz.dot_probe(d.reshape(-1, D), d.reshape(-1, D), False))
        _FUSED_OK = bool(ok)
        if not ok:  # the same numbers either way, only slower: say so once, where a user can see it
            warnings.warn("smp: this numpy sums its dot products in an order the compiled few-actor passes do not "
                          "copy, so smp runs on its numpy path (the same numbers, several times slower)",
                          RuntimeWarning, stacklevel=2)
    return _FUSED_OK


def _run_chunk_fused(x0, s, cap, act, cfg, fz, full: bool = True, split: bool = True, every: bool = True):
    """:func:`_run_chunk` in the compiled passes of :mod:`._smp_fused` (the same numbers, bit for bit).

    Per state: the valuation's election and the clusters; numpy's log; the logits; numpy's exp; the risk
    attitudes and the report's election (over each draw's own clusters, as ``_report``);
    numpy's log and exp; the records. Per turn: challenges, bargains and the resolution's elections;
    numpy's log and exp; the moves. Each pass goes over the draws still running, shared out to threads
    (with ``split``; else in this thread). Without ``full``, only the forecasts are recorded: the records
    are then ``{"forecast": (Bc, T + 1, D), "x": the final positions (Bc, n, D)}``; without ``every`` too, the
    report (the clusters and their election) runs only at each draw's first and last state, and ``forecast``
    is (Bc, 2, D): those two states' forecasts.
    """
    Bc, n, D = x0.shape
    s = np.ascontiguousarray(s, dtype=float)
    act = np.ascontiguousarray(act, dtype=np.bool_)
    sigma = s.sum(-1)
    c = np.where(act, cap, 0.0)
    wp = np.ascontiguousarray(c * sigma if cfg.cap_sal else c)
    wc = c * sigma
    nact = act.sum(-1).astype(np.int64)
    den = np.ascontiguousarray(np.einsum("bik,bik->bi", s, s))
    rule, adj, rng = core_rule(cfg.rule), fz.ADJUSTS.index(cfg.adj), fz.RANGES.index(cfg.rrange)
    kind, rnd = fz.BARGAINS.index(cfg.ivb), bool(cfg.rnd)
    x = np.ascontiguousarray(x0, dtype=float).copy()
    ideal = x.copy()
    M = n + 1
    f8 = lambda *sh: np.empty(sh)  # noqa: E731
    i8 = lambda *sh: np.empty(sh, dtype=np.int64)  # noqa: E731
    dist, R, lab, nclus, order = f8(Bc, n, n), f8(Bc, n), i8(Bc, n), i8(Bc), i8(Bc, n)
    valid, centre = np.empty((Bc, n), dtype=np.bool_), f8(Bc, n, D)
    target, prob, gain, bI, bR, moved = i8(Bc, n), f8(Bc, n), f8(Bc, n), f8(Bc, n, D), f8(Bc, n, D), f8(Bc)
    lp_in, lp_out, z_in, z_out = f8(Bc * M * M), f8(Bc * M * M), f8(Bc * n * M), f8(Bc * n * M)
    Qv, Qr, Qs = f8(Bc * n), f8(Bc * n), f8(Bc * n * M)
    scratch = (dist, R, lab, nclus, order, valid, centre, target, prob, gain, bI, bR, moved, lp_in, lp_out, z_in,
               z_out, Qv, Qr, Qs)
    shapes = {"x": ((n, D), float), "ideal": ((n, D), float), "pce": ((n,), float), "cluster": ((n,), np.int64),
              "risk": ((n,), float), "forecast": ((D,), float), "target": ((n,), np.int64), "prob": ((n,), float),
              "gain": ((n,), float), "bI": ((n, D), float), "bR": ((n, D), float), "choice": ((n,), np.int64),
              "change": ((), float)}
    h: dict[str, np.ndarray] = {}
    if not full:  # the forecasts only; the passes get one-element stand-ins of the other records' types
        h = {k: np.empty((1, 1) + (1,) * len(sh), dtype=dt) for k, (sh, dt) in shapes.items() if k != "forecast"}
        shapes = {"forecast": shapes["forecast"]}

    def grow(T: int) -> None:
        for k, (sh, dt) in shapes.items():
            a = np.empty((Bc, T) + sh, dtype=dt)
            if k in h:
                a[:, : h[k].shape[1]] = h[k]
            h[k] = a

    grow(min(cfg.max_turns, 15) + 1)
    if full:
        h["target"][:, 0], h["prob"][:, 0], h["gain"][:, 0], h["choice"][:, 0], h["change"][:, 0] = -1, 0.0, 0.0, -1, 0.0
        h["bI"][:, 0], h["bR"][:, 0] = x0, x0

    from . import _jit

    if not split:
        def par(kernel, m: int, *args) -> None:
            kernel(0, m, *args)

        return _turns_fused(x, ideal, s, den, sigma, c, wp, wc, act, nact, cfg, fz, par, h, grow, shapes,
                            (rule, adj, rng, kind, rnd), scratch, full, every or full)

    one = _jit.threads() <= 1

    def par(kernel, m: int, *args) -> None:  # type: ignore[no-redef]
        """``kernel(lo, hi, *args)`` over ``m`` rows: with enough work (``_smp_core.PARALLEL_MIN_WORK``), one
        equal share per kernel thread; each row is computed by the same code whichever thread takes it. On one
        thread, or with too little work, the kernel is called here directly (as before the passes moved onto
        ``split_rows``: its set-up, some microseconds a call, is a few per cent of a small batch's turn)."""
        if one or m * n**3 < core.PARALLEL_MIN_WORK:
            kernel(0, m, *args)
            return
        _jit.split_rows(m, lambda lo, hi: kernel(lo, hi, *args), parallel=True, per_thread=1, warm=True)

    with _jit.shared_threads():  # one pool for the chunk's passes (a turn makes seven)
        return _turns_fused(x, ideal, s, den, sigma, c, wp, wc, act, nact, cfg, fz, par, h, grow, shapes,
                            (rule, adj, rng, kind, rnd), scratch, full, every or full)


def _turns_fused(x, ideal, s, den, sigma, c, wp, wc, act, nact, cfg, fz, par, h, grow, shapes, codes, scratch, full,
                 every):
    """The turns of :func:`_run_chunk_fused` (see there)."""
    Bc, n, D = x.shape
    M = n + 1
    rule, adj, rng, kind, rnd = codes
    dist, R, lab, nclus, order, valid, centre, target, prob, gain, bI, bR, moved, lp_in, lp_out, z_in, z_out, Qv, Qr, \
        Qs = scratch
    alive, final, rounds, first = _run_state(Bc)
    every_row = np.ones(Bc, dtype=np.bool_)
    t = 0
    while True:
        _cancel.check()  # a cancelled web request stops between two turns
        idx = np.flatnonzero(alive)
        m = len(idx)
        go = ~final[idx]
        rep = every_row if every or t == 0 else ~go  # the rows whose forecast is wanted: each draw's first and last
        par(fz.valuation_rows, m, idx, x, ideal, s, den, wp, act, rule, dist, lp_in, Qv, lab, nclus, rep)
        np.log(lp_in[: m * n * n], out=lp_out[: m * n * n])
        par(fz.logits_rows, m, n, 1, lp_out, Qv, z_in)
        np.exp(z_in[: m * n], out=z_out[: m * n])
        Mb = max(1, int(nclus[:m].max()))
        par(fz.report_rows, m, idx, Mb, nclus, x, ideal, s, den, wp, c, act, rule, rng, z_out, Qv, R, lab, order,
            valid, centre, lp_in, Qr, rep)
        np.log(lp_in[: m * Mb * Mb], out=lp_out[: m * Mb * Mb])
        par(fz.report_logits_rows, m, Mb, nclus, lp_out, Qr, z_in)
        np.exp(z_in[: m * Mb], out=z_out[: m * Mb])
        par(fz.record_rows, m, idx, t, Mb, nclus, x, c, act, z_out, Qr, R, lab, order, valid, centre, ideal, h["x"],
            h["ideal"], h["pce"], h["cluster"], h["risk"], h["forecast"], full, rep)
        alive &= ~final
        if not alive.any():
            break
        if t + 1 >= h["forecast"].shape[1]:  # room for the turn's record and the next state (not after the last)
            grow(min(cfg.max_turns + 1, 2 * h["forecast"].shape[1]))
        par(fz.turn_rows, m, idx, go, x, ideal, s, den, sigma, wp, wc, act, nact, rule, adj, kind, rnd, dist, R,
            target, prob, gain, bI, bR, lp_in, Qs)
        np.log(lp_in[: m * M * M], out=lp_out[: m * M * M])
        par(fz.logits_rows, m, M, n, lp_out, Qs, z_in)
        np.exp(z_in[: m * n * M], out=z_out[: m * n * M])
        t += 1
        par(fz.move_rows, m, idx, go, t, x, ideal, act, z_out, Qs, target, prob, gain, bI, bR, moved, h["target"],
            h["prob"], h["gain"], h["bI"], h["bR"], h["choice"], full)
        idx2 = idx[go]
        mv = moved[:m][go]
        frac = _change(t, idx2, mv, first)
        if full:
            h["change"][idx2, t] = frac
        rounds[idx2] = t
        final[idx2] = (t >= cfg.max_turns) | ((t >= 2) & (frac < cfg.stop))
    if not every:  # the first and the last state's forecasts (at the turns each draw ran)
        fc = h["forecast"]
        return {"forecast": np.stack([fc[:, 0], fc[np.arange(Bc), rounds]], axis=1), "x": x}, rounds
    if not full:  # a draw that stopped early repeats its last forecast
        fc = h["forecast"][:, : t + 1]
        if (rounds < t).any():
            fc = np.take_along_axis(fc, np.minimum(np.arange(t + 1)[None, :], rounds[:, None])[:, :, None], 1)
        return {"forecast": fc, "x": x}, rounds
    if (rounds < t).any():  # the draws that stopped early: their last state held, turns that did nothing
        par(fz.fill_rows, Bc, rounds, t + 1, *(h[k] for k in shapes))
    return {k: v[:, : t + 1] for k, v in h.items()}, rounds


def core_rule(rule: str) -> int:
    """A voting rule's code in the compiled kernels."""
    from . import _smp_kernel

    return _smp_kernel.RULES.index(rule)


def _pad(a: np.ndarray, T1: int) -> np.ndarray:
    """Repeat the last state of axis 1 up to length T1."""
    if a.shape[1] == T1:
        return a
    reps = np.repeat(a[:, -1:], T1 - a.shape[1], axis=1)
    return np.concatenate([a, reps], axis=1)


_TURN_DEFAULTS = {"target": -1, "prob": 0.0, "gain": 0.0, "choice": -1, "change": 0.0}
#: What a turn did (challenges, choices, movement), and its value for a turn that did not happen:
#: the runner pads a run that stopped early with these (the bargains are shown only where a challenge is).
ROUND_RECORDS = _TURN_DEFAULTS


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Run the SMP on every draw of ``inputs``.

    Parameters
    ----------
    inputs : Inputs
        B draws of n actors on D issues.
    params : Params
        Model parameters.

    Returns
    -------
    Trajectory
        ``position`` (B, T+1, n, D) on the issue scales; ``forecast`` (B, T+1, D)
        the capability-weighted position of the most probable cluster;
        ``rounds`` the turns run. ``extras`` (leading axes B, T+1):
        ``ideal`` (n, D), ``pce`` (n; PCE probability of each actor's position
        cluster), ``cluster`` (n; cluster label = lowest member index, -1 if
        inactive), ``risk`` (n; R), and for the turn that produced state t:
        ``target`` (n; each initiator's target, -1 none), ``prob`` and ``gain``
        (n), ``bargain_initiator``/``bargain_receiver`` (n, D; positions of the
        bargain initiated by each actor), ``choice`` (n; the initiator whose
        bargain each actor adopted, -1 for its status quo), ``change`` (the
        turn's fractional movement), ``active``. ``info``: ``turns``,
        ``capability``, ``salience_rescaled``.
    """
    return _run(inputs, params, True, True)


def run_forecasts(inputs: Inputs, params: Params = Params(), every_round: bool = True) -> Trajectory:
    """:func:`run`'s forecasts, rounds and info, bit for bit, without the rest of its history (the protocol's
    optional hook, :mod:`detente.models.base`): ``position`` holds the final state only (B, 1, n, D) and
    ``extras`` is empty; without ``every_round``, ``forecast`` holds the first and the last state's only
    (B, 2, D). The compiled few-actor passes then record nothing but those forecasts, and without
    ``every_round`` find and elect the clusters of positions (the report) at those two states only."""
    return _run(inputs, params, False, every_round)


def _run(inputs: Inputs, params: Params, full: bool, every: bool) -> Trajectory:
    """:func:`run` (``full``) or :func:`run_forecasts` (``every``: every round's forecast)."""
    cfg = _Cfg(params)
    B, n, D = inputs.shape
    A = None
    if params.accommodation is not None:
        A = np.asarray(params.accommodation, dtype=float)
        if A.shape != (n, n):
            raise ModelInputError(f"smp: accommodation is {A.shape[0]} x {A.shape[1]}, the scenario has {n} actors")
        if np.array_equal(A, np.eye(n)):
            A = None
    low = np.asarray(inputs.low, float)
    high = np.asarray(inputs.high, float)
    span = np.where(high > low, high - low, 1.0)
    x01 = (np.asarray(inputs.position, float) - low) / span
    x01 = np.nan_to_num(x01, nan=0.0)
    sal = np.clip(np.nan_to_num(np.asarray(inputs.salience, float)), 0.0, None)
    tot = sal.sum(-1, keepdims=True)
    rescaled = tot[..., 0] > 1.0
    sal = np.where(tot > 1.0, sal / np.where(tot > 1.0, tot, 1.0), sal)
    cap = np.clip(np.nan_to_num(np.asarray(inputs.capability, float)), 0.0, None)
    act = np.asarray(inputs.active, bool)
    seeds = np.asarray(inputs.seed, dtype=np.uint64)
    parts, chunk_rounds = _chunks(x01, sal, cap, act, A, seeds, cfg, full, every)
    T1 = max(p["forecast"].shape[1] for p in parts)
    rounds = np.concatenate(chunk_rounds)

    def scale(a: np.ndarray) -> np.ndarray:  # a * span + low, in place (the same numbers, no temporaries)
        if np.broadcast_shapes(a.shape, span.shape, low.shape) != a.shape:  # pragma: no cover - (D,) bounds
            return a * span + low
        np.multiply(a, span, out=a)
        return np.add(a, low, out=a)

    info = {"turns": rounds.copy(), "capability": cap.copy(), "salience_rescaled": rescaled}
    if not full:
        join = lambda arrs: np.concatenate(arrs, axis=0) if len(arrs) > 1 else arrs[0]  # noqa: E731
        xf = join([p["x"] for p in parts])[:, None]
        forecast = join([_pad(p["forecast"], T1) for p in parts])
        # as run's last state: an actor where it started keeps its input position exactly
        kept = xf == x01[:, None]
        position = scale(xf)
        np.copyto(position, np.asarray(inputs.position, float)[:, None], where=kept)
        return Trajectory(position=position, forecast=scale(forecast), rounds=rounds, extras={}, info=info)
    out = {}
    for k in parts[0]:
        if k in _TURN_DEFAULTS:
            pieces = []
            for p in parts:
                a = p[k]
                if a.shape[1] < T1:
                    pad = np.full((a.shape[0], T1 - a.shape[1]) + a.shape[2:], _TURN_DEFAULTS[k], dtype=a.dtype)
                    a = np.concatenate([a, pad], axis=1)
                pieces.append(a)
        elif k in ("bI", "bR"):
            pieces = []
            for p in parts:
                a = p[k]
                if a.shape[1] < T1:
                    xl = np.repeat(p["x"][:, -1:], T1 - a.shape[1], axis=1)
                    a = np.concatenate([a, xl], axis=1)
                pieces.append(a)
        else:
            pieces = [_pad(p[k], T1) for p in parts]
        out[k] = np.concatenate(pieces, axis=0) if len(pieces) > 1 else pieces[0]  # the chunks' arrays are ours
    # turns after a draw stopped: no challenges, bargains at the positions

    # round trip through [0, 1]: an actor where it started keeps its input position exactly
    kept = out["x"] == x01[:, None]
    position = scale(out["x"])
    np.copyto(position, np.asarray(inputs.position, float)[:, None], where=kept)
    extras = {
        "ideal": scale(out["ideal"]),
        "pce": out["pce"],
        "cluster": out["cluster"],
        "risk": out["risk"],
        "target": out["target"],
        "prob": out["prob"],
        "gain": out["gain"],
        "bargain_initiator": scale(out["bI"]),
        "bargain_receiver": scale(out["bR"]),
        "choice": out["choice"],
        "change": out["change"],
        "active": Trajectory.active_rounds(inputs, position.shape[1] - 1),
    }
    return Trajectory(position=position, forecast=scale(out["forecast"]), rounds=rounds, extras=extras, info=info)


#: Whether the kernel threads run whole chunks of the fused passes (:func:`_chunks`), each its own turns, instead
#: of sharing out each pass's rows (the same numbers). With the machine to itself (this process's group at the
#: highest priority on the shared 2-core machine), a Sobol of the flagship (N = 1,024) took 5.79 s this way
#: against 8.30 s sharing out each pass and 9.01 s on one thread (~8.5-9 s of CPU each): the passes' barriers
#: and the serial logs and exps left the second core mostly idle. On the loaded machine without priority the
#: order turns round (10.3-10.6 s against 5.5-9.2 s at N = 512, load 8-10): the scheduler favours the thread
#: that keeps waiting on the other.
WHOLE_CHUNKS = True


def _chunks(x01, sal, cap, act, A, seeds, cfg, full: bool,
            every: bool = True) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray]]:
    """The records and rounds of every chunk of draws (at most ``CHUNK`` // n^2 each), in order.

    With :data:`WHOLE_CHUNKS`, a batch the fused passes take with enough work (``_smp_core.PARALLEL_MIN_WORK``)
    is cut into one chunk per kernel thread (or more, each at most ``CHUNK`` // n^2), and the threads run whole
    chunks, each its own turns from start to end (no barrier between the passes of a turn; numpy's logs and
    exps on both); else each chunk's passes share out their rows. A draw's numbers do not depend on the draws
    it runs with, so neither do the results.
    """
    from . import _jit

    B, n, _ = x01.shape
    bc = max(1, CHUNK // max(1, n * n))
    T = _jit.threads()
    whole = WHOLE_CHUNKS and _fused(B, n, cfg, A) is not None and B * n**3 >= core.PARALLEL_MIN_WORK and T > 1
    size = min(bc, -(-B // T)) if whole else bc
    bounds = [(b0, min(B, b0 + size)) for b0 in range(0, B, size)]
    out: list[Any] = [None] * len(bounds)

    def one(i: int, split: bool) -> None:
        sl = slice(*bounds[i])
        fz = _fused(sl.stop - sl.start, n, cfg, A)
        if fz is not None:
            out[i] = _run_chunk_fused(x01[sl], sal[sl], cap[sl], act[sl], cfg, fz, full, split, every)
        else:
            o, r = _run_chunk(x01[sl], sal[sl], cap[sl], act[sl], A, seeds[sl], cfg)
            if not full:
                fc = o["forecast"] if every else o["forecast"][:, [0, -1]]
                o = {"forecast": fc, "x": np.ascontiguousarray(o["x"][:, -1])}
            out[i] = o, r

    if whole and len(bounds) > 1:
        import contextvars

        ctx = contextvars.copy_context()  # the caller's cancel flag, seen in every thread

        def fill(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                ctx.copy().run(one, i, False)

        _jit.split_rows(len(bounds), fill, parallel=True, per_thread=1, warm=False)
    else:
        for i in range(len(bounds)):
            one(i, True)
    return [o for o, _ in out], [r for _, r in out]


def warmup() -> bool:
    """Compile the numba kernels of the O(n^3) sums into numba's on-disk cache (``detente warmup``).

    Runs the model with the kernels forced on a four-actor problem, once with the
    few actors' fused passes (:mod:`._smp_fused`) and once without (one compiled
    signature serves every size and voting rule), then with the ``consistent``
    preset (whose challenges weigh third parties in their own pass) and with
    another voting rule (whose challenges count every target). Returns
    False (and does nothing) without numba.
    """
    global USE_FUSED
    from . import _jit

    if not _jit.numba_available():
        return False
    saved = core.KERNEL_MIN_WORK, core.USE_KERNELS, USE_FUSED
    core.KERNEL_MIN_WORK, core.USE_KERNELS = 0, True
    try:
        inputs = Inputs.build(np.array([[0.0], [40.0], [70.0], [100.0]]), np.full((4, 1), 0.5),
                              np.array([1.0, 2.0, 3.0, 4.0]))
        for fused in (True, False):
            USE_FUSED = fused
            run(inputs, Params(rounds=2))
        run(inputs, Params(rounds=2, preset="consistent"))  # its challenges' third parties (third_party_rows)
        run(inputs, Params(rounds=2, voting_rule="Binary"))  # the challenges of the other rules (challenge_rows)
        from . import _smp_fused, _smp_kernel, _smp_pce  # the records of draws that stop early (none here): compiled with their types

        _smp_pce.warmup()  # the PCE over many options (none here)
        Q = np.zeros((1, 3, _smp_kernel.FEW_OPTIONS), dtype=bool)  # the resolution's pairs of many options
        Q[:, :, 0] = Q[0, 0, 1:3] = True
        core.coalitions(np.zeros((1, 2, Q.shape[2])), np.ones((1, 2)), "Prop", opt=np.any(Q, axis=1), among=Q)

        f, i = np.zeros((1, 1, 1)), np.zeros((1, 1, 1), dtype=np.int64)
        _smp_fused.fill_rows(0, 0, np.zeros(1, dtype=np.int64), 1, f[..., None], f[..., None], f, i, f, f, i, f, f,
                             f[..., None], f[..., None], i, f[..., 0])
    finally:
        core.KERNEL_MIN_WORK, core.USE_KERNELS, USE_FUSED = saved
    return True


# ----------------------------------------------------------------------------- reporting


def moves(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> list[dict[str, Any]]:
    """The moves of turn ``t`` of draw ``b``: each actor that moved to its side of a bargain.

    One :data:`~detente.models.base.Move` of kind ``"bargain"`` per issue on
    which the actor's position changed; the ``counterpart`` is the other party
    of the bargain it adopted.
    """
    if t == 0:
        return []
    ex = traj.extras
    choice, target = ex["choice"][b, t], ex["target"][b, t]
    before, after = traj.position[b, t - 1], traj.position[b, t]
    out = []
    for i, actor in enumerate(actors):
        m = int(choice[i])
        if m < 0:
            continue
        other = actors[int(target[m])] if m == i else actors[m]
        why = f"bargain it proposed to {other}" if m == i else f"bargain proposed by {other}"
        for k, issue in enumerate(issues):
            if before[i, k] != after[i, k]:
                out.append({"actor": actor, "issue": issue, "from": float(before[i, k]), "to": float(after[i, k]),
                            "counterpart": other, "kind": "bargain", "why": why})
    return out


def render_round(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> dict[str, Any]:
    """The SMP fields of turn ``t`` of draw ``b`` for the JSON history.

    ``ideals`` and ``pce`` describe state t (the actors taking part in it);
    ``challenges`` and ``bargains`` the turn that produced state t (empty for
    t = 0). ``accepted_by`` lists the actors (initiator and/or receiver) who
    moved to their side of the bargain.
    """
    ex = traj.extras
    act = traj.active_at(b, t)
    n = len(actors)
    ideals = {actors[i]: {iss: float(ex["ideal"][b, t, i, k]) for k, iss in enumerate(issues)}
              for i in range(n) if act[i]}
    pce_ = {actors[i]: float(ex["pce"][b, t, i]) for i in range(n) if act[i]}
    chal, brg = [], []
    for i in range(n):
        j = int(ex["target"][b, t, i])
        if j < 0:
            continue
        chal.append({"initiator": actors[i], "target": actors[j], "probability": float(ex["prob"][b, t, i]),
                     "gain": float(ex["gain"][b, t, i])})
        acc = [actors[k] for k in (i, j) if int(ex["choice"][b, t, k]) == i]
        brg.append({
            "initiator": actors[i],
            "receiver": actors[j],
            "initiator_position": {iss: float(ex["bargain_initiator"][b, t, i, k]) for k, iss in enumerate(issues)},
            "receiver_position": {iss: float(ex["bargain_receiver"][b, t, i, k]) for k, iss in enumerate(issues)},
            "accepted_by": acc,
        })
    return {"ideals": ideals, "challenges": chal, "bargains": brg, "pce": pce_}


def summarize(traj: Trajectory, b: int, issues: list[str]) -> dict[str, dict]:
    """Final cluster distribution of draw ``b`` per issue.

    Each issue gets ``clusters``: one entry per cluster of final positions
    (most probable first) with its capability-weighted ``position`` on that
    issue, its PCE ``probability`` and its ``actors`` (indices into the
    scenario's actor list), and ``turns`` (turns run). Saliences summing above
    1 across issues were rescaled per actor (see the module doc).
    """
    ex = traj.extras
    lab = ex["cluster"][b, -1]
    pce_ = ex["pce"][b, -1]
    cap = traj.info["capability"][b]
    pos = traj.position[b, -1]
    groups = []
    for L in sorted({int(v) for v in lab if v >= 0}):
        mem = np.flatnonzero(lab == L)
        w = cap[mem]
        w = w if w.sum() > 0 else np.ones(len(mem))
        groups.append((float(pce_[L]), mem, (w[:, None] * pos[mem]).sum(0) / w.sum()))
    groups.sort(key=lambda g: (-g[0], int(g[1][0])))
    turns = int(traj.rounds[b])
    return {
        iss: {
            "clusters": [{"position": float(g[2][k]), "probability": g[0], "actors": [int(i) for i in g[1]]}
                         for g in groups],
            "turns": turns,
        }
        for k, iss in enumerate(issues)
    }


def cost(n: int, D: int, params: Params = Params()) -> Cost:
    """The arrays :func:`run` allocates, for ``params.rounds`` turns.

    Per turn it records, per draw, positions, ideals and both sides of each
    bargain (n x D each) and eight per-actor fields; the records are stacked
    and padded at the end (about three copies in all). Each turn works on
    actor-by-actor matrices (utilities, votes, coalitions, challenges: about
    two dozen n x n arrays, and four more for the compiled challenges' search
    over the targets that can win). Work: the coalition and third-party sums
    are n x n x n per turn.
    """
    T1 = int(params.rounds) + 1
    per = 3 * T1 * (5 * n * D + 8 * n + 2 * D) * F8 + 28 * n * n * F8
    fixed: float = 3 * CHUNK
    # draws run in internal chunks of CHUNK // n**2; the working arrays of one chunk
    # (measured: up to about 3 MB) are held once per call
    if n <= FUSED_MAX_ACTORS and _fused_settings(_Cfg(params)) and params.accommodation is None \
            and _FUSED_OK is not False:
        from . import _jit

        if _jit.numba_available():
            # the fused passes (from FUSED_MIN_DRAWS draws on): the records (four n x D and eight smaller
            # fields a state) held at most twice (while they grow past 16 states, or while chunks are
            # joined), and some six n x n scratch arrays; below FUSED_MIN_DRAWS the numpy path's extra
            fused = 2 * T1 * (4 * n * D + 7 * n + D + 1) * F8 + (6 * (n + 1) ** 2 + 8 * n * (D + 1)) * F8
            fixed += FUSED_MIN_DRAWS * max(0.0, per - fused)
            per = fused
    return Cost(flops_per_draw=T1 * (4.0 * n**3 + 200.0 * n * n + 50.0 * n * D), bytes_per_draw=per,
                bytes_fixed=fixed)
