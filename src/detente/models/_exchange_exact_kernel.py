"""The float side of the fast exact-decimal exchange path (:mod:`detente.models._exchange_exact`).

Decide computes in 28-digit decimals (:mod:`detente.models._exchange_decimal`, the slow reference, redoes
that operation by operation). This module evaluates the same candidate exchanges in double precision and,
beside every value, a bound on how far it can lie from the value Decide's decimals give (running error
analysis). A discrete decision (is a move valid, does an outcome cap bind, which of two actors is ``I``,
which exchange is realised) is taken here only when the float margin exceeds twice its bound; every other
one is handed back to the caller, who recomputes that exchange in decimal exactly as the reference does.
So the decisions are Decide's, and the values that are reported (the realised exchanges, the positions)
are always computed in decimal by the caller.

The bound (why a certified decision is Decide's)
-----------------------------------------------
Every quantity is computed from decimal values the caller holds exactly (positions, saliences,
capabilities, ``W``, the round's outcome sums and terms), each given here as its nearest double, which is
within ``u |v|`` of it (``u = 2**-53``; ``float(Decimal)`` rounds correctly). Each quantity ``v`` of the
expression is carried with ``e`` such that ``|v - V| <= e``, ``V`` the exact (real) value of the same
expression on the exact decimal inputs:

- ``a +- b``: ``|fl(a + b) - (A + B)| <= ea + eb + u |fl(a + b)|``;
- ``a b``: ``|fl(a b) - A B| <= |a| eb + |b| ea + ea eb + u |fl(a b)|``;
- ``a / b`` with ``|b| > eb``: ``|a / b - A / B| <= (ea + |a| eb / |b|) / (|b| - eb)``, plus ``u |fl(a / b)|``;
- ``|a|``: the same bound as ``a``.

The helpers below use ``U = 2 u`` where these say ``u`` and multiply the propagated part by ``1 + U``: the
extra ``u`` per operation covers the rounding of the bound's own arithmetic and Decide's own rounding of
the same operation (half a unit of the 28th digit, ``5e-28`` relative, against ``1.1e-16``): Decide's
value ``V_d`` of an expression with the same operations in the same order (this module mirrors
:mod:`._exchange_decimal` operation by operation) lies within ``5e-28`` relative per operation of ``V``,
propagated with the same coefficients. The one place whose grouping differs (an outcome's numerator:
Decide sums the members in file order, here the round's total plus the changed members' differences) adds
``(n + 10) 1e-27 S`` (``S`` the sum of the magnitudes of the terms), a bound on Decide's rounding of any
sum of at most ``n + 10`` terms each below ``S``. Hence ``|v - V_d| <= e`` for every carried value, and a
comparison ``v > c`` whose margin exceeds ``2 e`` (the factor 2 a safety margin for the bound's own
rounding) has Decide's answer. Comparisons of two values that exist exactly (a position with another)
are exact here: each such value is held as two doubles ``hi + lo`` (``lo`` the rounded remainder), whose
lexicographic order is the decimals' order (two 28-digit decimals of the same scale that share ``hi``
differ by far more than ``lo``'s rounding).

One more decision is exact although its float is not: a move all the way to the partner's position by an exact
decimal difference (:func:`_exact_sub`) is a whole multiple of ``10**e``, ``e`` the lower of the two positions'
last-digit exponents; when ``e <= 2`` (so that 100 is a multiple too) and ``10**e`` exceeds three times the bound,
a length within the bound of 100 is 100 exactly: not above it (:func:`_valid`). On round scales (actors on 0 and 100)
this is the common case that would otherwise go to decimal.
"""

from __future__ import annotations

import numpy as np

from ._jit import compiling, guard_cache, jit

U = 2.0**-52
#: Decide's smallest move and gain (the binary double 1e-10, compared exactly).
EPS = 1e-10
TINY = 1e-290
#: detente's tie rule: gains within this (relative) of the best are tied.
TIE_REL = 1e-12

#: int table ``iv`` columns: I and J, p (I demands it, J supplies it), q (I supplies, J demands), the refs of
#: I's and J's supply positions (-1: round start; else a row of ``vals``), their earlier moves' sign flags (0 none,
#: +1, -1, 2 mixed), status (1 pending, 0 gone, 2 to be sized in decimal), and which outcome caps the last sizing
#: found certainly not binding (bit 0: I's, bit 1: J's), how many actors its tables hold on p and on q, and the path
#: of its last sizing when every decision of it was certain (:data:`CERTAIN` set; else 0).
AI, AJ, PP, QQ, RI, RJ, FI, FJ, ST, NOCAP, NT0, NT1, PATH = range(13)
NI = 13
#: ``PATH`` bits: I moves all the way to J's position on q (the second branch of step 4); I's outcome cap binds;
#: J's outcome cap binds (J's is computed after I's, so it decides the sizes when both bind); the path is certain.
ALL_I, CAP_I, CAP_J, CERTAIN = 1, 2, 4, 8
#: float table ``fv`` columns: the current moves and their bounds, the earlier moves' sums and bounds, gain, bound.
MI, MJ, EMI, EMJ, HI, HJ, EHI, EHJ, G, EG = range(10)
NF = 10

COMPILED = compiling(__name__)
#: Without numba's reference counting (``_nrt=False``): no function here allocates (every scratch array comes from
#: the caller), and with it numba counted references to every array argument at every call of a helper, atomically
#: (``size``: about 40 atomic operations a sizing, 66,000 sizings a ``cop21`` draw; a fifth of a draw's CPU).
_jit = jit(COMPILED, cache=True, nogil=True, _nrt=False)
_inline = jit(COMPILED, cache=True, nogil=True, inline="always", _nrt=False)


@_inline
def _add(a, ea, b, eb):
    r = a + b
    return r, (ea + eb) * (1.0 + U) + U * abs(r)


@_inline
def _mul(a, ea, b, eb):
    r = a * b
    return r, (abs(a) * eb + abs(b) * ea + ea * eb) * (1.0 + U) + U * abs(r)


@_inline
def _div(a, ea, b, eb):
    d = abs(b) - eb
    if not d > 0.0:
        return 0.0, np.inf
    r = a / b
    return r, (ea + abs(a) * eb / abs(b)) / d * (1.0 + 2.0 * U) + U * abs(r)


@_inline
def _sure(m, e):
    """+1 if ``m`` is certainly > 0, -1 if certainly < 0, 0 if its sign (or zero) is not certain."""
    b = 2.0 * e + TINY
    if m > b:
        return 1
    if m < -b:
        return -1
    return 0


@_inline
def _gt(ah, al, bh, bl):
    """Exact ``a > b`` of two decimals held as ``hi + lo``."""
    return ah > bh or (ah == bh and al > bl)


