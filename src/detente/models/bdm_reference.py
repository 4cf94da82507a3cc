"""The expected-utility model of Bueno de Mesquita, written as the spec reads: the reference.

This module is the documented mirror of the project's specification of the
model (``bdm-eum.md``; its equations and every convention where it is silent
are reproduced in ``docs/models/bdm.md``): plain loops over the actors, for
one issue and one draw, with no vectorisation, so that it can be read against
the spec line by line. It is not the engine. :mod:`detente.models.bdm` runs
the compiled kernel :mod:`detente.models._bdm_kernel`, which performs the same
floating-point operations in the same order, so its positions, exponents and
moves equal :func:`reference_run`'s bit for bit; ``tests/test_bdm.py`` holds
the two together on random scenarios, and ``benchmarks/bench_engines.py``
times the engine against this reference.

The constants below (move codes and tolerances) are defined here once; the
kernel and :mod:`detente.models.bdm` import them from this module.

Sources: Bueno de Mesquita (1994) "Political forecasting: an expected utility
method", in Bueno de Mesquita & Stokman (eds.) *European Community Decision
Making*, Yale UP, ch. 4; Scholz, Calbert & Smith (2011) "Unravelling Bueno de
Mesquita's group decision model", *Journal of Theoretical Politics* 23(4).

Conventions shared with the engine where the spec is silent (see
``docs/models/bdm.md``): d is clipped to [0, 1] against rounding; the risk
spread max S - min S counts as zero below 1e-12 * max(1, max |S|); E_j > E_i
and E_j > |E_i| need a margin of 1e-12 * (|E_i| + |E_j|) (a tie of exact
arithmetic stays a tie, e.g. two actors of zero salience); offers whose
choice criterion is within 1e-12 * Delta of the best tie; only actors at
equal positions make no offers to each other (Scholz et al.'s rule); a state
repeats when every position is within 1e-12 * Delta of an earlier state's; the
forecast weights fall back from c*s to c, then to 1, when all are zero;
R_i is clipped to [-1, 1] (it can leave it only by rounding); the
``scholz2011_code`` denominator is summed voter by voter (twice each voter's
sum over the pairs a < b, then over the voters).
"""

from __future__ import annotations

#: Move codes (``extras["move_type"]`` of :func:`detente.models.bdm.run`).
NONE, CONFRONTATION, COMPROMISE, CAPITULATION = 0, 1, 2, 3

#: Two states are the same when every active position is within this times Delta.
STATE_TOL = 1e-12
#: The security spread max S - min S counts as zero below this times max(1, max |S|).
RISK_TOL = 1e-12
#: E_j > E_i (and E_j > |E_i|) need a margin of this times |E_i| + |E_j|.
TIE_TOL = 1e-12
#: Offers whose choice criterion is within this times Delta of the best tie (lowest index wins).
CHOICE_TOL = 1e-12
#: Actors closer than this times Delta count as coinciding: they make no offers to each other.
#: 0: only equal positions coincide, the rule of Scholz et al.'s code (the spec's "x_j != x_i"), so
#: published runs replay identically; a tolerance (1e-9 before) made a position 2e-8 from another
#: (Columbus) coincide and changed the run.
COINCIDE_TOL = 0.0
#: The weighted median is the lowest position whose cumulative weight reaches half the
#: total, less this times the total (so that rounding in the sum cannot skip it).
MEDIAN_TOL = 1e-12


def forecast_weights(c, s, active):
    """c*s for active actors, falling back to c, then to 1, when all are zero."""
    n = len(c)
    w = [c[i] * s[i] if active[i] else 0.0 for i in range(n)]
    if sum(w) <= 0:
        w = [c[i] if active[i] else 0.0 for i in range(n)]
    if sum(w) <= 0:
        w = [1.0 if active[i] else 0.0 for i in range(n)]
    return w


def weighted_median(x, w):
    """The lowest actor position p minimising sum_k w_k |x_k - p| (via cumulative weight)."""
    order = sorted(range(len(x)), key=lambda k: x[k])
    total = sum(w)
    half = 0.5 * total
    tol = MEDIAN_TOL * max(total, 1e-300)
    cum = 0.0
    for k in order:
        cum += w[k]
        if cum >= half - tol:
            return x[k]
    return x[order[-1]]  # pragma: no cover


def weighted_mean(x, w):
    """sum w x / sum w."""
    return sum(wk * xk for wk, xk in zip(w, x)) / sum(w)


