"""The round loop of the exchange model's ``decide`` variant, compiled by numba when installed.

One call plays the rounds of one draw (n actors, D issues, positions already
on Decide's 0-100 scale). The algorithm is described in
``docs/models/exchange.md`` and in :mod:`detente.models.exchange`; this module
only holds the loops. Written from Stokman & Van Oosten (1994) and from the
description of Decide's run in ``../shared/specs/exchange-decide.md``.

Per round, every candidate exchange ``e`` is one row of parallel arrays:
``aI`` demands issue ``p`` and supplies ``q`` (moves on ``q`` toward ``aJ``),
``aJ`` demands ``q`` and supplies ``p``. ``sup*`` are the supply positions
(where the side moves from), ``dem*`` the demand positions (the side's own
round-start position on the issue it demands, which its partner moves toward).
``hs*``/``hf*`` hold the side's earlier moves in this round (their sum, and
whether they all have one sign: 0 none, +1 all positive, -1 all negative, 2
mixed or zero). ``ov`` holds the exchange's own table of other actors'
positions on its two issues, moved by earlier realised exchanges (NaN: none),
used only by the outcome cap.
"""

from __future__ import annotations

import numpy as np

from ._jit import compiling, guard_cache, jit

#: Smallest gain and smallest move that count (Decide's 1e-10).
EPS = 1e-10
#: Gains this close (relative) are a tie; the exchange formed first wins.
TIE_REL = 1e-12
#: The partner's position and an outcome this close are equal (a further move away passes the partner).
ON = 1e-9
#: New start position: x0 + (y - x0) * (FIXED + SALIENCE * (1 - s)).
FIXED = 0.1
SALIENCE = 0.4

#: Compiled (numba) or plain Python (no numba, or the copy :func:`detente.models._jit.pure_module` loads);
#: the same operations in the same order either way, so the same numbers.
COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True)


@_jit
def _move_ok(sup, m, hsum, hflag):
    """Decide's validity of one side's move ``m`` from ``sup`` given its earlier moves this round."""
    a = abs(m)
    if a > 100.0 or a <= EPS:
        return False
    y = sup + m
    if y < -1e-9 or y > 100.0 + 1e-9:
        return False
    if hsum + m > 100.0:
        return False
    sgn = 1 if m > 0 else -1
    if hflag == 0:
        return True
    return hflag == sgn


@_jit
def _passes(n0, n1, xb):
    """Whether moving the outcome from ``n0`` to ``n1`` carries it past the partner at ``xb``.

    An outcome already on the partner (within ``ON``) passes it with any move
    away; a partner behind the outcome's start is not passed (Decide's rule).
    """
    if n1 > n0:
        return n0 - ON <= xb < n1 - ON
    if n1 < n0:
        return n1 + ON < xb <= n0 + ON
    return False


@_jit
def _outcome(l, k, pos, x0, w, W, O, cnt, acts, vals):
    """Issue ``l``'s outcome with actor ``k`` at ``pos``, the others at the round start or the exchange's table
    (``cnt`` entries: ``acts`` in increasing order, at ``vals``)."""
    o = O[l] + w[k, l] * (pos - x0[k, l]) / W[l]
    for idx in range(cnt):
        a = acts[idx]
        if a != k:
            o += w[a, l] * (vals[idx] - x0[a, l]) / W[l]
    return o


