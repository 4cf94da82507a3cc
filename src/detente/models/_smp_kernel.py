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
  added. :func:`pairwise_sum` does the same.
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
#: The most terms :func:`pairwise_sum` sums as numpy does (five levels of halving below 128);
#: the model sums more voters with numpy itself.
PAIRWISE_MAX = 3848
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


@_jit
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's sum of ``a[lo:lo + n]`` for n <= 128 (see the module doc)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


# numpy recurses above 128 terms; numba's cache cannot hold a recursive function (it loads
# machine code that crashes), so each level of the recursion is a function of its own.


@_jit
def _sum1(a: np.ndarray, lo: int, n: int) -> float:
    if n <= 128:
        return _block_sum(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _block_sum(a, lo, n2) + _block_sum(a, lo + n2, n - n2)


@_jit
def _sum2(a: np.ndarray, lo: int, n: int) -> float:
    if n <= 128:
        return _block_sum(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum1(a, lo, n2) + _sum1(a, lo + n2, n - n2)


@_jit
def _sum3(a: np.ndarray, lo: int, n: int) -> float:
    if n <= 128:
        return _block_sum(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum2(a, lo, n2) + _sum2(a, lo + n2, n - n2)


@_jit
def _sum4(a: np.ndarray, lo: int, n: int) -> float:
    if n <= 128:
        return _block_sum(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum3(a, lo, n2) + _sum3(a, lo + n2, n - n2)


@_jit
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's sum of ``a[lo:lo + n]`` (pairwise summation), for n <= :data:`PAIRWISE_MAX`."""
    if n <= 128:
        return _block_sum(a, lo, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum4(a, lo, n2) + _sum4(a, lo + n2, n - n2)


@_jit
def coalition_rows(lo: int, hi: int, Vt: np.ndarray, w: np.ndarray, rows: np.ndarray, rule: int,
                   C: np.ndarray) -> None:
    """``C[b, a, c] = sum_v max(0, vote(w[b, v], Vt[b, a, v] - Vt[b, c, v]))`` for the rows r = b M + a in [lo, hi).

    ``Vt`` (Bc, M, Nv) each option's utility to each voter; ``rows`` (M,) marks the
    options whose rows are computed (others are left as they are). The floor and
    the diagonal are the caller's (as in ``_smp_core.coalitions``).
    """
    Bc, M, Nv = Vt.shape
    tmp = np.empty(Nv)
    tmp2 = np.empty(Nv)
    for r in range(lo, hi):
        b = r // M
        a = r % M
        if not rows[a]:
            continue
        wb = w[b]
        va = Vt[b, a]
        if rule == 0:
            # the default rule: w (V_a - V_c) = -(w (V_c - V_a)) exactly (IEEE negation is exact), so
            # one pass over the voters gives C[a, c] and C[c, a]: row a does the pairs c > a, and
            # c's entry when row c is wanted, and the pairs c < a whose row c is not wanted
            for c in range(M):
                if c == a or (c < a and rows[c]):
                    continue
                vc = Vt[b, c]
                for v in range(Nv):
                    x = wb[v] * (va[v] - vc[v])
                    tmp[v] = x if x > 0.0 else 0.0
                    tmp2[v] = -x if x < 0.0 else 0.0
                C[b, a, c] = pairwise_sum(tmp, 0, Nv)
                if rows[c]:
                    C[b, c, a] = pairwise_sum(tmp2, 0, Nv)
            continue
        for c in range(M):
            vc = Vt[b, c]
            for v in range(Nv):
                x = vote(wb[v], va[v] - vc[v], rule)
                tmp[v] = x if x > 0.0 else 0.0
            C[b, a, c] = pairwise_sum(tmp, 0, Nv)


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
def _third_span_prop(j0: int, j1: int, u_ni: float, u_nn: float, R: float, wn: float, a_m: np.ndarray,
                     b_m: np.ndarray, s0: np.ndarray, ssum: np.ndarray, tot: np.ndarray, pos: np.ndarray) -> None:
    """:func:`_third_vote` with the ``Prop`` rule for the targets j0 <= j < j1, added to ``tot`` and ``pos``."""
    for j in range(j0, j1):
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
            if rule == 0:  # the default rule, in loops of its own that the compiler vectorises
                _third_span_prop(0, m, u_ni, u_nn, R, wn, a_m, b_m, s0, ssum, tot, pos)
                _third_span_prop(m + 1, n, u_ni, u_nn, R, wn, a_m, b_m, s0, ssum, tot, pos)
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
