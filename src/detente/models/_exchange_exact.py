"""Decide's equal-gain rounds in Decide's decimal arithmetic, fast: the results of :mod:`._exchange_decimal`, bit for bit.

``arithmetic="decimal"`` of :mod:`detente.models.exchange`. The slow reference (:mod:`._exchange_decimal`) sizes
every candidate exchange in 28-digit decimals, tens of thousands of times a run. Here the candidates are sized
in double precision with a bound on the distance to Decide's decimal values (``_exchange_exact_kernel``, where
the bound is proved), and only what needs it is computed in decimal, by the reference's own functions:

- every realised exchange (so the reported moves, gains and positions are Decide's decimals), the round's
  outcomes, sides and new start positions;
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
``ties="decide"`` (Decide's exact gain order, which needs every near-equal pair of gains in decimal) and the
knife-edge record (``edges``) are played by the reference.
"""

from __future__ import annotations

import decimal
import functools
from decimal import Decimal

import numpy as np

from . import _exchange_decimal as ref
from . import _jit
from ._common import max_exchange_candidates
from ._exchange_decimal import CONTEXT, ONE, TIE_REL, ZERO, _Exchange, _Round, _Side, _size

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


@functools.lru_cache(maxsize=1 << 16)
def _hilo(v: Decimal) -> tuple[float, float, float]:
    """``v`` as two doubles: its nearest, and the nearest to what remains; and the exponent of its last digit (of the
    first representation seen of that value: any is a safe bound for ``_exact_sub``, which only needs the nonzero
    digits to lie at or above it)."""
    hi = float(v)
    return hi, float(_WIDE.subtract(v, Decimal(hi))), (float(v.as_tuple().exponent) if v else 1e9)


def play(x_in, s_in, c_in, part, low, high, rounds, ties="first", edges=None, seed=0):
    """:func:`._exchange_decimal.play`, the same results, faster (see the module)."""
    if edges is not None:
        return ref.play(x_in, s_in, c_in, part, low, high, rounds, ties, edges, seed)
    with decimal.localcontext(CONTEXT):
        return ref._play(x_in, s_in, c_in, part, low, high, rounds, ties, None, _round, _FRound, seed, _coin_round)


class _State:
    """One round's tables (the kernel's) and the decimals they point to."""

    def __init__(self, k, r, x, s, iv, fv, tab) -> None:
        self.k, self.r, self.x, self.s, self.iv, self.fv, self.tab = k, r, x, s, iv, fv, tab
        self.vals: list[Decimal] = []
        self.gains: dict[int, Decimal] = {}  # the rows sized in decimal: their exact gains (Decide's list needs them)

    def exchange(self, row: int, hint: bool = False) -> _Exchange:
        """Row ``row`` sized in decimal by the reference's ``_size``, from the row's state (``hint``: the outcome
        caps its float sizing found certainly not binding are not summed again)."""
        k, x = self.k, self.x
        ai, aj, p, q, ri, rj, fi, fj, _, nocap, nt0, nt1 = self.iv[row].tolist()
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
                refs = self.tab[row, slot].tolist()
                e.table[issue] = {a: self.vals[v] for a, v in enumerate(refs) if v >= 0}
        _size(self.r, e, nocap & 3 if hint else 0)
        return e

    def settle(self, row: int) -> _Exchange:
        """Size ``row`` in decimal and put the result in the kernel's tables."""
        k, fv = self.k, self.fv
        e = self.exchange(row)
        mi, mj, g = float(e.I.move), float(e.J.move), float(e.gain)
        fv[row, k.MI], fv[row, k.MJ], fv[row, k.G] = mi, mj, g
        fv[row, k.EMI], fv[row, k.EMJ], fv[row, k.EG] = k.U * abs(mi), k.U * abs(mj), k.U * g
        self.iv[row, k.ST] = 1 if e.ok else 0
        self.gains[row] = e.gain
        return e

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

    def add(self, v: Decimal, vals: np.ndarray) -> int:
        vals[len(self.vals)] = _hilo(v)
        self.vals.append(v)
        return len(self.vals) - 1