@_jit
def _size(e, mode, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, gainJ, rate, valid,
          hsI, hfI, hsJ, hfJ, ovc, ova, ovv, x0, s, w, W, O):
    """Size exchange ``e`` from its current supply positions (no passing, outcome caps).

    ``mode`` 0: the equal-gain rate; ``gain`` = ``gainJ`` = the common gain.
    ``mode`` 1: the exchange's own rate ``rate[e]`` (= D_q / D_p); ``gain`` is I's gain, ``gainJ`` J's.
    """
    i, j, P, Q = aI[e], aJ[e], p[e], q[e]
    sIp, sIq, sJp, sJq = s[i, P], s[i, Q], s[j, P], s[j, Q]
    wJp, wIq = w[j, P], w[i, Q]
    distJ = abs(demI[e] - supJ[e])  # J all the way to I on p
    distI = abs(demJ[e] - supI[e])  # I all the way to J on q
    Dp = wJp * distJ / W[P]
    if mode == 0:
        Dq = Dp * (sIp + sJp) / (sIq + sJq)
    else:
        Dq = Dp * rate[e]
    mI = Dq * W[Q] / wIq
    mJ = distJ
    if mI > distI:
        Dq = wIq * distI / W[Q]
        if mode == 0:
            Dp = Dq * (sIq + sJq) / (sIp + sJp)
        else:
            Dp = Dq / rate[e]
        mI = distI
        mJ = Dp * W[P] / wJp
    if supI[e] > demJ[e]:
        mI = -mI
    if supJ[e] > demI[e]:
        mJ = -mJ
    if mode == 0:
        g = abs(Dq * sIq - Dp * sIp)
        gJ = g
    else:
        g = sIp * Dp - sIq * Dq
        gJ = sJq * Dq - sJp * Dp
    ok = _move_ok(supI[e], mI, hsI[e], hfI[e]) and _move_ok(supJ[e], mJ, hsJ[e], hfJ[e])
    if g < EPS or gJ < EPS:
        ok = False
    if ok:
        # the outcome cap, first for I (supplies q, partner J at demJ on q), then for J
        for side in range(2):
            if side == 0:
                k, a_iss, b_iss, sup, m, xb = i, Q, P, supI[e], mI, demJ[e]
            else:
                k, a_iss, b_iss, sup, m, xb = j, P, Q, supJ[e], mJ, demI[e]
            tb = 1 - side  # I supplies q: the q table (1); J supplies p: the p table (0)
            n0 = _outcome(a_iss, k, sup, x0, w, W, O, ovc[e, tb], ova[e, tb], ovv[e, tb])
            n1 = _outcome(a_iss, k, sup + m, x0, w, W, O, ovc[e, tb], ova[e, tb], ovv[e, tb])
            if not _passes(n0, n1, xb):
                continue
            b = j if side == 0 else i
            delta = abs(xb - n0) * W[a_iss] / w[k, a_iss]
            DA = w[k, a_iss] * delta / W[a_iss]
            if mode == 0:
                DB = DA * (s[k, a_iss] + s[b, a_iss]) / (s[k, b_iss] + s[b, b_iss])
            elif side == 0:
                DB = DA / rate[e]  # A = I on q, B = J on p
            else:
                DB = DA * rate[e]  # A = J on p, B = I on q
            mB = DB * W[b_iss] / w[b, b_iss]
            if mode == 0:
                g = abs(DB * s[b, b_iss] - DA * s[b, a_iss])
                gJ = g
            else:
                Dq, Dp = (DA, DB) if side == 0 else (DB, DA)
                g = sIp * Dp - sIq * Dq
                gJ = sJq * Dq - sJp * Dp
            if side == 0:
                mI = -delta if supI[e] > demJ[e] else delta
                mJ = -mB if supJ[e] > demI[e] else mB
            else:
                mJ = -delta if supJ[e] > demI[e] else delta
                mI = -mB if supI[e] > demJ[e] else mB
        ok = _move_ok(supI[e], mI, hsI[e], hfI[e]) and _move_ok(supJ[e], mJ, hsJ[e], hfJ[e])
        if mode == 1 and (g < EPS or gJ < EPS):
            ok = False
    mvI[e] = mI
    mvJ[e] = mJ
    gain[e] = g
    gainJ[e] = gJ
    valid[e] = ok


@_jit
def _push(hs, hf, e, m):
    """Keep move ``m`` in side ``e``'s history of this round."""
    hs[e] += m
    sgn = 2 if m == 0.0 else (1 if m > 0 else -1)
    if hf[e] == 0:
        hf[e] = sgn
    elif hf[e] != sgn:
        hf[e] = 2