def reference_run(
    x0,
    c,
    s,
    active=None,
    *,
    variant="scholz2011_code",
    own_perspective=False,
    offer_choice=None,
    capitulation=None,
    Q=1.0,
    T=0.5,
    rounds=10,
    stop="rounds",
    eps=1e-9,
):
    """Run the model on one issue of one draw with plain loops.

    Parameters
    ----------
    x0, c, s : sequence of float
        Initial positions, capabilities, saliences (0-1) of the n actors.
    active : sequence of bool, optional
        Inactive actors take no part and keep their position.
    variant, own_perspective, offer_choice, capitulation, Q, T, rounds, stop, eps
        As in :class:`detente.models.bdm.Params`.

    Returns
    -------
    dict
        ``position`` (list of rounds 0..R of positions), ``mean`` and
        ``median`` per round, ``risk`` per round (round 0: all 1.0),
        ``moves`` per round (dict actor -> (type, counterpart, to)), ``eu`` per
        round (dict (i, j) -> (E^i(U_ij), E^i(U_ji)), the expected utilities
        the round's offers were made from, for every active pair i != j; round
        0: empty), ``rounds``,
        ``cycle_length``, ``converged``, ``cycle_min``, ``cycle_max``.
    """
    n = len(x0)
    if active is None:
        active = [True] * n
    if offer_choice is None:
        offer_choice = "priority" if variant == "scholz2011_code" else "least_move"
    if capitulation is None:
        capitulation = variant == "paper"
    A = [i for i in range(n) if active[i]]
    x = [float(v) for v in x0]
    w = [c[i] * s[i] if active[i] else 0.0 for i in range(n)]
    fw = forecast_weights(c, s, active)
    xa = [x[i] for i in A]
    Delta = max(xa) - min(xa)

    def dist(a, b):
        if Delta <= 0:
            return 0.0
        return min(1.0, abs(a - b) / Delta)

    def utilities(d_ij, d_imu, r):
        Us = 2 - 4 * (0.5 - 0.5 * d_ij) ** r
        Uf = 2 - 4 * (0.5 + 0.5 * d_ij) ** r
        Ub = 2 - 4 * max(0.0, 0.5 - 0.25 * (d_imu + d_ij)) ** r
        Uw = 2 - 4 * (0.5 + 0.25 * (d_imu + d_ij)) ** r
        Usq = 2 - 4 * 0.5**r
        return Us, Uf, Ub, Uw, Usq

    def expected(i, j, r, Pij, mu):
        """E(U_ij): i challenging j, perceived with exponent r."""
        Us, Uf, Ub, Uw, Usq = utilities(dist(x[i], x[j]), dist(x[i], mu), r)
        return s[j] * (Pij * Us + (1 - Pij) * Uf) + (1 - s[j]) * Us - Q * Usq - (1 - Q) * (T * Ub + (1 - T) * Uw)

    def probabilities(rk):
        """P[i][j] for all active pairs, voters k using exponents rk."""
        P = [[0.0] * n for _ in range(n)]
        if variant == "paper":
            for i in A:
                for j in A:
                    if x[i] == x[j]:
                        continue
                    pos = 0.0
                    tot = 0.0
                    for k in A:
                        a = w[k] * (abs(x[k] - x[j]) - abs(x[k] - x[i]))
                        if a > 0:
                            pos += a
                        tot += abs(a)
                    P[i][j] = pos / tot if tot > 0 else 0.0
            return P

        def v(k, a, b):
            return w[k] * (dist(x[k], x[b]) ** rk[k] - dist(x[k], x[a]) ** rk[k])

        # sum_k (sum_a sum_b |v_k(x_a, x_b)|), one voter's total at a time; as
        # |v_k(a, b)| = |v_k(b, a)| and v_k(a, a) = 0, a voter's sum over the
        # ordered pairs is twice its sum over the pairs a < b
        den = 0.0
        for k in A:
            den_k = 0.0
            for ia, a in enumerate(A):
                for b in A[ia + 1 :]:
                    den_k += abs(v(k, a, b))
            den += 2 * den_k
        for i in A:
            for j in A:
                if x[i] == x[j] or den <= 0:
                    continue
                num = 0.0
                for k in A:
                    num += max(0.0, v(k, i, j))
                P[i][j] = num / den
        return P

    history = [list(x)]
    means = [weighted_mean(x, fw)]
    medians = [weighted_median(x, fw)]
    risks = [[1.0] * n]
    moves_hist = [{}]
    eu_hist = [{}]
    cycle_length = 0
    converged = False
    done = 0
    for t in range(1, rounds + 1):
        mu = weighted_median(x, fw)
        # 1. security pass, every r = 1
        P1 = probabilities([1.0] * n)
        S = [0.0] * n
        for i in A:
            for j in A:
                if j != i:
                    S[i] += expected(j, i, 1.0, P1[j][i], mu)
        # 2. risk exponents
        r = [1.0] * n
        Smax = max(S[i] for i in A)
        Smin = min(S[i] for i in A)
        if Smax - Smin > RISK_TOL * max(1.0, max(abs(S[i]) for i in A)):
            for i in A:
                R = (2 * S[i] - Smax - Smin) / (Smax - Smin)
                R = min(1.0, max(-1.0, R))  # |R| <= 1 but for rounding: keeps r in [0.5, 2]
                r[i] = (1 - R / 3) / (1 + R / 3)
        # 3. offers, voters with their new exponents
        P = probabilities(r)
        moves = {}
        eu = {}  # (i, j) -> (E^i(U_ij), E^i(U_ji)) for every active pair i != j
        for i in A:
            offers = []  # (type, j, to, criterion)
            for j in A:
                if j == i:
                    continue
                Ei = expected(i, j, r[i], P[i][j], mu)
                Ej = expected(j, i, r[j] if own_perspective else r[i], P[j][i], mu)
                eu[(i, j)] = (Ei, Ej)
                if abs(x[j] - x[i]) <= COINCIDE_TOL * Delta:
                    continue  # (practically) the same position: no offer
                # E_j > E_i and E_j vs |E_i| are decided with a relative tolerance,
                # so that a tie of exact arithmetic is a tie here too
                tie = TIE_TOL * (abs(Ei) + abs(Ej))
                if Ej - Ei > tie and Ei > 0:
                    offers.append((CONFRONTATION, j, x[j], abs(x[j] - x[i])))
                elif Ej > 0 > Ei and Ej - abs(Ei) > tie:
                    to = x[i] + (x[j] - x[i]) * abs(Ei / Ej)
                    crit = (abs(Ei) * x[i] + abs(Ej) * x[j]) / (abs(Ei) + abs(Ej))
                    offers.append((COMPROMISE, j, to, crit))
                elif Ej > 0 > Ei and abs(Ei) - Ej > tie and capitulation:
                    offers.append((CAPITULATION, j, x[j], abs(x[j] - x[i])))
            if not offers:
                continue
            # 4. choice: the smallest criterion; values within CHOICE_TOL * Delta of
            # it tie, and a tie goes to the lowest index (offers are in increasing j)
            if offer_choice == "priority":
                for kind in (CONFRONTATION, COMPROMISE, CAPITULATION):
                    group = [o for o in offers if o[0] == kind]
                    if group:
                        break
            else:
                group = [(o[0], o[1], o[2], abs(o[2] - x[i])) for o in offers]
            low = min(o[3] for o in group)
            best = next(o for o in group if o[3] <= low + CHOICE_TOL * Delta)
            moves[i] = (best[0], best[1], best[2])
        # 5. all moves at once
        new = list(x)
        for i, (_, _, to) in moves.items():
            new[i] = to
        biggest = max([abs(new[i] - x[i]) for i in A] + [0.0])
        x = new
        history.append(list(x))
        means.append(weighted_mean(x, fw))
        medians.append(weighted_median(x, fw))
        risks.append(r)
        moves_hist.append(moves)
        eu_hist.append(eu)
        done = t
        # stopping: a repeated state (cycle / fixed point), or convergence
        for tp in range(t - 1, -1, -1):
            if all(abs(history[tp][i] - x[i]) <= STATE_TOL * Delta for i in A):
                length = t - tp
                if length == 1:
                    converged = True
                else:
                    cycle_length = length
                break
        if converged or cycle_length:
            break
        if stop == "convergence" and biggest <= eps * Delta:
            converged = True
            break
    if cycle_length:
        span = medians[done - cycle_length + 1 : done + 1]
        cmin, cmax = min(span), max(span)
    else:
        cmin = cmax = medians[-1]
    return {
        "position": history,
        "mean": means,
        "median": medians,
        "risk": risks,
        "moves": moves_hist,
        "eu": eu_hist,
        "rounds": done,
        "cycle_length": cycle_length,
        "converged": converged,
        "cycle_min": cmin,
        "cycle_max": cmax,
    }


def reference_expected_utilities(x0, c, s, active=None, **params):
    """E^i(U_ij) and E^i(U_ji) of round 1 as two n x n lists (None on the diagonal
    and for pairs with an inactive actor); ``params`` as in :func:`reference_run`."""
    params = {**params, "rounds": 1, "stop": "rounds"}
    eu = reference_run(x0, c, s, active, **params)["eu"][1]
    n = len(x0)
    own = [[eu[(i, j)][0] if (i, j) in eu else None for j in range(n)] for i in range(n)]
    other = [[eu[(i, j)][1] if (i, j) in eu else None for j in range(n)] for i in range(n)]
    return own, other
