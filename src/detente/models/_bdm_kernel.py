"""The compiled round loop of :mod:`detente.models.bdm` (numba, or plain Python without it).

One problem is one (draw, issue) row of n actors. Every function here works
on one row with plain loops over the actors and performs exactly the
floating-point operations of the plain reference
:mod:`detente.models.bdm_reference`, in the same order (no fast-math), so that
positions, risk exponents and moves equal the reference's bit for bit. The
active actors are gathered first (in index order), so an inactive actor is
exactly a removed one.

The kernels release the GIL (``nogil``); :func:`detente.models.bdm.run`
splits a batch's rows over worker threads. Rows are independent, so the
results do not depend on the number of threads or on how the rows are split.

Without numba (the ``fast`` extra not installed, or ``DETENTE_NO_NUMBA=1``)
the same functions run uncompiled, with identical results (see
:mod:`detente.models._jit`).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import bdm_reference as _reference
from ._jit import compiling, guard_cache, jit
from .bdm_reference import (  # the move codes and tolerances: one definition, the reference's
    CAPITULATION,
    CHOICE_TOL,
    COINCIDE_TOL,
    COMPROMISE,
    CONFRONTATION,
    MEDIAN_TOL,
    NONE,
    RISK_TOL,
    STATE_TOL,
    TIE_TOL,
)

#: Are the functions below compiled (numba) or plain Python (no numba, or the copy
#: that :func:`detente.models._jit.pure_module` loads)?
COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True)


@_jit
def _pw(b, r):
    """b ** r (libm ``pow``); exact b for r = 1."""
    if r == 1.0:
        return b
    return b**r


@_jit
def _dist(a, b, delta):
    """min(1, |a - b| / Delta), 0 when Delta <= 0."""
    if delta <= 0.0:
        return 0.0
    v = abs(a - b) / delta
    return v if v < 1.0 else 1.0


@_jit
def _median(x, fw, order):
    """The reference's weighted median: the lowest position (stable order) reaching half the weight."""
    n = x.size
    for i in range(n):  # stable insertion sort of the indices by position
        order[i] = i
    for i in range(1, n):
        k = order[i]
        j = i - 1
        while j >= 0 and x[order[j]] > x[k]:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = k
    total = 0.0
    for i in range(n):
        total += fw[i]
    half = 0.5 * total
    tol = MEDIAN_TOL * max(total, 1e-300)
    cum = 0.0
    for i in range(n):
        cum += fw[order[i]]
        if cum >= half - tol:
            return x[order[i]]
    return x[order[n - 1]]


@_jit
def _mean(x, fw):
    """sum_k fw_k x_k / sum_k fw_k, summed in index order."""
    num = 0.0
    tot = 0.0
    for k in range(x.size):
        num += fw[k] * x[k]
        tot += fw[k]
    return num / tot


