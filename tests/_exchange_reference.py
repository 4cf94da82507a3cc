"""A slow, literal reference of Decide's equal-gain exchange rounds, for the tests.

Written from Stokman & Van Oosten (1994) and the step-by-step description of one Decide run in
``../shared/specs/exchange-decide.md`` (not from Decide's code, and not from detente's compiled
loop): plain Python floats, one object per exchange side, the pending list kept as a list, every
outcome recomputed from all actors, each side's moves kept as a list.
"""

from __future__ import annotations

FIXED, SALIENCE, EPS, TIE_REL, ON = 0.1, 0.4, 1e-10, 1e-12, 1e-9


class Side:
    def __init__(self, actor, supplies, demands, x):
        self.actor, self.supplies, self.demands = actor, supplies, demands
        self.supply_pos = x[actor][supplies]  # where it moves from
        self.demand_pos = x[actor][demands]  # its own position on what it demands (never updated in a round)
        self.moves = []  # this round's moves of this side, the current one last
        self.move = 0.0
        self.y = None


def reference_rounds(x, s, c, part, rounds, uniforms=None):
    """Voting positions (0-100 scale) at the end of rounds 0..rounds, and the realised trades.

    ``x``, ``s``: n x D lists; ``c``: n; ``part``: n x D booleans. A trade is
    (round, I, J, p, q, I's y, J's y, gain): I demands p, moves on q; J demands q, moves on p.

    ``uniforms``: None for Decide's equal-gain model. Otherwise the random-rate model: an iterator of
    numbers in [0, 1), one taken per candidate exchange as it is formed, which puts the exchange's
    rate D_q / D_p at that fraction of the way from J's indifference rate s_Jp / s_Jq (J gains
    nothing) to I's s_Ip / s_Iq (I gains nothing); each side then has its own gain, and a trade
    ends with (I's gain, J's gain) instead of the one gain. Selection by mutual best choice: the
    first pending exchange (in the order formed) that is the best of both its actors, each by its
    own gain (the first formed on equality); when none is, the one whose smaller gain is highest.
    """
    draw = None if uniforms is None else iter(uniforms)
    n, D = len(x), len(x[0])
    x = [list(map(float, r)) for r in x]
    w = [[c[k] * s[k][l] if part[k][l] else 0.0 for l in range(D)] for k in range(n)]
    W = [sum(w[k][l] for k in range(n)) for l in range(D)]
    out, trades = [[r[:] for r in x]], []
    for t in range(1, rounds + 1):
        O = [sum(w[k][l] * x[k][l] for k in range(n)) / W[l] if W[l] > 0 else 0.0 for l in range(D)]
        left = [[x[k][l] <= O[l] for l in range(D)] for k in range(n)]

        def outcome(l, table, actor, pos):
            """Issue l's outcome: the round's start, the exchange's table, then ``actor`` at ``pos``."""
            xs = [x[k][l] for k in range(n)]
            for k, v in table.get(l, {}).items():
                xs[k] = v
            xs[actor] = pos
            return sum(w[k][l] * xs[k] for k in range(n)) / W[l]

        def valid_move(side, m):
            if abs(m) > 100 or abs(m) <= EPS:
                return False
            if not -1e-9 <= side.supply_pos + m <= 100 + 1e-9:
                return False
            allm = side.moves + [m]
            if sum(allm) > 100:
                return False
            return all(v > 0 for v in allm) or all(v < 0 for v in allm)

        def gains(ex, Dp, Dq):
            """(I's gain, J's gain) of outcome shifts Dp toward I on p and Dq toward J on q."""
            I, J, p, q = ex["I"], ex["J"], ex["p"], ex["q"]
            return s[I.actor][p] * Dp - s[I.actor][q] * Dq, s[J.actor][q] * Dq - s[J.actor][p] * Dp

        def size(ex):
            I, J = ex["I"], ex["J"]
            p, q = ex["p"], ex["q"]
            sal = lambda side, l: s[side.actor][l]  # noqa: E731
            # D_q / D_p: equal gain, or the exchange's drawn rate
            ratio_pq = (sal(I, p) + sal(J, p)) / (sal(I, q) + sal(J, q)) if draw is None else ex["rate"]
            dist_j = abs(I.demand_pos - J.supply_pos)
            dist_i = abs(J.demand_pos - I.supply_pos)
            Dp = w[J.actor][p] * dist_j / W[p]
            Dq = Dp * ratio_pq
            mi, mj = Dq * W[q] / w[I.actor][q], dist_j
            if mi > dist_i:
                Dq = w[I.actor][q] * dist_i / W[q]
                Dp = Dq / ratio_pq
                mi, mj = dist_i, Dp * W[p] / w[J.actor][p]
            sign = lambda side, partner: -1.0 if side.supply_pos > partner.demand_pos else 1.0  # noqa: E731
            I.move, J.move = sign(I, J) * mi, sign(J, I) * mj
            ex["gain"] = abs(Dp * sal(I, p) - Dq * sal(I, q))
            ex["gains"] = gains(ex, Dp, Dq)
            if draw is not None:
                ex["gain"] = min(ex["gains"])
            ok = valid_move(I, I.move) and valid_move(J, J.move) and ex["gain"] >= EPS
            if ok:
                for A, B in ((I, J), (J, I)):
                    a, b = A.supplies, B.supplies
                    o0 = outcome(a, ex["table"], A.actor, A.supply_pos)
                    o1 = outcome(a, ex["table"], A.actor, A.supply_pos + A.move)
                    xb = B.demand_pos
                    # the cap binds when the partner lies strictly between the outcome before and after the
                    # move (positions within ON count as equal: an outcome on the partner may move on past it)
                    up = o0 + ON < xb < o1 - ON
                    down = o1 + ON < xb < o0 - ON
                    if not (up or down):
                        continue
                    m_a = abs(xb - o0) * W[a] / w[A.actor][a]  # puts the outcome on the partner
                    DA = w[A.actor][a] * m_a / W[a]
                    if draw is None:
                        DB = DA * (s[A.actor][a] + s[B.actor][a]) / (s[A.actor][b] + s[B.actor][b])
                    else:  # A's issue a is q when A is I: D_p = D_q / rate; else D_q = rate D_p
                        DB = DA / ex["rate"] if A is I else DA * ex["rate"]
                    m_b = DB * W[b] / w[B.actor][b]
                    A.move, B.move = sign(A, B) * m_a, sign(B, A) * m_b
                    ex["gain"] = abs(DB * s[B.actor][b] - DA * s[B.actor][a])
                    ex["gains"] = gains(ex, DB, DA) if A is I else gains(ex, DA, DB)
                    if draw is not None:
                        ex["gain"] = min(ex["gains"])
                ok = valid_move(I, I.move) and valid_move(J, J.move)
                if draw is not None:
                    ok = ok and ex["gain"] >= EPS
            ex["valid"] = ok
            I.y, J.y = I.supply_pos + I.move, J.supply_pos + J.move

        pending = []
        for p in range(D):
            for q in range(p + 1, D):
                both = [k for k in range(n) if part[k][p] and part[k][q]]
                grp = {k: (left[k][p], left[k][q]) for k in both}
                pairs = [(a, b) for a in both for b in both if grp[a] == (False, False) and grp[b] == (True, True)]
                pairs += [(a, b) for a in both for b in both if grp[a] == (True, False) and grp[b] == (False, True)]
                for a, b in pairs:
                    i, j = (b, a) if s[a][p] / s[a][q] < s[b][p] / s[b][q] else (a, b)
                    ex = {"I": Side(i, q, p, x), "J": Side(j, p, q, x), "p": p, "q": q, "table": {}}
                    if draw is not None:
                        lo, hi = s[j][p] / s[j][q], s[i][p] / s[i][q]
                        ex["rate"] = lo + next(draw) * (hi - lo)
                    size(ex)
                    pending.append(ex)
        pending = [e for e in pending if e["valid"]]
        realised = []
        while pending:
            if draw is None:
                top = max(e["gain"] for e in pending)
                E = next(e for e in pending if e["gain"] >= top - TIE_REL * max(1.0, top))
            else:
                best = {}  # actor -> its best exchange so far, by its own gain (the first on equality)
                for e in pending:
                    for side, g in ((e["I"], e["gains"][0]), (e["J"], e["gains"][1])):
                        if side.actor not in best or g > best[side.actor][1]:
                            best[side.actor] = (e, g)
                mutual = [e for e in pending if best[e["I"].actor][0] is e and best[e["J"].actor][0] is e]
                E = mutual[0] if mutual else max(pending, key=lambda e: min(e["gains"]))  # max: the first on equality
            pending.remove(E)
            realised.append(E)
            g = E["gain"] if draw is None else E["gains"]
            trades.append((t, E["I"].actor, E["J"].actor, E["p"], E["q"], E["I"].y, E["J"].y, g))
            keep = []
            for X in pending:
                touched = False
                for side in (X["I"], X["J"]):
                    for es in (E["I"], E["J"]):
                        if side.actor == es.actor and side.supplies == es.supplies:
                            side.moves.append(side.move)  # the earlier move stays in the history
                            side.supply_pos = es.y
                            touched = True
                for side in (X["I"], X["J"]):
                    for es, other in ((E["J"], E["I"]), (E["I"], E["J"])):
                        if side.actor == es.actor and side.demands == es.demands:
                            tab = X["table"].setdefault(es.demands, {})
                            prev = tab.get(other.actor)
                            start = x[other.actor][other.supplies]
                            if prev is None:
                                tab[other.actor] = other.y
                            elif start <= prev:
                                tab[other.actor] = min(prev, other.y) if prev < other.y else other.y
                            else:
                                tab[other.actor] = prev if prev > other.y else other.y
                            touched = True
                if touched:
                    size(X)
                if X["valid"]:
                    keep.append(X)
            pending = keep
        y = [r[:] for r in x]
        for E in realised:
            for side in (E["I"], E["J"]):
                y[side.actor][side.supplies] = min(100.0, max(0.0, side.y))
        out.append([r[:] for r in y])
        if not realised:
            continue
        new = [r[:] for r in x]
        for E in realised:
            for side in (E["I"], E["J"]):
                k, l = side.actor, side.supplies
                new[k][l] = x[k][l] + (y[k][l] - x[k][l]) * (FIXED + SALIENCE * (1 - s[k][l]))
        x = new
    return out, trades


def random_case(rng, max_issues):
    """A random scenario for the comparisons with the reference: 3-8 actors, 2 to ``max_issues`` issues on 0-100,
    saliences in [0, 1) of which those below 0.15 are 0 (the actor sits that issue out), capabilities in [0.2, 1)."""
    n, D = int(rng.integers(3, 9)), int(rng.integers(2, max_issues + 1))
    x = rng.uniform(0, 100, (n, D))
    s = rng.uniform(0, 1, (n, D))
    s[s < 0.15] = 0
    c = rng.uniform(0.2, 1, n)
    return x, s, c