class _Before(_State):
    """The rows' states as they were before a step's recalculation (kept by the kernel), with the round's decimals."""


def _round(r: _FRound, part: np.ndarray, ties: str) -> list[_Exchange]:
    """One round (:func:`._exchange_decimal._round`), the reference's result; the reference plays it when a decision
    needs the decimals of a side's earlier moves."""
    try:
        return _fast_round(r, part) if ties == "first" else _list_round(r, part, None)[0]
    except _Escape:
        return ref._round(r, part, ties)


def _coin_round(r: _FRound, part: np.ndarray) -> tuple[list[_Exchange], list[tuple]]:
    """One round with Decide's coin (:func:`._exchange_decimal._coin_round`), the reference's result (the reference
    plays it, from the same state of the coin, when a decision needs the decimals of a side's earlier moves)."""
    state = r.rng.getstate()
    try:
        return _list_round(r, part, r.rng)
    except _Escape:
        r.rng.setstate(state)
        return ref._coin_round(r, part)


def _prepare(r: _FRound, part: np.ndarray):
    """Steps 1-5 on the kernel's tables: every candidate formed and sized (in decimal where the float bound does not
    settle it). Returns the kernel, the state, the number of candidates and the tables."""
    k = _kernel()
    x, s, c, W, members = r.x, r.s, r.c, r.W, r.members
    n, D = part.shape
    partb = np.ascontiguousarray(part, dtype=np.bool_)
    sf = np.array([[float(v) for v in row] for row in s])
    cf = np.array([float(v) for v in c])
    Wf = np.array([float(v) for v in W])
    M = max_exchange_candidates(n, D)
    iv = np.empty((M, k.NI), dtype=np.int64)
    fv = np.empty((M, k.NF))
    tab = np.empty((M, 2, n), dtype=np.int64)
    unsure = np.empty(M, dtype=np.int64)
    need = np.empty(M + 1, dtype=np.int64)
    vals = np.empty((2 * M + 2, 3))
    xv = np.empty((n, D, 3))
    tf = np.zeros((n, D))
    tot = np.empty((D, 2))
    O = [r.prefix[l][-1] / W[l] if W[l] != 0 else ZERO for l in range(D)]
    left = np.array([[x[a][l] <= O[l] for l in range(D)] for a in range(n)], dtype=np.bool_)
    for a in range(n):
        for l in range(D):
            xv[a, l] = _hilo(x[a][l])
    for l in range(D):
        for m, a in enumerate(members[l]):
            tf[a, l] = float(r.terms[l][m])
        tot[l, 0] = float(r.prefix[l][-1])
        tot[l, 1] = np.abs(tf[:, l]).sum()
    st = _State(k, r, x, s, iv, fv, tab)
    P, nu = k.form(left, partb, sf, iv, fv, tab, unsure)
    for row in unsure[:nu]:
        a, b, p, q = (int(v) for v in iv[row, :4])
        if s[a][p] / s[a][q] < s[b][p] / s[b][q]:
            iv[row, k.AI], iv[row, k.AJ] = b, a
    idx = np.empty(k.index_size(n, D, M), dtype=np.int64)
    k.index(P, iv, n, D, idx)
    nn = k.size_all(P, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need)
    for row in need[:nn]:
        st.settle(int(row))
    return k, st, P, (iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx)


def _fast_round(r: _FRound, part: np.ndarray) -> list[_Exchange]:
    k, st, P, (iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx) = _prepare(r, part)
    realised: list[_Exchange] = []
    E, rI, rJ = -1, -1, -1
    while True:
        code = k.step(P, E, rI, rJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx)
        E = -1
        if code == -1:
            return realised
        if code == -2:
            for row in need[1 : 1 + need[0]]:
                st.settle(int(row))
            continue
        if code == -3:
            code = st.choose(P)
        e = st.exchange(int(code), True)
        if not e.ok:
            raise _Escape
        realised.append(e)
        rI, rJ = st.add(e.I.y, vals), st.add(e.J.y, vals)
        E = int(code)