@_jit
def _probabilities(na, xa, wa, ra, Dm, paper, G, P, first):
    """P[i, j] for the na gathered actors (voters' exponents ra for ``scholz2011_code``).

    ``Dm`` holds the distances d_ab, ``G`` (n, n) is work space and ``P``
    (n, n) the output; only their leading na x na entries are used. Every
    sum runs in the reference's order; terms the reference adds as
    max(0, v) with v <= 0 add +0.0 (an exact no-op on a non-negative sum),
    and the paper's P_ji reuses P_ij's terms, negated (w (a - b) = -(w (b -
    a)) exactly).
    """
    for i in range(na):
        P[i, i] = 0.0
    if paper:
        for i in range(na):
            for j in range(i + 1, na):
                P[i, j] = 0.0
                P[j, i] = 0.0
                if xa[i] == xa[j]:
                    continue
                pos_ij = 0.0
                pos_ji = 0.0
                tot = 0.0  # the same for (j, i): the same |a_k| in the same order
                for k in range(na):
                    a = wa[k] * (abs(xa[k] - xa[j]) - abs(xa[k] - xa[i]))
                    pos_ij += a if a > 0 else 0.0
                    pos_ji += -a if a < 0 else 0.0
                    tot += abs(a)
                if tot > 0:
                    P[i, j] = pos_ij / tot
                    P[j, i] = pos_ji / tot
        return
    # G[k, a] = d_ka ** r_k (voter k's own exponent); 0 ** r = 0
    for k in range(na):
        rk = ra[k]
        for a in range(na):
            f = first[a]
            if f < a:
                G[k, a] = G[k, f]  # Dm[k, a] == Dm[k, f]
            else:
                d = Dm[k, a]
                G[k, a] = _pw(d, rk) if d > 0.0 else 0.0
    # den = sum_k 2 sum_{a < b} |w_k (G_kb - G_ka)|, each voter's sum in (a, b)
    # order; four voters at a time (independent sums, so the adds overlap)
    den = 0.0
    k = 0
    while k + 4 <= na:
        w0, w1, w2, w3 = wa[k], wa[k + 1], wa[k + 2], wa[k + 3]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for a in range(na):
            g0, g1, g2, g3 = G[k, a], G[k + 1, a], G[k + 2, a], G[k + 3, a]
            for b in range(a + 1, na):
                s0 += abs(w0 * (G[k, b] - g0))
                s1 += abs(w1 * (G[k + 1, b] - g1))
                s2 += abs(w2 * (G[k + 2, b] - g2))
                s3 += abs(w3 * (G[k + 3, b] - g3))
        den += 2 * s0
        den += 2 * s1
        den += 2 * s2
        den += 2 * s3
        k += 4
    while k < na:
        wk = wa[k]
        s0 = 0.0
        for a in range(na):
            g0 = G[k, a]
            for b in range(a + 1, na):
                s0 += abs(wk * (G[k, b] - g0))
        den += 2 * s0
        k += 1
    # num_ij = sum_k max(0, w_k (G_kj - G_ki)), accumulated voter by voter
    # (actors sharing a position have equal G columns, so their sums are equal: each
    # is accumulated once, for the first actor at each position, and copied)
    for i in range(na):
        for j in range(na):
            P[i, j] = 0.0
    for k in range(na):
        wk = wa[k]
        Gk = G[k]
        for i in range(na):
            if first[i] != i:
                continue
            gi = Gk[i]
            Pi = P[i]
            for j in range(na):
                if first[j] != j:
                    continue
                v = wk * (Gk[j] - gi)
                Pi[j] += v if v > 0.0 else 0.0
    for i in range(na):
        fi = first[i]
        for j in range(na):
            fj = first[j]
            if fi != i or fj != j:
                P[i, j] = P[fi, fj]
    for i in range(na):
        for j in range(i + 1, na):
            if den <= 0 or xa[i] == xa[j]:
                P[i, j] = 0.0
                P[j, i] = 0.0
            else:
                P[i, j] = P[i, j] / den
                P[j, i] = P[j, i] / den


@_jit
def _expected(d, dmu, r, pij, st, Q, T, us, uf, usq):
    """E(U) of a challenge: s_t [P U_s + (1 - P) U_f] + (1 - s_t) U_s - Q U_sq - (1 - Q)[T U_b + (1 - T) U_w].

    ``us``, ``uf``, ``usq`` are U_s, U_f, U_sq for (d, r); U_b and U_w are
    only computed when Q < 1 (with Q = 1 their term is an exact zero).
    """
    e = st * (pij * us + (1 - pij) * uf) + (1 - st) * us - Q * usq
    if Q != 1.0:
        y = 0.5 - 0.25 * (dmu + d)
        ub = 2 - 4 * _pw(y if y > 0.0 else 0.0, r)
        uw = 2 - 4 * _pw(0.5 + 0.25 * (dmu + d), r)
        e = e - (1 - Q) * (T * ub + (1 - T) * uw)
    return e


#: The work arrays of one thread, reused for every row it runs. Per gathered (active) actor:
#: ``idx`` its index in the row, ``xa``/``wa``/``sa``/``ra`` its position, weight c*s, salience
#: and risk exponent, ``ones`` all 1 (the security pass's exponents), ``S`` its security value,
#: ``usq`` U_sq(r_a), ``dmu`` d_a,mu, ``order`` the median's sort order, ``first`` the first actor
#: at its position, ``cus``/``cuf`` U_s and U_f of a challenge against it (see ``_utilities``);
#: per pair: ``Dm`` the distances d_ab, ``G`` d_ka ** r_k, ``P1`` the security pass's P and
#: ``P`` the round's.
Workspace = namedtuple(
    "Workspace",
    ["idx", "xa", "wa", "sa", "ra", "ones", "S", "usq", "dmu", "order", "Dm", "G", "P1", "P", "first", "cus", "cuf"],
)


@_jit
def _workspace(n):
    """The :data:`Workspace` of one thread for rows of n actors."""
    return Workspace(
        np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.ones(n), np.empty(n),
        np.empty(n), np.empty(n), np.empty(n, np.int64), np.empty((n, n)), np.empty((n, n)), np.empty((n, n)),
        np.empty((n, n)), np.empty(n, np.int64), np.empty(n), np.empty(n),
    )


