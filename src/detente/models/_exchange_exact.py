"""Decide's equal-gain rounds in Decide's decimal arithmetic, fast: the results of :mod:`._exchange_decimal`, bit for bit.

``arithmetic="decimal"`` of :mod:`detente.models.exchange`. The slow reference (:mod:`._exchange_decimal`) sizes
every candidate exchange in 28-digit decimals, tens of thousands of times a run. Here the candidates are sized
in double precision with a bound on the distance to Decide's decimal values (``_exchange_exact_kernel``, where
the bound is proved), and only what needs it is computed in decimal, by the reference's own functions:

- every realised exchange (so the reported moves, gains and positions are Decide's decimals), the round's
  outcomes, sides and new start positions; a realised exchange whose float sizing was certain is computed along
  the path that sizing took (which branch of step 4, which outcome cap binds: ``_State.realise``), by the same
  decimal operations as the reference's, in the same order, leaving out only those whose results the reference
  overwrites; the float images of the decimals (``_Draw``) are kept across a draw's rounds and change only where
  a round moved a cell;
- every exchange one of whose discrete decisions (a validity test, an outcome cap, a comparison of two
  actors' salience ratios) the float margin does not settle: an outcome that sits on a partner's position
  (a knife-edge) or a move at a bound;
- the choice of the exchange to realise, when two gains lie too close to the tie threshold (detente's rule:
  within a relative 1e-12 of the best, the exchange formed first).

An exchange's numbers depend only on its two issues' round-start positions, its sides' supply positions, its
own table of moved partners and its sides' earlier moves; they are recomputed exactly when the reference
recomputes them (step 7), so the decisions, and with them the realised path, are the reference's. Where an
earlier move of a side is needed in decimal (a side's moves summing to 100 within the bound) the draw is
played by the reference instead (:class:`_Escape`; never met on the example files or the tests' scenarios).
``ties="decide"`` and ``ties="coin"`` (Decide's own list, its coin off or on) are played by :func:`_list_round`: the
kernel keeps and sorts Decide's list, every near-tie in it sized in decimal. The knife-edge record (``edges``) is
played by the reference.
"""

from __future__ import annotations

import contextlib
import decimal
import functools
import math
import os
import pickle
import random
import select
import signal
import sys
import warnings
from decimal import Decimal
from typing import Any

import numpy as np

from .. import _cancel
from . import _exchange_decimal as ref
from . import _jit
from ._common import exchange_taking_part, max_exchange_candidates
from ._exchange_decimal import CONTEXT, FIXED_WEIGHT, ONE, SALIENCE_WEIGHT, TIE_REL, ZERO, _Exchange, _Round, _Side, _size

_U, _TINY = 2.0**-52, 1e-290  # as in _exchange_exact_kernel
#: Precision for a decimal's remainder after its nearest double (``_hilo``): exact for positions on 0-100.
_WIDE = decimal.Context(prec=400)


class _Escape(Exception):
    """A decision that needs the decimal values of a side's earlier moves: the draw is played by the reference."""


class _HSide(_Side):
    """A side whose earlier moves in the round are known as a float sum with a bound (their decimals are not kept)."""

    __slots__ = ("hist",)
    hist: tuple[float, float] | None


class _FRound(_Round):
    def valid(self, side, m):
        h = getattr(side, "hist", None)  # the reference's sides (a round it plays) have none
        if h is not None:  # the earlier moves stand in as one decimal: their sum test must not depend on it
            mf = float(m)
            tot = h[0] + mf
            if abs(tot - 100.0) <= 2.0 * (h[1] + _U * (abs(mf) + abs(tot))) + _TINY:
                raise _Escape
        return _Round.valid(self, side, m)


def _kernel():
    from . import _exchange_exact_kernel

    return _exchange_exact_kernel if _jit.numba_available() else _jit.pure_module(_exchange_exact_kernel.__name__)


#: 10**k, for the exact remainders of :func:`_hilo`.
_POW10 = [10**k for k in range(64)]


def _hilo_wide(v: Decimal) -> tuple[float, float, float]:
    """:func:`_hilo` by decimal arithmetic (any decimal)."""
    hi = float(v)
    return hi, float(_WIDE.subtract(v, Decimal(hi))), (float(v.as_tuple().exponent) if v else 1e9)


#: :func:`_hilo`'s results by the decimal's text (which fixes them): a realised move that ends on the partner's
#: position gives a decimal met before, and a Monte Carlo's draws share their start (43 % of the calls on ``cop21``).
#: Emptied when a draw starts with more than :data:`_HILO_KEEP` held.
_HILO: dict[str, tuple[float, float, float]] = {}
_HILO_KEEP = 50_000


