"""Compiled kernels for the O(n^3) sums of the SMP, equal bit for bit to ``_smp_core``'s numpy.

Two sums cost n^3 per turn and dominate the SMP from about ten actors up:
the coalition strengths of a Probabilistic Condorcet Election (every voter on
every pair of options, :func:`coalition_rows`) and the third parties' votes
in every challenge (:func:`third_party_rows`); :func:`distance_rows` does the
salience-weighted distances (n x m x D) in one pass. numpy computes them as
temporaries of a few dozen elementwise passes; these kernels compute each
element once, in registers, and sum in exactly numpy's order:

* numpy sums a contiguous last axis (the voters in ``coalitions``) by
  pairwise summation: below 8 terms one after the other; up to 128 terms
  with 8 running sums combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
  (r6 + r7)) and the leftover terms added one by one; above 128, the two
  halves (the first a multiple of 8 terms long) summed recursively and
  added. :func:`pairwise_plan` writes that order down as a program, which
  :func:`coalition_rows` runs for many sums side by side.
* numpy sums any other axis (the third parties in ``_third_parties``) term
  by term in index order, which the loops below do.

Every elementwise operation is the one numpy does, in the same order (no
fused multiply-add: numba compiles without fast-math), so the results are
identical bit for bit; ``tests/test_smp_kernel.py`` checks it on random
inputs for every voting rule, compiled and as plain Python.

Each kernel fills the rows ``lo <= r < hi`` of its output (a row: one draw
and one option, or one draw and one initiator), so that threads can share
the rows out: the result does not depend on the split. Without numba (or
with ``DETENTE_NO_NUMBA=1``) the model does not call these kernels at all;
it runs ``_smp_core``'s numpy, which gives the same numbers.
"""

from __future__ import annotations

import numpy as np

from ._jit import compiling, guard_cache, jit

COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True, error_model="numpy")  # x / 0 gives inf as in numpy, and loops vectorise

#: Voting rules by code (the order of :data:`RULES`).
RULES = ("Prop", "Binary", "PropBin", "PropCbc", "Cubic", "ASymProsp")
#: ``_smp_core.BIN_SCALE`` (a literal here: numba freezes module constants into its cache).
BIN_SCALE = 1e-8


@_jit
def vote(w: float, d: float, rule: int) -> float:
    """``_smp_core.vote`` for one voter and one utility difference (``rule`` a code of :data:`RULES`)."""
    if rule == 0:
        return w * d
    if rule == 1 or rule == 2:
        b = d / BIN_SCALE
        b = min(max(b, -1.0), 1.0)
        if rule == 1:
            return w * b
        return w * (0.8 * d + 0.2 * b)
    if rule == 3:
        return w * (0.5 * d + 0.5 * (d * d * d))
    if rule == 4:
        return w * (d * d * d)
    if d < 0:
        return w * d
    return (2.0 / 3.0) * w * d


def pairwise_plan(n: int) -> np.ndarray:
    """numpy's pairwise summation of n terms as a program for :func:`coalition_rows` (plain Python, not compiled).

    One row per step, in the order numpy does them: ``(0, lo, len)`` sums the
    block ``lo .. lo + len`` (at most 128 terms, see :func:`_block_sum`) onto a
    stack; ``(1, 0, 0)`` replaces the two top sums by first + second (numpy adds
    the sum of the first half to the sum of the second).
    """
    ops: list[tuple[int, int, int]] = []
    todo = [(0, 0, n)]  # (0, lo, len): sum a block; (1, 0, 0): add the two top sums
    while todo:
        kind, lo, m = todo.pop()
        if kind == 1 or m <= 128:
            ops.append((kind, lo, m))
            continue
        half = m // 2
        half -= half % 8
        todo += [(1, 0, 0), (0, lo + half, m - half), (0, lo, half)]  # popped last first
    return np.array(ops, dtype=np.int64).reshape(-1, 3)