@_jit
def _continue(X, actor, issue, sup, mv, hs, hf, i, Q, yI, j, P, yJ):
    """A side of ``X`` (``actor`` supplying ``issue``) that is one of the realised exchange's suppliers
    (``i`` on ``Q`` to ``yI``, ``j`` on ``P`` to ``yJ``) moves on from there, keeping its move so far."""
    if actor == i and issue == Q:
        y = yI
    elif actor == j and issue == P:
        y = yJ
    else:
        return False
    _push(hs, hf, X, mv[X])
    sup[X] = y
    return True


@_jit
def _track(ovc, ova, ovv, e, tb, a, y, start):
    """Record actor ``a`` at ``y`` in table ``tb`` (0: issue p, 1: issue q) of exchange ``e`` (keeping, as
    Decide does, the earlier value on one side of it). A table lists its actors in increasing order."""
    cnt = ovc[e, tb]
    acts = ova[e, tb]
    vals = ovv[e, tb]
    idx = 0
    while idx < cnt and acts[idx] < a:
        idx += 1
    if idx < cnt and acts[idx] == a:
        prev = vals[idx]
        if start <= prev:
            vals[idx] = prev if prev < y else y
        else:
            vals[idx] = prev if prev > y else y
        return
    for k in range(cnt, idx, -1):
        acts[k] = acts[k - 1]
        vals[k] = vals[k - 1]
    acts[idx] = a
    vals[idx] = y
    ovc[e, tb] = cnt + 1