@_inline
def _exact_sub(ah, ae, bh, be):
    """Is Decide's ``a - b`` exact (its digits fit in 28)? ``ae``, ``be``: the exponents of the decimals' last digits."""
    d = max(abs(ah - bh), U * (abs(ah) + abs(bh)))
    if d == 0.0:
        return True
    return np.floor(np.log10(d * (1.0 + 1e-9))) - min(ae, be) + 1.0 <= 28.0


@_inline
def _quantum(ah, ae, bh, be):
    """``10**min(ae, be)`` if Decide's ``a - b`` is exact (:func:`_exact_sub`) and 100 is a multiple of it (the
    difference is then a whole multiple of it, as 100 is), else 0."""
    e = min(ae, be)
    if e > 2.0 or not _exact_sub(ah, ae, bh, be):
        return 0.0
    return 10.0**e


@_inline
def _valid(ph, m, em, hs, ehs, hf, ex, yh, yl):
    """Decide's validity of a move ``m`` from ``ph`` (an exact value) with earlier moves summing to ``hs``
    (flag ``hf``): 1 valid, 0 invalid, -1 not certain. ``ex`` > 0: the move goes all the way to the partner's position
    ``yh + yl``, by an exact difference, so it ends there exactly, and its length is a whole multiple of ``ex`` (a
    power of ten, at most 100: :func:`_quantum`); 0: not so."""
    unsure = False
    a = abs(m)
    k = _sure(a - 100.0, em)
    if k == 0 and ex > 4.0 * em + TINY:
        # the length, within 3 em of 100 (the bound, and _sure's margin 2 em), is a multiple of ex, as 100 is, and
        # ex exceeds 3 em: it is 100, not above (a whole move between the bounds 0 and 100, common on round scales)
        k = -1
    if k > 0:
        return 0
    unsure |= k == 0
    k = _sure(a - EPS, em)
    if k < 0:
        return 0
    unsure |= k == 0
    if ex > 0.0:
        if _gt(0.0, 0.0, yh, yl) or _gt(yh, yl, 100.0, 0.0):
            return 0
    else:
        y, ey = _add(ph, U * abs(ph), m, em)
        k = _sure(y, ey)
        if k < 0:
            return 0
        unsure |= k == 0
        k = _sure(y - 100.0, ey)
        if k > 0:
            return 0
        unsure |= k == 0
    if hf != 0:
        t, et = _add(hs, ehs, m, em)
        k = _sure(t - 100.0, et)
        if k > 0:
            return 0
        unsure |= k == 0
        sgn = 1 if m > 0.0 else -1
        if hf != sgn:
            return 0
    return -1 if unsure else 1


@_inline
def _pos(ref, actor, issue, vals, xv):
    if ref < 0:
        return xv[actor, issue, 0], xv[actor, issue, 1], xv[actor, issue, 2]
    return vals[ref, 0], vals[ref, 1], vals[ref, 2]


@_inline
def _numer(r, slot, issue, actor, pv, pe, actor_last, tab, tabn, vals, sf, cf, tf, tot, n, part):
    """An outcome's numerator: the round's, with the exchange's table and ``actor`` at ``pv`` (see the module)."""
    num = tot[issue, 0]
    e = U * abs(num)
    S = tot[issue, 1]
    held = tab[r, slot, actor]
    if tabn == 0 or (tabn == 1 and held >= 0):  # only the actor differs from the round's start (the usual case)
        if actor_last or held < 0:
            v = pv
            ev = pe
        else:
            v = vals[held, 0]
            ev = U * abs(v)
        t1, e1 = _mul(v, ev, sf[actor, issue], U * sf[actor, issue])
        t1, e1 = _mul(t1, e1, cf[actor], U * cf[actor])
        d, ed = _add(t1, e1, -tf[actor, issue], U * abs(tf[actor, issue]))
        num, e = _add(num, e, d, ed)
        S += abs(t1)
        return num, e + (n + 10) * 1e-27 * S
    for k in range(n):
        if not part[k, issue]:
            continue
        ref = tab[r, slot, k]
        if k == actor and (actor_last or ref < 0):
            v = pv
            ev = pe
        elif ref >= 0:
            v = vals[ref, 0]
            ev = U * abs(v)
        else:
            continue
        t1, e1 = _mul(v, ev, sf[k, issue], U * sf[k, issue])
        t1, e1 = _mul(t1, e1, cf[k], U * cf[k])
        d, ed = _add(t1, e1, -tf[k, issue], U * abs(tf[k, issue]))
        num, e = _add(num, e, d, ed)
        S += abs(t1)
    return num, e + (n + 10) * 1e-27 * S


@_inline
def _cap(r, slot, a, act, ph, pl, m, em, bact, bsup, xbh, xbl, bph, bpl, adh, adl, tab, tabns, vals, sf, cf, Wf, tf, tot, n, part):
    """Step 5 for side A (``act`` on issue ``a``, from ``ph`` by ``m``) against B (``bact``, supplying ``bsup``, from
    ``bph``; its demand position ``xbh`` on ``a``; A's demand position ``adh`` on ``bsup``).

    Returns (status, A's move, bound, B's move or nan if B's move is unchanged, bound, gain, bound): status 1 no cap,
    2 capped, -1 not certain."""
    W = Wf[a]
    eW = U * W
    tabn = tabns[slot]
    n0, en0 = _numer(r, slot, a, act, ph, U * abs(ph), True, tab, tabn, vals, sf, cf, tf, tot, n, part)
    o0, eo0 = _div(n0, en0, W, eW)
    y, ey = _add(ph, U * abs(ph), m, em)
    n1, en1 = _numer(r, slot, a, act, y, ey, True, tab, tabn, vals, sf, cf, tf, tot, n, part)
    o1, eo1 = _div(n1, en1, W, eW)
    d0, ed0 = _add(xbh, U * abs(xbh), -o0, eo0)
    d1, ed1 = _add(xbh, U * abs(xbh), -o1, eo1)
    s0 = _sure(d0, ed0)
    s1 = _sure(d1, ed1)
    nan = np.nan
    if s0 == 0 or s1 == 0:
        return -1, m, em, nan, 0.0, 0.0, 0.0
    if (s0 >= 0 and s1 >= 0) or (s0 <= 0 and s1 <= 0):
        return 1, m, em, nan, 0.0, 0.0, 0.0
    num, enum = _numer(r, slot, a, act, ph, U * abs(ph), False, tab, tabn, vals, sf, cf, tf, tot, n, part)
    t, et = _mul(xbh, U * abs(xbh), W, eW)
    t, et = _add(t, et, -num, enum)
    sa, esa = _mul(sf[act, a], U * sf[act, a], cf[act], U * cf[act])
    ma, ema = _div(t, et, sa, esa)
    ma = abs(ma)
    t, et = _mul(ma, ema, sf[act, a], U * sf[act, a])
    t, et = _mul(t, et, cf[act], U * cf[act])
    dA, edA = _div(t, et, W, eW)
    rn, ern = _add(sf[act, a], U * sf[act, a], sf[bact, a], U * sf[bact, a])
    rd, erd = _add(sf[act, bsup], U * sf[act, bsup], sf[bact, bsup], U * sf[bact, bsup])
    rt, ert = _div(rn, ern, rd, erd)
    dB, edB = _mul(rt, ert, dA, edA)
    t, et = _mul(dB, edB, Wf[bsup], U * Wf[bsup])
    sb, esb = _mul(sf[bact, bsup], U * sf[bact, bsup], cf[bact], U * cf[bact])
    mb, emb = _div(t, et, sb, esb)
    mb = abs(mb)
    if _gt(ph, pl, xbh, xbl):
        ma = -ma
    if _gt(bph, bpl, adh, adl):
        mb = -mb
    g1, eg1 = _mul(dB, edB, sf[bact, bsup], U * sf[bact, bsup])
    g2, eg2 = _mul(dA, edA, sf[bact, a], U * sf[bact, a])
    g, eg = _add(g1, eg1, -g2, eg2)
    return 2, ma, ema, mb, emb, abs(g), eg


