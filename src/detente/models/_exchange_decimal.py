"""Decide's equal-gain rounds in Decide's own arithmetic: 28-digit decimals, operation by operation.

The reference of the ``decide`` variant of :mod:`detente.models.exchange` with ``arithmetic="decimal"``: the
fast path that runs it (:mod:`._exchange_exact`) gives this module's results bit for bit and plays with it
(the knife-edge record, a round it cannot settle), and the tests compare the two. The algorithm is
the one of ``docs/models/exchange.md`` (steps 1-8) and of the compiled loop (``_exchange_kernel.py``);
what differs is the arithmetic. Decide (github:foarsitter/decide-exchange-model) computes in Python's
:mod:`decimal` with its default context (28 significant digits, round half even), and its outcome cap
binds on exact comparisons of an outcome with a partner's position: when an earlier exchange has put
an outcome exactly on a partner, whether the next move on that issue is capped depends on the last
digits of that outcome. To settle those knife-edges as Decide does, this module redoes Decide's
arithmetic in the same number type, with every product, quotient and sum grouped as Decide groups it
(learnt by reading its model code, release 2025.3.1 on PyPI, and checked against its runs; written here
from the description in ``../shared/specs/exchange-decide.md`` and ``docs/models/exchange.md``, none of
its code copied):

- inputs as the decimal numbers the file gives (a float's shortest repr, which is the file's text for
  any number of at most 15 significant digits); a position on 0-100 as ``(x - lower) * (100 / (upper -
  lower))``;
- ``W`` and the outcome's numerator summed actor by actor in the file's order, each term ``(x s) c``;
- a move ``m`` shifts an outcome by ``(|m| s) c / W``; an outcome shift ``D`` asks a move
  ``(D W) / (c s)``; the rate is ``(s_a + s_b) / (s_c + s_d)``, applied as ``rate * D``;
- the outcome cap puts the mover where ``(partner W - numerator) / (s c)`` says, the numerator with
  the mover at its supply position;
- the new start position as ``((1 - s) 0.4) y + 0.1 y + ((1 - (1 - s) 0.4) - 0.1) x0``, with 0.4 and
  0.1 the binary doubles Decide passes (converted exactly);
- the thresholds (1e-10) are the binary double 1e-10, compared exactly.

A tie (gains within a relative 1e-12) goes to the exchange formed first, as in the float loop; with
``ties="decide"`` the choice is Decide's own with its coin switched off, with ``ties="coin"`` Decide's own
with its coin, drawn from the draw's seed (:func:`play`). Plain Python over :class:`decimal.Decimal`:
150-200 times slower than the compiled loop.
"""

from __future__ import annotations

import decimal
import random
from decimal import Decimal

import numpy as np

from .. import _cancel
from ._common import EXCHANGE_ROOM, exchange_taking_part, issue_weights, max_exchange_candidates
from .base import Inputs, Trajectory

#: Decide's arithmetic: Python's default decimal context.
CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
#: Decide's thresholds and weights are binary doubles compared and used exactly.
EPS = Decimal(1e-10)
SALIENCE_WEIGHT = Decimal(0.4)
FIXED_WEIGHT = Decimal(0.1)
#: Gains this close (relative, as in the float loop) are a tie; the exchange formed first wins.
TIE_REL = Decimal("1e-12")
#: Decide's coin is flipped when the two best gains differ by less than this (the binary double, compared exactly).
TIE_COIN = Decimal(1e-20)
ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)
#: An outcome cap that binds with the partner this close to the outcome before (or after) the move binds by
#: a hair: the float loop (whose outcomes are exact only to about 1e-14) takes such a partner to be on the
#: outcome, and lets the move through (``_exchange_kernel.ON``).
KNIFE = Decimal(1e-9)


def _dec(v: float) -> Decimal:
    """The decimal a file's number was read from (a float's shortest repr)."""
    return Decimal(repr(float(v)))


