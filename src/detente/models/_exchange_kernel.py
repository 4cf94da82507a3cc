"""The round loop of the exchange model's ``decide`` variant, compiled by numba when installed.

One call plays the rounds of one draw (n actors, D issues, positions already
on Decide's 0-100 scale). The algorithm is described in
``docs/models/exchange.md`` and in :mod:`detente.models.exchange`; this module
only holds the loops. Written from Stokman & Van Oosten (1994) and from the
project's description of Decide's run (its spec ``exchange-decide.md``, whose
steps ``docs/models/exchange.md`` reproduces).

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
def _outcome(l, k, pos, x0, w, W, O, ov_row):
    """Issue ``l``'s outcome with actor ``k`` at ``pos``, the others at the round start or the exchange's table."""
    o = O[l] + w[k, l] * (pos - x0[k, l]) / W[l]
    for a in range(ov_row.shape[0]):
        v = ov_row[a]
        if a != k and v == v:  # not NaN
            o += w[a, l] * (v - x0[a, l]) / W[l]
    return o


@_jit
def _size(e, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, valid,
          hsI, hfI, hsJ, hfJ, ovp, ovq, x0, s, w, W, O):
    """Size exchange ``e`` from its current supply positions (equal gain, no passing, outcome caps)."""
    i, j, P, Q = aI[e], aJ[e], p[e], q[e]
    sIp, sIq, sJp, sJq = s[i, P], s[i, Q], s[j, P], s[j, Q]
    wJp, wIq = w[j, P], w[i, Q]
    distJ = abs(demI[e] - supJ[e])  # J all the way to I on p
    distI = abs(demJ[e] - supI[e])  # I all the way to J on q
    Dp = wJp * distJ / W[P]
    Dq = Dp * (sIp + sJp) / (sIq + sJq)
    mI = Dq * W[Q] / wIq
    mJ = distJ
    if mI > distI:
        Dq = wIq * distI / W[Q]
        Dp = Dq * (sIq + sJq) / (sIp + sJp)
        mI = distI
        mJ = Dp * W[P] / wJp
    if supI[e] > demJ[e]:
        mI = -mI
    if supJ[e] > demI[e]:
        mJ = -mJ
    g = abs(Dq * sIq - Dp * sIp)
    ok = _move_ok(supI[e], mI, hsI[e], hfI[e]) and _move_ok(supJ[e], mJ, hsJ[e], hfJ[e])
    if g < EPS:
        ok = False
    if ok:
        # the outcome cap, first for I (supplies q, partner J at demJ on q), then for J
        for side in range(2):
            if side == 0:
                k, a_iss, b_iss, sup, m, xb = i, Q, P, supI[e], mI, demJ[e]
                row = ovq[e]
            else:
                k, a_iss, b_iss, sup, m, xb = j, P, Q, supJ[e], mJ, demI[e]
                row = ovp[e]
            n0 = _outcome(a_iss, k, sup, x0, w, W, O, row)
            n1 = _outcome(a_iss, k, sup + m, x0, w, W, O, row)
            if not _passes(n0, n1, xb):
                continue
            b = j if side == 0 else i
            delta = abs(xb - n0) * W[a_iss] / w[k, a_iss]
            DA = w[k, a_iss] * delta / W[a_iss]
            DB = DA * (s[k, a_iss] + s[b, a_iss]) / (s[k, b_iss] + s[b, b_iss])
            mB = DB * W[b_iss] / w[b, b_iss]
            g = abs(DB * s[b, b_iss] - DA * s[b, a_iss])
            if side == 0:
                mI = -delta if supI[e] > demJ[e] else delta
                mJ = -mB if supJ[e] > demI[e] else mB
            else:
                mJ = -delta if supJ[e] > demI[e] else delta
                mI = -mB if supI[e] > demJ[e] else mB
        ok = _move_ok(supI[e], mI, hsI[e], hfI[e]) and _move_ok(supJ[e], mJ, hsJ[e], hfJ[e])
    mvI[e] = mI
    mvJ[e] = mJ
    gain[e] = g
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
def _track(ov, e, a, y, start):
    """Record actor ``a`` at ``y`` in exchange ``e``'s table (keeping, as Decide does, the earlier value on one side of it)."""
    prev = ov[e, a]
    if prev != prev:
        ov[e, a] = y
    elif start <= prev:
        ov[e, a] = prev if prev < y else y
    else:
        ov[e, a] = prev if prev > y else y