@_inline
def _keep(r, iv, fv, mI, emI, mJ, emJ, g, eg, ih, jh, exI, exJ, jdh, jdl, idh, idl):
    """Put the sizes in row ``r``; the validity of I's and J's moves (:func:`_valid`)."""
    fv[r, MI] = mI
    fv[r, MJ] = mJ
    fv[r, EMI] = emI
    fv[r, EMJ] = emJ
    fv[r, G] = g
    fv[r, EG] = eg
    vI = _valid(ih, mI, emI, fv[r, HI], fv[r, EHI], iv[r, FI], exI, jdh, jdl)
    vJ = _valid(jh, mJ, emJ, fv[r, HJ], fv[r, EHJ], iv[r, FJ], exJ, idh, idl)
    return vI, vJ


@_jit
def size(r, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part):
    """Steps 4-5 for row ``r`` (``_exchange_decimal._size``) in float: writes the moves and the gain; returns 1 valid,
    0 invalid, -1 not certain (the caller sizes it in decimal)."""
    n = part.shape[0]
    iv[r, NOCAP] = 0
    iv[r, PATH] = 0
    ai = iv[r, AI]
    aj = iv[r, AJ]
    p = iv[r, PP]
    q = iv[r, QQ]
    ih, il, ie = _pos(iv[r, RI], ai, q, vals, xv)
    jh, jl, je = _pos(iv[r, RJ], aj, p, vals, xv)
    idh = xv[ai, p, 0]
    idl = xv[ai, p, 1]
    jdh = xv[aj, q, 0]
    jdl = xv[aj, q, 1]
    exJ = _quantum(idh, xv[ai, p, 2], jh, je)  # J all the way to I on p: ends on I exactly
    exI = 0.0
    sIp = sf[ai, p]
    sIq = sf[ai, q]
    sJp = sf[aj, p]
    sJq = sf[aj, q]
    cI = cf[ai]
    cJ = cf[aj]
    Wp = Wf[p]
    Wq = Wf[q]
    dJ, edJ = _add(idh, U * abs(idh), -jh, U * abs(jh))
    dJ = abs(dJ)
    t, et = _mul(dJ, edJ, sJp, U * sJp)
    t, et = _mul(t, et, cJ, U * cJ)
    dp, edp = _div(t, et, Wp, U * Wp)
    rn, ern = _add(sJp, U * sJp, sIp, U * sIp)
    rd, erd = _add(sJq, U * sJq, sIq, U * sIq)
    rt, ert = _div(rn, ern, rd, erd)
    dq, edq = _mul(rt, ert, dp, edp)
    t, et = _mul(dq, edq, Wq, U * Wq)
    sc, esc = _mul(sIq, U * sIq, cI, U * cI)
    mI, emI = _div(t, et, sc, esc)
    mJ, emJ = dJ, edJ
    dI, edI = _add(jdh, U * abs(jdh), -ih, U * abs(ih))
    dI = abs(dI)
    k = _sure(abs(mI) - dI, emI + edI)
    if k == 0:
        return -1
    path = CERTAIN
    if k > 0:
        path |= ALL_I
        exJ = 0.0
        exI = _quantum(jdh, xv[aj, q, 2], ih, ie)
        t, et = _mul(dI, edI, sIq, U * sIq)
        t, et = _mul(t, et, cI, U * cI)
        dq, edq = _div(t, et, Wq, U * Wq)
        rn, ern = _add(sIq, U * sIq, sJq, U * sJq)
        rd, erd = _add(sIp, U * sIp, sJp, U * sJp)
        rt, ert = _div(rn, ern, rd, erd)
        dp, edp = _mul(rt, ert, dq, edq)
        mI, emI = dI, edI
        t, et = _mul(dp, edp, Wp, U * Wp)
        sc, esc = _mul(sJp, U * sJp, cJ, U * cJ)
        mJ, emJ = _div(t, et, sc, esc)
    if _gt(ih, il, jdh, jdl):
        mI = -mI
    if _gt(jh, jl, idh, idl):
        mJ = -mJ
    g1, eg1 = _mul(dq, edq, sIq, U * sIq)
    g2, eg2 = _mul(dp, edp, sIp, U * sIp)
    g, eg = _add(g1, eg1, -g2, eg2)
    g = abs(g)
    vI, vJ = _keep(r, iv, fv, mI, emI, mJ, emJ, g, eg, ih, jh, exI, exJ, jdh, jdl, idh, idl)
    vg = _sure(g - EPS, eg)
    if vI == 0 or vJ == 0 or vg < 0:
        return 0
    if vI < 0 or vJ < 0 or vg == 0:
        return -1
    # the outcome cap, I then J
    st, mI, emI, mb, emb, gg, egg = _cap(r, 1, q, ai, ih, il, mI, emI, aj, p, jdh, jdl, jh, jl, idh, idl,
                                        tab, (iv[r, NT0], iv[r, NT1]), vals, sf, cf, Wf, tf, tot, n, part)
    if st < 0:
        return -1
    nocap = 1 if st == 1 else 0
    if st == 2:
        path |= CAP_I
        mJ, emJ, g, eg = mb, emb, gg, egg
        exI = exJ = 0.0
    st, mJ, emJ, mb, emb, gg, egg = _cap(r, 0, p, aj, jh, jl, mJ, emJ, ai, q, idh, idl, ih, il, jdh, jdl,
                                        tab, (iv[r, NT0], iv[r, NT1]), vals, sf, cf, Wf, tf, tot, n, part)
    if st < 0:
        return -1
    if st == 1:
        nocap += 2
    if st == 2:
        path |= CAP_J
        mI, emI, g, eg = mb, emb, gg, egg
        exI = exJ = 0.0
    vI, vJ = _keep(r, iv, fv, mI, emI, mJ, emJ, g, eg, ih, jh, exI, exJ, jdh, jdl, idh, idl)
    if vI == 0 or vJ == 0:
        return 0
    if vI < 0 or vJ < 0:
        return -1
    iv[r, NOCAP] = nocap
    iv[r, PATH] = path
    return 1