def _hilo(v: Decimal) -> tuple[float, float, float]:
    """``v`` as two doubles: its nearest, and the nearest to what remains; and the exponent of its last digit (of this
    representation of the value: any is a safe bound for ``_exact_sub``, which only needs the nonzero digits to lie at
    or above it).

    From ``v``'s digits as a whole number ``m`` times ``10**e``: both doubles are the correctly rounded quotients of
    whole numbers (Python's ``int / int``), the values :func:`_hilo_wide` gets in decimal, a few times faster; kept
    by ``v``'s text (:data:`_HILO`), which fixes them."""
    s = str(v)
    got = _HILO.get(s)
    if got is None:
        got = _HILO[s] = _hilo_text(v, s)
    return got


def _hilo_text(v: Decimal, s: str) -> tuple[float, float, float]:
    """:func:`_hilo` from ``v`` and its text ``s``."""
    i = s.find(".")
    if i < 0 or not v or "E" in s or "e" in s:
        return _hilo_wide(v)  # a whole number (the positions' bounds, 0 and 100; rare otherwise), 0, an exponent
    k = len(s) - i - 1
    if k >= 64:
        return _hilo_wide(v)
    m, P = int(s.replace(".", "", 1)), _POW10[k]
    hi = m / P
    f, e = _frexp(hi)  # hi = a 2**(e - 53), a whole
    a, sh = int(f * 9007199254740992.0), 53 - e
    if sh >= 0:
        return hi, ((m << sh) - a * P) / (P << sh), float(-k)
    return hi, (m - (a << -sh) * P) / P, float(-k)


_frexp = math.frexp


def play(x_in, s_in, c_in, part, low, high, rounds, ties="first", edges=None, seed=0):
    """:func:`._exchange_decimal.play`, the same results, faster (see the module)."""
    if edges is not None:
        return ref.play(x_in, s_in, c_in, part, low, high, rounds, ties, edges, seed)
    with decimal.localcontext(CONTEXT):
        return _play(x_in, s_in, c_in, part, low, high, rounds, ties, seed)


class _Draw:
    """One draw's float images of its decimals, the kernel's inputs, kept across its rounds (a round changes only the
    cells it moved), and the kernel's tables, made once a draw."""

    def __init__(self, k, x, s, c, W, part) -> None:
        n, D = part.shape
        self.k = k
        self.part = np.ascontiguousarray(part, dtype=np.bool_)
        self.sf = np.array([[float(v) for v in row] for row in s])
        self.cf = np.array([float(v) for v in c])
        self.Wf = np.array([float(v) for v in W])
        self.xv = np.empty((n, D, 3))
        self.xvm = _flat(self.xv)
        for a in range(n):
            for l in range(D):
                self.xv[a, l] = _hilo(x[a][l])
        self.tf = np.zeros((n, D))
        self.tot = np.empty((D, 2))
        self.moved = [(a, l) for a in range(n) for l in range(D) if part[a, l]]  # the cells whose terms are stale
        M = max_exchange_candidates(n, D)
        self.iv = np.empty((M, k.NI), dtype=np.int64)
        self.fv = np.empty((M, k.NF))
        self.tab = np.empty((M, 2, n), dtype=np.int64)
        self.unsure = np.empty(M, dtype=np.int64)
        self.need = np.empty(M + 1, dtype=np.int64)
        self.vals = np.empty((2 * M + 2, 3))
        self.valsm = _flat(self.vals)
        self.idx = np.empty(k.index_size(n, D, M), dtype=np.int64)
        self.keep: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}  # a cell's weights of y and x0 in step 8

    def start(self, r: _Round) -> None:
        """The round's terms and outcome sums as floats (those of the cells moved since the last round)."""
        issues = set()
        for a, l in self.moved:
            self.tf[a, l] = float(r.terms[l][r.place[l][a]])
            issues.add(l)
        for l in issues:
            self.tot[l, 0] = float(r.prefix[l][-1])
            self.tot[l, 1] = np.abs(self.tf[:, l]).sum()
        self.moved = []

    def next_start(self, x, s, moved) -> list[list[Decimal]]:
        """Step 8 (:func:`._exchange_decimal._new_start`) for the cells ``moved`` (cell -> its final voting position and
        its float):
        the next round's start positions; their float images updated."""
        new = [row[:] for row in x]
        D, xvm = len(x[0]), self.xvm
        for (a, l), (y, _) in moved.items():
            w = self.keep.get((a, l))
            if w is None:
                keep_w = (1 - s[a][l]) * SALIENCE_WEIGHT
                w = self.keep[(a, l)] = (keep_w, 1 - keep_w - FIXED_WEIGHT)
            new[a][l] = w[0] * y + FIXED_WEIGHT * y + w[1] * x[a][l]
            j = 3 * (a * D + l)
            xvm[j], xvm[j + 1], xvm[j + 2] = _hilo(new[a][l])
            self.moved.append((a, l))
        return new