@_jit
def play(x_in, s, c, part, rounds, vote, log):
    """Play up to ``rounds`` of Decide's rounds on one draw.

    Parameters
    ----------
    x_in, s : (n, D) float
        Positions on 0-100 and saliences.
    c : (n,) float
    part : (n, D) bool
        Who takes part in each issue.
    rounds : int
    vote : (rounds + 1, n, D) float, out
        ``vote[0]`` the input; ``vote[t]`` the voting positions at the end of round t.
    log : (L, 10) float, out
        One row per realised exchange: round, I, J, p, q, I's from, I's to, J's from, J's to, gain.

    Returns
    -------
    (int, int)
        Rows written to ``log`` (-1 if it was too small) and the last round with an exchange.
    """
    n, D = x_in.shape
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
    M = 0
    for P in range(D):
        for Q in range(P + 1, D):
            both = 0
            for k in range(n):
                if part[k, P] and part[k, Q]:
                    both += 1
            M += (both // 2) * (both - both // 2)
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
    valid = np.zeros(M, np.bool_)
    hsI = np.empty(M)
    hsJ = np.empty(M)
    hfI = np.empty(M, np.int64)
    hfJ = np.empty(M, np.int64)
    ovp = np.empty((M, n))
    ovq = np.empty((M, n))
    pend = np.empty(M, np.int64)
    O = np.zeros(D)
    left = np.zeros((n, D), np.bool_)
    group = np.empty(n, np.int64)
    rows = 0
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
                            ovp[m, :] = np.nan
                            ovq[m, :] = np.nan
                            _size(m, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, valid,
                                  hsI, hfI, hsJ, hfJ, ovp, ovq, x0, s, w, W, O)
                            m += 1
        y = x0.copy()
        traded = np.zeros((n, D), np.bool_)
        any_trade = False
        # the pending list: the valid candidates, in the order they were formed
        na = 0
        for e in range(m):
            if valid[e]:
                pend[na] = e
                na += 1
        while na > 0:
            g_best = -1.0
            for k in range(na):
                if gain[pend[k]] > g_best:
                    g_best = gain[pend[k]]
            floor = g_best - TIE_REL * max(1.0, g_best)
            E = -1
            for k in range(na):
                if gain[pend[k]] >= floor:
                    E = pend[k]
                    break
            valid[E] = False
            i, j, P, Q = aI[E], aJ[E], p[E], q[E]
            yI = supI[E] + mvI[E]
            yJ = supJ[E] + mvJ[E]
            yI = min(100.0, max(0.0, yI))
            yJ = min(100.0, max(0.0, yJ))
            if rows >= log.shape[0]:
                return -1, last
            log[rows, 0] = t
            log[rows, 1] = i
            log[rows, 2] = j
            log[rows, 3] = P
            log[rows, 4] = Q
            log[rows, 5] = supI[E]
            log[rows, 6] = yI
            log[rows, 7] = supJ[E]
            log[rows, 8] = yJ
            log[rows, 9] = gain[E]
            rows += 1
            y[i, Q] = yI
            y[j, P] = yJ
            traded[i, Q] = True
            traded[j, P] = True
            any_trade = True
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
                    tbl = ovq if xq == Q else ovp
                    _track(tbl, X, i, yI, x0[i, Q])
                    touched = True
                if (xj == i and xq == P) or (xi == i and xp == P):
                    tbl = ovq if xq == P else ovp
                    _track(tbl, X, j, yJ, x0[j, P])
                    touched = True
                if touched:
                    _size(X, aI, aJ, p, q, supI, supJ, demI, demJ, mvI, mvJ, gain, valid,
                          hsI, hfI, hsJ, hfJ, ovp, ovq, x0, s, w, W, O)
                if valid[X]:
                    pend[kept] = X
                    kept += 1
            na = kept
        for k in range(n):
            for l in range(D):
                vote[t, k, l] = y[k, l]
        if not any_trade:
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
    return rows, last


if COMPILED:
    guard_cache(__file__, play)