@_jit
def form(left, part, sf, iv, fv, tab, unsure):
    """Steps 1-3: every candidate exchange of the round, in Decide's order, roles by the salience ratios (a ratio
    comparison that is not certain is listed in ``unsure``, the caller settles it in decimal and swaps I and J).
    Returns (number of candidates, number listed)."""
    n, D = part.shape
    P = 0
    nu = 0
    for p in range(D):
        for q in range(p + 1, D):
            for kind in range(2):
                for a in range(n):
                    if not (part[a, p] and part[a, q]):
                        continue
                    if kind == 0 and (left[a, p] or left[a, q]):
                        continue
                    if kind == 1 and not (left[a, p] and not left[a, q]):
                        continue
                    for b in range(n):
                        if not (part[b, p] and part[b, q]):
                            continue
                        if kind == 0 and not (left[b, p] and left[b, q]):
                            continue
                        if kind == 1 and not (not left[b, p] and left[b, q]):
                            continue
                        ra, era = _div(sf[a, p], U * sf[a, p], sf[a, q], U * sf[a, q])
                        rb, erb = _div(sf[b, p], U * sf[b, p], sf[b, q], U * sf[b, q])
                        k = _sure(rb - ra, era + erb)
                        i, j = a, b
                        if k > 0:  # a's ratio below b's: b is I
                            i, j = b, a
                        elif k == 0:
                            unsure[nu] = P
                            nu += 1
                        iv[P, AI] = i
                        iv[P, AJ] = j
                        iv[P, PP] = p
                        iv[P, QQ] = q
                        iv[P, RI] = -1
                        iv[P, RJ] = -1
                        iv[P, FI] = 0
                        iv[P, FJ] = 0
                        iv[P, ST] = 1
                        iv[P, NT0] = 0
                        iv[P, NT1] = 0
                        iv[P, PATH] = 0
                        for c in range(NF):
                            fv[P, c] = 0.0
                        for k2 in range(n):
                            tab[P, 0, k2] = -1
                            tab[P, 1, k2] = -1
                        P += 1
    return P, nu


def index_size(n: int, D: int, M: int) -> int:
    """The length of :func:`index`'s array (its two tables, a mark per row, then room for the rows step 7 visits and
    :func:`index`'s own counters)."""
    return 2 * (n * D + 1) + 6 * M + 2 * n * D


@_inline
def _scratch(idx, keys, M):
    """The part of :func:`index`'s array that holds the rows step 7 visits (:func:`_touched`'s ``out``)."""
    o = 2 * (keys + 1) + 5 * M
    return idx[o : o + M]


@_jit
def index(P, iv, n, D, idx):
    """Per actor-issue, the rows in which it supplies and those in which it demands (two CSR tables in ``idx``,
    then a mark per row), so that step 7 visits only the rows a realised exchange can touch."""
    keys = n * D
    M = iv.shape[0]
    o_sr = keys + 1
    o_ds = o_sr + 2 * M
    o_dr = o_ds + keys + 1
    o_mk = o_dr + 2 * M
    for k in range(keys + 1):
        idx[k] = 0
        idx[o_ds + k] = 0
    for r in range(P):
        idx[iv[r, AI] * D + iv[r, QQ] + 1] += 1
        idx[iv[r, AJ] * D + iv[r, PP] + 1] += 1
        idx[o_ds + iv[r, AI] * D + iv[r, PP] + 1] += 1
        idx[o_ds + iv[r, AJ] * D + iv[r, QQ] + 1] += 1
    for k in range(keys):
        idx[k + 1] += idx[k]
        idx[o_ds + k + 1] += idx[o_ds + k]
    o_cur = 2 * (keys + 1) + 6 * M
    cur = idx[o_cur : o_cur + 2 * keys]
    for k in range(keys):
        cur[k] = idx[k]
        cur[keys + k] = idx[o_ds + k]
    for r in range(P):
        for key in (iv[r, AI] * D + iv[r, QQ], iv[r, AJ] * D + iv[r, PP]):
            idx[o_sr + cur[key]] = r
            cur[key] += 1
        for key in (iv[r, AI] * D + iv[r, PP], iv[r, AJ] * D + iv[r, QQ]):
            idx[o_dr + cur[keys + key]] = r
            cur[keys + key] += 1
    for r in range(M):
        idx[o_mk + r] = -1


@_jit
def size_all(P, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need):
    """Size every candidate; returns how many need decimal (listed in ``need``)."""
    nn = 0
    for r in range(P):
        st = size(r, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part)
        if st < 0:
            iv[r, ST] = 2
            need[nn] = r
            nn += 1
        else:
            iv[r, ST] = st
    return nn


@_inline
def _commit(fv, iv, r, m_col, em_col, h_col, eh_col, f_col):
    """A continued side keeps its current move among its earlier ones."""
    m = fv[r, m_col]
    h, eh = _add(fv[r, h_col], fv[r, eh_col], m, fv[r, em_col])
    fv[r, h_col] = h
    fv[r, eh_col] = eh
    sgn = 1 if m > 0.0 else -1
    f = iv[r, f_col]
    iv[r, f_col] = sgn if f == 0 or f == sgn else 2


@_inline
def _touched(E, mark, iv, part, idx, out):
    """The rows in which an actor-issue of row ``E`` supplies or demands (those step 7 may touch), each once (marked
    with ``mark`` in :func:`index`'s marks), written to ``out``; returns how many."""
    eI = iv[E, AI]
    eJ = iv[E, AJ]
    ep = iv[E, PP]
    eq = iv[E, QQ]
    D = part.shape[1]
    keys = part.shape[0] * D
    M = iv.shape[0]
    o_ds = keys + 1 + 2 * M
    o_mk = o_ds + keys + 1 + 2 * M
    c = 0
    for li in range(4):
        if li == 0:
            o_s, key = 0, eI * D + eq
        elif li == 1:
            o_s, key = 0, eJ * D + ep
        elif li == 2:
            o_s, key = o_ds, eJ * D + eq
        else:
            o_s, key = o_ds, eI * D + ep
        o_r = o_s + keys + 1
        for t in range(idx[o_s + key], idx[o_s + key + 1]):
            r = idx[o_r + t]
            if idx[o_mk + r] == mark:
                continue
            idx[o_mk + r] = mark
            out[c] = r
            c += 1
    return c