class _Side:
    """One actor of an exchange: it supplies (moves on) one issue and demands the other."""

    __slots__ = ("actor", "sup", "dem", "pos", "demand_pos", "start", "moves", "move", "y")

    def __init__(self, actor: int, sup: int, dem: int, x: list[list[Decimal]]) -> None:
        self.actor, self.sup, self.dem = actor, sup, dem
        self.pos = x[actor][sup]  # where it moves from (moved on by a realised exchange that it continues)
        self.demand_pos = x[actor][dem]  # its round-start position on the issue it demands
        self.start = self.pos
        self.moves: list[Decimal] = []
        self.move = ZERO
        self.y = ZERO


class _Round:
    """The state of one round: the round-start positions and what every exchange needs from them."""

    def __init__(self, x, s, c, members, W, t, edges) -> None:
        self.x, self.s, self.c, self.members, self.W = x, s, c, members, W
        self.t, self.edges = t, edges
        self.rng: random.Random | None = None  # Decide's coin (ties="coin"), set by the caller
        # per issue: each member's place, its term (x s) c, and the running sums of the terms in member order
        self.place = [{k: m for m, k in enumerate(mem)} for mem in members]
        self.terms = [[x[k][l] * s[k][l] * c[k] for k in mem] for l, mem in enumerate(members)]
        self.prefix = []
        for terms in self.terms:
            run, acc = ZERO, [ZERO]
            for v in terms:
                run = run + v
                acc.append(run)
            self.prefix.append(acc)

    def outcome(self, issue: int, table: dict[int, Decimal], actor: int, pos: Decimal, actor_last: bool = True) -> Decimal:
        """Issue's outcome numerator: round-start positions, the exchange's table of moved actors, ``actor`` at
        ``pos``, summed over the members in order (the same sums as Decide's, so the same digits).

        ``actor_last``: the actor's position is set after the table (else before, so the table wins).
        """
        x = self.x
        changed = dict(table)
        if actor_last or actor not in table:
            changed[actor] = pos
        changed = {k: v for k, v in changed.items() if v != x[k][issue]}  # the same value gives the same term
        if not changed:
            return self.prefix[issue][-1]
        place, mem = self.place[issue], self.members[issue]
        first = min(place[k] for k in changed)
        num = self.prefix[issue][first]  # the sum of the unchanged members before the first changed one
        s, c, terms = self.s, self.c, self.terms[issue]
        for m in range(first, len(mem)):
            k = mem[m]
            if k in changed:
                num = num + changed[k] * s[k][issue] * c[k]
            else:
                num = num + terms[m]
        return num  # the numerator; callers divide by W or use it as is

    def valid(self, side: _Side, m: Decimal) -> bool:
        """Decide's validity of a side's move ``m`` (its history ``side.moves`` ends with ``m``)."""
        a = abs(m)
        if a > 100 or a <= EPS:
            return False
        y = side.pos + m
        if y < 0 or y > 100:
            return False
        if sum(side.moves) > 100:
            return False
        lo, hi = min(side.moves), max(side.moves)
        return (lo < 0 and hi < 0) or (lo > 0 and hi > 0)


class _Exchange:
    __slots__ = ("I", "J", "p", "q", "table", "gain", "ok", "order")

    def __init__(self, I: _Side, J: _Side, p: int, q: int, order: int) -> None:
        self.I, self.J, self.p, self.q, self.order = I, J, p, q, order
        self.table: dict[int, dict[int, Decimal]] = {}
        self.gain = ZERO
        self.ok = True


def _gain(e: _Exchange) -> Decimal:
    return e.gain


def _sc(r: _Round, side: _Side) -> Decimal:
    return r.s[side.actor][side.sup] * r.c[side.actor]


def _shift(r: _Round, side: _Side, dist: Decimal) -> Decimal:
    """The outcome shift of a move of ``dist`` by ``side`` on its supply issue."""
    return dist * r.s[side.actor][side.sup] * r.c[side.actor] / r.W[side.sup]


def _rate(r: _Round, a: _Side, b: _Side) -> Decimal:
    """Outcome shift on ``b``'s supply issue per unit of shift on ``a``'s (equal gain)."""
    s = r.s
    return (s[a.actor][a.sup] + s[b.actor][a.sup]) / (s[a.actor][b.sup] + s[b.actor][b.sup])