def _play(x_in: np.ndarray, s_in: np.ndarray, c_in: np.ndarray, part: np.ndarray, low: np.ndarray, high: np.ndarray,
          rounds: int, ties: str = "first", seed: int = 0) -> tuple[np.ndarray, list, np.ndarray, int]:
    """:func:`._exchange_decimal._play` with the rounds of :func:`_round` (the same values, in the same form); with
    ``ties`` "decide" or "coin" those of :func:`_list_round` (the coin ``random.Random(seed)``, one for the draw)."""
    rng = random.Random(int(seed)) if ties == "coin" else None
    if len(_HILO) > _HILO_KEEP:
        _HILO.clear()
    n, D = x_in.shape
    members, x, s, c, W = ref._setup(x_in, s_in, c_in, part, low, high)
    d = _Draw(_kernel(), x, s, c, W, part)
    vote = np.empty((rounds + 1, n, D))
    vote[0] = d.xv[:, :, 0]
    counts = np.zeros(rounds + 1, dtype=np.int64)
    trades: list = [[]]
    last = 0
    for t in range(1, rounds + 1):
        _cancel.check()  # a cancelled request stops between two rounds
        r = _FRound(x, s, c, members, W, t, None)
        rows, moved = _round(r, d) if ties == "first" else _decides_list(r, d, ties, rng)
        vote[t] = d.xv[:, :, 0]
        trades.append(rows)
        counts[t] = len(rows)
        if not rows:
            vote[t + 1 :] = vote[t]
            trades += [[] for _ in range(rounds - t)]
            break
        for (a, l), (_, yf) in moved.items():
            vote[t, a, l] = yf
        last = t
        x = d.next_start(x, s, moved)
    return vote, trades, counts, last