@_inline
def _touch(r, eI, eJ, ep, eq, refI, refJ, iv, fv, tab, vals, xv):
    """Step 7 for row ``r`` after the exchange of I ``eI`` (supplying ``eq``, demanding ``ep``, now at ``vals[refI]``) and
    J ``eJ`` (supplying ``ep``, now at ``vals[refJ]``): continue its sides that supply what E's supplied, record E's
    moves on the issues its sides demand. True if either happened (the row must be re-sized)."""
    ai = iv[r, AI]
    aj = iv[r, AJ]
    p = iv[r, PP]
    q = iv[r, QQ]
    cI = False
    cJ = False
    if ai == eI and q == eq:
        iv[r, RI] = refI
        cI = True
    elif ai == eJ and q == ep:
        iv[r, RI] = refJ
        cI = True
    if aj == eI and p == eq:
        iv[r, RJ] = refI
        cJ = True
    elif aj == eJ and p == ep:
        iv[r, RJ] = refJ
        cJ = True
    touched = cI or cJ
    if cI:
        _commit(fv, iv, r, MI, EMI, HI, EHI, FI)
    if cJ:
        _commit(fv, iv, r, MJ, EMJ, HJ, EHJ, FJ)
    for w in range(2):
        if w == 0:  # (E.J, E.I): E.J demands eq, E.I moved on eq
            ea, edem, oa, oref = eJ, eq, eI, refI
        else:
            ea, edem, oa, oref = eI, ep, eJ, refJ
        if aj == ea and q == edem:
            slot = 1
        elif ai == ea and p == edem:
            slot = 0
        else:
            continue
        prev = tab[r, slot, oa]
        if prev < 0:
            tab[r, slot, oa] = oref
            iv[r, NT0 + slot] += 1
        else:
            sh = xv[oa, edem, 0]
            sl = xv[oa, edem, 1]
            ph = vals[prev, 0]
            pl = vals[prev, 1]
            yh = vals[oref, 0]
            yl = vals[oref, 1]
            if not _gt(sh, sl, ph, pl):  # start <= prev: the lower of prev and y (y on a tie)
                tab[r, slot, oa] = prev if _gt(yh, yl, ph, pl) else oref
            else:  # the higher (y on a tie)
                tab[r, slot, oa] = prev if _gt(ph, pl, yh, yl) else oref
        touched = True
    return touched


@_jit
def step(P, E, refI, refJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx):
    """Step 7 after realising row ``E`` (its sides' new positions are ``vals[refI]``, ``vals[refJ]``; ``E`` < 0: none),
    then step 6's choice by detente's tie rule.

    Returns the row to realise, -1 when nothing is pending, -2 when rows need sizing in decimal (``need[0]`` of them,
    listed from ``need[1]``), -3 when the choice is not certain (the caller makes it in decimal)."""
    nn = 0
    if E >= 0:
        iv[E, ST] = 0
        eI = iv[E, AI]
        eJ = iv[E, AJ]
        ep = iv[E, PP]
        eq = iv[E, QQ]
        # E's sides: I (eI) supplies eq, demands ep, now at vals[refI]; J (eJ) supplies ep, demands eq, at vals[refJ]
        rows = _scratch(idx, part.shape[0] * part.shape[1], iv.shape[0])
        for i in range(_touched(E, E, iv, part, idx, rows)):
            r = rows[i]
            if iv[r, ST] != 1:
                continue
            touched = _touch(r, eI, eJ, ep, eq, refI, refJ, iv, fv, tab, vals, xv)
            if touched:
                st = size(r, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part)
                if st < 0:
                    iv[r, ST] = 2
                    need[1 + nn] = r
                    nn += 1
                else:
                    iv[r, ST] = st
    if nn > 0:
        need[0] = nn
        return -2
    hi = -1.0
    lo = -1.0
    for r in range(P):
        if iv[r, ST] == 1:
            g = fv[r, G]
            e = 2.0 * fv[r, EG]
            if g + e > hi:
                hi = g + e
            if g - e > lo:
                lo = g - e
    if hi < 0.0:
        return -1
    floor_lo = lo - TIE_REL * max(1.0, hi) - 4.0 * U * hi
    floor_hi = hi - TIE_REL * max(1.0, lo) + 4.0 * U * hi
    for r in range(P):
        if iv[r, ST] != 1:
            continue
        g = fv[r, G]
        e = 2.0 * fv[r, EG]
        if g - e > floor_hi:
            return r
        if g + e < floor_lo:
            continue
        return -3
    return -3


@_inline
def _redo(r, E, refI, refJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, khi, klo, kerr, kex, sized):
    """One recalculation of row ``r`` against the realised row ``E`` (step 7): 1 valid, 0 invalid, -1 not certain
    (status 2: the caller sizes it in decimal). Its sort key becomes its float gain and bound."""
    touched = _touch(r, iv[E, AI], iv[E, AJ], iv[E, PP], iv[E, QQ], refI, refJ, iv, fv, tab, vals, xv)
    if not touched:
        return 1
    st = size(r, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part)
    iv[r, ST] = 2 if st < 0 else st
    khi[r] = fv[r, G]
    klo[r] = 0.0
    kerr[r] = 2.0 * fv[r, EG]
    kex[r] = False
    sized[r] += 1
    return st


@_jit
def redo(r, E, refI, refJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, khi, klo, kerr, kex, sized):
    """:func:`_redo` (for the caller's listings left after a recalculation it settled in decimal)."""
    return _redo(r, E, refI, refJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, khi, klo, kerr, kex, sized)


@_jit
def recalc(P, E, refI, refJ, stamp, lst, N, keep, rem, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx,
           khi, klo, kerr, kex, sized, snap, siv, sfv, stab, osz):
    """Step 7 as Decide's own list runs it (``ties`` "decide" and "coin"), after realising row ``E``.

    ``lst[:N]``: Decide's list after ``E`` was taken from it (row ids; a row can be listed more than once, ``E`` too).
    Every valid row that shares a supplying or demanding actor-issue with ``E`` is recalculated once per listing (Decide
    recalculates every valid listing), ``E`` itself against itself if it is still listed; ``keep[r]``: how many of row
    ``r``'s listings stay (all of a valid untouched row's, none of an invalid one's, and of a recalculated row those
    recalculated while it stayed valid; 0 for every row on entry, as :func:`compact` leaves it). A recalculation the
    float bound cannot settle stops its row: the row is listed in ``need`` with ``rem`` listings left. Returns how many
    rows need decimal.

    Before its first recalculation a visited row's state is kept (``siv``, ``sfv``; of ``stab`` the tables it holds
    actors in, the only ones read from it; ``osz`` its count of
    sizings, ``snap`` set to ``stamp``): its place in the list may still have to be found from its gain before
    (:func:`split`). A re-sizing that certainly keeps the gain keeps the row's key and counts as none (``osz``): no
    outcome cap binds before or after, step 4 takes the same branch, and the side that moves all the way (whose
    distance to its partner is the gain's only variable then) moves from the same position."""
    # keep is 0 for every row on entry (compact leaves it so): the valid rows' listings are counted
    for i in range(N):
        r = lst[i]
        if iv[r, ST] == 1:
            keep[r] += 1
    nn = 0
    n = part.shape[0]
    rows = _scratch(idx, n * part.shape[1], iv.shape[0])
    for i in range(_touched(E, stamp, iv, part, idx, rows)):
        r = rows[i]
        m = keep[r]
        if m == 0:
            continue
        keep[r] = 0
        snap[r] = stamp
        osz[r] = sized[r]
        for c in range(NI):
            siv[r, c] = iv[r, c]
        for c in range(NF):
            sfv[r, c] = fv[r, c]
        for sl in range(2):  # a table is read only where the row's count says it holds actors (siv's NT0, NT1)
            if iv[r, NT0 + sl] > 0:
                for c in range(n):
                    stab[r, sl, c] = tab[r, sl, c]
        okh = khi[r]
        okl = klo[r]
        oke = kerr[r]
        okx = kex[r]
        for k in range(m):
            st = _redo(r, E, refI, refJ, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, khi, klo, kerr, kex, sized)
            if st < 0:
                need[nn] = r
                rem[nn] = m - k - 1
                nn += 1
                break
            if st == 0:
                break
            keep[r] += 1
        c0 = siv[r, PATH]
        if (keep[r] == m and iv[r, ST] == 1 and iv[r, PATH] == c0 and c0 & (CERTAIN | CAP_I | CAP_J) == CERTAIN
                and (iv[r, RI] == siv[r, RI] if c0 & ALL_I else iv[r, RJ] == siv[r, RJ])):
            khi[r] = okh
            klo[r] = okl
            kerr[r] = oke
            kex[r] = okx
            osz[r] = sized[r]
    return nn