@_jit
def _firsts(na, xa, first):
    """first[a]: the lowest index a' <= a with x_a' == x_a exactly.

    Actors at the same position have the same distance to everyone, so every
    power of that distance is computed once and copied (the same operation on
    the same numbers: bit for bit what computing it again would give).
    """
    for a in range(na):
        first[a] = a
        for b in range(a):
            if xa[b] == xa[a]:
                first[a] = first[b]
                break


@_jit
def _gather(x, act, w, v, idx, xa, wa, va):
    """Gather the active actors' indices, positions, weights and one more per-actor value ``v``
    (the saliences for a round, the voters' exponents for :func:`probability_rows`), in index
    order, into ``idx``, ``xa``, ``wa`` and ``va``; returns their number."""
    na = 0
    for i in range(x.size):
        if act[i]:
            idx[na] = i
            xa[na] = x[i]
            wa[na] = w[i]
            va[na] = v[i]
            na += 1
    return na


@_jit
def _prepare(na, x, fw, delta, paper, Q, T, half, ws):
    """Steps 1-2 of a round and step 3's P for the gathered actors; returns mu.

    Fills the workspace's Dm (d_ab), dmu (d_a,mu, Q < 1 only), ra (the
    exponents r_a), usq (U_sq(r_a)) and P. ``half`` is 0.5, passed at run
    time: with a constant base LLVM rewrites pow(0.5, r) as exp2(-r), which
    differs from libm's pow in the last bit.
    """
    xa, wa, sa, ra, ones, S, usq, dmu, order = ws.xa, ws.wa, ws.sa, ws.ra, ws.ones, ws.S, ws.usq, ws.dmu, ws.order
    Dm, G, P1, P, first = ws.Dm, ws.G, ws.P1, ws.P, ws.first
    _firsts(na, xa, first)
    for a in range(na):
        Dm[a, a] = 0.0
        for b in range(a + 1, na):
            Dm[a, b] = _dist(xa[a], xa[b], delta)  # |x_a - x_b| = |x_b - x_a| exactly
            Dm[b, a] = Dm[a, b]
    mu = 0.0
    if Q != 1.0:
        mu = _median(x, fw, order)
        for a in range(na):
            dmu[a] = _dist(xa[a], mu, delta)
    else:
        dmu[:na] = 0.0  # unused: with Q = 1 the U_b, U_w term is zero
    # 1. security pass, every r = 1: S_i = sum_{j != i} E(U_ji)
    _probabilities(na, xa, wa, ones, Dm, paper, G, P1, first)
    for i in range(na):
        acc = 0.0
        for j in range(na):
            if j != i:
                d = Dm[j, i]
                us = 2 - 4 * (0.5 - 0.5 * d)
                uf = 2 - 4 * (0.5 + 0.5 * d)
                acc += _expected(d, dmu[j], 1.0, P1[j, i], sa[i], Q, T, us, uf, 2 - 4 * 0.5)
        S[i] = acc
    # 2. risk exponents
    smax = S[0]
    smin = S[0]
    amax = abs(S[0])
    for i in range(1, na):
        smax = max(smax, S[i])
        smin = min(smin, S[i])
        amax = max(amax, abs(S[i]))
    spread = smax - smin
    for i in range(na):
        ra[i] = 1.0
    if spread > RISK_TOL * max(1.0, amax):
        for i in range(na):
            R = (2 * S[i] - smax - smin) / spread
            R = min(1.0, max(-1.0, R))
            ra[i] = (1 - R / 3) / (1 + R / 3)
    for i in range(na):
        usq[i] = 2 - 4 * _pw(half, ra[i])
    # 3. P with the voters' new exponents (the paper's P does not depend on them)
    if paper:
        P[:na, :na] = P1[:na, :na]
    else:
        _probabilities(na, xa, wa, ra, Dm, paper, G, P, first)
    return mu


@_jit
def _utilities(i, j, ws):
    """U_s and U_f of a challenge between i and j under i's exponent, copied from the
    first actor at j's position when i has already computed them for it this round."""
    ra, Dm, first, cus, cuf = ws.ra, ws.Dm, ws.first, ws.cus, ws.cuf
    f = first[j]
    if f < j and f != i:
        cus[j] = cus[f]
        cuf[j] = cuf[f]
    else:
        d = Dm[i, j]
        ri = ra[i]
        cus[j] = 2 - 4 * _pw(0.5 - 0.5 * d, ri)
        cuf[j] = 2 - 4 * _pw(0.5 + 0.5 * d, ri)
    return cus[j], cuf[j]