@_jit
def _candidates(part):
    """The most candidate exchanges one round of a draw can form (``part``: who holds which issue)."""
    n, D = part.shape
    M = 0
    for P in range(D):
        for Q in range(P + 1, D):
            both = 0
            for k in range(n):
                if part[k, P] and part[k, Q]:
                    both += 1
            M += (both // 2) * (both - both // 2)
    return M


@_jit
def _play_one(x_in, s, c, part, rounds, mode, u, vote, trades, counts):
    """Play up to ``rounds`` of Decide's rounds on one draw; returns the last round with an exchange, or -1
    when a round realised more exchanges than ``trades`` has room for."""
    n, D = x_in.shape
    K = trades.shape[1]
    x0 = x_in.copy()
    w = np.zeros((n, D))
    for k in range(n):
        for l in range(D):
            if part[k, l]:
                w[k, l] = c[k] * s[k, l]
    W = np.zeros(D)
    for l in range(D):
        for k in range(n):
            W[l] += w[k, l]
    for k in range(n):
        for l in range(D):
            vote[0, k, l] = x0[k, l]
    M = _candidates(part)
    aI = np.empty(M, np.int64)
    aJ = np.empty(M, np.int64)
    p = np.empty(M, np.int64)
    q = np.empty(M, np.int64)
    supI = np.empty(M)
    supJ = np.empty(M)
    demI = np.empty(M)
    demJ = np.empty(M)
    mvI = np.empty(M)
    mvJ = np.empty(M)
    gain = np.empty(M)
    gainJ = np.empty(M)
    rate = np.empty(M)
    valid = np.zeros(M, np.bool_)
    hsI = np.empty(M)
    hsJ = np.empty(M)
    hfI = np.empty(M, np.int64)
    hfJ = np.empty(M, np.int64)
    ovc = np.zeros((M, 2), np.int64)
    ova = np.empty((M, 2, n), np.int64)
    ovv = np.empty((M, 2, n))
    pend = np.empty(M, np.int64)
    O = np.zeros(D)
    left = np.zeros((n, D), np.bool_)
    group = np.empty(n, np.int64)
    best_g = np.empty(n)
    best_e = np.empty(n, np.int64)
    drawn = 0  # random numbers of ``u`` used so far (mode 1: one per candidate formed, in order)
    last = 0
    for t in range(1, rounds + 1):
        for l in range(D):
            num = 0.0
            for k in range(n):
                num += w[k, l] * x0[k, l]
            O[l] = num / W[l] if W[l] > 0 else 0.0
            for k in range(n):
                left[k, l] = x0[k, l] <= O[l]
        # every candidate exchange, in Decide's order: issue pairs in file order, then
        # (right, right) x (left, left) actors, then (left, right) x (right, left), actors in file order
        m = 0
        for P in range(D):
            for Q in range(P + 1, D):
                for k in range(n):
                    group[k] = (1 if left[k, P] else 0) + (2 if left[k, Q] else 0) if (part[k, P] and part[k, Q]) else -1
                for g1, g2 in ((0, 3), (1, 2)):
                    for a in range(n):
                        if group[a] != g1:
                            continue
                        for b in range(n):
                            if group[b] != g2:
                                continue
                            # I: the larger s_p / s_q (the first actor on equality)
                            if s[a, P] * s[b, Q] < s[b, P] * s[a, Q]:
                                i, j = b, a
                            else:
                                i, j = a, b
                            aI[m], aJ[m], p[m], q[m] = i, j, P, Q
                            supI[m] = x0[i, Q]
                            supJ[m] = x0[j, P]
                            demI[m] = x0[i, P]
                            demJ[m] = x0[j, Q]
                            hsI[m] = 0.0
                            hsJ[m] = 0.0
                            hfI[m] = 0
                            hfJ[m] = 0
                            ovc[m, 0] = 0
                            ovc[m, 1] = 0
                            if mode == 1:
                                # a rate D_q / D_p drawn uniformly between J's indifference rate and I's
                                lo = s[j, P] / s[j, Q]
                                hi = s[i, P] / s[i, Q]
                                rate[m] = lo + u[drawn] * (hi - lo)
                                drawn += 1
                            _size(m, mode, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, gainJ, rate, valid,
                                  hsI, hfI, hsJ, hfJ, ovc, ova, ovv, x0, s, w, W, O)
                            m += 1
        y = x0.copy()
        traded = np.zeros((n, D), np.bool_)
        realised = 0
        # the pending list: the valid candidates, in the order they were formed
        na = 0
        for e in range(m):
            if valid[e]:
                pend[na] = e
                na += 1
        while na > 0:
            E = -1
            if mode == 0:
                # the highest gain; a tie (within TIE_REL) goes to the exchange formed first
                g_best = -1.0
                for k in range(na):
                    if gain[pend[k]] > g_best:
                        g_best = gain[pend[k]]
                floor = g_best - TIE_REL * max(1.0, g_best)
                for k in range(na):
                    if gain[pend[k]] >= floor:
                        E = pend[k]
                        break
            else:
                # mutual best choice: the first exchange that is the best of both its actors (by each
                # one's own gain, the first formed on equality); if none is, the highest smaller gain
                for k in range(n):
                    best_g[k] = -1.0
                    best_e[k] = -1
                for k in range(na):
                    e = pend[k]
                    if gain[e] > best_g[aI[e]]:
                        best_g[aI[e]] = gain[e]
                        best_e[aI[e]] = e
                    if gainJ[e] > best_g[aJ[e]]:
                        best_g[aJ[e]] = gainJ[e]
                        best_e[aJ[e]] = e
                for k in range(na):
                    e = pend[k]
                    if best_e[aI[e]] == e and best_e[aJ[e]] == e:
                        E = e
                        break
                if E < 0:
                    g_best = -1.0
                    for k in range(na):
                        e = pend[k]
                        g = min(gain[e], gainJ[e])
                        if g > g_best:
                            g_best = g
                            E = e
            valid[E] = False
            i, j, P, Q = aI[E], aJ[E], p[E], q[E]
            yI = supI[E] + mvI[E]
            yJ = supJ[E] + mvJ[E]
            yI = min(100.0, max(0.0, yI))
            yJ = min(100.0, max(0.0, yJ))
            if realised >= K:
                return -1
            row = trades[t, realised]
            row[0] = i
            row[1] = j
            row[2] = P
            row[3] = Q
            row[4] = supI[E]
            row[5] = yI
            row[6] = supJ[E]
            row[7] = yJ
            row[8] = gain[E]
            row[9] = gainJ[E]
            realised += 1
            y[i, Q] = yI
            y[j, P] = yJ
            traded[i, Q] = True
            traded[j, P] = True
            # every other pending exchange: continue supplies, track demands, re-size or keep
            kept = 0
            for k in range(na):
                X = pend[k]
                if X == E:
                    continue
                xi, xj, xp, xq = aI[X], aJ[X], p[X], q[X]
                # supply continuation (I supplies q, J supplies p)
                went_i = _continue(X, xi, xq, supI, mvI, hsI, hfI, i, Q, yI, j, P, yJ)
                went_j = _continue(X, xj, xp, supJ, mvJ, hsJ, hfJ, i, Q, yI, j, P, yJ)
                touched = went_i or went_j
                # demand tracking: a side demanding what E's J demands (Q) sees E's I there, and the reverse
                if (xj == j and xq == Q) or (xi == j and xp == Q):
                    _track(ovc, ova, ovv, X, 1 if xq == Q else 0, i, yI, x0[i, Q])
                    touched = True
                if (xj == i and xq == P) or (xi == i and xp == P):
                    _track(ovc, ova, ovv, X, 1 if xq == P else 0, j, yJ, x0[j, P])
                    touched = True
                if touched:
                    _size(X, mode, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, gainJ, rate, valid,
                          hsI, hfI, hsJ, hfJ, ovc, ova, ovv, x0, s, w, W, O)
                if valid[X]:
                    pend[kept] = X
                    kept += 1
            na = kept
        counts[t] = realised
        for k in range(n):
            for l in range(D):
                vote[t, k, l] = y[k, l]
        if realised == 0:
            for tt in range(t + 1, rounds + 1):
                for k in range(n):
                    for l in range(D):
                        vote[tt, k, l] = y[k, l]
            break
        last = t
        for k in range(n):
            for l in range(D):
                if traded[k, l]:
                    x0[k, l] = x0[k, l] + (y[k, l] - x0[k, l]) * (FIXED + SALIENCE * (1.0 - s[k, l]))
    return last


@_jit
def play(x_in, s, c, part, rounds, mode, u, vote, trades, counts, last):
    """Play up to ``rounds`` of Decide's rounds on each draw of a batch.

    Parameters
    ----------
    x_in, s : (B, n, D) float
        Positions on 0-100 and saliences.
    c : (B, n) float
    part : (B, n, D) bool
        Who takes part in each issue.
    rounds : int
    mode : int
        0: equal gain (Decide's model); 1: the random-rate model.
    u : (B, L) float
        mode 1: each draw's uniform random numbers, used one per candidate exchange in the
        order formed (L at least ``rounds`` times the draw's candidates); mode 0: unused.
    vote : (B, rounds + 1, n, D) float, out
        ``vote[b, 0]`` the input; ``vote[b, t]`` the voting positions at the end of round t.
    trades : (B, rounds + 1, K, 10) float, out, NaN on entry
        Per round, one row per realised exchange in order: I, J, p, q, I's from, I's to, J's from,
        J's to, I's gain, J's gain.
    counts : (B, rounds + 1) int, out
        Exchanges realised per round (0 on entry).
    last : (B,) int, out
        The last round with an exchange.

    Returns
    -------
    bool
        False if some round realised more than K exchanges (the outputs are then incomplete).
    """
    for b in range(x_in.shape[0]):
        r = _play_one(x_in[b], s[b], c[b], part[b], rounds, mode, u[b], vote[b], trades[b], counts[b])
        if r < 0:
            return False
        last[b] = r
    return True


@_jit
def _greedy_round(x, s, part, w, W, O, side, gain, fi, mi, mj, new_x, rows):
    """One round of the ``greedy`` variant on one draw; returns the exchanges realised.

    The same floating-point operations, in the same order, as the numpy version
    (``exchange.candidates``, ``exchange._select`` and ``exchange.play_round``), one candidate
    ``(i, j, p, q)`` at a time in flat order; ``new_x`` gets the positions after the round and
    ``rows`` one row per realised exchange, in the order chosen.
    """
    n, D = x.shape
    for l in range(D):
        tot = 0.0
        for k in range(n):
            tot += w[k, l]
        W[l] = tot if tot > 0 else 1.0
        num = 0.0
        for k in range(n):
            num += w[k, l] * x[k, l]
        O[l] = num / W[l]
        for k in range(n):
            d = x[k, l] - O[l]
            side[k, l] = (1.0 if d > 0 else (-1.0 if d < 0 else 0.0)) if part[k, l] else 0.0
    f = 0
    npos = 0
    for i in range(n):
        for j in range(n):
            for P in range(D):
                for Q in range(D):
                    g = 0.0
                    adv = s[i, P] * s[j, Q] - s[i, Q] * s[j, P]
                    if side[i, P] * side[j, P] < 0 and side[i, Q] * side[j, Q] < 0 and adv > 0:
                        dp_max = min(w[j, P] * abs(x[i, P] - x[j, P]) / W[P], abs(x[i, P] - O[P]))
                        dq_max = min(w[i, Q] * abs(x[j, Q] - x[i, Q]) / W[Q], abs(x[j, Q] - O[Q]))
                        r = (s[i, P] + s[j, P]) / (s[i, Q] + s[j, Q])
                        dp = min(dp_max, dq_max / r)
                        dq = dp * r
                        g = dp * adv / (s[i, Q] + s[j, Q])
                        d = x[i, P] - x[j, P]
                        mj[f] = (1.0 if d > 0 else (-1.0 if d < 0 else 0.0)) * dp * W[P] / w[j, P]
                        d = x[j, Q] - x[i, Q]
                        mi[f] = (1.0 if d > 0 else (-1.0 if d < 0 else 0.0)) * dq * W[Q] / w[i, Q]
                    if g > 1e-12:
                        gain[npos] = g
                        fi[npos] = f
                        npos += 1
                    f += 1
    order = np.argsort(-gain[:npos], kind="mergesort")
    used = np.zeros((n, D), np.bool_)
    for k in range(n):
        for l in range(D):
            new_x[k, l] = x[k, l]
    count = 0
    for o in order:
        f = fi[o]
        i = f // (n * D * D)
        j = (f // (D * D)) % n
        P = (f // D) % D
        Q = f % D
        if used[i, P] or used[i, Q] or used[j, P] or used[j, Q]:
            continue
        used[i, P] = used[i, Q] = used[j, P] = used[j, Q] = True
        new_x[j, P] = x[j, P] + mj[f]
        new_x[i, Q] = x[i, Q] + mi[f]
        row = rows[count]
        row[0] = i
        row[1] = j
        row[2] = P
        row[3] = Q
        row[4] = x[i, Q]
        row[5] = x[i, Q] + mi[f]
        row[6] = x[j, P]
        row[7] = x[j, P] + mj[f]
        row[8] = gain[o]
        row[9] = gain[o]
        count += 1
    return count


@_jit
def greedy(x_in, s, c, part, rounds, pos, trades, counts, last):
    """The ``greedy`` variant on each draw of a batch: up to ``rounds`` rounds, a draw stops after a round
    without exchange (later rounds repeat its positions). Outputs as :func:`play` (``pos`` for ``vote``)."""
    B, n, D = x_in.shape
    F = n * n * D * D
    W = np.empty(D)
    O = np.empty(D)
    side = np.empty((n, D))
    w = np.empty((n, D))
    gain = np.empty(F)
    fi = np.empty(F, np.int64)
    mi = np.empty(F)
    mj = np.empty(F)
    for b in range(B):
        for k in range(n):
            for l in range(D):
                w[k, l] = c[b, k] * s[b, k, l] * (1.0 if part[b, k, l] else 0.0)
        pos[b, 0] = x_in[b]
        t = 1
        while t <= rounds:
            k = _greedy_round(pos[b, t - 1], s[b], part[b], w, W, O, side, gain, fi, mi, mj, pos[b, t], trades[b, t])
            counts[b, t] = k
            if k == 0:
                break
            last[b] = t
            t += 1
        for tt in range(t + 1, rounds + 1):
            pos[b, tt] = pos[b, t]
    return True


if COMPILED:
    guard_cache(__file__, play)