@_jit
def compact(lst, lab, N, keep):
    """Keep, in order, the first ``keep[r]`` listings of every row ``r`` in ``lst[:N]`` (and their labels ``lab``);
    returns the new length."""
    out = 0
    for i in range(N):
        r = lst[i]
        if keep[r] > 0:
            keep[r] -= 1
            lst[out] = r
            lab[out] = lab[i]
            out += 1
    return out


@_inline
def _half(v, khi, kerr):
    """Half the width of the interval that holds row ``v``'s exact gain around ``khi[v]``."""
    return kerr[v] + U * abs(khi[v]) + TINY


@_inline
def _before(uhi, a, b):
    """Unit ``a`` comes before unit ``b`` in a stable sort by top, highest first: a higher top, or the same and first."""
    return uhi[a] > uhi[b] or (uhi[a] == uhi[b] and a < b)


@_inline
def _ahead(key, a, b):
    """Unit ``a`` comes before unit ``b`` in a stable sort by ``key``, highest first, NaN last (numpy's stable argsort
    of ``-key``): a strict order of the units, so every sort by it gives the same order."""
    ka = key[a]
    kb = key[b]
    if ka > kb:
        return True
    if ka == kb:
        return a < b
    if ka < kb:
        return False
    if ka == ka:  # b is NaN, a is not
        return True
    if kb == kb:
        return False
    return a < b


@_jit
def _msort(units, m, key, tmp):
    """Sort ``units[:m]`` by :func:`_ahead` (a merge sort, bottom up, through ``tmp``: nothing allocated)."""
    w = 1
    while w < m:
        lo = 0
        while lo < m:
            mid = min(lo + w, m)
            hi = min(lo + 2 * w, m)
            i = lo
            j = mid
            o = lo
            while i < mid and j < hi:
                if _ahead(key, units[j], units[i]):
                    tmp[o] = units[j]
                    j += 1
                else:
                    tmp[o] = units[i]
                    i += 1
                o += 1
            while i < mid:
                tmp[o] = units[i]
                i += 1
                o += 1
            while j < hi:
                tmp[o] = units[j]
                j += 1
                o += 1
            lo = hi
        for t in range(m):
            units[t] = tmp[t]
        w *= 2


@_jit
def _resort(uhi, nu, uord, kept, rest, tmp):
    """``uord[:nu]``: the units ``0..nu-1`` in a stable sort by ``uhi``, highest first (the order of an insertion sort
    that moves a unit up past every lower top), for a list sorted but for a few units (the last sort's order with the
    re-sized ones): in about ``nu`` steps plus a sort of the few.

    Any stable sort of the same keys gives the same order, the one by (top, highest first; then place). The units are
    split into a chain that is in that order (places increasing, tops not increasing: a unit is added if its top is
    not above the chain's last; a unit above it takes the place of at most four at the chain's end that are lower,
    which are set aside, else it is set aside itself) and the rest, sorted by the same key; the two are merged by it.
    A NaN top (no order) is sorted by the insertion sort itself. ``kept``, ``rest``, ``tmp``: room for ``nu`` units."""
    for u in range(nu):
        if not uhi[u] == uhi[u]:
            for v in range(nu):
                h = uhi[v]
                j = v
                while j > 0 and uhi[uord[j - 1]] < h:
                    uord[j] = uord[j - 1]
                    j -= 1
                uord[j] = v
            return
    nk = 0
    nr = 0
    for u in range(nu):
        h = uhi[u]
        if nk == 0 or uhi[kept[nk - 1]] >= h:
            kept[nk] = u
            nk += 1
            continue
        lo = 0  # the first place of the chain whose top is below h (the chain's tops do not increase)
        hi = nk - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if uhi[kept[mid]] < h:
                hi = mid
            else:
                lo = mid + 1
        if nk - lo <= 4:
            for t in range(lo, nk):
                rest[nr] = kept[t]
                nr += 1
            nk = lo
            kept[nk] = u
            nk += 1
        else:
            rest[nr] = u
            nr += 1
    if nr > 32:  # no NaN here: by top, highest first, then by unit
        _msort(rest, nr, uhi, tmp)
    else:
        for t in range(1, nr):
            v = rest[t]
            j = t
            while j > 0 and _before(uhi, v, rest[j - 1]):
                rest[j] = rest[j - 1]
                j -= 1
            rest[j] = v
    i = 0
    j = 0
    o2 = 0
    while i < nk and j < nr:
        if _before(uhi, kept[i], rest[j]):
            uord[o2] = kept[i]
            i += 1
        else:
            uord[o2] = rest[j]
            j += 1
        o2 += 1
    while i < nk:
        uord[o2] = kept[i]
        i += 1
        o2 += 1
    while j < nr:
        uord[o2] = rest[j]
        j += 1
        o2 += 1


