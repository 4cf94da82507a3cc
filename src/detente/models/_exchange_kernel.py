"""The round loops of the exchange model, compiled by numba when installed.

:func:`play` plays the rounds of the ``decide`` and ``random-rate`` variants on
a batch of draws (n actors, D issues, positions already on Decide's 0-100
scale); :func:`greedy` the ``greedy`` variant. The algorithm is described in
``docs/models/exchange.md`` and in :mod:`detente.models.exchange`; this module
only holds the loops. Written from Stokman & Van Oosten (1994) and from the
project's description of Decide's run (its spec ``exchange-decide.md``, whose
steps ``docs/models/exchange.md`` reproduces).

Per round, every candidate exchange ``e`` is one row of two tables, ``fv``
(floats) and ``iv`` (ints), columns named below: ``AI`` demands issue ``PP``
and supplies ``QQ`` (moves on ``QQ`` toward ``AJ``), ``AJ`` demands ``QQ`` and
supplies ``PP``. ``SUP*`` are the supply positions (where the side moves
from), ``DEM*`` the demand positions (the side's own round-start position on
the issue it demands, which its partner moves toward), ``MV*`` the moves,
``GAIN``/``GAINJ`` the two gains and ``RATE`` the exchange's rate (random-rate
model). ``HS*``/``HF*`` hold the side's earlier moves in this round (their
sum, and whether they all have one sign: 0 none, +1 all positive, -1 all
negative, 2 mixed or zero). ``ovc``/``ova``/``ovv`` hold the exchange's own
tables of other actors' positions on its two issues (0: p, 1: q), moved by
earlier realised exchanges, used only by the outcome cap.
"""

from __future__ import annotations

import numpy as np

from ._jit import compiling, guard_cache, jit

#: Smallest gain and smallest move that count (Decide's 1e-10).
EPS = 1e-10
#: Gains this close (relative) are a tie; the exchange formed first wins.
TIE_REL = 1e-12
#: The partner's position and an outcome this close are equal (the partner is then not strictly between
#: the outcome before and after a move, so the move is not capped: Decide's rule in exact arithmetic).
ON = 1e-9
#: New start position: x0 + (y - x0) * (FIXED + SALIENCE * (1 - s)).
FIXED = 0.1
SALIENCE = 0.4

#: Columns of the per-candidate float table ``fv`` (I's and J's side next to each other) and int table ``iv``.
SUPI, SUPJ, MVI, MVJ, HSI, HSJ, DEMI, DEMJ, GAIN, GAINJ, RATE = range(11)
NF = 11
AI, AJ, PP, QQ, HFI, HFJ = range(6)
NI = 6

#: Compiled (numba) or plain Python (no numba, or the copy :func:`detente.models._jit.pure_module` loads);
#: the same operations in the same order either way, so the same numbers.
COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True)
_inline = jit(COMPILED, cache=True, nogil=True, inline="always")


@_inline
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


@_inline
def _passes(n0, n1, xb):
    """Whether moving the outcome from ``n0`` to ``n1`` carries it past the partner at ``xb``: the
    partner lies strictly between the two (Decide's rule). An outcome on the partner (within ``ON``)
    does not pass it by moving on, and neither does one that ends on it.
    """
    if n1 > n0:
        return n0 + ON < xb < n1 - ON
    if n1 < n0:
        return n1 + ON < xb < n0 - ON
    return False


@_inline
def _sign_flag(flag, m):
    """A side's move-history flag after one more move ``m`` (0 none, +1 all positive, -1 all negative, 2 mixed or zero)."""
    sgn = 2 if m == 0.0 else (1 if m > 0 else -1)
    if flag == 0:
        return sgn
    return flag if flag == sgn else 2