@_jit
def _coalition_terms(wv: float, va: float, row: np.ndarray, rule: int, both: bool, first: bool, pk: np.ndarray,
                     nk: np.ndarray) -> None:
    """One voter's terms ``max(0, vote(wv, va - row[c]))`` set into (``first``) or added to ``pk``, and with
    ``both`` (rule ``Prop``) ``max(0, -wv (va - row[c]))`` into ``nk``. Every array is a view of the same
    length, indexed from 0 (so that the compiler sees no negative index and vectorises the loops)."""
    L = row.shape[0]
    if both:
        if first:
            for c in range(L):
                x = wv * (va - row[c])
                pk[c] = x if x > 0.0 else 0.0
                nk[c] = -x if x < 0.0 else 0.0
        else:
            for c in range(L):
                x = wv * (va - row[c])
                pk[c] += x if x > 0.0 else 0.0
                nk[c] += -x if x < 0.0 else 0.0
    elif first:
        for c in range(L):
            x = vote(wv, va - row[c], rule)
            pk[c] = x if x > 0.0 else 0.0
    else:
        for c in range(L):
            x = vote(wv, va - row[c], rule)
            pk[c] += x if x > 0.0 else 0.0


@_jit
def _combine8(r: np.ndarray, res: np.ndarray) -> None:
    """``res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` elementwise (numpy's order), ``r`` (8, L)."""
    for c in range(res.shape[0]):
        res[c] = ((r[0, c] + r[1, c]) + (r[2, c] + r[3, c])) + ((r[4, c] + r[5, c]) + (r[6, c] + r[7, c]))


@_jit
def _coalition_span(b: int, a: int, c0: int, c1: int, V: np.ndarray, wb: np.ndarray, rule: int, both: bool,
                    plan: np.ndarray, rp: np.ndarray, rn: np.ndarray, sp: np.ndarray, sn: np.ndarray) -> None:
    """The sums over the voters of ``max(0, vote(w_v, V[v, a] - V[v, c]))`` for c0 <= c < c1, left in ``sp[0, :c1 - c0]``.

    With ``both`` (the ``Prop`` rule only) also the sums of ``max(0, -w_v (V[v, a] - V[v, c]))``,
    which are the sums for the pairs (c, a), in ``sn[0, :c1 - c0]``. The voters are summed in numpy's
    pairwise order (``plan``, see :func:`pairwise_plan`) for every c at once: the innermost loops run
    over the options c, which are contiguous in ``V`` (Nv, M), so that the compiler vectorises them;
    each option's sum still adds its own terms in numpy's order. ``rp``, ``rn`` (8, M) hold the eight
    running sums of a block, ``sp``, ``sn`` (depth, M) the stack of block sums.
    """
    L = c1 - c0
    top = -1
    for s in range(plan.shape[0]):
        if plan[s, 0] == 1:
            lo_p, hi_p = sp[top - 1, :L], sp[top, :L]
            for c in range(L):
                lo_p[c] = lo_p[c] + hi_p[c]
            if both:
                lo_n, hi_n = sn[top - 1, :L], sn[top, :L]
                for c in range(L):
                    lo_n[c] = lo_n[c] + hi_n[c]
            top -= 1
            continue
        lo = plan[s, 1]
        m = plan[s, 2]
        top += 1
        resp = sp[top, :L]
        resn = sn[top, :L]
        if m < 8:
            resp[:] = -0.0
            resn[:] = -0.0
            first = lo
        else:
            end = m - m % 8
            for i in range(end):  # eight running sums, started at the block's first eight terms
                v = lo + i
                k = i % 8
                _coalition_terms(wb[v], V[b, v, a], V[b, v, c0:c1], rule, both, i < 8, rp[k, :L], rn[k, :L])
            _combine8(rp[:, :L], resp)
            if both:
                _combine8(rn[:, :L], resn)
            first = lo + end
        for v in range(first, lo + m):  # the terms after the last full eight, one by one
            _coalition_terms(wb[v], V[b, v, a], V[b, v, c0:c1], rule, both, False, resp, resn)