@_jit
def _pair(i, j, own, Q, T, ws):
    """(E^i(U_ij), E^i(U_ji)): i's expected utility of challenging j, and its view of j's.

    Call it for i's rivals j in increasing order (see :func:`_utilities`).
    """
    sa, ra, usq, dmu, Dm, P = ws.sa, ws.ra, ws.usq, ws.dmu, ws.Dm, ws.P
    d = Dm[i, j]
    ri = ra[i]
    us, uf = _utilities(i, j, ws)
    ei = _expected(d, dmu[i], ri, P[i, j], sa[j], Q, T, us, uf, usq[i])
    if own:
        rj = ra[j]
        us = 2 - 4 * _pw(0.5 - 0.5 * d, rj)
        uf = 2 - 4 * _pw(0.5 + 0.5 * d, rj)
        ej = _expected(d, dmu[j], rj, P[j, i], sa[i], Q, T, us, uf, usq[j])
    else:
        ej = _expected(d, dmu[j], ri, P[j, i], sa[i], Q, T, us, uf, usq[i])
    return ei, ej


@_jit
def _same_state(state, idx, xa, na, tol):
    """Is every active actor's position in ``state`` within ``tol`` of the current ``xa``?"""
    for i in range(na):
        if not abs(state[idx[i]] - xa[i]) <= tol:
            return False
    return True


@_jit
def run_rows(
    lo, hi, x0, w, s, act, fw, delta, past,
    paper, own, least_move, capit, Q, T, R, stop_conv, eps, half,
    pos, risk, mtype, mcp, rounds, cycle, converged, forecast, mean,
):
    """Run rows lo..hi-1 of (M, n) inputs through up to R rounds.

    ``delta`` (M,) is each row's Delta; ``past`` (M, P, n) the positions of
    the P rounds before these inputs (oldest first, NaN where they no longer
    apply), also checked for a repeated state; ``half`` must be 0.5 (see
    :func:`_prepare`). Fills the rows of ``pos``, ``risk``
    (float, (M, R+1, n)), ``mtype`` (int8), ``mcp`` (int32, -1 for none),
    ``rounds``, ``cycle`` (int64, (M,)), ``converged`` (bool, (M,)) and
    ``forecast``, ``mean`` ((M, R+1): the weighted median and mean with the
    forecast weights ``fw``, as the reference computes them).
    """
    n = x0.shape[1]
    ws = _workspace(n)
    idx, xa, ra, order = ws.idx, ws.xa, ws.ra, ws.order
    otype = np.empty(n, np.int64)
    oj = np.empty(n, np.int64)
    oto = np.empty(n)
    ocrit = np.empty(n)
    x = np.empty(n)
    for m in range(lo, hi):
        Delta = delta[m]
        for i in range(n):
            x[i] = x0[m, i]
            pos[m, 0, i] = x[i]
        risk[m, :, :] = 1.0
        mtype[m, :, :] = NONE
        mcp[m, :, :] = -1
        cyc = 0
        conv = False
        done = 0
        fwm = fw[m]
        forecast[m, 0] = _median(x, fwm, order)
        mean[m, 0] = _mean(x, fwm)
        na = _gather(x, act[m], w[m], s[m], ws.idx, ws.xa, ws.wa, ws.sa)
        for t in range(1, R + 1):
            _prepare(na, x, fw[m], Delta, paper, Q, T, half, ws)
            # 3-4. offers and the choice of one per actor; moves written to pos[m, t]
            for i in range(n):
                pos[m, t, i] = x[i]
            for i in range(na):
                risk[m, t, idx[i]] = ra[i]
                nof = 0
                for j in range(na):
                    if j == i or abs(xa[j] - xa[i]) <= COINCIDE_TOL * Delta:
                        continue
                    ei, ej = _pair(i, j, own, Q, T, ws)
                    tie = TIE_TOL * (abs(ei) + abs(ej))
                    if ej - ei > tie and ei > 0:
                        otype[nof] = CONFRONTATION
                        oto[nof] = xa[j]
                        ocrit[nof] = abs(xa[j] - xa[i])
                    elif ej > 0 and 0 > ei and ej - abs(ei) > tie:
                        otype[nof] = COMPROMISE
                        oto[nof] = xa[i] + (xa[j] - xa[i]) * abs(ei / ej)
                        ocrit[nof] = (abs(ei) * xa[i] + abs(ej) * xa[j]) / (abs(ei) + abs(ej))
                    elif ej > 0 and 0 > ei and abs(ei) - ej > tie and capit:
                        otype[nof] = CAPITULATION
                        oto[nof] = xa[j]
                        ocrit[nof] = abs(xa[j] - xa[i])
                    else:
                        continue
                    oj[nof] = j
                    nof += 1
                if nof == 0:
                    continue
                kind = -1  # -1: every offer (least move)
                if least_move:
                    for o in range(nof):
                        ocrit[o] = abs(oto[o] - xa[i])
                else:
                    for kd in (CONFRONTATION, COMPROMISE, CAPITULATION):
                        for o in range(nof):
                            if otype[o] == kd:
                                kind = kd
                                break
                        if kind >= 0:
                            break
                low = np.inf
                for o in range(nof):
                    if (kind < 0 or otype[o] == kind) and ocrit[o] < low:
                        low = ocrit[o]
                for o in range(nof):
                    if (kind < 0 or otype[o] == kind) and ocrit[o] <= low + CHOICE_TOL * Delta:
                        pos[m, t, idx[i]] = oto[o]
                        mtype[m, t, idx[i]] = otype[o]
                        mcp[m, t, idx[i]] = idx[oj[o]]
                        break
            # 5. all moves at once
            biggest = 0.0
            for i in range(na):
                biggest = max(biggest, abs(pos[m, t, idx[i]] - x[idx[i]]))
            for i in range(n):
                x[i] = pos[m, t, i]
            for i in range(na):
                xa[i] = x[idx[i]]
            forecast[m, t] = _median(x, fwm, order)
            mean[m, t] = _mean(x, fwm)
            done = t
            # a repeated state (the most recent repeat): a fixed point or a cycle
            for tp in range(t - 1, -1, -1):
                if _same_state(pos[m, tp], idx, xa, na, STATE_TOL * Delta):
                    if t - tp == 1:
                        conv = True
                    else:
                        cyc = t - tp
                    break
            if not (conv or cyc):
                P = past.shape[1]
                for q in range(P - 1, -1, -1):  # earlier segments of the same run
                    if _same_state(past[m, q], idx, xa, na, STATE_TOL * Delta):
                        cyc = t + P - q
                        break
            if conv or cyc:
                break
            if stop_conv and biggest <= eps * Delta:
                conv = True
                break
        for t in range(done + 1, R + 1):
            for i in range(n):
                pos[m, t, i] = x[i]
            forecast[m, t] = forecast[m, done]
            mean[m, t] = mean[m, done]
        rounds[m] = done
        cycle[m] = cyc
        converged[m] = conv