@_jit
def play(x_in, s_in, c_in, part_in, rounds, mode, u, scale, base, vote, trades, counts, last):
    """Play up to ``rounds`` of Decide's rounds on each draw of a batch (in place: ``vote``, ``trades``,
    ``counts``, ``last``).

    Parameters
    ----------
    x_in, s_in : (B, n, D) float
        Positions on 0-100 and saliences.
    c_in : (B, n) float
    part_in : (B, n, D) bool
        Who takes part in each issue.
    rounds : int
    mode : int
        0: equal gain (Decide's model); 1: the random-rate model.
    u : (B, L) float
        mode 1: each draw's uniform random numbers, used one per candidate exchange in the
        order formed (L at least ``rounds`` times the draw's candidates); mode 0: unused.
    scale, base : (D,) float
        A position ``x`` on 0-100 is ``x / scale + base`` on the issue's own scale (for ``trades``).
    vote : (B, rounds + 1, n, D) float, out
        ``vote[b, 0]`` the input; ``vote[b, t]`` the voting positions at the end of round t.
    trades : (B, rounds + 1, K, 10) float, out
        Per round, one row per realised exchange in order: I, J, p, q, I's from, I's to, J's from,
        J's to (on the issues' own scales), I's gain, J's gain; NaN after the last.
    counts : (B, rounds + 1) int, out
        Exchanges realised per round.
    last : (B,) int, out
        The last round with an exchange; -1 for a draw with a round of more than K exchanges (its
        outputs are then incomplete).

    One function body on purpose: every table is a local of this function and every helper takes
    numbers only, so the loop makes no reference-count operation on an array (numba makes two atomic
    ones per array argument of every helper call it inlines: a third of the time before).

    Each round: every candidate is formed, then sized (``_size`` in the docs: the no-passing and
    outcome caps of step 4), realised one at a time by gain from a max tree over the candidates (the
    first of the near-ties by a descent to the leftmost leaf within the tie window); after each, only
    the pending exchanges that share one of its four actor-issue cells are visited (no other can be
    touched: per-cell lists built once a round), updated (supply continuation, demand tracking) and
    re-sized. Formation and re-sizing share one sizing loop over a work list.
    """
    B, n, D = x_in.shape
    K = trades.shape[2]
    # the most candidates one round can form: every issue pair with the actors split in two halves
    M = max(1, (D * (D - 1) // 2) * (n // 2) * (n - n // 2))
    S_max = 1
    while S_max < M:
        S_max *= 2
    x0 = np.empty((n, D))
    w = np.empty((n, D))
    W = np.empty(D)
    O = np.empty(D)
    left = np.empty((n, D), np.bool_)
    groups = np.empty((4, n), np.int64)  # per issue pair: the actors of each (side on p, side on q) group
    gsize = np.empty(4, np.int64)
    y = np.empty((n, D))
    traded = np.empty((n, D), np.bool_)
    fv = np.empty((M, NF))
    iv = np.empty((M, NI), np.int64)
    valid = np.zeros(M, np.bool_)
    ovc = np.zeros((M, 2), np.int64)
    ova = np.empty((M, 2, n), np.int64)
    ovv = np.empty((M, 2, n))
    tree = np.empty(2 * S_max)
    cstart = np.empty(n * D + 1, np.int64)
    clist = np.empty(4 * M, np.int64)
    seen = np.zeros(M, np.int64)
    work = np.empty(M, np.int64)
    best_g = np.empty(n)
    best_e = np.empty(n, np.int64)
    stamp = 0
    for b in range(B):
        s = s_in[b]
        part = part_in[b]
        for k in range(n):
            for l in range(D):
                x0[k, l] = x_in[b, k, l]
                w[k, l] = c_in[b, k] * s[k, l] if part[k, l] else 0.0
        for l in range(D):
            W[l] = 0.0
            for k in range(n):
                W[l] += w[k, l]
        for k in range(n):
            for l in range(D):
                vote[b, 0, k, l] = x0[k, l]
        counts[b, 0] = 0
        trades[b, 0] = np.nan
        drawn = 0  # random numbers of ``u`` used so far (mode 1: one per candidate formed, in order)
        lastround = 0
        overflow = False
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
                    for g in range(4):
                        gsize[g] = 0
                    for k in range(n):
                        if part[k, P] and part[k, Q]:
                            g = (1 if left[k, P] else 0) + (2 if left[k, Q] else 0)
                            groups[g, gsize[g]] = k
                            gsize[g] += 1
                    for g1 in range(2):
                        g2 = 3 - g1
                        for ia in range(gsize[g1]):
                            a = groups[g1, ia]
                            for ib in range(gsize[g2]):
                                bb = groups[g2, ib]
                                # I: the larger s_p / s_q (the first actor on equality)
                                if s[a, P] * s[bb, Q] < s[bb, P] * s[a, Q]:
                                    i, j = bb, a
                                else:
                                    i, j = a, bb
                                iv[m, AI] = i
                                iv[m, AJ] = j
                                iv[m, PP] = P
                                iv[m, QQ] = Q
                                fv[m, SUPI] = x0[i, Q]
                                fv[m, SUPJ] = x0[j, P]
                                fv[m, DEMI] = x0[i, P]
                                fv[m, DEMJ] = x0[j, Q]
                                fv[m, HSI] = 0.0
                                fv[m, HSJ] = 0.0
                                iv[m, HFI] = 0
                                iv[m, HFJ] = 0
                                ovc[m, 0] = 0
                                ovc[m, 1] = 0
                                if mode == 1:
                                    # a rate D_q / D_p drawn uniformly between J's indifference rate and I's
                                    lo = s[j, P] / s[j, Q]
                                    hi = s[i, P] / s[i, Q]
                                    fv[m, RATE] = lo + u[b, drawn] * (hi - lo)
                                    drawn += 1
                                work[m] = m
                                m += 1
            S = 1
            while S < m:
                S *= 2
            nw = m
            forming = True
            gone = -1
            na = 0
            realised = 0
            while True:
                # size every exchange of the work list from its current supply positions
                for wi in range(nw):
                    e = work[wi]
                    if e == gone:  # the exchange just realised leaves the tree
                        leaf = -1.0
                    else:
                        i, j, P, Q = iv[e, AI], iv[e, AJ], iv[e, PP], iv[e, QQ]
                        sIp, sIq, sJp, sJq = s[i, P], s[i, Q], s[j, P], s[j, Q]
                        wJp, wIq = w[j, P], w[i, Q]
                        supI, supJ, demI, demJ = fv[e, SUPI], fv[e, SUPJ], fv[e, DEMI], fv[e, DEMJ]
                        distJ = abs(demI - supJ)  # J all the way to I on p
                        distI = abs(demJ - supI)  # I all the way to J on q
                        Dp = wJp * distJ / W[P]
                        if mode == 0:
                            Dq = Dp * (sIp + sJp) / (sIq + sJq)
                        else:
                            Dq = Dp * fv[e, RATE]
                        mI = Dq * W[Q] / wIq
                        mJ = distJ
                        if mI > distI:
                            Dq = wIq * distI / W[Q]
                            if mode == 0:
                                Dp = Dq * (sIq + sJq) / (sIp + sJp)
                            else:
                                Dp = Dq / fv[e, RATE]
                            mI = distI
                            mJ = Dp * W[P] / wJp
                        if supI > demJ:
                            mI = -mI
                        if supJ > demI:
                            mJ = -mJ
                        if mode == 0:
                            gI = abs(Dq * sIq - Dp * sIp)
                            gJ = gI
                        else:
                            gI = sIp * Dp - sIq * Dq
                            gJ = sJq * Dq - sJp * Dp
                        hsI, hsJ, hfI, hfJ = fv[e, HSI], fv[e, HSJ], iv[e, HFI], iv[e, HFJ]
                        ok = _move_ok(supI, mI, hsI, hfI) and _move_ok(supJ, mJ, hsJ, hfJ)
                        if gI < EPS or gJ < EPS:
                            ok = False
                        if ok:
                            # the outcome cap, first for I (supplies q, partner J at demJ on q), then for J
                            for side in range(2):
                                if side == 0:
                                    k, a_iss, b_iss, sup, mv, xb, kb = i, Q, P, supI, mI, demJ, j
                                else:
                                    k, a_iss, b_iss, sup, mv, xb, kb = j, P, Q, supJ, mJ, demI, i
                                tb = 1 - side  # I supplies q: the q table (1); J supplies p: the p table (0)
                                # the issue's outcome with k at its supply position (n0) and moved (n1), the
                                # others at the round start or in the exchange's table
                                Wa = W[a_iss]
                                wk = w[k, a_iss]
                                xk = x0[k, a_iss]
                                n0 = O[a_iss] + wk * (sup - xk) / Wa
                                for idx in range(ovc[e, tb]):
                                    a = ova[e, tb, idx]
                                    if a != k:
                                        n0 += w[a, a_iss] * (ovv[e, tb, idx] - x0[a, a_iss]) / Wa
                                pos = sup + mv
                                n1 = O[a_iss] + wk * (pos - xk) / Wa
                                for idx in range(ovc[e, tb]):
                                    a = ova[e, tb, idx]
                                    if a != k:
                                        n1 += w[a, a_iss] * (ovv[e, tb, idx] - x0[a, a_iss]) / Wa
                                if not _passes(n0, n1, xb):
                                    continue
                                delta = abs(xb - n0) * Wa / wk
                                DA = wk * delta / Wa
                                if mode == 0:
                                    DB = DA * (s[k, a_iss] + s[kb, a_iss]) / (s[k, b_iss] + s[kb, b_iss])
                                elif side == 0:
                                    DB = DA / fv[e, RATE]  # A = I on q, B = J on p
                                else:
                                    DB = DA * fv[e, RATE]  # A = J on p, B = I on q
                                mB = DB * W[b_iss] / w[kb, b_iss]
                                if mode == 0:
                                    gI = abs(DB * s[kb, b_iss] - DA * s[kb, a_iss])
                                    gJ = gI
                                else:
                                    if side == 0:
                                        Dq, Dp = DA, DB
                                    else:
                                        Dq, Dp = DB, DA
                                    gI = sIp * Dp - sIq * Dq
                                    gJ = sJq * Dq - sJp * Dp
                                if side == 0:
                                    mI = -delta if supI > demJ else delta
                                    mJ = -mB if supJ > demI else mB
                                else:
                                    mJ = -delta if supJ > demI else delta
                                    mI = -mB if supI > demJ else mB
                            ok = _move_ok(supI, mI, hsI, hfI) and _move_ok(supJ, mJ, hsJ, hfJ)
                            if mode == 1 and (gI < EPS or gJ < EPS):
                                ok = False
                        fv[e, MVI] = mI
                        fv[e, MVJ] = mJ
                        fv[e, GAIN] = gI
                        fv[e, GAINJ] = gJ
                        valid[e] = ok
                        if forming:
                            continue
                        # a re-sized exchange: its gain in the tree; an invalid one leaves the pending set
                        if not ok:
                            na -= 1
                        leaf = gI if ok else -1.0
                    kk = S + e
                    tree[kk] = leaf
                    kk //= 2
                    while kk >= 1:
                        ga = tree[2 * kk]
                        gb = tree[2 * kk + 1]
                        tree[kk] = ga if ga >= gb else gb
                        kk //= 2
                if forming:
                    # the pending exchanges are the valid ones, in the order formed: a max tree of their
                    # gains and, per actor-issue cell, the pending exchanges that cell takes part in
                    forming = False
                    for e in range(S):
                        if e < m and valid[e]:
                            tree[S + e] = fv[e, GAIN]
                            na += 1
                        else:
                            tree[S + e] = -1.0
                    for kk in range(S - 1, 0, -1):
                        ga = tree[2 * kk]
                        gb = tree[2 * kk + 1]
                        tree[kk] = ga if ga >= gb else gb
                    for cell in range(n * D + 1):
                        cstart[cell] = 0
                    for e in range(m):
                        if valid[e]:  # an invalid exchange never becomes valid again: it is in no list
                            i, j, P, Q = iv[e, AI], iv[e, AJ], iv[e, PP], iv[e, QQ]
                            cstart[i * D + P + 1] += 1
                            cstart[i * D + Q + 1] += 1
                            cstart[j * D + P + 1] += 1
                            cstart[j * D + Q + 1] += 1
                    for cell in range(n * D):
                        cstart[cell + 1] += cstart[cell]
                    for e in range(m):
                        if valid[e]:
                            i, j, P, Q = iv[e, AI], iv[e, AJ], iv[e, PP], iv[e, QQ]
                            for cell in (i * D + P, i * D + Q, j * D + P, j * D + Q):
                                clist[cstart[cell]] = e
                                cstart[cell] += 1
                    for cell in range(n * D, 0, -1):  # back to the starts
                        cstart[cell] = cstart[cell - 1]
                    cstart[0] = 0
                    for k in range(n):
                        for l in range(D):
                            y[k, l] = x0[k, l]
                            traded[k, l] = False
                if na <= 0:
                    break
                E = -1
                if mode == 0:
                    # the highest gain; a tie (within TIE_REL) goes to the exchange formed first: the
                    # leftmost leaf at or above the floor
                    g_best = tree[1]
                    floor = g_best - TIE_REL * max(1.0, g_best)
                    kk = 1
                    while kk < S:
                        kk *= 2
                        if tree[kk] < floor:
                            kk += 1
                    E = kk - S
                else:
                    # mutual best choice: the first exchange that is the best of both its actors (by each
                    # one's own gain, the first formed on equality); if none is, the highest smaller gain
                    for k in range(n):
                        best_g[k] = -1.0
                        best_e[k] = -1
                    for e in range(m):
                        if not valid[e]:
                            continue
                        if fv[e, GAIN] > best_g[iv[e, AI]]:
                            best_g[iv[e, AI]] = fv[e, GAIN]
                            best_e[iv[e, AI]] = e
                        if fv[e, GAINJ] > best_g[iv[e, AJ]]:
                            best_g[iv[e, AJ]] = fv[e, GAINJ]
                            best_e[iv[e, AJ]] = e
                    for e in range(m):
                        if valid[e] and best_e[iv[e, AI]] == e and best_e[iv[e, AJ]] == e:
                            E = e
                            break
                    if E < 0:
                        g_best = -1.0
                        for e in range(m):
                            if not valid[e]:
                                continue
                            gm = min(fv[e, GAIN], fv[e, GAINJ])
                            if gm > g_best:
                                g_best = gm
                                E = e
                valid[E] = False  # its leaf leaves the tree in the next pass of the sizing loop (work[0])
                na -= 1
                i, j, P, Q = iv[E, AI], iv[E, AJ], iv[E, PP], iv[E, QQ]
                yI = fv[E, SUPI] + fv[E, MVI]
                yJ = fv[E, SUPJ] + fv[E, MVJ]
                yI = min(100.0, max(0.0, yI))
                yJ = min(100.0, max(0.0, yJ))
                if realised >= K:
                    overflow = True
                    break
                # positions back on the issues' own scales: I moves on q, J on p
                trades[b, t, realised, 0] = i
                trades[b, t, realised, 1] = j
                trades[b, t, realised, 2] = P
                trades[b, t, realised, 3] = Q
                trades[b, t, realised, 4] = fv[E, SUPI] / scale[Q] + base[Q]
                trades[b, t, realised, 5] = yI / scale[Q] + base[Q]
                trades[b, t, realised, 6] = fv[E, SUPJ] / scale[P] + base[P]
                trades[b, t, realised, 7] = yJ / scale[P] + base[P]
                trades[b, t, realised, 8] = fv[E, GAIN]
                trades[b, t, realised, 9] = fv[E, GAINJ]
                realised += 1
                y[i, Q] = yI
                y[j, P] = yJ
                traded[i, Q] = True
                traded[j, P] = True
                # the pending exchanges that share a cell with E (no other can be touched): continue
                # supplies, track demands; the touched ones go to the work list to be re-sized
                stamp += 1
                gone = E
                work[0] = E
                nw = 1
                for cell in (i * D + P, i * D + Q, j * D + P, j * D + Q):
                    for idx in range(cstart[cell], cstart[cell + 1]):
                        X = clist[idx]
                        if not valid[X] or seen[X] == stamp:
                            continue
                        seen[X] = stamp
                        xi, xj, xp, xq = iv[X, AI], iv[X, AJ], iv[X, PP], iv[X, QQ]
                        touched = False
                        # supply continuation (X's I supplies q, X's J supplies p): a side that is one of
                        # E's suppliers moves on from where E left it, keeping its move so far
                        for side in range(2):
                            actor = xi if side == 0 else xj
                            issue = xq if side == 0 else xp
                            if actor == i and issue == Q:
                                yy = yI
                            elif actor == j and issue == P:
                                yy = yJ
                            else:
                                continue
                            mv = fv[X, MVI + side]
                            fv[X, HSI + side] += mv
                            iv[X, HFI + side] = _sign_flag(iv[X, HFI + side], mv)
                            fv[X, SUPI + side] = yy
                            touched = True
                        # demand tracking: a side demanding what E's J demands (Q) sees E's I there, and
                        # one demanding what E's I demands (P) sees E's J there (the exchange's table of
                        # that issue, in increasing actor order; an actor already in it keeps, as Decide
                        # does, the value on its round-start side)
                        for which in range(2):
                            if which == 0:
                                if not ((xj == j and xq == Q) or (xi == j and xp == Q)):
                                    continue
                                tb, a, yy, start = (1 if xq == Q else 0), i, yI, x0[i, Q]
                            else:
                                if not ((xj == i and xq == P) or (xi == i and xp == P)):
                                    continue
                                tb, a, yy, start = (1 if xq == P else 0), j, yJ, x0[j, P]
                            touched = True
                            cnt = ovc[X, tb]
                            idx2 = 0
                            while idx2 < cnt and ova[X, tb, idx2] < a:
                                idx2 += 1
                            if idx2 < cnt and ova[X, tb, idx2] == a:
                                prev = ovv[X, tb, idx2]
                                if start <= prev:
                                    ovv[X, tb, idx2] = prev if prev < yy else yy
                                else:
                                    ovv[X, tb, idx2] = prev if prev > yy else yy
                                continue
                            for k2 in range(cnt, idx2, -1):
                                ova[X, tb, k2] = ova[X, tb, k2 - 1]
                                ovv[X, tb, k2] = ovv[X, tb, k2 - 1]
                            ova[X, tb, idx2] = a
                            ovv[X, tb, idx2] = yy
                            ovc[X, tb] = cnt + 1
                        if touched:
                            work[nw] = X
                            nw += 1
            if overflow:
                break
            counts[b, t] = realised
            trades[b, t, realised:] = np.nan
            for k in range(n):
                for l in range(D):
                    vote[b, t, k, l] = y[k, l]
            if realised == 0:
                for tt in range(t + 1, rounds + 1):
                    counts[b, tt] = 0
                    trades[b, tt] = np.nan
                    for k in range(n):
                        for l in range(D):
                            vote[b, tt, k, l] = y[k, l]
                break
            lastround = t
            for k in range(n):
                for l in range(D):
                    if traded[k, l]:
                        x0[k, l] = x0[k, l] + (y[k, l] - x0[k, l]) * (FIXED + SALIENCE * (1.0 - s[k, l]))
        last[b] = -1 if overflow else lastround


#: The ``greedy`` loop's compiler options: a division by zero gives inf or NaN, as numpy's does.
_jit_np = jit(COMPILED, cache=True, nogil=True, error_model="numpy")
_inline_np = jit(COMPILED, cache=True, nogil=True, error_model="numpy", inline="always")


@_inline_np
def _sgn(d):
    """numpy's ``sign`` of a float, NaN giving 0 (the callers only compare its products with 0)."""
    return 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)


@_inline_np
def _first(g, code, bg, bcode):
    """Does a candidate of gain ``g`` and flat index ``code`` come before the best so far? (Decreasing gain,
    then increasing flat index: numpy's stable sort of the flat candidates by decreasing gain.)"""
    return g > bg or (g == bg and code < bcode)


@_jit_np
def greedy(x_in, s_in, c, part_in, rounds, pos, trades, counts, last):
    """The ``greedy`` variant on each draw of a batch: up to ``rounds`` rounds, a draw stops after a round
    without exchange (later rounds repeat its positions). Outputs as :func:`play` (``pos`` for ``vote``),
    every element written (the caller may pass them uninitialised): ``trades`` NaN past each round's rows;
    its room ``K`` must be at least ``n D / 4``, the most exchanges a round can realise (each takes four
    cells of its own: ``exchange._greedy_room``).

    The same floating-point operations on every candidate as the numpy version (``exchange.candidates``,
    ``exchange._select`` and ``exchange.play_round``), and the same choice: numpy sorts the candidates
    ``(i, j, p, q)`` with a gain above ``_TOL`` by decreasing gain, ties in flat order, and realises them
    greedily, each actor-issue cell at most once. Here only the candidates that can have a gain are
    visited: per issue pair ``p < q``, the pairs of actors on opposite sides of both outcomes (the
    actors grouped by their two sides), and of the four ordered candidates of such a pair,
    ``(a, b, p, q)``, ``(b, a, q, p)`` (the same advantage ``s_ap s_bq - s_aq s_bp``, bit for bit) and
    ``(b, a, p, q)``, ``(a, b, q, p)`` (its negative), the two whose advantage is positive. Then the best
    remaining candidate (decreasing gain, then flat index) is realised, the candidates sharing one of its
    four cells dropped, and so on: the same sequence as the sorted greedy pass. One function body and
    preallocated tables: no allocation and no array handed to a helper per draw.
    """
    B, n, D = x_in.shape
    K = trades.shape[2]
    NT = trades.shape[3]
    # the most candidates of a round: per issue pair, x y + z w pairs of actors on opposite sides of both (x + y + z + w
    # <= n, so at most floor(n / 2) ceil(n / 2) pairs), two candidates each
    F = 2 * max(1, (D * (D - 1) // 2) * (n // 2) * (n - n // 2))
    W = np.empty(D)
    O = np.empty(D)
    side = np.empty((n, D))
    w = np.empty((n, D))
    used = np.empty((n, D), np.bool_)
    groups = np.empty((4, n), np.int64)
    gsize = np.empty(4, np.int64)
    gain = np.empty(F)
    mi = np.empty(F)
    mj = np.empty(F)
    ci = np.empty(F, np.int64)
    cj = np.empty(F, np.int64)
    cp = np.empty(F, np.int64)
    cq = np.empty(F, np.int64)
    for b in range(B):
        s = s_in[b]
        part = part_in[b]
        for k in range(n):
            for l in range(D):
                w[k, l] = c[b, k] * s[k, l] * (1.0 if part[k, l] else 0.0)
                pos[b, 0, k, l] = x_in[b, k, l]
        for r in range(K):
            for f in range(NT):
                trades[b, 0, r, f] = np.nan
        counts[b, 0] = 0
        last[b] = 0
        t = 1
        while t <= rounds:
            x = pos[b, t - 1]
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
                    side[k, l] = _sgn(x[k, l] - O[l]) if part[k, l] else 0.0
            m = 0
            for P0 in range(D):
                for Q0 in range(P0 + 1, D):
                    for g in range(4):
                        gsize[g] = 0
                    for k in range(n):
                        if side[k, P0] != 0.0 and side[k, Q0] != 0.0:
                            g = (1 if side[k, P0] > 0 else 0) + (2 if side[k, Q0] > 0 else 0)
                            groups[g, gsize[g]] = k
                            gsize[g] += 1
                    for g1 in range(2):  # (-, -) with (+, +), (+, -) with (-, +)
                        g2 = 3 - g1
                        for ia in range(gsize[g1]):
                            a = groups[g1, ia]
                            for ib in range(gsize[g2]):
                                bb = groups[g2, ib]
                                adv0 = s[a, P0] * s[bb, Q0] - s[a, Q0] * s[bb, P0]
                                if adv0 == 0.0:
                                    continue
                                for half in range(2):
                                    # adv0 > 0: (a, b, p, q) and (b, a, q, p); else (b, a, p, q) and (a, b, q, p)
                                    if adv0 > 0:
                                        i, j, P, Q = a, bb, P0, Q0
                                    else:
                                        i, j, P, Q = bb, a, P0, Q0
                                    if half == 1:
                                        i, j, P, Q = j, i, Q, P
                                    adv = s[i, P] * s[j, Q] - s[i, Q] * s[j, P]
                                    dp_max = min(w[j, P] * abs(x[i, P] - x[j, P]) / W[P], abs(x[i, P] - O[P]))
                                    dq_max = min(w[i, Q] * abs(x[j, Q] - x[i, Q]) / W[Q], abs(x[j, Q] - O[Q]))
                                    r = (s[i, P] + s[j, P]) / (s[i, Q] + s[j, Q])
                                    dp = min(dp_max, dq_max / r)
                                    dq = dp * r
                                    gv = dp * adv / (s[i, Q] + s[j, Q])
                                    gain[m] = gv
                                    mj[m] = _sgn(x[i, P] - x[j, P]) * dp * W[P] / w[j, P]
                                    mi[m] = _sgn(x[j, Q] - x[i, Q]) * dq * W[Q] / w[i, Q]
                                    ci[m] = i
                                    cj[m] = j
                                    cp[m] = P
                                    cq[m] = Q
                                    if gv > 1e-12:
                                        m += 1
            for k in range(n):
                for l in range(D):
                    used[k, l] = False
                    pos[b, t, k, l] = x[k, l]
            # the best candidate, realised; the rest kept (in place, in order) unless they share a cell with it
            best = 0
            for e in range(1, m):
                if _first(gain[e], ((ci[e] * n + cj[e]) * D + cp[e]) * D + cq[e], gain[best],
                          ((ci[best] * n + cj[best]) * D + cp[best]) * D + cq[best]):
                    best = e
            count = 0
            while m > 0:
                i, j, P, Q = ci[best], cj[best], cp[best], cq[best]
                g = gain[best]
                used[i, P] = True
                used[i, Q] = True
                used[j, P] = True
                used[j, Q] = True
                pos[b, t, j, P] = x[j, P] + mj[best]
                pos[b, t, i, Q] = x[i, Q] + mi[best]
                trades[b, t, count, 0] = i
                trades[b, t, count, 1] = j
                trades[b, t, count, 2] = P
                trades[b, t, count, 3] = Q
                trades[b, t, count, 4] = x[i, Q]
                trades[b, t, count, 5] = x[i, Q] + mi[best]
                trades[b, t, count, 6] = x[j, P]
                trades[b, t, count, 7] = x[j, P] + mj[best]
                trades[b, t, count, 8] = g
                trades[b, t, count, 9] = g
                count += 1
                k = 0
                best = -1
                for e in range(m):
                    i, j, P, Q = ci[e], cj[e], cp[e], cq[e]
                    if used[i, P] or used[i, Q] or used[j, P] or used[j, Q]:
                        continue
                    gain[k] = gain[e]
                    mi[k] = mi[e]
                    mj[k] = mj[e]
                    ci[k] = i
                    cj[k] = j
                    cp[k] = P
                    cq[k] = Q
                    if best < 0 or _first(gain[k], ((i * n + j) * D + P) * D + Q, gain[best],
                                          ((ci[best] * n + cj[best]) * D + cp[best]) * D + cq[best]):
                        best = k
                    k += 1
                m = k
            for r in range(count, K):
                for f in range(NT):
                    trades[b, t, r, f] = np.nan
            counts[b, t] = count
            if count == 0:
                break
            last[b] = t
            t += 1
        for tt in range(t + 1, rounds + 1):
            counts[b, tt] = 0
            for k in range(n):
                for l in range(D):
                    pos[b, tt, k, l] = pos[b, t, k, l]
            for r in range(K):
                for f in range(NT):
                    trades[b, tt, r, f] = np.nan
    return True


if COMPILED:
    guard_cache(__file__, play)