def _move_for(r: _Round, side: _Side, shift: Decimal) -> Decimal:
    """The move of ``side`` that shifts its supply issue's outcome by ``shift``."""
    return shift * r.W[side.sup] / _sc(r, side)


def _size(r: _Round, e: _Exchange, uncapped: int = 0) -> None:
    """Steps 4-5: the equal-gain sizes of ``e`` from its sides' current supply positions, then the outcome cap.

    ``uncapped``: bit 0 (bit 1) set when I's (J's) outcome cap is known not to bind (the fast path's float
    evaluation settled it), so its outcomes need not be summed."""
    I, J, s = e.I, e.J, r.s
    dp = _shift(r, J, abs(I.demand_pos - J.pos))  # J all the way to I on p
    dq = _rate(r, J, I) * dp
    I.move = _move_for(r, I, dq)
    J.move = abs(I.demand_pos - J.pos)
    if abs(I.move) > abs(J.demand_pos - I.pos):  # I would pass J on q: I all the way instead
        dq = _shift(r, I, abs(J.demand_pos - I.pos))
        dp = _rate(r, I, J) * dq
        I.move = abs(J.demand_pos - I.pos)
        J.move = _move_for(r, J, dp)
    if I.pos > J.demand_pos:
        I.move = -I.move
    if J.pos > I.demand_pos:
        J.move = -J.move
    I.moves.append(I.move)
    J.moves.append(J.move)
    I.y, J.y = I.pos + I.move, J.pos + J.move
    e.gain = abs(dq * s[I.actor][e.q] - dp * s[I.actor][e.p])
    e.ok = r.valid(I, I.move) and r.valid(J, J.move) and not e.gain < EPS
    if not e.ok:
        return
    for bit, A, B in ((1, I, J), (2, J, I)):
        if not uncapped & bit:
            _cap(r, e, A, B)
    e.ok = r.valid(I, I.move) and r.valid(J, J.move)


def _cap(r: _Round, e: _Exchange, A: _Side, B: _Side) -> None:
    """Step 5 for side ``A``: if ``B``'s position lies strictly between A's issue's outcome before and after
    A's move, shrink the move to put the outcome on B (exact comparisons, as Decide's)."""
    a, W = A.sup, r.W[A.sup]
    table = e.table.get(a, {})
    o0 = r.outcome(a, table, A.actor, A.pos) / W
    o1 = r.outcome(a, table, A.actor, A.y) / W
    xb = B.demand_pos
    if (xb - o0 >= 0 and xb - o1 >= 0) or (xb - o0 <= 0 and xb - o1 <= 0):
        return
    if r.edges is not None and min(abs(xb - o0), abs(xb - o1)) < KNIFE:
        r.edges.append((r.t, e.I.actor, e.J.actor, e.p, e.q, A.actor, a, xb - o0))
    num = r.outcome(a, table, A.actor, A.pos, actor_last=False)
    m_a = abs((xb * W - num) / _sc(r, A))
    dA = _shift(r, A, m_a)
    dB = _rate(r, A, B) * dA
    m_b = abs(_move_for(r, B, dB))
    A.move = -m_a if A.pos > B.demand_pos else m_a
    B.move = -m_b if B.pos > A.demand_pos else m_b
    A.moves[-1], B.moves[-1] = A.move, B.move
    A.y, B.y = A.pos + A.move, B.pos + B.move
    e.gain = abs(dB * r.s[B.actor][B.sup] - dA * r.s[B.actor][A.sup])


def _recalculate(r: _Round, X: _Exchange, E: _Exchange) -> None:
    """Step 7: after ``E`` is realised, continue X's sides that supply what E's sides supplied, record E's
    moves on the issues X's sides demand, and re-size X if either happened."""
    continued = [False, False]
    for k, side in enumerate((X.I, X.J)):
        for es in (E.I, E.J):
            if side.actor == es.actor and side.sup == es.sup:
                side.pos = es.y  # moves on from where E left it, its own earlier move kept in its history
                continued[k] = True
                break
    touched = continued[0] or continued[1]
    if touched:  # a side not continued starts afresh
        for k, side in enumerate((X.I, X.J)):
            if not continued[k]:
                side.moves.pop()
    for es, other in ((E.J, E.I), (E.I, E.J)):
        if any(side.actor == es.actor and side.dem == es.dem for side in (X.J, X.I)):
            tab = X.table.setdefault(es.dem, {})
            prev = tab.get(other.actor)
            if prev is None:
                tab[other.actor] = other.y
            elif other.start <= prev:
                tab[other.actor] = prev if prev < other.y else other.y
            else:
                tab[other.actor] = prev if prev > other.y else other.y
            if not touched:
                X.I.moves.pop()
                X.J.moves.pop()
                touched = True
    if touched:
        _size(r, X)