@_jit
def eu_rows(x0, w, s, act, fw, delta, paper, own, Q, T, half, eu_self, eu_other):
    """Round 1's E^i(U_ij) and E^i(U_ji) of every row (NaN on the diagonal and for inactive actors)."""
    M, n = x0.shape
    ws = _workspace(n)
    idx = ws.idx
    for m in range(M):
        eu_self[m, :, :] = np.nan
        eu_other[m, :, :] = np.nan
        x = x0[m]
        na = _gather(x, act[m], w[m], s[m], ws.idx, ws.xa, ws.wa, ws.sa)
        _prepare(na, x, fw[m], delta[m], paper, Q, T, half, ws)
        for i in range(na):
            for j in range(na):
                if j != i:
                    ei, ej = _pair(i, j, own, Q, T, ws)
                    eu_self[m, idx[i], idx[j]] = ei
                    eu_other[m, idx[i], idx[j]] = ej


@_jit
def probability_rows(x, w, r, act, delta, paper, out):
    """P_ij of each row (zero for pairs with an inactive actor)."""
    M, n = x.shape
    ws = _workspace(n)
    idx, xa, wa, ra, Dm, G, P, first = ws.idx, ws.xa, ws.wa, ws.ra, ws.Dm, ws.G, ws.P, ws.first
    for m in range(M):
        na = _gather(x[m], act[m], w[m], r[m], idx, xa, wa, ra)  # the voters' exponents into ra
        for a in range(na):
            for b in range(na):
                Dm[a, b] = _dist(xa[a], xa[b], delta[m])
        _firsts(na, xa, first)
        _probabilities(na, xa, wa, ra, Dm, paper, G, P, first)
        out[m, :, :] = 0.0
        for i in range(na):
            for j in range(na):
                out[m, idx[i], idx[j]] = P[i, j]


if COMPILED:  # numba freezes the reference's constants into the machine code: its source counts too
    guard_cache(__file__, run_rows, _reference.__file__)