class _State:
    """One round's tables (the kernel's) and the decimals they point to."""

    def __init__(self, k, r, x, s, iv, fv, tab) -> None:
        self.k, self.r, self.x, self.s, self.iv, self.fv, self.tab = k, r, x, s, iv, fv, tab
        self.vals: list[Decimal] = []
        self.settled: dict[int, _Exchange] = {}  # row -> its last sizing in decimal
        self.his: list[float] = []  # the floats of vals

    def exchange(self, row: int, hint: bool = False) -> _Exchange:
        """Row ``row`` sized in decimal by the reference's ``_size``, from the row's state (``hint``: the outcome
        caps its float sizing found certainly not binding are not summed again)."""
        k, x, iv = self.k, self.x, self.iv
        ai, aj, p, q, ri, rj, fi, fj = iv[row, :8].tolist()
        nocap, nt0, nt1 = int(iv[row, k.NOCAP]), int(iv[row, k.NT0]), int(iv[row, k.NT1])
        hist = self.fv[row].tolist()
        I, J = _HSide(ai, q, p, x), _HSide(aj, p, q, x)
        if ri >= 0:
            I.pos = self.vals[ri]
        if rj >= 0:
            J.pos = self.vals[rj]
        for side, f, h, eh in ((I, fi, hist[k.HI], hist[k.EHI]), (J, fj, hist[k.HJ], hist[k.EHJ])):
            side.hist = None
            if f == 2:
                side.moves = [ONE, -ONE]
            elif f != 0:
                side.moves = [Decimal(h)]
                side.hist = (h, eh)
        e = _Exchange(I, J, p, q, row)
        for slot, issue, held in ((0, p, nt0), (1, q, nt1)):
            if held:
                e.table[issue] = self.table(row, slot)
        _size(self.r, e, nocap if hint else 0)
        return e

    def table(self, row: int, slot: int) -> dict[int, Decimal]:
        """Row ``row``'s table of moved partners on its issue ``slot`` (0: p, 1: q)."""
        return {a: self.vals[v] for a, v in enumerate(self.tab[row, slot].tolist()) if v >= 0}

    def settle(self, row: int) -> _Exchange:
        """Size ``row`` in decimal and put the result in the kernel's tables."""
        k, fv = self.k, self.fv
        e = self.settled[row] = self.exchange(row)
        mi, mj, g = float(e.I.move), float(e.J.move), float(e.gain)
        fv[row, k.MI], fv[row, k.MJ], fv[row, k.G] = mi, mj, g
        fv[row, k.EMI], fv[row, k.EMJ], fv[row, k.EG] = k.U * abs(mi), k.U * abs(mj), k.U * g
        self.iv[row, k.ST] = 1 if e.ok else 0
        return e

    def gain(self, row: int) -> Decimal | None:
        """Row ``row``'s exact gain (what the reference's ``_size`` gives from the row's state) if its last sizing was
        the kernel's, with every decision certain, and found it valid: along that path (:meth:`realise`, a few decimal
        operations where :meth:`exchange` sums outcomes and tests validity again). Else None."""
        k = self.k
        cols = self.iv[row].tolist()
        if cols[k.PATH] & k.CERTAIN and cols[k.ST] == 1:
            return self.realise(row, cols)[2]
        return None

    def realise(self, row: int, cols: list[int]) -> tuple[Decimal, Decimal, Decimal]:
        """The decimal voting positions of I and J and the gain of pending row ``row``, the exchange to realise.

        If its last sizing was the kernel's, with every decision certain (``PATH``), only the operations of the
        reference's ``_size`` whose results stand at its end are done, in its order: the sizes of step 4, or those of
        the last outcome cap that binds (which replace every earlier size). Else its last sizing was in decimal
        (:meth:`settle`). ``cols``: the row's ``iv`` as a list."""
        k, x = self.k, self.x
        path = cols[k.PATH]
        if not path & k.CERTAIN:
            e = self.settled[row]
            if not e.ok:
                raise _Escape  # a pending exchange found invalid in decimal: cannot happen, played safely
            return e.I.y, e.J.y, e.gain
        ai, aj, p, q, ri, rj = cols[:6]
        ip = self.vals[ri] if ri >= 0 else x[ai][q]
        jp = self.vals[rj] if rj >= 0 else x[aj][p]
        idem, jdem = x[ai][p], x[aj][q]
        if path & k.CAP_J:  # J's cap is computed after I's: its sizes stand
            jy, iy, g = self._capped(row, 0, p, aj, jp, jdem, ai, q, ip, idem)
            return iy, jy, g
        if path & k.CAP_I:
            return self._capped(row, 1, q, ai, ip, idem, aj, p, jp, jdem)
        r = self.r
        s, c, W = r.s, r.c, r.W
        if path & k.ALL_I:  # I all the way to J's position on q
            mi = abs(jdem - ip)
            dq = mi * s[ai][q] * c[ai] / W[q]
            dp = (s[ai][q] + s[aj][q]) / (s[ai][p] + s[aj][p]) * dq
            mj = dp * W[p] / (s[aj][p] * c[aj])
        else:  # J all the way to I's position on p
            mj = abs(idem - jp)
            dp = mj * s[aj][p] * c[aj] / W[p]
            dq = (s[aj][p] + s[ai][p]) / (s[aj][q] + s[ai][q]) * dp
            mi = dq * W[q] / (s[ai][q] * c[ai])
        iy = ip + (-mi if ip > jdem else mi)
        jy = jp + (-mj if jp > idem else mj)
        return iy, jy, abs(dq * s[ai][q] - dp * s[ai][p])

    def _capped(self, row: int, slot: int, a: int, A: int, apos: Decimal, adem: Decimal, B: int, b: int,
                bpos: Decimal, bdem: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """The sizes of the reference's ``_cap`` where it binds, for side ``A`` (supplying ``a`` from ``apos``; its
        demand position ``adem`` on ``b``) against ``B`` (supplying ``b`` from ``bpos``; its demand position ``bdem``
        on ``a``): A's and B's voting positions and the gain."""
        r = self.r
        s, c, W = r.s, r.c, r.W
        table = self.table(row, slot) if self.iv[row, self.k.NT0 + slot] else {}
        num = r.outcome(a, table, A, apos, actor_last=False)
        Wa = W[a]
        m_a = abs((bdem * Wa - num) / (s[A][a] * c[A]))
        dA = m_a * s[A][a] * c[A] / Wa
        dB = (s[A][a] + s[B][a]) / (s[A][b] + s[B][b]) * dA
        m_b = abs(dB * W[b] / (s[B][b] * c[B]))
        ay = apos + (-m_a if apos > bdem else m_a)
        by = bpos + (-m_b if bpos > adem else m_b)
        return ay, by, abs(dB * s[B][b] - dA * s[B][a])

    def choose(self, P: int) -> int:
        """Step 6 by detente's rule, exactly: the gains that may reach the tie threshold sized in decimal."""
        k, iv, fv = self.k, self.iv, self.fv
        pend = np.nonzero(iv[:P, k.ST] == 1)[0]
        g, e = fv[pend, k.G], 2.0 * fv[pend, k.EG]
        hi = float((g + e).max())
        floor_lo = float((g - e).max()) - k.TIE_REL * max(1.0, hi) - 4.0 * k.U * hi
        exact = {}
        for row in pend[g + e >= floor_lo]:
            ex = self.settle(int(row))
            if not ex.ok:
                raise _Escape  # a certified valid exchange found invalid in decimal: cannot happen, played safely
            exact[int(row)] = ex.gain
        top = max(exact.values())
        floor = top - TIE_REL * max(ONE, top)
        return int(next(row for row in pend if exact.get(int(row), ZERO - ONE) >= floor))

    def record(self, E: int, vm: Any, xh: list) -> tuple[tuple, Decimal, Decimal, int, int]:
        """Realise row ``E`` (:meth:`realise`): its trade row (as :func:`._exchange_decimal._row` makes it), I's and J's
        decimal voting positions and their refs in the kernel's ``vals`` (``vm``; ``xh``: the round-start floats)."""
        cols = self.iv[E].tolist()
        iy, jy, g = self.realise(E, cols)
        ai, aj, p, q, ri, rj = cols[:6]
        his, vals = self.his, self.vals
        i0 = his[ri] if ri >= 0 else xh[ai][q]
        j0 = his[rj] if rj >= 0 else xh[aj][p]
        rI = len(vals)  # both kept: their float images in vm, their refs rI and rI + 1
        j = 3 * rI
        vm[j], vm[j + 1], vm[j + 2] = iyf, _, _ = _hilo(iy)
        vm[j + 3], vm[j + 4], vm[j + 5] = jyf, _, _ = _hilo(jy)
        vals.append(iy)
        vals.append(jy)
        his.append(iyf)
        his.append(jyf)
        return (ai, aj, p, q, i0, iyf, j0, jyf, float(g)), iy, jy, rI, rI + 1


def _flat(a: np.ndarray) -> Any:
    """A flat view of a float array (item writes far cheaper than numpy's): a memoryview of format ``d`` (typed
    Any: typeshed's memoryview takes whole numbers only)."""
    return memoryview(a.data).cast("B").cast("d")


def _round(r: _FRound, d: _Draw) -> tuple[list[tuple], dict[tuple[int, int], tuple[Decimal, float]]]:
    """One round (:func:`._exchange_decimal._round`), the reference's result: the trade rows (as
    :func:`._exchange_decimal._voting` makes them) and every moved cell's final voting position. The reference plays
    the round when a decision needs the decimals of a side's earlier moves."""
    try:
        return _fast_round(r, d)
    except _Escape:
        return _moved(r, ref._round(r, d.part, "first"))


def _moved(r: _Round, realised: list[_Exchange], rows: list[tuple] | None = None):
    """The trade rows and every moved cell's final voting position of the reference's exchanges ``realised``."""
    _, rows = ref._voting(r.x, realised, rows)
    moved = {}
    for E in realised:
        for side in (E.I, E.J):
            moved[(side.actor, side.sup)] = side.y, float(side.y)
    return rows, moved


def _decides_list(r: _FRound, d: _Draw, ties: str, rng) -> tuple[list[tuple], dict[tuple[int, int], tuple[Decimal, float]]]:
    """One round with Decide's own list (:func:`_list_round`), the reference's result: its coin-off order (``ties``
    "decide") or its coin (``rng``); the reference plays the round (from the same state of the coin) when a decision
    needs the decimals of a side's earlier moves."""
    state = rng.getstate() if rng is not None else None
    try:
        return _list_round(r, d, rng)
    except _Escape:
        if rng is None:
            return _moved(r, ref._round(r, d.part, ties))
        rng.setstate(state)
        r.rng = rng
        return _moved(r, *ref._coin_round(r, d.part))


def _prepare(r: _FRound, d: _Draw) -> tuple[_State, int]:
    """Steps 1-5 on the draw's tables: every candidate of the round formed and sized (in decimal where the float
    bound does not settle it). Returns the round's state and the number of candidates."""
    k = d.k
    x, W = r.x, r.W
    n, D = d.part.shape
    d.start(r)
    iv, fv, tab, vals, xv, need, partb = d.iv, d.fv, d.tab, d.vals, d.xv, d.need, d.part
    sf, cf, Wf, tf, tot = d.sf, d.cf, d.Wf, d.tf, d.tot
    s = r.s
    O = [r.prefix[l][-1] / W[l] if W[l] != 0 else ZERO for l in range(D)]
    left = np.array([[x[a][l] <= O[l] for l in range(D)] for a in range(n)], dtype=np.bool_)
    st = _State(k, r, x, s, iv, fv, tab)
    P, nu = k.form(left, partb, sf, iv, fv, tab, d.unsure)
    for row in d.unsure[:nu]:
        a, b, p, q = (int(v) for v in iv[row, :4])
        if s[a][p] / s[a][q] < s[b][p] / s[b][q]:
            iv[row, k.AI], iv[row, k.AJ] = b, a
    idx = d.idx
    k.index(P, iv, n, D, idx)
    nn = k.size_all(P, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need)
    for row in need[:nn]:
        st.settle(int(row))
    return st, P


def _fast_round(r: _FRound, d: _Draw) -> tuple[list[tuple], dict[tuple[int, int], tuple[Decimal, float]]]:
    k = d.k
    st, P = _prepare(r, d)
    iv, fv, tab, vals, xv, need, partb, idx = d.iv, d.fv, d.tab, d.vals, d.xv, d.need, d.part, d.idx
    sf, cf, Wf, tf, tot = d.sf, d.cf, d.Wf, d.tf, d.tot
    xh = xv[:, :, 0].tolist()
    vm = d.valsm
    rows: list[tuple] = []
    moved: dict[tuple[int, int], tuple[Decimal, float]] = {}
    E, rI, rJ = -1, -1, -1
    while True:
        code = k.step(P, E, rI, rJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx)
        E = -1
        if code == -1:
            return rows, moved
        if code == -2:
            for row in need[1 : 1 + need[0]]:
                st.settle(int(row))
            continue
        if code == -3:
            code = st.choose(P)
        E = int(code)
        trade, iy, jy, rI, rJ = st.record(E, vm, xh)
        rows.append(trade)
        moved[(trade[0], trade[3])] = iy, trade[5]
        moved[(trade[1], trade[2])] = jy, trade[7]


class _Before(_State):
    """The rows' states as they were before a step's recalculation (kept by the kernel), with the round's decimals."""


def _list_round(r: _FRound, d: _Draw, rng) -> tuple[list[tuple], dict[tuple[int, int], tuple[Decimal, float]]]:
    """One round with Decide's own list (:func:`._exchange_decimal._coin_round` with the coin ``rng``; with ``rng``
    None the list with the coin off, ``ties="decide"``), the reference's result.

    The list holds row numbers (a row listed twice appears twice), every candidate formed to start with. Before each
    choice the kernel sorts it stably by gain as far as the float bounds settle it (``arrange``): listings whose gains
    it cannot order are kept together as a group, in an order from which Decide's follows once their exact gains are
    known (a stable sort by exact gain). A group is sized in decimal and ordered only when Decide's list shows its
    order: when it reaches the top (the choice, and the coin's comparison of the first two within 1e-20), or when one of
    its rows is re-sized to a gain that may equal another's of the group (its place before the re-sizing then decides
    their order from now on: ``split``; the gains before come from the rows' states the kernel kept). The realised
    exchange is sized in decimal (:meth:`_State.realise`); the kernel recalculates every listing it touches
    (``recalc``: a row listed twice twice, one still listed after it was realised against itself). The voting
    positions are those of the realised exchanges as they stand at the end of the round: one re-sized after it was
    realised is sized again in decimal."""
    k = d.k
    st, P = _prepare(r, d)
    iv, fv, tab, vals, xv, need, partb, idx = d.iv, d.fv, d.tab, d.vals, d.xv, d.need, d.part, d.idx
    sf, cf, Wf, tf, tot = d.sf, d.cf, d.Wf, d.tf, d.tot
    LI = np.zeros((k.NL, P + 1), dtype=np.int64)  # the kernel's int arrays, one a row (advance)
    LF = np.zeros((k.NFL, P + 1))
    lst, lab, keep, rem, snap, osz, sized, groups = (LI[j] for j in (k.L_LST, k.L_LAB, k.L_KEEP, k.L_REM, k.L_SNAP,
                                                                     k.L_OSZ, k.L_SIZED, k.L_GROUPS))
    khi, klo, kerr = LF[k.F_KHI], LF[k.F_KLO], LF[k.F_KERR]
    khi[:P] = fv[:P, k.G]
    kerr[:P] = 2.0 * fv[:P, k.EG]
    kex = np.zeros(P, dtype=np.bool_)
    exact: dict[int, tuple[int, Decimal]] = {}  # row -> (its count of sizings then, its exact gain)
    prev: dict[int, tuple[int, Decimal]] = {}  # the one before that

    def known(row: int, g: Decimal) -> None:
        got = exact.get(row)
        if got is not None and got[0] != sized[row]:
            prev[row] = got
        exact[row] = (int(sized[row]), g)
        khi[row], klo[row], _ = _hilo(g)
        kerr[row] = 0.0
        kex[row] = True

    def settle(row: int) -> _Exchange:
        e = st.settle(row)
        known(row, e.gain)
        return e

    for row, e in st.settled.items():  # the rows sized in decimal while formed: their gains are exact
        known(row, e.gain)
    lst[:P] = np.arange(P)  # the list never grows: a tie's extra listing replaces the one taken
    lab[: P + 1] = np.arange(P + 1)  # listings with the same label next to each other: one group
    snap[:P] = -1
    S = np.zeros(9, dtype=np.int64)  # the kernel's state (advance)
    S[k.S_N], S[k.S_NL], S[k.S_FIRST], S[k.S_COIN] = P, P + 1, 1, rng is not None
    siv, sfv, stab = np.empty_like(iv[:P]), np.empty_like(fv[:P]), np.empty_like(tab[:P])
    old = _Before(k, r, st.x, st.s, siv, sfv, stab)
    old.vals = st.vals
    vm, xh = d.valsm, xv[:, :, 0].tolist()
    rows: list[tuple] = []
    realised: list[int] = []
    final: dict[int, tuple[Decimal, Decimal, float, float, int]] = {}

    def order(a: int, b: int, gain) -> None:
        """Decide's order of the group ``lst[a:b]`` (a stable sort by ``gain(row)``, highest first), each listing then
        alone."""
        nl = int(S[k.S_NL])
        seg = lst[a:b].tolist()
        seg.sort(key=gain, reverse=True)
        lst[a:b] = seg
        lab[a:b] = np.arange(nl, nl + b - a)
        S[k.S_NL] = nl + b - a

    def now(row: int) -> Decimal:
        if not kex[row]:
            g = st.gain(row)
            if g is None:
                settle(row)
            else:
                known(row, g)
        return exact[row][1]

    def before(row: int) -> Decimal:
        """The row's exact gain before this step's recalculation."""
        if snap[row] != S[k.S_STAMP] or osz[row] == sized[row]:
            return now(row)
        for got in (exact.get(row), prev.get(row)):
            if got is not None and got[0] == osz[row]:
                return got[1]
        g = old.gain(row)
        return old.exchange(row).gain if g is None else g

    advance = k.advance
    phase, E, rI, rJ = k.PH_ARRANGE, -1, -1, -1
    while True:
        code = advance(phase, E, rI, rJ, P, S, LI, LF, kex, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx,
                       siv, sfv, stab)
        if code < 0:
            if code == k.R_DONE:
                break
            if code == k.R_TOP:
                order(0, int(S[k.S_B0]), now)
                phase = k.PH_TOPPED
                continue
            if code == k.R_NEXT:
                now(int(lst[0]))
                order(1, int(S[k.S_B1]), now)
                phase = k.PH_NEXTED
                continue
            if code == k.R_SETTLE:
                nn = int(S[k.S_NN])
                for row, left in zip(need[:nn].tolist(), rem[:nn].tolist()):
                    ok = settle(row).ok
                    while ok:
                        keep[row] += 1
                        if left == 0:
                            break
                        left -= 1
                        code = k.redo(row, E, rI, rJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, khi, klo, kerr,
                                      kex, sized)
                        ok = settle(row).ok if code < 0 else code == 1
                phase = k.PH_COMPACT
                continue
            if code == k.R_GROUPS:
                for g in range(int(S[k.S_NG])):
                    order(int(groups[2 * g]), int(groups[2 * g + 1]), before)
                phase = k.PH_ARRANGE
                continue
            # R_TIE: the first two listings may tie (the same row, or exact gains a hair apart): the coin, if they do
            N = int(S[k.S_N])
            E, nxt = int(lst[0]), int(lst[1])
            tie = nxt == E or abs(exact[E][1] - exact[nxt][1]) < ref.TIE_COIN
            nl = int(S[k.S_NL])
            if tie and rng.random() >= 0.5:  # heads: the next is taken, the first goes to the end
                lst[N], lab[N] = E, nl
                E = nxt
                lst[: N - 1], lab[: N - 1] = lst[2 : N + 1].copy(), lab[2 : N + 1].copy()
                N -= 1
                nl += 1
            elif tie:  # tails: the first is taken and the next listed again at the end
                lst[N], lab[N] = nxt, nl
                lst[:N], lab[:N] = lst[1 : N + 1].copy(), lab[1 : N + 1].copy()
                nl += 1
            else:
                lst[: N - 1], lab[: N - 1] = lst[1:N].copy(), lab[1:N].copy()
                N -= 1
            S[k.S_N], S[k.S_NL] = N, nl
            if iv[E, k.ST] != 1:
                phase = k.PH_ARRANGE
                continue  # not valid: dropped
        else:
            E = code
        if len(st.vals) + 2 > len(vals):
            raise _Escape  # more realised exchanges than the room kept (an exchange realised again and again)
        trade, iy, jy, rI, rJ = st.record(E, vm, xh)
        rows.append(trade)
        realised.append(E)
        final[E] = (iy, jy, trade[5], trade[7], int(sized[E]))
        phase = k.PH_RECALC
    moved: dict[tuple[int, int], tuple[Decimal, float]] = {}
    for row in realised:
        iy, jy, iyf, jyf, at = final[row]
        if sized[row] != at:  # re-sized after it was realised: its final state, in decimal
            e = st.exchange(row)
            iy, jy, iyf, jyf = e.I.y, e.J.y, float(e.I.y), float(e.J.y)
        ai, aj, p, q = iv[row, :4].tolist()
        moved[(ai, q)] = iy, iyf
        moved[(aj, p)] = jy, jyf
    return rows, moved


#: A batch is split over processes when its work (draws x n^2 x D^2) is at least this: about 0.3 s of one core (a
#: 15 x 13 draw is ~38,000 and takes ~60 ms); a fork and the results' way back cost a few milliseconds.
SPLIT_WORK = 200_000


def processes(B: int, n: int, D: int) -> int:
    """How many processes play a batch of ``B`` draws of ``n`` actors on ``D`` issues (:func:`run`): the kernels'
    threads (``DETENTE_THREADS``, default 2), at most one per two draws, on Linux (``fork``) and for enough work."""
    if not sys.platform.startswith("linux") or B * n * n * D * D < SPLIT_WORK:
        return 1
    return max(1, min(_jit.threads(), B // 2))


def run(inputs, rounds: int, ties: str = "first", forecasts_only: bool = False):
    """:func:`._exchange_decimal.run`, the same results, faster (``forecasts_only``: its forecasts-only form, without
    the record of trades; a child then sends no trade rows).

    Decimal arithmetic holds the GIL, so where threads would not help the draws are split over
    :func:`processes` forked children, while this process plays its share: process ``j`` plays draw ``j``, then
    each process takes the next draw nobody has taken (:class:`_Next`), so that none waits for another at the end of
    the batch; a child sends back its plays (their trade rows packed, :func:`._exchange_decimal.packed_rows`;
    pickled, through a pipe). Each draw's play depends on nothing else, so the result is the same bit for bit however
    the draws are split."""
    B = inputs.shape[0]
    k = processes(*inputs.shape)
    if k <= 1:
        return ref.run(inputs, rounds, ties, None, play, forecasts_only)
    part = exchange_taking_part(inputs)
    lo, hi = np.asarray(inputs.low, float), np.asarray(inputs.high, float)
    nxt = _Next(k)

    def share(j: int, pack: bool) -> list:
        out = []
        b = j
        while b < B:
            got = play(inputs.position[b], inputs.salience[b], inputs.capability[b], part[b], lo, hi, rounds, ties, None,
                       int(inputs.seed[b]))
            if forecasts_only:
                got = (got[0], None, got[2], got[3])
            elif pack:
                got = (got[0], ref.packed_rows(got[1]), got[2], got[3])
            out.append((b, got))
            b = nxt.take()
        return out

    _kernel().warm()  # every kernel loaded (or compiled) here, before the fork: a child never compiles
    children: list[tuple[int, int]] = []
    try:
        for j in range(1, k):
            children.append(_fork(functools.partial(share, j, True)))
        shares = [share(0, False)]
        while children:
            shares.append(_collect(*children.pop(0)))
    finally:
        for pid, fd in children:  # an error, a cancel or Ctrl-C here: the children's work is not wanted
            _end(pid, fd)
        nxt.close()
    played: list = [None] * B
    for got in shares:
        for b, one in got:
            played[b] = one
    return ref.trajectory(inputs, rounds, played, forecasts_only)


class _Next:
    """The next draw to play, shared by the processes of :func:`run` (forked after it is made): draws ``0 .. k-1``
    are the processes' first, the rest are taken one at a time (a counter in shared memory under a lock)."""

    def __init__(self, k: int) -> None:
        import mmap
        import multiprocessing

        self.mem = mmap.mmap(-1, 8)
        self.mem[:] = int(k).to_bytes(8, "little")
        self.lock = multiprocessing.get_context("fork").Lock()

    def take(self) -> int:
        # held for a few microseconds; a process killed while holding it (only by the kernel: the parent ends its
        # children only when it takes no more) would hold it for ever: then this stops instead of waiting
        if not self.lock.acquire(timeout=600):
            raise RuntimeError("a process playing decimal draws stopped while taking the next draw")
        try:
            b = int.from_bytes(self.mem[:8], "little")
            self.mem[:8] = (b + 1).to_bytes(8, "little")
        finally:
            self.lock.release()
        return b

    def close(self) -> None:
        self.mem.close()


def _fork(fn) -> tuple[int, int]:
    """Run ``fn()`` in a forked child that writes ``(True, value)`` or ``(False, error)``, pickled, to a pipe and
    ends (``os._exit``: no exit handlers, no flush of streams a thread of this process may have held); returns the
    child's pid and the pipe's reading end."""
    r, w = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns of forking a threaded process; the child touches no lock
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(r)
            try:
                payload = pickle.dumps((True, fn()), protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            except BaseException as e:  # handed to the parent, which raises it
                try:
                    payload = pickle.dumps((False, e))
                except Exception:
                    payload = pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view):]
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _collect(pid: int, fd: int) -> list:
    """A :func:`_fork` child's value (its error raised here), once it has sent it; the cancel flag looked at while
    waiting (a cancel, or Ctrl-C, ends the child)."""
    chunks = []
    try:
        while True:
            if not select.select([fd], [], [], 0.05)[0]:
                _cancel.check()
                continue
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
    except BaseException:
        _end(pid, fd)
        raise
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError(f"a process playing decimal draws ended without a result (wait status {status})")
    ok, value = pickle.loads(b"".join(chunks))
    if not ok:
        raise value
    return value


def _end(pid: int, fd: int) -> None:
    """Stop a :func:`_fork` child whose value is not wanted."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.close(fd)