def _setup(x_in, s_in, c_in, part, low, high):
    """Decide's start: the members of every issue, positions on 0-100, saliences, capabilities and ``W``, in decimal."""
    n, D = x_in.shape
    members = [[k for k in range(n) if part[k, l]] for l in range(D)]
    lo = [_dec(v) if h > v else ZERO for v, h in zip(low, high)]  # an issue without a range stays as it is
    step = [HUNDRED / (_dec(h) - _dec(v)) if h > v else ONE for v, h in zip(low, high)]
    x = [[(_dec(x_in[k, l]) - lo[l]) * step[l] if part[k, l] else ZERO for l in range(D)] for k in range(n)]
    s = [[_dec(s_in[k, l]) if part[k, l] else ZERO for l in range(D)] for k in range(n)]
    c = [_dec(v) for v in c_in]
    W = []
    for l in range(D):
        tot = ZERO
        for k in members[l]:
            tot = tot + s[k][l] * c[k]
        W.append(tot)
    return members, x, s, c, W


def _row(E: _Exchange) -> tuple:
    """The trade row of a realised exchange (positions on 0-100, floats), as it stands when realised."""
    return (E.I.actor, E.J.actor, E.p, E.q, float(E.I.pos), float(E.I.y), float(E.J.pos), float(E.J.y), float(E.gain))


def _voting(x, realised, rows=None):
    """Step 8: the voting positions (each realised exchange, in order, puts its sides at their ``y`` as they stand at
    the end of the round, as Decide's loop reads them) and the trade rows (``rows``: recorded when each was realised;
    else read now: the same unless an exchange changed after it was realised, which only Decide's coin makes)."""
    y = [row[:] for row in x]
    for E in realised:
        for side in (E.I, E.J):
            y[side.actor][side.sup] = side.y
    return y, [_row(E) for E in realised] if rows is None else rows


def _new_start(x, s, realised):
    """Step 8: the next round's start positions."""
    new = [row[:] for row in x]
    for E in realised:
        for side in (E.I, E.J):
            sal = s[side.actor][side.sup]
            keep_w = (1 - sal) * SALIENCE_WEIGHT
            new[side.actor][side.sup] = (keep_w * side.y + FIXED_WEIGHT * side.y
                                         + (1 - keep_w - FIXED_WEIGHT) * side.start)
    return new


def _form(r: _Round, part: np.ndarray) -> list[_Exchange]:
    """Steps 1-5: every candidate exchange of the round, sized, valid or not, in the order formed."""
    x, s, W = r.x, r.s, r.W
    n, D = part.shape
    O = [r.prefix[l][-1] / W[l] if W[l] != 0 else ZERO for l in range(D)]
    left = [[x[k][l] <= O[l] for l in range(D)] for k in range(n)]
    pending: list[_Exchange] = []
    for p in range(D):
        for q in range(p + 1, D):
            both = [k for k in range(n) if part[k, p] and part[k, q]]
            pairs = [(a, b) for a in both if not left[a][p] and not left[a][q]
                     for b in both if left[b][p] and left[b][q]]
            pairs += [(a, b) for a in both if left[a][p] and not left[a][q]
                      for b in both if not left[b][p] and left[b][q]]
            for a, b in pairs:
                i, j = (b, a) if s[a][p] / s[a][q] < s[b][p] / s[b][q] else (a, b)
                e = _Exchange(_Side(i, q, p, x), _Side(j, p, q, x), p, q, len(pending))
                _size(r, e)
                pending.append(e)
    return pending