def run(inputs, rounds: int, ties: str = "first"):
    """:func:`._exchange_decimal.run`, the same results, faster."""
    return ref.run(inputs, rounds, ties, None, play)


def _list_round(r: _FRound, part: np.ndarray, rng) -> tuple[list[_Exchange], list[tuple]]:
    """One round with Decide's own list (:func:`._exchange_decimal._coin_round` with ``rng``, else the list with the
    coin off, ``ties="decide"``), the reference's result.

    The list holds row ids (a row listed twice appears twice), every candidate formed to start with. Before each choice
    the kernel sorts it stably by gain as far as the float bounds settle it (:func:`arrange`): listings whose gains it
    cannot order are kept together as a group, in an order from which Decide's follows once their exact gains are known
    (a stable sort by exact gain). A group is sized in decimal and ordered only when Decide's list shows its order: when
    it reaches the top (the choice, and the coin's comparison of the first two within 1e-20), or when one of its rows is
    re-sized to a gain that may equal another's of the group (then its place before the re-sizing decides their order
    from now on: :func:`split`; the gains before are computed from the rows' kept states). The realised exchange is
    sized in decimal; the kernel recalculates every listing it touches (:func:`recalc`, Decide's double listings and an
    exchange against itself included). The voting positions are the realised exchanges as they stand at the end of the
    round: one re-sized after it was realised is sized again in decimal from its final state."""
    k, st, P, (iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need, idx) = _prepare(r, part)
    n = partb.shape[0]
    khi = fv[:P, k.G].copy()
    klo = np.zeros(P)
    kerr = 2.0 * fv[:P, k.EG]
    kex = np.zeros(P, dtype=np.bool_)
    sized = np.zeros(P, dtype=np.int64)
    exact: dict[int, tuple[int, Decimal]] = {}  # row -> (its count of sizings then, its exact gain)
    prev: dict[int, tuple[int, Decimal]] = {}  # the one before

    def known(row: int, g: Decimal) -> None:
        if row in exact and exact[row][0] != sized[row]:
            prev[row] = exact[row]
        exact[row] = (int(sized[row]), g)
        khi[row], klo[row], _ = _hilo(g)
        kerr[row] = 0.0
        kex[row] = True

    def settle(row: int) -> _Exchange:
        e = st.settle(row)
        known(row, e.gain)
        return e

    for row, g in st.gains.items():  # the rows sized in decimal while formed: their gains are exact
        known(row, g)
    lst = np.empty(P + 1, dtype=np.int64)  # the list never grows: a tie's extra listing replaces the one taken
    lst[:P] = np.arange(P)
    lab = np.arange(P + 1, dtype=np.int64)
    dst = np.empty(P + 1, dtype=np.int64)
    dlab = np.empty(P + 1, dtype=np.int64)
    ust, uen, uord = (np.empty(P + 1, dtype=np.int64) for _ in range(3))
    uhi, ulo = np.empty(P + 1), np.empty(P + 1)
    keep = np.zeros(P, dtype=np.int64)
    rem = np.empty(P, dtype=np.int64)
    snap = np.full(P, -1, dtype=np.int64)
    osz = np.zeros(P, dtype=np.int64)
    siv, sfv, stab = np.empty_like(iv[:P]), np.empty_like(fv[:P]), np.empty_like(tab[:P])
    groups = np.empty(2 * P + 2, dtype=np.int64)
    old = _Before(k, r, st.x, st.s, siv, sfv, stab)
    old.vals = st.vals
    N, first, stamp, nl = P, True, 0, P + 1
    realised: list[int] = []
    rows: list[tuple] = []
    final: dict[int, tuple[_Exchange, int]] = {}

    def order(a: int, b: int, gain) -> None:
        """Decide's order of the group ``lst[a:b]`` (a stable sort by ``gain(row)``), each listing then alone."""
        nonlocal nl
        seg = lst[a:b].tolist()
        seg.sort(key=gain, reverse=True)
        lst[a:b] = seg
        lab[a:b] = np.arange(nl, nl + b - a)
        nl += b - a

    def now(row: int) -> Decimal:
        if not kex[row]:
            settle(row)
        return exact[row][1]

    def resolve(a: int, b: int) -> None:
        for row in set(lst[a:b].tolist()):
            if not kex[row]:
                settle(row)
        order(a, b, lambda row: exact[row][1])

    def before(row: int) -> Decimal:
        """The row's exact gain before this step's recalculation."""
        if snap[row] != stamp or osz[row] == sized[row]:
            return now(row)
        for got in (exact.get(row), prev.get(row)):
            if got is not None and got[0] == osz[row]:
                return got[1]
        return old.exchange(row).gain

    def end(a: int) -> int:
        b = a + 1
        while b < N and lab[b] == lab[a]:
            b += 1
        return b

    while N > 0:
        nl = k.arrange(lst, lab, N, khi, kerr, dst, dlab, nl, first, ust, uen, uhi, ulo, uord)
        first = False
        lst, dst, lab, dlab = dst, lst, dlab, lab
        b0 = end(0)
        if b0 > 1:
            resolve(0, b0)
        E = int(lst[0])
        if rng is not None and N > 1:
            if b0 == 1:  # the next group may hold a gain within 1e-20 of the first: then it is ordered too
                b1 = end(1)
                hi = max(khi[v] + kerr[v] + k.U * abs(khi[v]) for v in lst[1:b1].tolist())
                if hi + 4e-20 >= khi[E] - kerr[E] - k.U * abs(khi[E]):
                    if not kex[E]:
                        settle(E)
                    resolve(1, b1)
            nxt = int(lst[1])
            if nxt == E or (kex[E] and kex[nxt] and abs(exact[E][1] - exact[nxt][1]) < ref.TIE_COIN):
                if rng.random() >= 0.5:  # heads: the next is taken, the first goes to the end
                    lst[N], lab[N] = E, nl
                    E = nxt
                    lst[: N - 1], lab[: N - 1] = lst[2 : N + 1].copy(), lab[2 : N + 1].copy()
                    N -= 1
                else:  # tails: the first is taken and the next listed again at the end
                    lst[N], lab[N] = nxt, nl
                    lst[:N], lab[:N] = lst[1 : N + 1].copy(), lab[1 : N + 1].copy()
                nl += 1
            else:
                lst[: N - 1], lab[: N - 1] = lst[1:N].copy(), lab[1:N].copy()
                N -= 1
        else:
            lst[: N - 1], lab[: N - 1] = lst[1:N].copy(), lab[1:N].copy()
            N -= 1
        if iv[E, k.ST] != 1:
            continue  # not valid: dropped
        e = st.exchange(E, True)
        if not e.ok:
            raise _Escape
        realised.append(E)
        rows.append(ref._row(e))
        final[E] = (e, int(sized[E]))
        rI, rJ = st.add(e.I.y, vals), st.add(e.J.y, vals)
        stamp += 1
        nn = k.recalc(P, E, rI, rJ, stamp, lst, N, keep, rem, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, need,
                      idx, khi, klo, kerr, kex, sized, snap, siv, sfv, stab, osz)
        for row, left in zip(need[:nn].tolist(), rem[:nn].tolist()):
            ok = settle(row).ok
            while ok:
                keep[row] += 1
                if left == 0:
                    break
                left -= 1
                code = k.redo(row, E, rI, rJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, partb, khi, klo, kerr, kex,
                              sized)
                ok = settle(row).ok if code < 0 else code == 1
        N = k.compact(lst, lab, N, keep)
        ng, nl = k.split(lst, lab, N, khi, kerr, snap, stamp, osz, sized, nl, groups)
        for g in range(ng):
            order(int(groups[2 * g]), int(groups[2 * g + 1]), before)
    objs = {}
    for row, (e, at) in final.items():  # re-sized after it was realised: its final state, in decimal
        objs[row] = e if sized[row] == at else st.exchange(row)
    return [objs[row] for row in realised], rows
