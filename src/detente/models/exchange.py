"""The exchange model: actors trade voting positions across issues they care about unequally.

Stokman & Van Oosten (1994) model a collective decision on several issues at
once. The expected outcome of each issue is the compromise point (the
capability x salience weighted mean of the actors' voting positions). Two
actors who stand on opposite sides of the expected outcome on two issues, and
who care about those issues in different proportions, gain by a trade: each
moves its voting position toward the other on the issue it cares about less,
by amounts that give both the same gain in utility (the equal-gain rate).

Three variants (``variant``), described in full in ``docs/models/exchange.md``:

``decide`` (default)
    The model as Decide (Stokman's software, github:foarsitter/decide-exchange-model)
    runs it. Every round: positions on a 0-100 scale, every pair of actors
    on opposite sides of both outcomes of an issue pair is a candidate; the
    candidate with the highest gain is realised, every remaining candidate
    that shares a supplying or demanding actor-issue with it is re-sized
    (the supplier continues from where it was left, the outcome cap sees
    the partner's move) or dropped, and so on until none is left. The round's
    forecast is the compromise point of the voting positions; every traded
    actor-issue then starts the next round at
    ``x0 + (y - x0) (0.1 + 0.4 (1 - s))``. ``passes`` rounds (default 10, as
    Decide's). By default (``arithmetic="decimal"``, ``ties="coin"``) the
    rounds are played in Decide's own 28-digit decimal arithmetic
    (``_exchange_exact.py``: float sizing with a proved error bound, and
    decimals wherever that bound does not settle a decision, giving the
    results of the pure-decimal ``_exchange_decimal.py`` bit for bit), which
    settles the moves Decide's rounding decides as Decide does, and exact
    gain ties (within 1e-20) are settled by Decide's coin, flipped from the
    draw's seed: a run with seed k is the run Decide makes after
    ``random.seed(k)``, so every run is one of Decide's runs and a Monte
    Carlo over seeds samples Decide's own spread. ``ties="decide"`` takes
    Decide's order with its coin off, ``ties="first"`` detente's
    deterministic rule (the exchange formed first wins). ``arithmetic="float"``
    plays the rounds in the compiled double-precision loop
    (``_exchange_kernel.py``, with ``ties="first"``): the default until issue
    #13's switch: deterministic, about 18x faster (cop21: 7 against 125 ms
    a draw), and outside the spread of Decide's runs in a few forecasts
    (docs/models/exchange.md).
``random-rate``
    Decide's second model, in the same rounds: each candidate exchange gets
    its own rate (the ratio of the two outcome shifts) drawn uniformly
    between the two actors' indifference rates, so the two sides gain
    different amounts; the exchange that is the best of both its actors
    (each by its own gain) is realised first, else the one whose smaller
    gain is highest. The rates come from each draw's seed: a seed fixes the
    result.
``greedy``
    The one-shot model detente shipped first: every exchange valued once
    against the round's start, realised greedily by gain, each actor-issue
    cell at most once per round, no rescaling. ``passes`` default 1. Kept so
    earlier results stay reproducible (the DEU backtest's
    ``exchange(variant=greedy)``).

A single issue, or actors who all care about every issue in the same
proportion, admit no exchange: the forecast is then the compromise point.
The parameter is called ``passes``, not ``rounds``, on purpose: a scenario's
horizon does not change how many exchange rounds the model plays; it plays the
scenario as it stands after its events (like the compromise model), the same
way in a forecast and in a backtest.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from .. import _cancel
from . import _jit
from ._common import EXCHANGE_ROOM, exchange_taking_part, issue_weights, max_exchange_candidates
from .base import F8, Cost, Inputs, ModelParams, Trajectory

NAME = "exchange"
SUMMARY = "Equal-gain exchange of voting positions across issues, as Decide runs it, then the compromise point (Stokman & Van Oosten)."
CITATION = (
    "Stokman & Van Oosten (1994) 'The exchange of voting positions: an object-oriented model of policy networks', "
    "in Bueno de Mesquita & Stokman (eds.) European Community Decision Making, Yale UP, 105-127; "
    "Dijkstra, Van Assen & Stokman (2008) 'Outcomes of collective decisions with externalities predicted', "
    "Journal of Theoretical Politics 20(4), 415-441; "
    "Decide (github:foarsitter/decide-exchange-model @ 51dee664ee941f048a007069fe71ee857171df6f); "
    "Arregui, Stokman & Thomson (2006) in Thomson et al. (eds.) The European Union Decides, CUP, ch. 5."
)

#: The model trades across issues: a backtest gives it each proposal as one multi-issue scenario.
COUPLES_ISSUES = True
#: One-shot: the model plays the scenario as it stands after its events (see ``passes``).
DYNAMIC = False

#: The parameter that sets how many rounds of exchange one run plays (the stability diagnostics vary it).
ROUNDS_PARAM = "passes"
#: ``passes`` only stops the play: a longer run, cut, is the shorter one (``rounds_only_stop`` in the conformance suite).
ROUNDS_ONLY_STOP = True

#: Scored beside the default (Decide's decimals and coin) in a default backtest, each under its own label: the
#: one-shot greedy pass detente shipped first, and the float loop that was the default before issue #13's switch.
BACKTEST_VARIANTS = ({"variant": "greedy"}, {"arithmetic": "float"})

#: Largest number of candidate exchanges (draws x n^2 x D^2) evaluated at once (``greedy``).
_CHUNK_CELLS = 2_000_000
#: Gains at or below this are not exchanges (``greedy``).
_TOL = 1e-12
#: ``decide`` and ``random-rate`` keep room in ``extras["trades"]`` for this many exchanges per actor-issue
#: cell and round (at most the number of candidates); a draw with a round of more is played again.
_ROOM = EXCHANGE_ROOM
_taking_part = exchange_taking_part
_max_candidates = max_exchange_candidates
#: Rounds played when ``passes`` is not given.
DEFAULT_PASSES = {"decide": 10, "random-rate": 10, "greedy": 1}
#: ``arithmetic`` and ``ties`` when neither is given: Decide's own run (its decimals, its coin from the draw's
#: seed) for ``decide``; the float loop, the only one, for the others.
DEFAULT_ARITHMETIC = {"decide": ("decimal", "coin"), "random-rate": ("float", "first"), "greedy": ("float", "first")}

#: The columns of ``extras["trades"]``: I demands issue p and moves on q toward J; J moves on p toward I.
#: ``gain`` is I's gain, ``gain_j`` J's (the same number except under ``random-rate``).
TRADE_FIELDS = ("i", "j", "p", "q", "i_from", "i_to", "j_from", "j_to", "gain", "gain_j")


class Params(ModelParams):
    """Parameters of the exchange model.

    Attributes
    ----------
    variant : {"decide", "random-rate", "greedy"}
        ``decide`` (default): the equal-gain model as Decide runs it.
        ``random-rate``: Decide's second model, each exchange at a random
        rate between the two actors' indifference rates, realised by mutual
        best choice (drawn from each draw's seed).
        ``greedy``: detente's earlier one-shot greedy pass.
    passes : int, optional
        Exchange rounds to play (default 10 for ``decide`` and
        ``random-rate``, as Decide's default; 1 for ``greedy``). A draw stops early after a round without
        exchange (nothing could change after it).
    arithmetic : {"float", "decimal"}, optional
        ``decide`` only. ``decimal``: Decide's own arithmetic (28-digit
        decimals, operation by operation, the results of
        ``_exchange_decimal.py``), which settles the moves that Decide's
        rounding decides as Decide does; about 9x the float loop's CPU time
        (``_exchange_exact.py``), and with ``ties=decide`` or ``ties=coin``
        about 20x. ``float``: the compiled loop in double precision.
    ties : {"first", "decide", "coin"}, optional
        ``first``: gains within a relative 1e-12 are tied and the exchange
        formed first wins. ``decide`` (``arithmetic=decimal`` only): Decide's
        own order with its coin switched off (exact gains, equal ones in the
        order of Decide's last sort). ``coin`` (``arithmetic=decimal`` only):
        Decide's own order with its coin, flipped from each draw's seed
        (``random.Random(seed)``): a draw with seed k is the run Decide makes
        after ``random.seed(k)``. ``decide`` and ``coin`` take about 2-2.5
        times ``first``'s time (the near-ties of Decide's list that decide an
        order are sized in decimal).

    ``arithmetic`` and ``ties`` left out (``None``) are the variant's own:
    ``decimal`` and ``coin`` for ``decide`` (Decide's own run under the draw's
    seed, the default since issue #13), ``float`` and ``first`` for
    ``random-rate`` and ``greedy`` (their only ones). Giving one of the two
    keeps what it meant before that default: the other is then ``ties=first``,
    or ``arithmetic=float`` (``decimal`` where ``ties=decide`` or ``coin``
    needs it). So ``arithmetic=float`` is the float model of earlier releases,
    ``arithmetic=decimal`` Decide's arithmetic with detente's tie rule, and
    ``ties=coin`` the default. The validated value holds the choice made,
    never ``None``.
    """

    variant: Literal["decide", "random-rate", "greedy"] = "decide"
    passes: int | None = Field(None, ge=0, le=1000)
    arithmetic: Literal["float", "decimal"] | None = Field(
        None, description="decide only; left out: decimal (Decide's digits), or float when ties=first is given")
    ties: Literal["first", "decide", "coin"] | None = Field(
        None, description="left out: coin (Decide's coin from the draw's seed) for decide when arithmetic is left out "
                          "too, else first")

    @model_validator(mode="before")
    @classmethod
    def _variants_own(cls, data: Any) -> Any:
        """Fill in ``arithmetic`` and ``ties`` left out (see the class docstring)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        arithmetic, ties = data.get("arithmetic"), data.get("ties")
        if arithmetic is None and ties is None:
            own = DEFAULT_ARITHMETIC.get(data.get("variant", "decide"), ("float", "first"))
            data["arithmetic"], data["ties"] = own
        elif ties is None:
            data["ties"] = "first"
        elif arithmetic is None:
            data["arithmetic"] = "decimal" if ties in ("decide", "coin") else "float"
        return data

    @model_validator(mode="after")
    def _decimal_only_for_decide(self) -> "Params":
        if self.ties in ("decide", "coin") and self.variant != "decide":
            raise ValueError(f"ties={self.ties} is for variant=decide only, not variant={self.variant}")
        if self.arithmetic == "decimal" and self.variant != "decide":
            raise ValueError(f"arithmetic=decimal is for variant=decide only, not variant={self.variant}")
        if self.ties in ("decide", "coin") and self.arithmetic != "decimal":
            raise ValueError(f"ties={self.ties} needs arithmetic=decimal (in double precision Decide's exact gain order "
                             "and its exact ties, gains within 1e-20, are rounding noise)")
        return self

    def rounds_played(self) -> int:
        """``passes``, or the variant's default."""
        return DEFAULT_PASSES[self.variant] if self.passes is None else int(self.passes)


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


def play_round(x: np.ndarray, s: np.ndarray, c: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One greedy round of exchanges for a batch (the ``greedy`` variant).

    Returns
    -------
    new_x : ndarray (B, n, D)
        Voting positions after the round.
    n_exchanges : ndarray of int (B,)
        Exchanges realised in each draw.
    trades : list of ndarray (k, 9)
        Per draw, one row per realised exchange (see :data:`TRADE_FIELDS`),
        in the order they were chosen.
    """
    cand = candidates(x, s, c, part)
    chosen = _select(cand["gain"])
    B, n, D = x.shape
    # j's move on p: sum over i and q; i's move on q: sum over j and p (each cell at most once)
    delta = np.einsum("bijpq,bijpq->bjp", chosen, cand["move_j"]) + np.einsum("bijpq,bijpq->biq", chosen, cand["move_i"])
    b_, i_, j_, p_, q_ = np.nonzero(chosen)
    g = cand["gain"][b_, i_, j_, p_, q_]
    rows = np.column_stack([
        i_, j_, p_, q_,
        x[b_, i_, q_], x[b_, i_, q_] + cand["move_i"][b_, i_, j_, p_, q_],
        x[b_, j_, p_], x[b_, j_, p_] + cand["move_j"][b_, i_, j_, p_, q_],
        g, g,
    ]).astype(float)
    trades = []
    for b in range(B):
        mine = rows[b_ == b]
        trades.append(mine[np.argsort(-mine[:, 8], kind="stable")])
    return x + delta, chosen.reshape(B, -1).sum(axis=1), trades


def _greedy_room(n: int, D: int) -> int:
    """Rows of ``extras["trades"]`` per round of ``greedy``: the most exchanges one of its rounds can realise.

    Every exchange takes four actor-issue cells (``i`` and ``j`` on ``p`` and ``q``; ``i != j`` and
    ``p != q``, else it has no gain) and a cell trades at most once a round, so a round realises at most
    ``n D / 4``. It depends on the sizes only, so a draw's array is the same alone or in a batch.
    (Before issue #17's work the room was ``min(M, 4 n D)`` rows, M the candidates of a round: the same
    rows, with more NaN padding; 120 MB for 10,000 draws at 10 x 3, which cost more to allocate than the
    loop took.)
    """
    return max(1, n * D // 4)


def _pack(trades: list[list[np.ndarray]], R: int, n: int, D: int) -> np.ndarray:
    """Per draw and round lists of trade rows as one (B, R + 1, K, 10) array, NaN-padded (round 0 has none);
    K is :func:`_greedy_room`."""
    B = len(trades)
    K = _greedy_room(n, D)
    assert all(len(r) <= K for per in trades for r in per), "a greedy round realised more than n D / 4 exchanges"
    out = np.full((B, R + 1, K, len(TRADE_FIELDS)), np.nan)
    for b, per in enumerate(trades):
        for t, r in enumerate(per, start=1):
            if len(r):
                out[b, t, : len(r)] = r
    return out


def _run_greedy(inputs: Inputs, R: int) -> Trajectory:
    """The ``greedy`` variant: up to ``R`` one-shot greedy rounds for every draw; a draw stops at a round without exchange.

    With numba, and more than :data:`PURE_MAX_WORK` candidates in the batch, the compiled loop
    (``_exchange_kernel.greedy``, the same numbers bit for bit); otherwise numpy over the batch.
    """
    B, n, D = inputs.shape
    from . import _jit

    if B * n * n * D * D * max(R, 1) > PURE_MAX_WORK and _jit.numba_available():
        return _run_greedy_compiled(inputs, R)
    w = issue_weights(inputs, "capability_salience")
    part = _taking_part(inputs)
    pos = np.empty((B, R + 1, n, D))
    pos[:, 0] = inputs.position
    exchanges = np.zeros((B, R + 1), dtype=np.int64)
    trades: list[list[np.ndarray]] = [[] for _ in range(B)]
    rounds = np.zeros(B, dtype=np.int64)
    alive = np.ones(B, dtype=bool)
    step = max(1, _CHUNK_CELLS // max(1, n * n * D * D))
    for t in range(1, R + 1):
        _cancel.check()  # a cancelled web request stops between two rounds
        pos[:, t] = pos[:, t - 1]
        idx = np.flatnonzero(alive)
        for c0 in range(0, idx.size, step):
            rows = idx[c0 : c0 + step]
            new_x, k, tr = play_round(pos[rows, t - 1], inputs.salience[rows], inputs.capability[rows], part[rows])
            pos[rows, t] = new_x
            exchanges[rows, t] = k
            for b, r in zip(rows, tr):
                trades[b].append(r)
        for b in np.flatnonzero(~alive):
            trades[b].append(np.empty((0, len(TRADE_FIELDS))))
        moved = exchanges[:, t] > 0
        rounds[moved] = t
        alive &= moved
        if not alive.any():
            pos[:, t + 1 :] = pos[:, t : t + 1]
            break
    forecast = (w[:, None] * pos).sum(axis=2) / w.sum(axis=1)[:, None]
    return Trajectory(position=pos, forecast=forecast, rounds=rounds,
                      extras={"exchanges": exchanges, "trades": _pack(trades, R, n, D),
                              "active": Trajectory.active_rounds(inputs, R)})


def _run_greedy_compiled(inputs: Inputs, R: int) -> Trajectory:
    """The ``greedy`` variant in the compiled loop, draws split over threads in calls of about ``_CALL_WORK``."""
    from . import _exchange_kernel as kern

    B, n, D = inputs.shape
    w = issue_weights(inputs, "capability_salience")
    part = np.ascontiguousarray(_taking_part(inputs))
    x = np.ascontiguousarray(inputs.position, dtype=float)
    sal = np.ascontiguousarray(inputs.salience, dtype=float)
    cap = np.ascontiguousarray(inputs.capability, dtype=float)
    pos = np.empty((B, R + 1, n, D))
    # room for every exchange of a round (the loop relies on it); the loop writes every element (NaN past each
    # round's rows), so the outputs are allocated empty
    K = _greedy_room(n, D)
    trades = np.empty((B, R + 1, K, len(TRADE_FIELDS)))
    exchanges = np.empty((B, R + 1), dtype=np.int64)
    rounds = np.empty(B, dtype=np.int64)

    forecast = np.empty((B, R + 1, D))

    def call(b0: int, b1: int) -> None:
        sl = slice(b0, b1)
        kern.greedy(x[sl], sal[sl], cap[sl], part[sl], R, pos[sl], trades[sl], exchanges[sl], rounds[sl])
        # the forecast of these rows, in the same thread (numpy's sums row by row: the same numbers as on the batch)
        forecast[sl] = (w[sl, None] * pos[sl]).sum(axis=2) / w[sl].sum(axis=1)[:, None]

    # one call per thread, at most _CALL_WORK each (a cancelled web request stops between two calls)
    _jit.split_rows(B, call, per_thread=1, max_rows=_CALL_WORK // (n * n * D * D * max(R, 1)))
    return Trajectory(position=pos, forecast=forecast, rounds=rounds,
                      extras={"exchanges": exchanges, "trades": trades, "active": Trajectory.active_rounds(inputs, R)})


#: Below this much work in a batch (candidate exchanges x rounds, summed over the draws) the loop runs as
#: plain Python (:mod:`detente.models._jit`, the same numbers bit for bit): a tiny scenario does not wait
#: for numba to import and load its compiled code. Without numba every size runs as plain Python (slowly).
PURE_MAX_WORK = 100
#: Work (candidate exchanges x rounds) of one call of the compiled loop: a cancelled request stops
#: between two calls, and the draws of a batch are split into calls of about this size over the threads.
_CALL_WORK = 400_000


def _kernel(work: float = float("inf")) -> Any:
    """The loop of ``decide`` and ``random-rate``: numba-compiled, or plain Python when small or without numba."""
    from . import _jit

    if work <= PURE_MAX_WORK or not _jit.numba_available():
        return _jit.pure_module(__name__.rpartition(".")[0] + "._exchange_kernel")
    from . import _exchange_kernel  # numba compiles (or loads from its cache) on first call

    return _exchange_kernel


def warmup() -> bool:
    """Compile the exchange loops into numba's on-disk cache (``detente warmup``); False without numba.

    Plays a three-actor problem in a batch of copies just past :data:`PURE_MAX_WORK`, so that both
    variants' runs take the compiled loops (no module setting is changed, so a run in another thread
    is not affected).
    """
    from . import _jit

    if not _jit.numba_available():
        return False
    copies = int(PURE_MAX_WORK) // (_max_candidates(3, 2) * 2) + 1  # work of a copy: 2 candidates x 2 rounds
    tiny = Inputs.build(np.tile([[[100.0, 0.0], [0.0, 100.0], [50.0, 50.0]]], (copies, 1, 1)),
                        np.tile([[[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]]], (copies, 1, 1)),
                        np.ones((copies, 3)), low=[0.0, 0.0], high=[100.0, 100.0])
    run(tiny, Params(passes=2))
    run(tiny, Params(variant="greedy"))
    return True


def _uniforms(seeds: np.ndarray, L: int) -> np.ndarray:
    """(B, L): each draw's first ``L`` numbers of ``numpy.random.default_rng(seed)``.

    The compiled loop takes them one per candidate exchange in the order formed, so a draw's rates
    depend only on its seed and on its own candidates (not on the batch, nor on inactive actors).
    """
    out = np.empty((len(seeds), L))
    for b, sd in enumerate(seeds):
        out[b] = np.random.default_rng(int(sd)).random(L)
    return out


def _run_kernel(inputs: Inputs, R: int, mode: int) -> Trajectory:
    """``decide`` (mode 0) and ``random-rate`` (mode 1): the compiled loop over the draws, in calls split over threads."""
    B, n, D = inputs.shape
    M = _max_candidates(n, D)
    per_draw = M * max(R, 1)
    kern = _kernel(per_draw * B)
    w = issue_weights(inputs, "capability_salience")
    part = np.ascontiguousarray(_taking_part(inputs))
    lo, hi = np.asarray(inputs.low, float), np.asarray(inputs.high, float)
    width = np.where(hi > lo, hi - lo, 1.0)
    base = np.where(hi > lo, lo, 0.0)
    scale = np.where(hi > lo, 100.0 / width, 1.0)
    x100 = np.ascontiguousarray((inputs.position - base) * scale)
    sal = np.ascontiguousarray(inputs.salience, dtype=float)
    cap = np.ascontiguousarray(inputs.capability, dtype=float)
    vote = np.empty((B, R + 1, n, D))
    last = np.zeros(B, dtype=np.int64)
    # room for 4 n D exchanges a round (at most M): depends on the sizes only, so a draw's array is the
    # same alone or in a batch; a draw with a round of more (not seen on any example) is played again
    # with room for M, and every draw's array widened to M
    K = min(M, _ROOM * n * D)
    flag = _cancel.current()
    trades = np.empty((B, R + 1, K, len(TRADE_FIELDS)))  # filled by the loop
    exchanges = np.empty((B, R + 1), dtype=np.int64)

    def call(rows: slice, trades: np.ndarray) -> None:
        if flag is not None and flag.is_set():  # a cancelled web request stops between two calls
            raise _cancel.Cancelled()
        u = _uniforms(inputs.seed[rows], R * M) if mode == 1 else np.zeros((len(vote[rows]), 1))
        kern.play(x100[rows], sal[rows], cap[rows], part[rows], R, mode, u, scale, base,
                  vote[rows], trades[rows], exchanges[rows], last[rows])

    # one call per thread, at most _CALL_WORK each
    _jit.split_rows(B, lambda b0, b1: call(slice(b0, b1), trades), per_thread=1, max_rows=_CALL_WORK // per_draw)
    over = np.flatnonzero(last < 0)  # draws with a round of more than K exchanges: again, with room for M
    if over.size:
        wide = np.full((B, R + 1, M, len(TRADE_FIELDS)), np.nan)
        wide[:, :, :K] = trades
        trades = wide
        for b in over:  # one draw a call: its rows are views, written in place (no copy of the wide rows)
            call(slice(b, b + 1), trades)
    pos = vote / scale[None, None, None, :] + base[None, None, None, :]
    # cells that never moved keep their input value bit for bit
    pos = np.where(vote == x100[:, None], inputs.position[:, None], pos)
    forecast = (w[:, None] * pos).sum(axis=2) / w.sum(axis=1)[:, None]
    return Trajectory(position=pos, forecast=forecast, rounds=last,
                      extras={"exchanges": exchanges, "trades": trades,
                              "active": Trajectory.active_rounds(inputs, R)})


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Play the exchange model for every draw (the variant and rounds of ``params``).

    Returns
    -------
    Trajectory
        ``position`` holds the voting positions at the end of each round (round
        0: the input); ``forecast`` the compromise point of those positions.
        ``rounds``: the last round with an exchange. ``extras``: ``exchanges``
        (B, T + 1), the exchanges realised per round, and ``trades``
        (B, T + 1, K, 9), every realised exchange of the round in the order
        realised (fields :data:`TRADE_FIELDS`, NaN-padded).
    """
    R = params.rounds_played()
    if params.variant == "greedy":
        return _run_greedy(inputs, R)
    if params.arithmetic == "decimal":
        return _run_decimal(inputs, params)
    return _run_kernel(inputs, R, 1 if params.variant == "random-rate" else 0)


def _run_decimal(inputs: Inputs, params: Params, forecasts_only: bool = False) -> Trajectory:
    """Decide's decimals (:mod:`._exchange_exact`) for :func:`run` and :func:`run_forecasts`."""
    from . import _exchange_exact

    traj = _exchange_exact.run(inputs, params.rounds_played(), params.ties or "first",  # never None once validated
                               forecasts_only=forecasts_only)
    if params.ties == "coin":  # which of Decide's runs each draw is (read by :func:`notes`)
        traj.info["coin_seed"] = np.asarray(inputs.seed, dtype=np.uint64).copy()
    return traj


def run_forecasts(inputs: Inputs, params: Params = Params(), every_round: bool = True) -> Trajectory:
    """:func:`run`'s forecasts, rounds and info, bit for bit, without the rest of its history (the protocol's
    optional hook, :mod:`detente.models.base`; a Monte Carlo reads nothing else): ``position`` holds the final
    positions only (B, 1, n, D) and ``extras`` is empty; without ``every_round``, ``forecast`` holds the first and
    the last state's only (B, 2, D). Decide's decimals (``arithmetic=decimal``) then build no record of trades
    (13 rounds x 780 NaN-padded rows a ``cop21`` draw, 0.8 MB) and their processes send none back; the float loops
    run as :func:`run` and drop the rest."""
    if params.variant != "greedy" and params.arithmetic == "decimal":  # as :func:`run` chooses
        traj = _run_decimal(inputs, params, forecasts_only=True)
    else:
        full = run(inputs, params)
        traj = Trajectory(position=full.position[:, -1:].copy(), forecast=full.forecast, rounds=full.rounds,
                          info=full.info)
    if not every_round:
        traj.forecast = traj.forecast[:, [0, -1]]
    return traj


def _trades(traj: Trajectory, b: int, t: int) -> np.ndarray:
    """The rows of ``extras["trades"]`` realised in round ``t`` of draw ``b``, in order."""
    if t == 0:
        return np.empty((0, len(TRADE_FIELDS)))
    rows = traj.extras["trades"][b, t]
    return rows[~np.isnan(rows[:, 0])]


def moves(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> list[dict[str, Any]]:
    """The moves of round ``t`` of draw ``b``: the two moves of every realised exchange, in order.

    Each is a :data:`~detente.models.base.Move` of kind ``"trade"`` whose
    ``counterpart`` is the trade partner, plus ``in_return_on`` (the issue on
    which the partner moved in return), ``gain`` (the mover's gain from the
    exchange, equal for both sides except under ``random-rate``; in salience-weighted
    points of the 0-100 scale for ``decide`` and ``random-rate``, of the issue's own
    scale for ``greedy``) and ``order`` (1 for the round's first exchange). With
    ``decide`` and ``random-rate`` one actor-issue can move in several exchanges of a
    round, each from where the one before left it.
    """
    out = []
    for k, r in enumerate(_trades(traj, b, t), start=1):
        i, j, p, q = (int(v) for v in r[:4])
        for actor, issue, partner, other, frm, to, gain in ((i, q, j, p, r[4], r[5], r[8]), (j, p, i, q, r[6], r[7], r[9])):
            out.append({
                "actor": actors[actor],
                "issue": issues[issue],
                "from": float(frm),
                "to": float(to),
                "counterpart": actors[partner],
                "kind": "trade",
                "why": f"trade: {actors[partner]} moves on {issues[other]} in return",
                "in_return_on": issues[other],
                "gain": float(gain),
                "order": k,
            })
    return out


def render_round(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> dict[str, Any]:
    """Round ``t`` of draw ``b``: the number of exchanges realised and every one of them, in order.

    ``{"exchanges": int, "trades": [{"order", "i", "j", "i_supplies", "j_supplies",
    "i_from", "i_to", "j_from", "j_to", "gain", "gain_j"}]}``: ``i`` moves on ``i_supplies``
    toward ``j``, ``j`` on ``j_supplies`` toward ``i`` (positions on the issues' own
    scales). The moves themselves come from :func:`moves`.
    """
    trades = []
    for k, r in enumerate(_trades(traj, b, t), start=1):
        i, j, p, q = (int(v) for v in r[:4])
        trades.append({"order": k, "i": actors[i], "j": actors[j], "i_supplies": issues[q], "j_supplies": issues[p],
                       "i_from": float(r[4]), "i_to": float(r[5]), "j_from": float(r[6]), "j_to": float(r[7]),
                       "gain": float(r[8]), "gain_j": float(r[9])})
    return {"exchanges": int(traj.extras["exchanges"][b, t]), "trades": trades}


def notes(traj: Trajectory, b: int, actors: list[str], issues: list[str]) -> list[str]:
    """With Decide's coin (``ties=coin``, the default): which of Decide's runs draw ``b`` is."""
    seeds = traj.info.get("coin_seed")
    if seeds is None:
        return []
    k = int(seeds[b])
    return [f"Decide's tie coin is flipped from seed {k}: this forecast is the run Decide makes after random.seed({k}); "
            "where two exchanges gain exactly the same, another seed can give another of Decide's runs (a Monte Carlo "
            "shows their spread)"]


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
    """For the budget (:mod:`detente.budget`).

    ``greedy``: per draw, the candidate exchanges of a pass (every pair of actors x
    every pair of issues, about a dozen float arrays of n x n x D x D) and the
    recorded positions and trades of every pass. ``decide`` and ``random-rate``: per
    draw, the voting positions of every round and the trades (room for 4 n D per
    round, at most M; when that is fewer than M, also the M-wide copy a round with more
    exchanges makes of every draw's trades); per thread, the compiled loop's tables of the round's candidates (M of
    them, each with two n-wide tables of recorded actors and positions) and, for
    ``random-rate``, the random numbers of one call's draws (R M each).
    """
    R = params.rounds_played()
    R1 = R + 1
    if params.variant == "greedy":
        per = 14 * n * n * D * D * F8 + 4 * R1 * n * D * F8
        return Cost(flops_per_draw=100.0 * n * n * D * D * R1, bytes_per_draw=per)
    M = _max_candidates(n, D)
    K = min(M, _ROOM * n * D)
    per = 6 * R1 * n * D * F8 + R1 * K * len(TRADE_FIELDS) * F8 + 4 * n * D * F8
    if K < M:  # a round of more than K exchanges widens every draw's trades to M (both arrays held while copying)
        per += R1 * M * len(TRADE_FIELDS) * F8
    fixed = _jit.threads() * M * (29 + 4 * n) * F8
    if params.variant == "random-rate":
        fixed += _jit.threads() * max(R * M, _CALL_WORK) * F8
    flops = float(R) * (200.0 * M + 5.0 * M * n * D)
    if params.arithmetic == "decimal":  # the fast exact path (_exchange_exact): Python over decimals, its own measure
        # (the float estimate above over-counts the float loop some 20-60x, and the decimal path does not scale with it):
        # per round, about 14 us of CPU per possible candidate and 0.5 ms besides with ties=coin at most (measured on
        # 9 shapes from 8 x 3 to 60 x 2 and cop21's 15 x 13, 8 draws, one process, load 3-5 on 2 cores), ties=first
        # about 0.65 of that; counted here at about 1.5x those (at OPS_PER_SECOND): cop21 0.93 s a draw against 0.12-0.19
        flops = float(R) * (1400.0 * M + 70_000.0)
        if params.ties in ("decide", "coin"):  # Decide's own list, its near-ties ordered lazily
            flops *= 1.5
        # memory: each of up to DETENTE_THREADS processes plays one draw at a time with one draw's tables (``fixed``);
        # the plays are Python objects until the batch's trajectory is built: about 400 bytes per actor, issue and
        # round (traced peaks of 6 shapes, 4-200 draws, 1 and 2 processes: the estimate 1.6-2.6x the peak), and the
        # trades of the result
        per = 400 * R1 * n * D + R1 * K * len(TRADE_FIELDS) * F8
    return Cost(flops_per_draw=flops, bytes_per_draw=per, bytes_fixed=fixed)


#: The conformance suite runs every variant: besides the default (Decide's decimals and coin), the float loop,
#: Decide's decimals with detente's tie rule, and the other two variants.
CONFORMANCE_PARAMS = ({"variant": "greedy"}, {"variant": "random-rate"}, {"arithmetic": "float"},
                      {"arithmetic": "decimal"})

_HOOKS = ("a round starts from Decide's new start positions, not from the previous round's voting positions, and an "
          "actor-issue can move in several exchanges of one round: each move runs from where its exchange found the "
          "actor, not from position[t-1] to position[t]")


_DIGITS = ("in Decide's arithmetic (arithmetic=decimal) a move that brings an outcome onto a partner's position is "
           "stopped or not by the last of 28 digits of that outcome, which a change of the issue's scale changes (as "
           "it changes Decide's own results)")


def conformance_exceptions(params: Params) -> dict[str, str]:
    """Checks of :mod:`detente.models.conformance` the ``decide`` and ``random-rate`` variants do not pass, with the reason."""
    if params.variant == "decide" and params.arithmetic == "decimal":
        return {"hooks": _HOOKS, "affine": _DIGITS,
                "order": _DIGITS.replace("a change of the issue's scale changes", "another order of the actors changes (every "
                                         "sum runs over the actors in the file's order, as Decide's do)")}
    if params.variant == "decide":
        return {"hooks": _HOOKS}
    if params.variant == "random-rate":
        return {"hooks": _HOOKS,
                "order": "the rates are drawn one per candidate exchange in the order the candidates are formed (actors "
                         "in file order), so listing the actors in another order gives the exchanges other rates "
                         "(the distribution is the same)"}
    return {}