#: Options summed at once by :func:`coalition_rows` (its running sums then stay in the first-level cache).
SPAN = 256


@_jit
def coalition_rows(lo: int, hi: int, V: np.ndarray, w: np.ndarray, rows: np.ndarray, rule: int, plan: np.ndarray,
                   C: np.ndarray) -> None:
    """``C[b, a, c] = sum_v max(0, vote(w[b, v], V[b, v, a] - V[b, v, c]))`` for the rows r = b M + a in [lo, hi).

    ``V`` (Bc, Nv, M) each voter's utility of each option; ``rows`` (M,) marks the
    options whose rows are computed (others are left as they are); ``plan`` is
    :func:`pairwise_plan` (Nv). The floor and the diagonal are the caller's (as in
    ``_smp_core.coalitions``).

    With the default rule, w (V_a - V_c) = -(w (V_c - V_a)) exactly (IEEE negation is
    exact), so one pass over the voters gives C[a, c] and C[c, a]: row a does the pairs
    c > a (and c's entry when row c is wanted), and the pairs c < a whose row c is not
    wanted. Each row writes only entries no other row writes, so threads may share rows.
    """
    Bc, Nv, M = V.shape
    depth = plan.shape[0] + 1
    rp = np.empty((8, SPAN))
    rn = np.empty((8, SPAN))
    sp = np.empty((depth, SPAN))
    sn = np.empty((depth, SPAN))
    for r in range(lo, hi):
        b = r // M
        a = r % M
        if not rows[a]:
            continue
        wb = w[b]
        if rule == 0:
            for c0 in range(a + 1, M, SPAN):
                c1 = min(M, c0 + SPAN)
                _coalition_span(b, a, c0, c1, V, wb, rule, True, plan, rp, rn, sp, sn)
                for c in range(c0, c1):
                    C[b, a, c] = sp[0, c - c0]
                    if rows[c]:
                        C[b, c, a] = sn[0, c - c0]
            lone = False
            for c in range(a):
                lone = lone or not rows[c]
            if lone:
                for c0 in range(0, a, SPAN):
                    c1 = min(a, c0 + SPAN)
                    _coalition_span(b, a, c0, c1, V, wb, rule, False, plan, rp, rn, sp, sn)
                    for c in range(c0, c1):
                        if not rows[c]:
                            C[b, a, c] = sp[0, c - c0]
            continue
        for c0 in range(0, M, SPAN):
            c1 = min(M, c0 + SPAN)
            _coalition_span(b, a, c0, c1, V, wb, rule, False, plan, rp, rn, sp, sn)
            for c in range(c0, c1):
                C[b, a, c] = sp[0, c - c0]


@_jit
def _third_vote(u_ni: float, u_nn: float, u_nj: float, wn: float, s0: float, ssum: float, rule: int) -> float:
    """Third party n's vote in the challenge of h (i) to j, as ``_smp_core._third_parties`` computes it."""
    v0 = vote(wn, u_ni - u_nj, rule)
    den = abs(v0) + ssum
    pin = ((v0 if v0 > 0.0 else 0.0) + s0) / den
    beta = u_nj - u_nn
    diff = ((u_nn - u_ni) - beta) * pin + beta
    return vote(wn, diff, rule)


@_jit
def _third_span_prop(u_ni: float, u_nn: float, R: float, wn: float, a_m: np.ndarray, b_m: np.ndarray, s0: np.ndarray,
                     ssum: np.ndarray, tot: np.ndarray, pos: np.ndarray) -> None:
    """:func:`_third_vote` with the ``Prop`` rule for every target j (the loop starts at 0, so that the compiler
    sees no negative index and vectorises), added to ``tot`` and ``pos``."""
    for j in range(a_m.shape[0]):
        u_nj = b_m[j] * R + a_m[j]
        v0 = wn * (u_ni - u_nj)
        den = abs(v0) + ssum[j]
        pin = ((v0 if v0 > 0.0 else 0.0) + s0[j]) / den
        beta = u_nj - u_nn
        v = wn * (((u_nn - u_ni) - beta) * pin + beta)
        tot[j] += v
        pos[j] += v if v > 0.0 else 0.0