def _coin_round(r: _Round, part: np.ndarray) -> tuple[list[_Exchange], list[tuple]]:
    """Steps 1-7 with Decide's coin (``ties="coin"``): Decide's pending list as Decide keeps it.

    Every candidate, valid or not, starts in the list in the order formed. Before every choice the list is sorted by
    gain, highest first, by a stable sort, and the first is taken. If the next one's gain is within 1e-20 of it, the
    coin (``r.rng.random()``, Python's :class:`random.Random` seeded with the draw's seed, one number per flip) decides:
    at least 0.5, the first goes back to the end of the list and the next is taken instead; below, the first is taken
    and a second reference to the next is appended at the end (Decide's quirk: an exchange listed twice is
    recalculated twice after each realised exchange, its sides' move histories holding the new move twice, and after
    it is realised its other reference is recalculated against itself, so it can be realised again). An exchange
    taken that is not valid is dropped; a valid one is realised and every valid entry of the list is recalculated
    against it (step 7; the invalid ones are dropped). Returns the exchanges realised, in order (one twice if it was
    realised twice), and their trade rows as they stood when realised.
    """
    lst = _form(r, part)
    realised: list[_Exchange] = []
    rows: list[tuple] = []
    rng = r.rng
    assert rng is not None
    while lst:
        lst.sort(key=_gain, reverse=True)
        E = lst.pop(0)
        if lst and abs(E.gain - lst[0].gain) < TIE_COIN:
            if rng.random() >= 0.5:
                lst.append(E)
                E = lst.pop(0)
            else:
                lst.append(lst[0])
        if not E.ok:
            continue
        realised.append(E)
        rows.append(_row(E))
        kept = []
        for X in lst:
            if X.ok:
                _recalculate(r, X, E)
                if X.ok:
                    kept.append(X)
        lst = kept
    return realised, rows


def _round(r: _Round, part: np.ndarray, ties: str) -> list[_Exchange]:
    """Steps 1-7 of one round from its start (``r``): the exchanges realised, in order (``ties`` "first" or "decide";
    "coin" is :func:`_coin_round`)."""
    pending = [e for e in _form(r, part) if e.ok]
    supplies: dict[tuple[int, int], list[_Exchange]] = {}  # (actor, issue) -> the exchanges it supplies in
    demands: dict[tuple[int, int], list[_Exchange]] = {}
    for e in pending:
        for side in (e.I, e.J):
            supplies.setdefault((side.actor, side.sup), []).append(e)
            demands.setdefault((side.actor, side.dem), []).append(e)
    realised: list[_Exchange] = []
    while pending:
        if ties == "decide":
            pending.sort(key=_gain, reverse=True)  # stable: equal gains keep their order
            E = pending[0]
        else:
            top = max(e.gain for e in pending)
            floor = top - TIE_REL * max(ONE, top)
            E = next(e for e in pending if e.gain >= floor)  # pending stays in the order formed
        realised.append(E)
        E.ok = False  # no longer pending
        touched = {id(X): X for key in ((E.I.actor, E.I.sup), (E.J.actor, E.J.sup)) for X in supplies.get(key, ())}
        touched.update((id(X), X) for key in ((E.J.actor, E.J.dem), (E.I.actor, E.I.dem))
                       for X in demands.get(key, ()))
        for X in touched.values():
            if X.ok:  # still pending: recalculated (the others are untouched by E)
                _recalculate(r, X, E)
        pending = [X for X in pending if X.ok]
    return realised