@_jit
def arrange(src, slab, N, khi, kerr, dst, dlab, nl, first, ust, uen, uhi, ulo, uord, kept, rest, tmp):
    """Decide's stable sort of its list, as far as the float gains settle it.

    The list is held as groups: runs of equal labels in ``src[:N]`` (``slab``). A group's listings are in an order
    (its "pre-order") such that Decide's order of them is that order sorted stably by exact gain: a group's internal
    order is unknown until its gains are (:func:`split` and the caller's resolution). A listing alone in its group is
    at its place. ``khi`` with the bound ``kerr`` (0 for an exact gain, then ``khi`` is its nearest double) holds every
    row's gain.

    The groups of ``src`` (its units) are sorted by the top of their gains' intervals, and units whose intervals
    overlap, directly or through others, are merged into one group whose pre-order is their order in ``src`` (Decide's
    stable sort keeps equal gains in the list's order, and a unit's listings come before or after another's as wholes).
    Writes the groups in order to ``dst``, each with a new label from ``nl``; returns the next free label.

    ``first``: ``src`` is in the order formed (a merge sort of the units); else it is the last sort's order with a few
    re-sized or appended listings (an insertion sort). ``kept``, ``rest``, ``tmp``: room for the sorts (``N`` each)."""
    nu = 0
    i = 0
    while i < N:
        j = i + 1
        while j < N and slab[j] == slab[i]:
            j += 1
        hi = -np.inf
        lo = np.inf
        for t in range(i, j):
            v = src[t]
            h = _half(v, khi, kerr)
            hi = max(hi, khi[v] + h)
            lo = min(lo, khi[v] - h)
        ust[nu] = i
        uen[nu] = j
        uhi[nu] = hi
        ulo[nu] = lo
        nu += 1
        i = j
    if first:  # a stable sort by top, highest first (NaN last)
        for u in range(nu):
            uord[u] = u
        _msort(uord, nu, uhi, tmp)
    else:
        _resort(uhi, nu, uord, kept, rest, tmp)
    out = 0
    k = 0
    while k < nu:
        glo = ulo[uord[k]]
        m = k + 1
        while m < nu and uhi[uord[m]] >= glo:
            glo = min(glo, ulo[uord[m]])
            m += 1
        for a in range(k + 1, m):  # the group's units in their order in src
            u = uord[a]
            b = a
            while b > k and ust[uord[b - 1]] > ust[u]:
                uord[b] = uord[b - 1]
                b -= 1
            uord[b] = u
        for a in range(k, m):
            u = uord[a]
            for t in range(ust[u], uen[u]):
                dst[out] = src[t]
                dlab[out] = nl
                out += 1
        nl += 1
        k = m
    return nl


@_jit
def split(lst, lab, N, khi, kerr, snap, stamp, osz, sized, nl, out):
    """After a recalculation: the groups whose order must be found now, from their gains before it.

    A listing re-sized in this step (``snap`` is ``stamp`` and its count of sizings moved) sits in its group's
    pre-order at an unknown place. That place matters only against a listing of another row of the group whose exact
    gain may now equal its own (intervals that overlap): such a group is listed in ``out`` (start, end) for the caller
    to order by the gains before the step. In every other group the re-sized listings get labels of their own (they tie
    nothing in the group; the rest of the group keeps its pre-order). Returns (groups listed, next free label)."""
    ng = 0
    i = 0
    while i < N:
        j = i + 1
        while j < N and lab[j] == lab[i]:
            j += 1
        if j - i > 1:
            clash = False
            moved = False
            for a in range(i, j):
                ra = lst[a]
                if snap[ra] != stamp or osz[ra] == sized[ra]:
                    continue
                moved = True
                ha = _half(ra, khi, kerr)
                for b in range(i, j):
                    rb = lst[b]
                    if rb == ra:
                        continue
                    if abs(khi[ra] - khi[rb]) <= ha + _half(rb, khi, kerr):
                        clash = True
                        break
                if clash:
                    break
            if clash:
                out[2 * ng] = i
                out[2 * ng + 1] = j
                ng += 1
            elif moved:
                for a in range(i, j):
                    ra = lst[a]
                    if snap[ra] == stamp and osz[ra] != sized[ra]:
                        lab[a] = nl
                        nl += 1
        i = j
    return ng, nl


#: :func:`advance`'s phases (where it takes up Decide's list) and its answers other than a row to realise.
PH_ARRANGE, PH_TOPPED, PH_NEXTED, PH_RECALC, PH_COMPACT = range(5)
R_DONE, R_TOP, R_NEXT, R_TIE, R_SETTLE, R_GROUPS = -1, -2, -3, -4, -5, -6
#: :func:`advance`'s state ``S``: the list's length, the next free label, the first sort still to come, the step's
#: stamp, the ends of the first two groups, the coin on, how many rows need decimal, how many groups to order.
S_N, S_NL, S_FIRST, S_STAMP, S_B0, S_B1, S_COIN, S_NN, S_NG = range(9)
#: :func:`advance`'s int table ``LI``: one row per array, each ``P + 1`` long (the list never grows: a tie's extra
#: listing replaces the one taken; :func:`split`'s groups hold two listings at least, so ``2 ng <= N <= P + 1``).
L_LST, L_LAB, L_DST, L_DLAB, L_KEEP, L_REM, L_SNAP, L_OSZ, L_SIZED, L_UST, L_UEN, L_UORD, L_GROUPS = range(13)
#: and the sorts' room (:func:`arrange`).
L_KEPT, L_REST, L_TMP = 13, 14, 15
NL = 16
#: :func:`advance`'s float table ``LF`` (rows at least ``P + 1`` long): every row's sort key (gain, its remainder when
#: exact, its bound; see :func:`arrange`) and :func:`arrange`'s units' tops and bottoms.
F_KHI, F_KLO, F_KERR, F_UHI, F_ULO = range(5)
NFL = 5


@_inline
def _end(lab, N, a):
    """The end of the group of the list that starts at ``a``."""
    b = a + 1
    while b < N and lab[b] == lab[a]:
        b += 1
    return b