@_jit
def third_party_rows(lo: int, hi: int, A: np.ndarray, Bm: np.ndarray, Rhat: np.ndarray, w: np.ndarray,
                     S0ij: np.ndarray, S0ji: np.ndarray, rule: int, Sij: np.ndarray, Sji: np.ndarray) -> None:
    """``_smp_core._third_parties`` for the rows r = b n + h in [lo, hi): initiator h of draw b, every target j.

    ``A``, ``Bm`` (Bc, n, n): U(d_a(x_j), R) = A[a, j] + Bm[a, j] R; ``Rhat`` (Bc, n, n)
    h's estimate of each actor's R; ``w`` (Bc, n) vote weights; ``S0ij``, ``S0ji``
    (Bc, n, n) the principals' coalition strengths. Fills ``Sij``, ``Sji``.

    A third party's vote is 0 when it is the initiator or the target; adding
    those zeros (as numpy does) or skipping them changes no sum but the sign of
    a zero, which the final ``S0 + ...`` (S0 >= 1e-10) erases.
    """
    Bc, n, _ = A.shape
    tot = np.empty(n)
    pos = np.empty(n)
    ssum = np.empty(n)
    for r in range(lo, hi):
        b = r // n
        h = r % n
        s0 = S0ij[b, h]
        s1 = S0ji[b, h]
        for j in range(n):
            tot[j] = -0.0
            pos[j] = -0.0
            ssum[j] = s0[j] + s1[j]
        for m in range(n):  # the third party
            if m == h:
                continue
            R = Rhat[b, h, m]
            wn = w[b, m]
            a_m = A[b, m]
            b_m = Bm[b, m]
            u_ni = a_m[h] + b_m[h] * R
            u_nn = b_m[m] * R + a_m[m]
            if rule == 0:  # the default rule, in a loop of its own that the compiler vectorises
                # over every target, m included, whose sums are then put back as they were (m is no
                # third party of a challenge to itself): one loop instead of two around m
                tot_m, pos_m = tot[m], pos[m]
                _third_span_prop(u_ni, u_nn, R, wn, a_m, b_m, s0, ssum, tot, pos)
                tot[m], pos[m] = tot_m, pos_m
            else:
                for j in range(n):
                    if j != m:
                        v = _third_vote(u_ni, u_nn, b_m[j] * R + a_m[j], wn, s0[j], ssum[j], rule)
                        tot[j] += v
                        pos[j] += v if v > 0.0 else 0.0
        for j in range(n):
            Sij[b, h, j] = s0[j] + pos[j]
            Sji[b, h, j] = s1[j] + (pos[j] - tot[j])


@_jit
def distance_rows(lo: int, hi: int, ideal: np.ndarray, sal: np.ndarray, pts: np.ndarray, den: np.ndarray,
                  out: np.ndarray) -> None:
    """``_smp_core.distances`` for the rows r = b n + i in [lo, hi): actor i of draw b to every point.

    ``ideal``, ``sal`` (Bc, n, D); ``pts`` (Bc, m, D); ``den`` (Bc, n) the sum of
    the squared saliences (numpy's, passed in). Fills ``out`` (Bc, n, m).
    """
    Bc, n, D = ideal.shape
    m = pts.shape[1]
    for r in range(lo, hi):
        b = r // n
        i = r % n
        d = den[b, i]
        for j in range(m):
            acc = 0.0
            for k in range(D):
                t = sal[b, i, k] * (ideal[b, i, k] - pts[b, j, k])
                acc += t * t
            out[b, i, j] = np.sqrt(acc / d) if d > 0 else 0.0


if COMPILED:
    guard_cache(__file__, coalition_rows)