def play(x: np.ndarray, s: np.ndarray, c: np.ndarray, part: np.ndarray, low: np.ndarray, high: np.ndarray,
         rounds: int, ties: str = "first", edges: list | None = None,
         seed: int = 0) -> tuple[np.ndarray, list[list[tuple]], np.ndarray, int]:
    """Play up to ``rounds`` of Decide's rounds on one draw, in Decide's decimal arithmetic.

    ``x`` (n, D) positions on the issues' own scales (``low``-``high``), ``s`` (n, D) saliences, ``c`` (n,)
    capabilities, ``part`` (n, D) who takes part. Returns the voting positions on 0-100 as floats
    (rounds + 1, n, D; row 0 the input), per round the realised exchanges (I, J, p, q, I from, I to, J from,
    J to, gain; positions on 0-100, floats), the number of exchanges per round, and the last round with an
    exchange (a round without one ends the play: nothing could change after it).

    ``ties``: ``"first"``, detente's rule (gains within a relative 1e-12 are tied, the exchange formed first
    wins); ``"decide"``, Decide's with its coin switched off: the pending exchanges sorted by their exact
    gains before every choice, highest first, by a stable sort (equal gains keep the order of the last
    sort, i.e. of their gains then, and in the end the order formed), and the first taken; ``"coin"``, Decide's
    with its coin (:func:`_coin_round`), drawn from ``random.Random(seed)``: the run Decide makes after Python's
    ``random.seed(seed)`` (Decide draws nothing else from :mod:`random` in an equal-gain run).

    ``edges``: a list to which every outcome cap that binds by a hair is appended (see :data:`KNIFE`):
    (round, I, J, p, q, the capped actor, its issue, partner minus outcome before the move).
    """
    with decimal.localcontext(CONTEXT):
        return _play(x, s, c, part, low, high, rounds, ties, edges, seed=seed)


def _play(x_in: np.ndarray, s_in: np.ndarray, c_in: np.ndarray, part: np.ndarray, low: np.ndarray, high: np.ndarray,
          rounds: int, ties: str, edges: list | None, rounder=None,
          round_cls=None, seed: int = 0) -> tuple[np.ndarray, list[list[tuple]], np.ndarray, int]:
    """:func:`play`'s rounds; ``rounder`` plays one round (default :func:`_round`) on a ``round_cls`` (:class:`_Round`).

    ``ties="coin"``: the rounds are :func:`_coin_round`'s, on one coin stream for the whole
    draw (``r.rng``)."""
    rounder, round_cls = rounder or _round, round_cls or _Round
    rng = random.Random(int(seed)) if ties == "coin" else None
    n, D = x_in.shape
    members, x, s, c, W = _setup(x_in, s_in, c_in, part, low, high)
    vote = np.empty((rounds + 1, n, D))
    vote[0] = [[float(v) for v in row] for row in x]
    counts = np.zeros(rounds + 1, dtype=np.int64)
    trades: list[list[tuple]] = [[]]
    last = 0
    for t in range(1, rounds + 1):
        _cancel.check()  # plain Python, ~100x the compiled loop: a cancelled request stops between two rounds
        r = round_cls(x, s, c, members, W, t, edges)
        if rng is not None:
            r.rng = rng
            realised, rows = _coin_round(r, part)
        else:
            realised, rows = rounder(r, part, ties), None
        y, rows = _voting(x, realised, rows)
        trades.append(rows)
        counts[t] = len(realised)
        vote[t] = [[float(v) for v in row] for row in y]
        if not realised:
            vote[t + 1 :] = vote[t]
            trades += [[] for _ in range(rounds - t)]
            break
        last = t
        x = _new_start(x, s, realised)
    return vote, trades, counts, last


def run(inputs: Inputs, rounds: int, ties: str = "first", edges: list | None = None, player=None,
        forecasts_only: bool = False) -> Trajectory:
    """The ``decide`` variant in decimal arithmetic for every draw of a batch, one draw after another.

    The same :class:`~detente.models.base.Trajectory` as the compiled loop's (``extras``: ``exchanges``,
    ``trades`` with room for ``EXCHANGE_ROOM`` n D exchanges a round, ``active``); see :func:`play` for ``ties`` (with
    ``"coin"`` each draw's coin comes from its own seed, ``inputs.seed[b]``). ``edges``:
    a list that gets, per draw, the list of its outcome caps that bound by a hair (:func:`play`).
    ``forecasts_only``: :func:`trajectory`'s forecasts-only form (the protocol's ``run_forecasts``).
    """
    B = inputs.shape[0]
    part = exchange_taking_part(inputs)
    lo, hi = np.asarray(inputs.low, float), np.asarray(inputs.high, float)
    played = []
    for b in range(B):
        mine: list | None = None if edges is None else []
        played.append((player or play)(inputs.position[b], inputs.salience[b], inputs.capability[b],
                                       part[b], lo, hi, rounds, ties, mine, int(inputs.seed[b])))
        if edges is not None:
            edges.append(mine)
    return trajectory(inputs, rounds, played, forecasts_only)