@_jit
def advance(phase, E, refI, refJ, P, S, LI, LF, kex, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx, siv,
            sfv, stab):
    """One step of Decide's own list (``ties`` "decide" and "coin"), from ``phase`` up to the next thing only the caller
    can do (:func:`detente.models._exchange_exact._list_round`, whose loop this is, in the same order):

    - ``PH_RECALC`` (row ``E`` was realised, its sides now at ``vals[refI]``, ``vals[refJ]``): a new stamp,
      :func:`recalc`; rows that need decimal: ``R_SETTLE`` (``S[S_NN]`` of them in ``need``, their listings left in
      ``rem``); the caller settles them and comes back at
    - ``PH_COMPACT``: :func:`compact`, :func:`split`; groups to order from the gains before the step: ``R_GROUPS``
      (``S[S_NG]`` of them, in ``LI[L_GROUPS]``); the caller orders them and comes back at
    - ``PH_ARRANGE``: ``R_DONE`` if the list is empty, else :func:`arrange` (into ``LI[L_DST]``, copied back to the
      list); a first group of more than one listing: ``R_TOP`` (it ends at ``S[S_B0]``; the caller orders it by the
      exact gains now) and back at
    - ``PH_TOPPED``: with the coin, a first listing alone whose gain's interval comes within 4e-20 of the next group's
      (which ends at ``S[S_B1]``): ``R_NEXT`` (the caller sizes the first exactly and orders the next group), back at
    - ``PH_NEXTED``: with the coin, a second listing that may tie the first (the same row, or both gains exact and
      within 2e-20 in float, which holds every pair within Decide's 1e-20): ``R_TIE``, the caller flips the coin and
      takes a listing itself. Else the first listing is taken; a row that is not valid is dropped and the list
      arranged again; a valid one is returned, to be realised.
    """
    N = S[S_N]
    coin = S[S_COIN] != 0
    khi = LF[F_KHI]
    klo = LF[F_KLO]
    kerr = LF[F_KERR]
    lst = LI[L_LST]
    lab = LI[L_LAB]
    if phase == PH_RECALC:
        stamp = S[S_STAMP] + 1
        S[S_STAMP] = stamp
        nn = recalc(P, E, refI, refJ, stamp, lst, N, LI[L_KEEP], LI[L_REM], iv, fv, tab, vals, xv, sf, cf, Wf, tf,
                    tot, part, need, idx, khi, klo, kerr, kex, LI[L_SIZED], LI[L_SNAP], siv, sfv, stab, LI[L_OSZ])
        if nn > 0:
            S[S_NN] = nn
            return R_SETTLE
        phase = PH_COMPACT
    if phase == PH_COMPACT:
        N = compact(lst, lab, N, LI[L_KEEP])
        S[S_N] = N
        ng, nl = split(lst, lab, N, khi, kerr, LI[L_SNAP], S[S_STAMP], LI[L_OSZ], LI[L_SIZED], S[S_NL],
                       LI[L_GROUPS])
        S[S_NL] = nl
        if ng > 0:
            S[S_NG] = ng
            return R_GROUPS
        phase = PH_ARRANGE
    dst = LI[L_DST]
    dlab = LI[L_DLAB]
    while True:
        if phase == PH_ARRANGE:
            if N <= 0:
                return R_DONE
            nl = arrange(lst, lab, N, khi, kerr, dst, dlab, S[S_NL], S[S_FIRST] != 0, LI[L_UST], LI[L_UEN],
                         LF[F_UHI], LF[F_ULO], LI[L_UORD], LI[L_KEPT], LI[L_REST], LI[L_TMP])
            S[S_FIRST] = 0
            S[S_NL] = nl
            for i in range(N):
                lst[i] = dst[i]
                lab[i] = dlab[i]
            b0 = _end(lab, N, 0)
            S[S_B0] = b0
            if b0 > 1:
                return R_TOP
            phase = PH_TOPPED
        E = lst[0]
        if phase == PH_TOPPED:
            if coin and N > 1 and S[S_B0] == 1:
                b1 = _end(lab, N, 1)
                hi = -np.inf
                for t in range(1, b1):
                    v = lst[t]
                    hi = max(hi, khi[v] + kerr[v] + U * abs(khi[v]))
                if hi + 4e-20 >= khi[E] - kerr[E] - U * abs(khi[E]):
                    S[S_B1] = b1
                    return R_NEXT
            phase = PH_NEXTED
        if coin and N > 1:
            nxt = lst[1]
            if nxt == E:
                return R_TIE
            if kex[E] and kex[nxt] and abs((khi[E] - khi[nxt]) + (klo[E] - klo[nxt])) <= 2e-20:
                return R_TIE
        for i in range(N - 1):
            lst[i] = lst[i + 1]
            lab[i] = lab[i + 1]
        N -= 1
        S[S_N] = N
        if iv[E, ST] == 1:
            return E
        phase = PH_ARRANGE


def warm() -> None:
    """Compile (or load) every kernel on a tiny case."""
    n, D = 2, 2
    part = np.ones((n, D), dtype=np.bool_)
    left = np.array([[True, True], [False, False]])
    sf = np.full((n, D), 0.5)
    iv = np.zeros((4, NI), dtype=np.int64)
    fv = np.zeros((4, NF))
    tab = np.full((4, 2, n), -1, dtype=np.int64)
    unsure = np.zeros(4, dtype=np.int64)
    P, _ = form(left, part, sf, iv, fv, tab, unsure)
    xv = np.zeros((n, D, 3))
    xv[1, :, 0] = 100.0
    vals = np.zeros((8, 3))
    cf = np.ones(n)
    Wf = np.ones(D)
    tf = np.zeros((n, D))
    tot = np.zeros((D, 2))
    need = np.zeros(8, dtype=np.int64)
    size_all(P, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need)
    idx = np.zeros(index_size(n, D, 4), dtype=np.int64)
    index(P, iv, n, D, idx)
    step(P, -1, -1, -1, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx)
    # Decide's list (ties "decide" and "coin")
    lst, lab = np.arange(P + 1), np.arange(P + 1)
    dst, dlab, ust, uen, uord = (np.zeros(P + 1, dtype=np.int64) for _ in range(5))
    uhi, ulo = np.zeros(P + 1), np.zeros(P + 1)
    khi, klo, kerr = fv[:P, G].copy(), np.zeros(P), np.zeros(P)
    kex = np.zeros(P, dtype=np.bool_)
    sized, keep, rem, snap, osz = (np.zeros(P, dtype=np.int64) for _ in range(5))
    siv, sfv, stab = iv[:P].copy(), fv[:P].copy(), tab[:P].copy()
    kept, rest, tmp = (np.zeros(P + 1, dtype=np.int64) for _ in range(3))
    nl = arrange(lst, lab, P, khi, kerr, dst, dlab, P + 1, True, ust, uen, uhi, ulo, uord, kept, rest, tmp)
    _resort(uhi, P, uord, kept, rest, tmp)
    recalc(P, 0, 0, 1, 1, dst, P, keep, rem, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx, khi, klo,
           kerr, kex, sized, snap, siv, sfv, stab, osz)
    redo(0, 0, 0, 1, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, khi, klo, kerr, kex, sized)
    N = compact(dst, dlab, P, keep)
    split(dst, dlab, N, khi, kerr, snap, 1, osz, sized, nl, np.zeros(2 * P + 2, dtype=np.int64))
    LI = np.zeros((NL, P + 1), dtype=np.int64)
    LI[L_LST, :P] = np.arange(P)
    LI[L_LAB] = np.arange(P + 1)
    LF = np.zeros((NFL, P + 1))
    S = np.zeros(9, dtype=np.int64)
    S[S_N], S[S_NL], S[S_FIRST], S[S_COIN] = P, P + 1, 1, 1
    iv[:P, ST] = 1
    for ph in (PH_ARRANGE, PH_RECALC):
        advance(ph, 0, 0, 1, P, S, LI, LF, kex, iv, fv, tab, vals, xv, sf, cf, Wf, tf, tot, part, need, idx, siv, sfv,
                stab)


if COMPILED:
    guard_cache(__file__, size)