def packed_rows(trades: list[list[tuple]]) -> tuple[np.ndarray, list[int]]:
    """A draw's trade rows (:func:`play`'s, per round) as one float array (rows, 9), rounds in order, and each round's
    count of rows: the form :func:`trajectory` reads them in (a process playing draws for another sends them so)."""
    flat = [row for rows in trades for row in rows]
    return np.array(flat, dtype=float).reshape(len(flat), 9), [len(rows) for rows in trades]


def trajectory(inputs: Inputs, rounds: int, played: list, forecasts_only: bool = False) -> Trajectory:
    """:func:`run`'s result from every draw's :func:`play` (``played``, in the batch's order; a draw's trade rows as
    :func:`play` gives them or :func:`packed_rows`). ``forecasts_only``: the same forecasts, rounds and info, bit for
    bit, with the final positions alone (B, 1, n, D) and no extras: no record of trades (the trade rows of ``played``
    are not read and may be None)."""
    B, n, D = inputs.shape
    lo, hi = np.asarray(inputs.low, float), np.asarray(inputs.high, float)
    base = np.where(hi > lo, lo, 0.0)
    scale = np.where(hi > lo, 100.0 / np.where(hi > lo, hi - lo, 1.0), 1.0)
    vote = np.empty((B, rounds + 1, n, D))
    exchanges = np.zeros((B, rounds + 1), dtype=np.int64)
    last = np.zeros(B, dtype=np.int64)
    for b, (v, _, ex, la) in enumerate(played):
        vote[b], exchanges[b], last[b] = v, ex, la
    if forecasts_only:
        pos, forecast = _positions(inputs, vote, base, scale)
        return Trajectory(position=pos[:, -1:].copy(), forecast=forecast, rounds=last)
    packs = [tr if isinstance(tr, tuple) else packed_rows(tr) for _, tr, _, _ in played]
    lens = np.array([pk[1] for pk in packs], dtype=np.int64).reshape(B, rounds + 1)
    M = max_exchange_candidates(n, D)
    K = min(M, EXCHANGE_ROOM * n * D)
    if lens.size and lens.max() > K:
        K = M
    trades = np.full((B, rounds + 1, K, 10), np.nan)
    if lens.sum():
        # every row of the batch at once, each (I, J, p, q, I from, I to, J from, J to, gain), positions on 0-100,
        # to its draw, round and place in the round: the same numbers as round by round
        a = np.concatenate([pk[0] for pk in packs])
        cell = np.repeat(np.arange(lens.size), lens.ravel())  # the (draw, round) of each row, flat
        place = np.arange(len(a)) - np.repeat(np.cumsum(lens.ravel()) - lens.ravel(), lens.ravel())
        p, q = a[:, 2].astype(np.int64), a[:, 3].astype(np.int64)
        out = np.empty((len(a), 10))
        out[:, :4] = a[:, :4]
        out[:, 4], out[:, 5] = a[:, 4] / scale[q] + base[q], a[:, 5] / scale[q] + base[q]
        out[:, 6], out[:, 7] = a[:, 6] / scale[p] + base[p], a[:, 7] / scale[p] + base[p]
        out[:, 8] = out[:, 9] = a[:, 8]
        trades[cell // (rounds + 1), cell % (rounds + 1), place] = out
    pos, forecast = _positions(inputs, vote, base, scale)
    return Trajectory(position=pos, forecast=forecast, rounds=last,
                      extras={"exchanges": exchanges, "trades": trades, "active": Trajectory.active_rounds(inputs, rounds)})


def _positions(inputs: Inputs, vote: np.ndarray, base: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The voting positions ``vote`` (B, T + 1, n, D, on 0-100) on the issues' own scales, and their forecasts."""
    pos = vote / scale + base
    pos = np.where(vote == vote[:, :1], inputs.position[:, None], pos)  # cells that never moved keep their input
    w = issue_weights(inputs, "capability_salience")
    forecast = (w[:, None] * pos).sum(axis=2) / w.sum(axis=1)[:, None]
    return pos, forecast
