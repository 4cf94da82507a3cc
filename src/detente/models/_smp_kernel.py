"""Compiled kernels for the O(n^3) sums of the SMP, equal bit for bit to ``_smp_core``'s numpy.

Two sums cost n^3 per turn and dominate the SMP from about ten actors up:
the coalition strengths of a Probabilistic Condorcet Election (every voter on
every pair of options, :func:`coalition_rows`; for the resolution only the pairs
that share an actor's election) and the third parties' votes in every challenge
(:func:`challenge_rows`, :func:`third_party_rows`; with the default voting rule
:func:`challenge_rows_pruned`, which counts the third parties only of the targets that
can be an initiator's best, and gives the same results). The O(n^2) passes of a turn
run here too: the salience-weighted distances and utilities (:func:`distance_rows`,
:func:`utility_rows`, :func:`risk_utility_rows`), the linear victory probabilities
(:func:`victory_rows`), the clusters (:func:`near_rows`, :func:`cluster_rows`).
numpy computes them as temporaries of a few dozen elementwise passes; these
kernels compute each element once, in registers (their inner loops run over a
contiguous axis, without branches, and compile to AVX-512 vectors where the CPU
has them), and sum in exactly numpy's order:

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
inputs for every voting rule, compiled and as plain Python. Two places take
another way to the same result, each argued where it is: the coalitions'
negative sums subtract ``min(x, 0)`` (a zero's sign may differ, the floor the
caller adds erases it), and :func:`near_rows` decides only the comparisons its
own order of the squares cannot get wrong, leaving the others to numpy.

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
    the sum of the first half to the sum of the second). Made once per n (a few
    rows each; a turn asks for it at each of its elections): the caller must not
    write to it.
    """
    plan = _PLANS.get(n)
    if plan is None:
        plan = _PLANS[n] = _pairwise_plan(n)
    return plan


_PLANS: dict[int, np.ndarray] = {}


def _pairwise_plan(n: int) -> np.ndarray:
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
def _coalition_terms(wv: float, va: float, X: np.ndarray, v: int, c0: int, L: int, rule: int, both: bool,
                     first: bool, pk: np.ndarray, nk: np.ndarray, k: int) -> None:
    """One voter's terms ``max(0, vote(wv, va - X[v, c0 + c]))``, c < L, set into (``first``) or added to
    ``pk[k, :L]``, and with ``both`` (rule ``Prop``) ``max(0, -wv (va - X[v, c0 + c]))`` into ``nk[k, :L]``.

    The arrays are indexed in place, not sliced (a slice is a new array whose memory numba counts
    references to: an atomic increment and decrement, which cost as much as a short loop's work), with
    unsigned column indices: numba adds no check for a negative index to them, which would keep the
    compiler from vectorising the loops (each option's sums are still its own: the same numbers).

    ``nk`` takes ``- min(x, 0)`` (subtracted; for ``first`` from -0.0) rather than ``max(-x, 0)``
    added: one vector operation instead of three, and the same number except for the sign of a zero
    (q - x is q + (-x) exactly; q - 0 and q + 0 differ only for q = -0), which no sum of the running
    sums can turn into anything but a zero's sign, erased when the caller adds the floor."""
    cu = np.uint64(c0)  # unsigned: numba then adds no negative-index check, and the loops vectorise
    if both:
        if first:
            for c in range(np.uint64(L)):
                x = wv * (va - X[v, cu + c])
                pk[k, c] = x if x > 0.0 else 0.0
                nk[k, c] = -0.0 - (x if x < 0.0 else 0.0)
        else:
            for c in range(np.uint64(L)):
                x = wv * (va - X[v, cu + c])
                pk[k, c] += x if x > 0.0 else 0.0
                nk[k, c] -= x if x < 0.0 else 0.0
    elif first:
        for c in range(np.uint64(L)):
            x = vote(wv, va - X[v, cu + c], rule)
            pk[k, c] = x if x > 0.0 else 0.0
    else:
        for c in range(np.uint64(L)):
            x = vote(wv, va - X[v, cu + c], rule)
            pk[k, c] += x if x > 0.0 else 0.0


@_jit
def _coalition_terms4(w0: float, w1: float, w2: float, w3: float, a0: float, a1: float, a2: float, a3: float,
                      X: np.ndarray, v: int, c0: int, L: int, rule: int, both: bool, first: bool, pk: np.ndarray,
                      nk: np.ndarray, k: int) -> None:
    """:func:`_coalition_terms` for four voters of the same running sum one after the other (voters v, v + 8,
    v + 16, v + 24 of a block), in one pass over the options: each ``pk[k, c]`` gets the same additions in the
    same order as four calls would give it, but is read and written once instead of four times."""
    cu = np.uint64(c0)  # unsigned: numba then adds no negative-index check, and the loops vectorise
    if both:
        for c in range(np.uint64(L)):
            x = w0 * (a0 - X[v, cu + c])
            if first:
                p = x if x > 0.0 else 0.0
                q = -0.0 - (x if x < 0.0 else 0.0)
            else:
                p = pk[k, c] + (x if x > 0.0 else 0.0)
                q = nk[k, c] - (x if x < 0.0 else 0.0)
            x = w1 * (a1 - X[v + 8, cu + c])
            p += x if x > 0.0 else 0.0
            q -= x if x < 0.0 else 0.0
            x = w2 * (a2 - X[v + 16, cu + c])
            p += x if x > 0.0 else 0.0
            q -= x if x < 0.0 else 0.0
            x = w3 * (a3 - X[v + 24, cu + c])
            pk[k, c] = p + (x if x > 0.0 else 0.0)
            nk[k, c] = q - (x if x < 0.0 else 0.0)
    else:
        for c in range(np.uint64(L)):
            x = vote(w0, a0 - X[v, cu + c], rule)
            if first:
                p = x if x > 0.0 else 0.0
            else:
                p = pk[k, c] + (x if x > 0.0 else 0.0)
            x = vote(w1, a1 - X[v + 8, cu + c], rule)
            p += x if x > 0.0 else 0.0
            x = vote(w2, a2 - X[v + 16, cu + c], rule)
            p += x if x > 0.0 else 0.0
            x = vote(w3, a3 - X[v + 24, cu + c], rule)
            pk[k, c] = p + (x if x > 0.0 else 0.0)


@_jit
def _coalition_terms2(w0: float, w1: float, a0: float, a1: float, X: np.ndarray, v: int, c0: int, L: int, rule: int,
                      both: bool, first: bool, pk: np.ndarray, nk: np.ndarray, k: int) -> None:
    """:func:`_coalition_terms4` for two voters (v, v + 8): the last two terms of a running sum whose count
    is not a multiple of four."""
    cu = np.uint64(c0)  # unsigned: numba then adds no negative-index check, and the loops vectorise
    if both:
        for c in range(np.uint64(L)):
            x = w0 * (a0 - X[v, cu + c])
            if first:
                p = x if x > 0.0 else 0.0
                q = -0.0 - (x if x < 0.0 else 0.0)
            else:
                p = pk[k, c] + (x if x > 0.0 else 0.0)
                q = nk[k, c] - (x if x < 0.0 else 0.0)
            x = w1 * (a1 - X[v + 8, cu + c])
            pk[k, c] = p + (x if x > 0.0 else 0.0)
            nk[k, c] = q - (x if x < 0.0 else 0.0)
    else:
        for c in range(np.uint64(L)):
            x = vote(w0, a0 - X[v, cu + c], rule)
            if first:
                p = x if x > 0.0 else 0.0
            else:
                p = pk[k, c] + (x if x > 0.0 else 0.0)
            x = vote(w1, a1 - X[v + 8, cu + c], rule)
            pk[k, c] = p + (x if x > 0.0 else 0.0)


@_jit
def _combine8(r: np.ndarray, res: np.ndarray, top: int, L: int) -> None:
    """``res[top, c] = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` for c < L (numpy's order), ``r`` (8, *)."""
    for c in range(L):
        res[top, c] = ((r[0, c] + r[1, c]) + (r[2, c] + r[3, c])) + ((r[4, c] + r[5, c]) + (r[6, c] + r[7, c]))


@_jit
def _coalition_span(va: np.ndarray, X: np.ndarray, c0: int, c1: int, wb: np.ndarray, rule: int, both: bool,
                    plan: np.ndarray, rp: np.ndarray, rn: np.ndarray, sp: np.ndarray, sn: np.ndarray) -> None:
    """The sums over the voters of ``max(0, vote(w_v, va[v] - X[v, c]))`` for c0 <= c < c1, left in ``sp[0, :c1 - c0]``.

    ``va`` (Nv,) each voter's utility of the row's option a, ``X`` (Nv, *) each voter's utility of the
    options c (one draw's V (Nv, M), or the columns of a row gathered). With ``both`` (the ``Prop`` rule
    only) also the sums of ``max(0, -w_v (va[v] - X[v, c]))``, which are the sums for the pairs (c, a), in
    ``sn[0, :c1 - c0]``. The voters are summed in numpy's pairwise order (``plan``, see
    :func:`pairwise_plan`) for every c at once: the innermost loops run over the options c, which are
    contiguous in ``X``, so that the compiler vectorises them; each option's sum still adds its own terms
    in numpy's order. ``rp``, ``rn`` (8, *) hold the eight running sums of a block, ``sp``, ``sn``
    (depth, *) the stack of block sums.
    """
    L = c1 - c0
    top = -1
    for s in range(plan.shape[0]):
        if plan[s, 0] == 1:
            for c in range(L):
                sp[top - 1, c] = sp[top - 1, c] + sp[top, c]
            if both:
                for c in range(L):
                    sn[top - 1, c] = sn[top - 1, c] + sn[top, c]
            top -= 1
            continue
        lo = plan[s, 1]
        m = plan[s, 2]
        top += 1
        if m < 8:
            for c in range(L):
                sp[top, c] = -0.0
                sn[top, c] = -0.0
            first = lo
        else:
            end = m - m % 8
            for k in range(8):  # eight running sums: sum k takes the block's terms k, k + 8, k + 16, ... in turn
                for i in range(k, end, 32):
                    v = lo + i
                    if i + 24 < end:  # four of them in one pass over the options
                        _coalition_terms4(wb[v], wb[v + 8], wb[v + 16], wb[v + 24], va[v], va[v + 8], va[v + 16],
                                          va[v + 24], X, v, c0, L, rule, both, i < 8, rp, rn, k)
                        continue
                    rest = i
                    if i + 8 < end:  # two of them in one pass
                        _coalition_terms2(wb[v], wb[v + 8], va[v], va[v + 8], X, v, c0, L, rule, both, i < 8, rp,
                                          rn, k)
                        rest = i + 16
                    for j in range(rest, end, 8):
                        _coalition_terms(wb[lo + j], va[lo + j], X, lo + j, c0, L, rule, both, j < 8, rp, rn, k)
            _combine8(rp, sp, top, L)
            if both:
                _combine8(rn, sn, top, L)
            first = lo + end
        for v in range(first, lo + m):  # the terms after the last full eight, one by one
            _coalition_terms(wb[v], va[v], X, v, c0, L, rule, both, False, sp, sn, top)


@_jit
def _pair_add(p: float, q: float, v: int, a: int, c: int, V: np.ndarray, wb: np.ndarray,
              rule: int) -> tuple[float, float]:
    """``p + max(0, x)`` and ``q + max(0, -x)``, x = vote(w_v, V[v, a] - V[v, c]) (voter v's terms added; V (Nv, M))."""
    x = vote(wb[v], V[v, a] - V[v, c], rule)
    return p + (x if x > 0.0 else 0.0), q + (-x if x < 0.0 else 0.0)


@_jit
def _pair_sums(a: int, c: int, V: np.ndarray, wb: np.ndarray, rule: int) -> tuple[float, float]:
    """The sums over at most 128 voters of ``max(0, x_v)`` and ``max(0, -x_v)``, x_v = vote(w_v, V[v, a] -
    V[v, c]) (one draw's V (Nv, M)), in numpy's order (eight running sums, see :func:`pairwise_plan`), one pair at a time in
    registers: for few options, where :func:`_coalition_span`'s loops over the options are too short.
    (numpy starts each running sum at its first term; starting at -0.0 and adding it is the same.)"""
    Nv = V.shape[0]
    end = Nv - Nv % 8 if Nv >= 8 else 0
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = -0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = -0.0
    for i in range(0, end, 8):
        p0, q0 = _pair_add(p0, q0, i, a, c, V, wb, rule)
        p1, q1 = _pair_add(p1, q1, i + 1, a, c, V, wb, rule)
        p2, q2 = _pair_add(p2, q2, i + 2, a, c, V, wb, rule)
        p3, q3 = _pair_add(p3, q3, i + 3, a, c, V, wb, rule)
        p4, q4 = _pair_add(p4, q4, i + 4, a, c, V, wb, rule)
        p5, q5 = _pair_add(p5, q5, i + 5, a, c, V, wb, rule)
        p6, q6 = _pair_add(p6, q6, i + 6, a, c, V, wb, rule)
        p7, q7 = _pair_add(p7, q7, i + 7, a, c, V, wb, rule)
    rp = rq = -0.0
    if end > 0:
        rp = ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))
        rq = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
    for v in range(end, Nv):
        rp, rq = _pair_add(rp, rq, v, a, c, V, wb, rule)
    return rp, rq


#: Below this many options (and up to 128 voters) :func:`coalition_rows` sums one pair at a time (:func:`_pair_sums`).
FEW_OPTIONS = 32
#: Options summed at once by :func:`coalition_rows` (its running sums then stay in the first-level cache).
SPAN = 256


#: A row of :func:`coalition_rows` whose wanted options c > a are at least 1 / DENSE of them sums them all in
#: place and keeps the wanted ones (each option's sums are its own: the same numbers), rather than gathering them:
#: a gathered option costs ~1 ns per voter to gather against ~0.35 ns to sum.
DENSE = 4

#: The vector width the spans of :func:`coalition_rows` are padded to (8 doubles: one AVX-512 register, two AVX).
LANES = 8


@_jit
def _span(va: np.ndarray, Vb: np.ndarray, X: np.ndarray, cols: np.ndarray, c_first: int, i0: int, i1: int,
          whole: bool, wb: np.ndarray, rule: int, both: bool, plan: np.ndarray, rp: np.ndarray, rn: np.ndarray,
          sp: np.ndarray, sn: np.ndarray) -> int:
    """:func:`_coalition_span` of the options ``cols[i0:i1]``: with ``whole`` they are ``c_first + i0 ..
    c_first + i1`` of ``Vb`` (Nv, M), read in place; else gathered into ``X`` (Nv SPAN,) first, as an
    (Nv, L + padding) block. The span is
    padded to whole vectors of :data:`LANES` (the compiler's vector loops then leave no scalar remainder):
    in place with options before the first (when there are so many), gathered with zeros; the padding's
    sums are computed and not used. Returns the padding: option ``cols[i]``'s sums are at ``pad + i - i0``."""
    L = i1 - i0
    pad = (-L) % LANES
    if whole:
        c0 = c_first + i0
        if pad > c0:
            pad = 0
        _coalition_span(va, Vb, c0 - pad, c_first + i1, wb, rule, both, plan, rp, rn, sp, sn)
        return pad
    W = L + pad
    Xw = X[: Vb.shape[0] * W].reshape(Vb.shape[0], W)  # rows W apart, not SPAN: a few hundred bytes, not 2 KB
    for v in range(Vb.shape[0]):
        for i in range(i0, i1):
            Xw[v, i - i0] = Vb[v, cols[i]]
        for i in range(L, W):
            Xw[v, i] = 0.0
    _coalition_span(va, Xw, 0, W, wb, rule, both, plan, rp, rn, sp, sn)
    return 0


@_jit
def _needed(b: int, a: int, among: np.ndarray, need: np.ndarray) -> bool:
    """``need[c]``: options a and c are both options of one of draw b's elections (``among`` (Bc, nq, M));
    False when a is an option of none."""
    need[:] = False
    found = False
    for q in range(among.shape[1]):
        if among[b, q, a]:
            found = True
            for c in range(need.shape[0]):
                need[c] = need[c] or among[b, q, c]
    return found


@_jit
def _zigzag(k: int, M: int) -> int:
    """The k-th row of a draw in the order 0, M - 1, 1, M - 2, ...: row a sums the M - 1 - a options after it
    (default rule), so that a contiguous run of rows (a thread's piece) costs about as much as any other."""
    return k // 2 if k % 2 == 0 else M - 1 - k // 2


@_jit
def coalition_rows(lo: int, hi: int, V: np.ndarray, w: np.ndarray, rows: np.ndarray, rule: int, plan: np.ndarray,
                   among: np.ndarray, C: np.ndarray) -> None:
    """``C[b, a, c] = sum_v max(0, vote(w[b, v], V[b, v, a] - V[b, v, c]))`` for the rows r = b M + a in [lo, hi).

    ``V`` (Bc, Nv, M) each voter's utility of each option; ``rows`` (M,) marks the
    options whose rows are computed (others are left as they are); ``plan`` is
    :func:`pairwise_plan` (Nv). The floor and the diagonal are the caller's (as in
    ``_smp_core.coalitions``). ``among`` (Bc, nq, M): with nq > 0, only the pairs of
    options that are both options of one of the draw's nq elections are computed
    (the PCEs read no other); with nq = 0 every entry of the rows.

    With the default rule, w (V_a - V_c) = -(w (V_c - V_a)) exactly (IEEE negation is
    exact), so one pass over the voters gives C[a, c] and C[c, a]: row a does the pairs
    c > a (and c's entry when row c is wanted), and the pairs c < a whose row c is not
    wanted. Each row writes only entries no other row writes, so threads may share rows;
    r = b M + k is option a = :func:`_zigzag` (k) of draw b (pieces of equal cost).
    A row's wanted options c > a that are not all of them are gathered into a block of
    their own (``X``) first, so that the loops over them stay contiguous.
    """
    Bc, Nv, M = V.shape
    depth = plan.shape[0] + 1
    rp = np.empty((8, SPAN))
    rn = np.empty((8, SPAN))
    sp = np.empty((depth, SPAN))
    sn = np.empty((depth, SPAN))
    need = np.empty(M, dtype=np.bool_)
    cols = np.empty(M, dtype=np.int64)
    X = np.empty(Nv * SPAN)  # the gathered options, (Nv, L) at a time (:func:`_span`)
    va = np.empty(Nv)
    some = among.shape[1] > 0
    for r in range(lo, hi):
        b = r // M
        a = _zigzag(r % M, M)
        if not rows[a]:
            continue
        if some:
            if not _needed(b, a, among, need):
                continue
        else:
            need[:] = True
        wb = w[b]
        Vb = V[b]
        if M < FEW_OPTIONS and Nv <= 128:
            for c in range(M):
                if not need[c] or (rule == 0 and c < a and rows[c]):
                    continue  # not wanted, or done by row c
                pos, neg = _pair_sums(a, c, Vb, wb, rule)
                C[b, a, c] = pos
                if rule == 0 and c > a and rows[c]:
                    C[b, c, a] = neg
            continue
        for v in range(Nv):
            va[v] = Vb[v, a]
        if rule == 0:
            L = 0
            for c in range(a + 1, M):
                if need[c]:
                    cols[L] = c
                    L += 1
            whole = L == M - a - 1  # every c > a: straight from V
            if not whole and L * DENSE >= M - a - 1:  # most of them: every c > a from V too, kept where wanted
                for c in range(a + 1, M):
                    cols[c - a - 1] = c
                L = M - a - 1
                whole = True
            for i0 in range(0, L, SPAN):
                i1 = min(L, i0 + SPAN)
                pad = _span(va, Vb, X, cols, a + 1, i0, i1, whole, wb, rule, True, plan, rp, rn, sp, sn)
                for i in range(i0, i1):
                    c = cols[i]
                    if not need[c]:
                        continue
                    C[b, a, c] = sp[0, pad + i - i0]
                    if rows[c]:
                        C[b, c, a] = sn[0, pad + i - i0]
            if some:
                continue  # a wanted c < a is in an election, so rows[c]: row c did it
            lone = False
            for c in range(a):
                lone = lone or not rows[c]
            if lone:
                for c0 in range(0, a, SPAN):
                    c1 = min(a, c0 + SPAN)
                    _coalition_span(va, Vb, c0, c1, wb, rule, False, plan, rp, rn, sp, sn)
                    for c in range(c0, c1):
                        if not rows[c]:
                            C[b, a, c] = sp[0, c - c0]
            continue
        L = 0
        for c in range(M):
            if need[c]:
                cols[L] = c
                L += 1
        whole = L == M
        for i0 in range(0, L, SPAN):
            i1 = min(L, i0 + SPAN)
            pad = _span(va, Vb, X, cols, 0, i0, i1, whole, wb, rule, False, plan, rp, rn, sp, sn)
            for i in range(i0, i1):
                C[b, a, cols[i]] = sp[0, pad + i - i0]


#: An option in at least this many of a draw's elections (the resolution's status quo is in every actor's) is
#: summed by :func:`election_pair_rows` as a row of its own, against every option it shares an election with; the
#: other options election by election.
HUB_ELECTIONS = 3


@_jit
def election_plan(among: np.ndarray, rows: np.ndarray, hub_min: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                               np.ndarray]:
    """The work of :func:`election_pair_rows` for the elections ``among`` (Bc, nq, M) (each an option set, as
    ``_smp_core.pce``'s ``Q``): returns ``hub`` (Bc, M), the options in at least ``hub_min`` of their draw's
    elections; ``start`` (Bc nq + 1,) and ``members``, the options of election e = b nq + q that are no hub
    (``members[start[e]:start[e + 1]]``, in index order; none for an election with fewer than two);
    ``tasks`` (K, 3), one row each: (b, -1, a) the row of hub a of draw b, then (b, q, i) the i-th row of
    election q's members (rows i and s - 2 - i side by side: pieces of equal cost). ``tasks`` is empty (and
    the caller sums the rows, :func:`coalition_rows`) if an election holds an option outside ``rows``."""
    Bc, nq, M = among.shape
    count = np.zeros((Bc, M), dtype=np.int64)
    bad = False
    for b in range(Bc):
        for q in range(nq):
            for a in range(M):
                if among[b, q, a]:
                    count[b, a] += 1
                    bad = bad or not rows[a]
    hub = np.zeros((Bc, M), dtype=np.bool_)
    nt = 0
    for b in range(Bc):
        for a in range(M):
            if count[b, a] >= hub_min:
                hub[b, a] = True
                nt += 1
    start = np.zeros(Bc * nq + 1, dtype=np.int64)
    tot = 0
    for b in range(Bc):
        for q in range(nq):
            s = 0
            for a in range(M):
                if among[b, q, a] and not hub[b, a]:
                    s += 1
            start[b * nq + q] = tot
            if s >= 2:
                tot += s
                nt += s - 1
    start[Bc * nq] = tot
    members = np.empty(tot, dtype=np.int64)
    tasks = np.empty((0 if bad else nt, 3), dtype=np.int64)
    if bad:
        return hub, start, members, tasks
    k = 0
    for b in range(Bc):
        for a in range(M):
            if hub[b, a]:
                tasks[k, 0], tasks[k, 1], tasks[k, 2] = b, -1, a
                k += 1
    for b in range(Bc):
        for q in range(nq):
            e = b * nq + q
            o = start[e]
            s = start[e + 1] - o
            if s < 2:
                continue
            s = 0
            for a in range(M):
                if among[b, q, a] and not hub[b, a]:
                    members[o + s] = a
                    s += 1
            for j in range(s - 1):
                tasks[k, 0], tasks[k, 1], tasks[k, 2] = b, q, _zigzag(j, s - 1)
                k += 1
    return hub, start, members, tasks


@_jit
def election_gather(V: np.ndarray, nq: int, start: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Each election's members' columns of V (Bc, Nv, M), for :func:`election_pair_rows`: election e = b nq + q's
    as an (Nv, s) block at Nv start[e] (``start``, ``members`` of :func:`election_plan`), gathered once for
    every thread's rows."""
    Bc, Nv, M = V.shape
    G = np.empty(Nv * start[Bc * nq])
    for e in range(Bc * nq):
        o = start[e]
        s = start[e + 1] - o
        b = e // nq
        for v in range(Nv):
            for k in range(s):
                G[Nv * o + v * s + k] = V[b, v, members[o + k]]
    return G


@_jit
def _hub_wants(b: int, a: int, c: int, need: np.ndarray, hub: np.ndarray) -> bool:
    """Does hub a's row write the pair (a, c): c shares an election with a, and is not a hub before a (whose row
    writes it)."""
    return need[c] and c != a and not (c < a and hub[b, c])


@_jit
def election_pair_rows(lo: int, hi: int, tasks: np.ndarray, start: np.ndarray, members: np.ndarray, hub: np.ndarray,
                       G: np.ndarray, V: np.ndarray, w: np.ndarray, plan: np.ndarray, among: np.ndarray,
                       C: np.ndarray) -> None:
    """:func:`coalition_rows` with the ``Prop`` rule and elections ``among``, task by task (the rows
    ``lo <= r < hi`` of ``tasks``, :func:`election_plan`): the same entries of ``C``, the same numbers.

    A hub's row sums it against every option it shares an election with, both ways (C[a, c] and C[c, a] from
    one pass, as :func:`coalition_rows` does), whole or gathered as there. An election's members are gathered
    once into an (Nv, s) block (``G``, :func:`election_gather`), and its row i sums member i against the members
    after it, straight from the block: where :func:`coalition_rows` gathers each row's few wanted options anew (or sums them all), the
    pairs of a few large elections (an actor many challenge) are summed as densely as an election over
    every option. Each pair's sums are its own, in numpy's order (:func:`_coalition_span`): the same
    numbers wherever its options sit. Every pair is written by the tasks of one election or one hub, except
    a pair of members of two elections (two actors who challenge each other), which both write: the same
    numbers from the same terms, whichever thread writes last.
    """
    Bc, Nv, M = V.shape
    nq = among.shape[1]
    depth = plan.shape[0] + 1
    rp = np.empty((8, SPAN))
    rn = np.empty((8, SPAN))
    sp = np.empty((depth, SPAN))
    sn = np.empty((depth, SPAN))
    need = np.empty(M, dtype=np.bool_)
    cols = np.empty(M, dtype=np.int64)
    X = np.empty(Nv * SPAN)  # a hub row's gathered options (:func:`_span`)
    va = np.empty(Nv)
    for r in range(lo, hi):
        b = tasks[r, 0]
        q = tasks[r, 1]
        i = tasks[r, 2]
        wb = w[b]
        Vb = V[b]
        if q < 0:  # hub i's row
            a = i
            _needed(b, a, among, need)
            L = 0
            for c in range(M):
                if _hub_wants(b, a, c, need, hub):
                    cols[L] = c
                    L += 1
            whole = L * DENSE >= M
            if whole:  # every option from V, kept where wanted
                for c in range(M):
                    cols[c] = c
                L = M
            for v in range(Nv):
                va[v] = Vb[v, a]
            for i0 in range(0, L, SPAN):
                i1 = min(L, i0 + SPAN)
                pad = _span(va, Vb, X, cols, 0, i0, i1, whole, wb, 0, True, plan, rp, rn, sp, sn)
                for k in range(i0, i1):
                    c = cols[k]
                    if whole and not _hub_wants(b, a, c, need, hub):
                        continue
                    C[b, a, c] = sp[0, pad + k - i0]
                    C[b, c, a] = sn[0, pad + k - i0]
            continue
        e = b * nq + q
        o = start[e]
        s = start[e + 1] - o
        Gq = G[Nv * o: Nv * (o + s)].reshape(Nv, s)
        for v in range(Nv):
            va[v] = Gq[v, i]
        a = members[o + i]
        L = s - 1 - i
        for i0 in range(0, L, SPAN):
            i1 = min(L, i0 + SPAN)
            pad = _span(va, Gq, X, cols, i + 1, i0, i1, True, wb, 0, True, plan, rp, rn, sp, sn)
            for k in range(i0, i1):
                c = members[o + i + 1 + k]
                C[b, a, c] = sp[0, pad + k - i0]
                C[b, c, a] = sn[0, pad + k - i0]


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
def _third_span_prop(u_ni: float, u_nn: float, R: float, wn: float, A: np.ndarray, Bm: np.ndarray, m: int,
                     s0: np.ndarray, ssum: np.ndarray, tot: np.ndarray, pos: np.ndarray) -> None:
    """:func:`_third_vote` of third party m with the ``Prop`` rule for every target j, added to ``tot`` and ``pos``
    (``A``, ``Bm`` (n, n) indexed in place: a row's slice would cost numba a reference count, an atomic increment
    and decrement, at every third party; the loop starts at 0, so that the compiler sees no negative index and
    vectorises)."""
    for j in range(A.shape[1]):
        u_nj = Bm[m, j] * R + A[m, j]
        v0 = wn * (u_ni - u_nj)
        den = abs(v0) + ssum[j]
        pin = ((v0 if v0 > 0.0 else 0.0) + s0[j]) / den
        beta = u_nj - u_nn
        v = wn * (((u_nn - u_ni) - beta) * pin + beta)
        tot[j] += v
        pos[j] += v if v > 0.0 else 0.0


@_jit
def _third_row(h: int, A: np.ndarray, Bm: np.ndarray, Rh: np.ndarray, w: np.ndarray, s0: np.ndarray,
               s1: np.ndarray, rule: int, tot: np.ndarray, pos: np.ndarray, ssum: np.ndarray) -> None:
    """The third parties' votes on initiator h's challenges to every target j (one draw: ``A``, ``Bm`` (n, n),
    ``Rh`` (n,) h's estimates of the risk attitudes, ``w`` (n,)): their sums ``tot[j]`` and the sums of their
    positive parts ``pos[j]``, in numpy's order (third party by third party). ``s0``, ``s1`` (n,) the
    principals' strengths S0_hj, S0_jh; ``ssum`` a work array."""
    n = A.shape[1]
    for j in range(n):
        tot[j] = -0.0
        pos[j] = -0.0
        ssum[j] = s0[j] + s1[j]
    for m in range(n):  # the third party
        if m == h:
            continue
        R = Rh[m]
        wn = w[m]
        u_ni = A[m, h] + Bm[m, h] * R
        u_nn = Bm[m, m] * R + A[m, m]
        if rule == 0:  # the default rule, in a loop of its own that the compiler vectorises
            # over every target, m included, whose sums are then put back as they were (m is no
            # third party of a challenge to itself): one loop instead of two around m
            tot_m, pos_m = tot[m], pos[m]
            _third_span_prop(u_ni, u_nn, R, wn, A, Bm, m, s0, ssum, tot, pos)
            tot[m], pos[m] = tot_m, pos_m
        else:
            for j in range(n):
                if j != m:
                    v = _third_vote(u_ni, u_nn, Bm[m, j] * R + A[m, j], wn, s0[j], ssum[j], rule)
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
        _third_row(h, A[b], Bm[b], Rhat[b, h], w[b], s0, s1, rule, tot, pos, ssum)
        for j in range(n):
            Sij[b, h, j] = s0[j] + pos[j]
            Sji[b, h, j] = s1[j] + (pos[j] - tot[j])


#: ``_smp_core``'s constants of a challenge (literals here: numba freezes module constants into its cache).
FLOOR_CHALLENGE, MIN_GAIN, TIE_TOL = 1e-10, 1e-5, 1e-9


@_jit
def principals(a_i: float, a_j: float) -> tuple[float, float]:
    """The principals' coalition strengths of a challenge, S0_ij and S0_ji, from the initiator's vote ``a_i`` and
    the target's ``a_j`` (as ``_smp_core.challenges`` computes them)."""
    return (FLOOR_CHALLENGE + max(a_i, 0.0)) + max(a_j, 0.0), (FLOOR_CHALLENGE + max(-a_i, 0.0)) + max(-a_j, 0.0)


@_jit
def challenge_gain(sj: float, u_ii: float, u_ij: float, pi: float) -> float:
    """The initiator's expected gain from a challenge won with probability ``pi`` against a target of total
    salience ``sj`` (as ``_smp_core.challenges`` computes it)."""
    return (1.0 - sj) * 2.0 * u_ii + sj * (pi * 2.0 * u_ii + (1.0 - pi) * 2.0 * u_ij) - (u_ii + u_ij)


@_jit
def challenge_one(h: int, A: np.ndarray, Bm: np.ndarray, Rh: np.ndarray, w: np.ndarray, sigma: np.ndarray,
                  act: np.ndarray, rule: int, work: np.ndarray) -> tuple[int, float, float]:
    """Initiator h's best challenge in one draw (``A``, ``Bm`` (n, n), ``Rh`` (n,) h's estimates of the risk
    attitudes, ``w``, ``sigma``, ``act`` (n,)), as :func:`challenge_rows` describes: (target or -1, prob, gain).
    ``work`` (8, n) scratch."""
    n = A.shape[0]
    tot, pos, ssum, s0, s1, g, pi, u_ij = work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7]
    Rhh = Rh[h]
    u_ii = A[h, h] + Bm[h, h] * Rhh
    for j in range(n):
        u_ij[j] = Bm[h, j] * Rhh + A[h, j]
        u_ji = A[j, h] + Bm[j, h] * Rh[j]
        u_jj = Bm[j, j] * Rh[j] + A[j, j]
        s0[j], s1[j] = principals(vote(w[h], u_ii - u_ij[j], rule), vote(w[j], u_ji - u_jj, rule))
    _third_row(h, A, Bm, Rh, w, s0, s1, rule, tot, pos, ssum)
    best = -np.inf
    for j in range(n):
        sij = s0[j] + pos[j]
        sji = s1[j] + (pos[j] - tot[j])
        pi[j] = sij / (sij + sji)
        sj = sigma[j]
        gj = challenge_gain(sj, u_ii, u_ij[j], pi[j])
        if not (act[h] and act[j] and j != h and gj > MIN_GAIN):
            gj = -np.inf
        g[j] = gj
        best = max(best, gj)
    if np.isfinite(best):
        thr = best - TIE_TOL * max(abs(best), 1.0)
        tj = 0
        while g[tj] < thr:
            tj += 1
        return tj, pi[tj], best
    return -1, 0.0, 0.0


@_jit
def challenge_rows(lo: int, hi: int, A: np.ndarray, Bm: np.ndarray, Rhat: np.ndarray, w: np.ndarray,
                   sigma: np.ndarray, act: np.ndarray, rule: int, target: np.ndarray, prob: np.ndarray,
                   gain: np.ndarray) -> None:
    """``_smp_core.challenges`` with KTAB's defaults (SemiCommit, the linear ratio) for the rows
    r = b n + h in [lo, hi): initiator h of draw b (:func:`challenge_one`). Every step is numpy's, in numpy's order:

    u_hh = A[h, h] + Bm[h, h] R_hh, u_hj = Bm[h, j] R_hh + A[h, j], u_jh = A[j, h] + Bm[j, h] R_hj,
    u_jj = Bm[j, j] R_hj + A[j, j] (R = Rhat[b, h]); the principals' votes a_i = vote(w_h, u_hh - u_hj),
    a_j = vote(w_j, u_jh - u_jj), S0_ij = (1e-10 + max(a_i, 0)) + max(a_j, 0), S0_ji likewise with -a;
    the third parties (:func:`_third_row`); pi = S_ij / (S_ij + S_ji); the gain
    ((1 - s_j) 2) u_hh + s_j ((pi 2) u_hh + ((1 - pi) 2) u_hj) - (u_hh + u_hj) where both are active,
    j != h and it exceeds 1e-5; the target is the first j within the tie tolerance of the best gain.
    Fills ``target`` (-1 for none), ``prob`` and ``gain`` (Bc, n).
    """
    Bc, n, _ = A.shape
    work = np.empty((8, n))
    for r in range(lo, hi):
        b = r // n
        h = r % n
        target[b, h], prob[b, h], gain[b, h] = challenge_one(h, A[b], Bm[b], Rhat[b, h], w[b], sigma[b], act[b], rule,
                                                             work)


#: Targets per block of :func:`challenge_pruned`, by the number of actors: (below n, block) pairs, the first that
#: applies. The compiler's vector loop over the targets takes 32 doubles a step (a shorter block runs in its scalar
#: remainder); from some hundreds of actors, fewer and longer passes over the third parties cost less.
TARGET_BLOCKS = ((256, 32), (1 << 62, 64))


def target_block(n: int) -> int:
    """The targets per block of :func:`challenge_pruned` for n actors (:data:`TARGET_BLOCKS`)."""
    return next(b for top, b in TARGET_BLOCKS if n < top)


@_jit
def target_order_rows(lo: int, hi: int, A: np.ndarray, Bm: np.ndarray, Rhat: np.ndarray, w: np.ndarray,
                      perm: np.ndarray, iperm: np.ndarray, AP: np.ndarray, BmP: np.ndarray, errb: np.ndarray,
                      AT: np.ndarray, BmT: np.ndarray, Ad: np.ndarray, Bd: np.ndarray) -> None:
    """What :func:`challenge_rows_pruned` needs of the draws lo <= b < hi besides :func:`challenge_rows`' inputs.

    ``perm`` (Bc, n): the targets in the order their blocks are laid out, by the initiators' summed bound at
    pi = 1, u[h][h] - u[h][j], largest first (ties by index): targets many initiators could gain most from
    come first, so that one initiator's few candidates fall in few blocks (the order changes only the work,
    not a number). ``iperm`` its inverse; ``AP``, ``BmP`` (Bc, n, P) ``A``, ``Bm`` with their columns in that
    order, zeros after the n-th. ``errb`` (Bc,): a bound on the round-off of any target's third-party sum
    ``pos - tot``: those sums add n terms each at most 3 S |w_m| (S the spread of every utility u = A + Bm R
    with |R| <= max |Rhat|: |(u_nn - u_ni) - beta| <= 2 S, |beta| <= S, pin in [0, 1]), so each is off by at
    most n 2^-53 times the sum of its terms' sizes; 4 times the two of them, to spare. ``AT``, ``BmT`` (Bc, n, n)
    ``A``, ``Bm`` transposed and ``Ad``, ``Bd`` (Bc, n) their diagonals, so that each initiator's set-up reads
    rows (its column of u[m][h] and the diagonal u[m][m]) and runs in vectors."""
    Bc, n, _ = A.shape
    P = AP.shape[2]
    score = np.empty(n)
    for b in range(lo, hi):
        for j in range(n):  # the transposes: strided reads, rows written in turn (faster here than tiles)
            for m in range(n):
                AT[b, j, m] = A[b, m, j]
            for m in range(n):
                BmT[b, j, m] = Bm[b, m, j]
            Ad[b, j] = A[b, j, j]
            Bd[b, j] = Bm[b, j, j]
        for j in range(n):
            score[j] = 0.0
        rmax = 0.0
        for h in range(n):
            Rhh = Rhat[b, h, h]
            u_hh = A[b, h, h] + Bm[b, h, h] * Rhh
            for j in range(n):
                score[j] -= u_hh - (Bm[b, h, j] * Rhh + A[b, h, j])
            for m in range(n):
                rmax = max(rmax, abs(Rhat[b, h, m]))
        order = np.argsort(score, kind="mergesort")
        umax = -np.inf
        umin = np.inf
        wsum = 0.0
        for m in range(n):
            perm[b, m] = order[m]
            iperm[b, order[m]] = m
            wsum += abs(w[b, m])
            for j in range(n):
                umax = max(umax, A[b, m, j] + abs(Bm[b, m, j]) * rmax)
                umin = min(umin, A[b, m, j] - abs(Bm[b, m, j]) * rmax)
        for m in range(n):
            for p in range(n):
                AP[b, m, p] = A[b, m, order[p]]
                BmP[b, m, p] = Bm[b, m, order[p]]
            for p in range(n, P):
                AP[b, m, p] = 0.0
                BmP[b, m, p] = 0.0
        errb[b] = 4.0 * 2.0 * n * 2.0**-53 * 3.0 * (umax - umin) * wsum


@_jit
def _third_range_prop(h: int, p_lo: int, p_hi: int, AP: np.ndarray, BmP: np.ndarray, iperm: np.ndarray,
                      Rh: np.ndarray, w: np.ndarray, uni: np.ndarray, unn: np.ndarray, s0: np.ndarray,
                      ssum: np.ndarray, tot: np.ndarray, pos: np.ndarray) -> None:
    """:func:`_third_row`'s sums with the ``Prop`` rule for the targets at the places ``p_lo .. p_hi`` of the
    draw's column order (``AP``, ``BmP``, ``s0``, ``ssum``, ``tot``, ``pos`` are in it): the same operations on
    the same numbers, third party by third party in index order (the rows of ``AP``, ``BmP``). ``uni[m]``,
    ``unn[m]``: h's estimates of u[m][h] and u[m][m]. (The loop over the places compiles to vector operations,
    several vectors a step: a range of a few vectors costs little more than one.)"""
    n = AP.shape[0]
    lo = np.uint64(p_lo)
    K = np.uint64(p_hi - p_lo)
    for k in range(K):
        tot[lo + k] = -0.0
        pos[lo + k] = -0.0
    for m in range(n):
        if m == h:
            continue
        R = Rh[m]
        wn = w[m]
        u_ni = uni[m]
        u_nn = unn[m]
        q = iperm[m]  # m's own place, if in the range: m is no third party of a challenge to itself
        own = p_lo <= q < p_hi
        tot_q = pos_q = 0.0
        if own:
            tot_q, pos_q = tot[q], pos[q]
        mu = np.uint64(m)
        for k in range(K):
            u_nj = BmP[mu, lo + k] * R + AP[mu, lo + k]
            v0 = wn * (u_ni - u_nj)
            den = abs(v0) + ssum[lo + k]
            pin = ((v0 if v0 > 0.0 else 0.0) + s0[lo + k]) / den
            beta = u_nj - u_nn
            v = wn * (((u_nn - u_ni) - beta) * pin + beta)
            tot[lo + k] += v
            pos[lo + k] += v if v > 0.0 else 0.0
        if own:
            tot[q], pos[q] = tot_q, pos_q


@_jit
def _gains_range(h: int, p_lo: int, p_hi: int, n: int, perm: np.ndarray, act: np.ndarray, sigma: np.ndarray,
                 u_ii: float, uij: np.ndarray, s0: np.ndarray, s1: np.ndarray, tot: np.ndarray, pos: np.ndarray,
                 g: np.ndarray, pi: np.ndarray, best: float) -> float:
    """:func:`challenge_one`'s win probabilities and gains of the targets at the places ``p_lo .. p_hi`` (below
    n), into ``pi``, ``g`` (-inf for no challenge); returns the best of ``best`` and theirs."""
    for p in range(p_lo, min(p_hi, n)):
        j = perm[p]
        sij = s0[p] + pos[p]
        sji = s1[p] + (pos[p] - tot[p])
        pi[p] = sij / (sij + sji)
        sj = sigma[j]
        gj = challenge_gain(sj, u_ii, uij[p], pi[p])
        if not (act[j] and j != h and gj > MIN_GAIN):
            gj = -np.inf
        g[p] = gj
        best = max(best, gj)
    return best


@_jit
def challenge_pruned(h: int, A: np.ndarray, Bm: np.ndarray, AT: np.ndarray, BmT: np.ndarray, Ad: np.ndarray,
                     Bd: np.ndarray, AP: np.ndarray, BmP: np.ndarray, perm: np.ndarray, iperm: np.ndarray,
                     Rh: np.ndarray, w: np.ndarray, sigma: np.ndarray, act: np.ndarray, errb: float, block: int,
                     s0: np.ndarray, s1: np.ndarray, ssum: np.ndarray, uij: np.ndarray, ub: np.ndarray, g: np.ndarray,
                     pi: np.ndarray, tot: np.ndarray, pos: np.ndarray, uni: np.ndarray, unn: np.ndarray,
                     bmax: np.ndarray, tmp: np.ndarray, done: np.ndarray) -> tuple[int, float, float, int]:
    """Initiator h's best challenge in one draw with the ``Prop`` rule: :func:`challenge_one`'s (target or -1,
    prob, gain), with the third parties' votes counted only where a target can be the best or tie with it; and
    the number of places whose third parties were counted (padding included).

    A target's gain is linear in its win probability pi, which lies in [0, 1] (S_ij > 0, and S_ji >= 0 when the
    principals' S0_ji exceeds ``errb``, the bound on the round-off of the third parties' part); so its gains at
    pi = 0 and 1, plus a margin far above their round-off, bound it before its third parties are counted. The
    targets are laid out in the draw's order ``perm`` (:func:`target_order_rows`: those many initiators could
    gain most from first), in blocks of ``block`` places, and the blocks are counted one by one, the highest
    bound first, until the highest left is not above the least gain (``MIN_GAIN``) or is below the tie
    threshold of the best gain so far (which only rises): such a block holds neither the best target nor one
    tied with it. Each counted target's numbers are :func:`challenge_one`'s (its sums over the third parties in
    index order), and the target chosen is the first in index order within the tie tolerance of the best, as
    there. A target whose S0_ji is not above ``errb`` gets no bound: it is always counted.

    ``AP``, ``BmP`` (n, P) ``A``, ``Bm`` with their columns in the order ``perm`` (P a multiple of ``block``,
    zeros after the n-th), ``iperm`` the places of the actors; ``AT``, ``BmT``, ``Ad``, ``Bd`` (n, n), (n,)
    :func:`target_order_rows`' transposes and diagonals. The set-up computes each target's principals and bound
    in index order (loops that run in vectors) and then puts them in their places. The other arrays are
    scratch: ``s0`` .. ``pos`` (P,), ``uni``, ``unn`` (n,), ``bmax``, ``done`` (P / block,), ``tmp`` (5, n)."""
    n = A.shape[0]
    P = AP.shape[1]
    nb = P // block
    if not act[h]:
        return -1, 0.0, 0.0, 0
    Rhh = Rh[h]
    u_ii = A[h, h] + Bm[h, h] * Rhh
    for m in range(n):  # u[m][h] and u[m][m], as h estimates them
        uni[m] = AT[h, m] + BmT[h, m] * Rh[m]
        unn[m] = Bd[m] * Rh[m] + Ad[m]
    wh = w[h]
    for j in range(n):  # each target's principals and bound, in index order (the arithmetic of challenge_one)
        u_ij = Bm[h, j] * Rhh + A[h, j]
        a, c = principals(wh * (u_ii - u_ij), w[j] * (uni[j] - unn[j]))  # u[j][h] - u[j][j]
        sj = sigma[j]
        margin = 1e-12 * (1.0 + abs(u_ii) + abs(u_ij)) * (1.0 + abs(sj))  # far above the round-off
        bound = max(challenge_gain(sj, u_ii, u_ij, 0.0), challenge_gain(sj, u_ii, u_ij, 1.0)) + margin
        bound = bound if c > errb else np.inf
        tmp[0, j] = a
        tmp[1, j] = c
        tmp[2, j] = a + c
        tmp[3, j] = u_ij
        tmp[4, j] = bound if act[j] & (j != h) else -np.inf
    for j in range(n):  # into their places
        p = iperm[j]
        s0[p] = tmp[0, j]
        s1[p] = tmp[1, j]
        ssum[p] = tmp[2, j]
        uij[p] = tmp[3, j]
        ub[p] = tmp[4, j]
        g[p] = -np.inf
    for p in range(n, P):  # the padding's numbers (harmless: their sums are not read)
        ub[p] = -np.inf
        g[p] = -np.inf
        s0[p] = 1.0
        s1[p] = 1.0
        ssum[p] = 2.0
        uij[p] = 0.0
    for b in range(nb):
        x = -np.inf
        for k in range(b * block, (b + 1) * block):
            x = max(x, ub[k])
        bmax[b] = x
    best = -np.inf
    thr = -np.inf
    counted = 0
    while True:
        bb = -1
        x = -np.inf
        for b in range(nb):  # the block of the highest bound left
            if bmax[b] > x:
                x = bmax[b]
                bb = b
        if bb < 0 or not x > MIN_GAIN or x < thr:
            break
        bmax[bb] = -np.inf
        done[counted // block] = bb
        p0 = bb * block
        counted += block
        _third_range_prop(h, p0, p0 + block, AP, BmP, iperm, Rh, w, uni, unn, s0, ssum, tot, pos)
        best = _gains_range(h, p0, p0 + block, n, perm, act, sigma, u_ii, uij, s0, s1, tot, pos, g, pi, best)
        if np.isfinite(best):
            thr = best - TIE_TOL * max(abs(best), 1.0)
    if np.isfinite(best):
        tj = n
        tp = 0
        for d in range(counted // block):  # (the gains of the blocks not counted are -inf)
            for p in range(done[d] * block, min(n, (done[d] + 1) * block)):
                if g[p] >= thr and perm[p] < tj:
                    tj = perm[p]
                    tp = p
        return tj, pi[tp], best, counted
    return -1, 0.0, 0.0, counted


@_jit
def challenge_rows_pruned(lo: int, hi: int, A: np.ndarray, Bm: np.ndarray, Rhat: np.ndarray, w: np.ndarray,
                          sigma: np.ndarray, act: np.ndarray, AP: np.ndarray, BmP: np.ndarray, perm: np.ndarray,
                          iperm: np.ndarray, errb: np.ndarray, block: int, AT: np.ndarray, BmT: np.ndarray,
                          Ad: np.ndarray, Bd: np.ndarray, target: np.ndarray, prob: np.ndarray, gain: np.ndarray,
                          counted: np.ndarray) -> None:
    """:func:`challenge_rows` with the ``Prop`` rule, the rows r = b n + h in [lo, hi), by
    :func:`challenge_pruned` (the same numbers); ``AP`` .. ``errb`` and ``AT`` .. ``Bd`` from
    :func:`target_order_rows`, ``block`` the places of a block (P a multiple of it). ``counted`` (Bc, n): the
    places each initiator counted."""
    Bc, n, _ = A.shape
    P = AP.shape[2]
    work = np.empty((9, P))
    un = np.empty((2, n))
    bmax = np.empty(P // block)
    done = np.empty(P // block, dtype=np.int64)
    tmp = np.empty((5, n))
    s0, s1, ssum, uij, ub, g, pi, tot, pos = work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7], \
        work[8]
    uni, unn = un[0], un[1]
    for r in range(lo, hi):
        b = r // n
        h = r % n
        target[b, h], prob[b, h], gain[b, h], counted[b, h] = challenge_pruned(
            h, A[b], Bm[b], AT[b], BmT[b], Ad[b], Bd[b], AP[b], BmP[b], perm[b], iperm[b], Rhat[b, h], w[b], sigma[b],
            act[b], errb[b], block, s0, s1, ssum, uij, ub, g, pi, tot, pos, uni, unn, bmax, tmp, done)


@_jit
def _distance_row(b: int, i: int, ideal: np.ndarray, sal: np.ndarray, ptsT: np.ndarray, d: float,
                  out: np.ndarray) -> None:
    """``_smp_core.distances`` of actor i of draw b to every point: ``out`` (m,) (``ideal``, ``sal`` (Bc, n, D),
    ``ptsT`` (Bc, D, m) the points issue by issue, ``d`` the sum of i's squared saliences). The issues are
    summed in numpy's order (from 0.0, issue by issue); the loops over the points are vectorised."""
    m = out.shape[0]
    for j in range(m):
        out[j] = 0.0
    for k in range(ideal.shape[2]):
        sk = sal[b, i, k]
        xk = ideal[b, i, k]
        p = ptsT[b, k]
        for j in range(m):
            t = sk * (xk - p[j])
            out[j] += t * t
    if d > 0:
        for j in range(m):
            out[j] = np.sqrt(out[j] / d)
    else:
        for j in range(m):
            out[j] = 0.0


@_jit
def distance_rows(lo: int, hi: int, ideal: np.ndarray, sal: np.ndarray, ptsT: np.ndarray, den: np.ndarray,
                  out: np.ndarray) -> None:
    """``_smp_core.distances`` for the rows r = b n + i in [lo, hi): actor i of draw b to every point.

    ``ideal``, ``sal`` (Bc, n, D); ``ptsT`` (Bc, D, m) the points issue by issue; ``den`` (Bc, n)
    the sum of the squared saliences (numpy's, passed in). Fills ``out`` (Bc, n, m).
    """
    Bc, n, D = ideal.shape
    for r in range(lo, hi):
        b = r // n
        i = r % n
        _distance_row(b, i, ideal, sal, ptsT, den[b, i], out[b, i])


@_jit
def utility_rows(lo: int, hi: int, ideal: np.ndarray, sal: np.ndarray, ptsT: np.ndarray, den: np.ndarray,
                 R: np.ndarray, out: np.ndarray) -> None:
    """``_smp_core.utility(_smp_core.distances(ideal, sal, pts), R[:, :, None])`` for the rows r = b n + i in
    [lo, hi), without the distances' array: U = (1 - d)(1 + min(d, 1) R_i), numpy's operations in numpy's
    order, d as :func:`distance_rows` gives it (``ptsT`` (Bc, D, m)). ``R`` (Bc, n); fills ``out`` (Bc, n, m)."""
    Bc, n, D = ideal.shape
    for r in range(lo, hi):
        b = r // n
        i = r % n
        ri = R[b, i]
        row = out[b, i]
        _distance_row(b, i, ideal, sal, ptsT, den[b, i], row)
        for j in range(row.shape[0]):
            d = row[j]
            row[j] = (1.0 - d) * (1.0 + min(d, 1.0) * ri)


@_jit
def resolution_values_rows(lo: int, hi: int, ideal: np.ndarray, sal: np.ndarray, bIT: np.ndarray, bRT: np.ndarray,
                           den: np.ndarray, R: np.ndarray, ut: np.ndarray, S: np.ndarray, tj: np.ndarray,
                           N: np.ndarray, V: np.ndarray) -> None:
    """``_smp_core.resolution_values`` for the rows r = b n + i in [lo, hi): voter i's values of the status quo
    ``V[b, i, 0] = S[b, i] / N[b]`` and of every bargain j, ``((((S - ut[i, j]) - ut[i, tj[j]]) + uI) + uR) / N``
    with uI, uR voter i's utilities of j's bargain positions (``bIT``, ``bRT`` (Bc, D, n): as :func:`utility_rows`
    computes them), numpy's operations in numpy's order. Fills ``V`` (Bc, n, 1 + n)."""
    Bc, n, D = ideal.shape
    uI = np.empty(n)
    uR = np.empty(n)
    ut_t = np.empty(n)  # ut[i, tj[j]], gathered first: the loop over j then runs in vectors
    for r in range(lo, hi):
        b = r // n
        i = r % n
        ri = R[b, i]
        _distance_row(b, i, ideal, sal, bIT, den[b, i], uI)
        _distance_row(b, i, ideal, sal, bRT, den[b, i], uR)
        Nb = N[b]
        si = S[b, i]
        row = V[b, i]
        ui = ut[b, i]
        tb = tj[b]
        for j in range(n):
            ut_t[j] = ui[tb[j]]
        row[0] = si / Nb
        for j in range(n):
            d = uI[j]
            e = uR[j]
            row[1 + j] = ((((si - ui[j]) - ut_t[j]) + (1.0 - d) * (1.0 + min(d, 1.0) * ri))
                          + (1.0 - e) * (1.0 + min(e, 1.0) * ri)) / Nb


#: The risk estimates of ``_smp_core.estimate_risk`` by code.
ADJUSTS = ("None", "OneThird", "Half", "TwoThirds", "Full")
#: The risk ranges of ``_smp_core.risk_from_p`` by code.
RANGES = ("Mid", "Min", "Max")


@_jit
def risk_row(p: np.ndarray, act: np.ndarray, rng: int, R: np.ndarray) -> None:
    """``_smp_core.risk_from_p`` of one draw (``p``, ``act``, ``R`` (n,); ``rng`` a code of :data:`RANGES`): numpy's
    operations, one actor at a time. A NaN probability of an active actor makes every R 0, as numpy's max and min
    propagate it."""
    n = p.shape[0]
    big = -np.inf
    small = np.inf
    nan = False
    for i in range(n):
        if act[i]:
            v = p[i]
            nan |= v != v
            big = max(big, v)
            small = min(small, v)
    span = big - small
    ok = not nan and np.isfinite(span) and span > 0
    if not ok:
        span, big, small = 1.0, 0.0, 0.0
    for i in range(n):
        if rng == 1:
            v = (p[i] - small) / span
        elif rng == 0:
            v = (3.0 * p[i] - big - 2.0 * small) / (2.0 * span)
        else:
            v = (2.0 * p[i] - big - small) / span
        R[i] = v if (ok and act[i]) else 0.0


@_jit
def risk_rows(lo: int, hi: int, p: np.ndarray, act: np.ndarray, rng: int, R: np.ndarray) -> None:
    """:func:`risk_row` of the draws lo <= b < hi (``p``, ``act``, ``R`` (Bc, n))."""
    for b in range(lo, hi):
        risk_row(p[b], act[b], rng, R[b])


@_jit
def challenge_input_rows(lo: int, hi: int, dist: np.ndarray, R: np.ndarray, adj: int, A: np.ndarray, Bm: np.ndarray,
                         Rhat: np.ndarray) -> None:
    """The challenges' inputs for the rows r = b n + h in [lo, hi), numpy's operations in numpy's order: the terms of
    U(d, R) = A + Bm R, ``A = 1 - d`` and ``Bm = (1 - d) min(d, 1)`` (``dist`` (Bc, n, n)), and ``Rhat[b, h, i]``,
    h's estimate of i's risk attitude (``_smp_core.estimate_risk``, rule ``adj`` of :data:`ADJUSTS`)."""
    n = dist.shape[1]
    for r in range(lo, hi):
        b = r // n
        h = r % n
        rh = R[b, h]
        for i in range(n):
            d = dist[b, h, i]
            A[b, h, i] = 1.0 - d
            Bm[b, h, i] = (1.0 - d) * min(d, 1.0)
            ri = R[b, i]
            if adj == 0:
                Rhat[b, h, i] = rh
            elif adj == 1:
                Rhat[b, h, i] = (2.0 * rh + ri) / 3.0
            elif adj == 2:
                Rhat[b, h, i] = (rh + ri) / 2.0
            elif adj == 3:
                Rhat[b, h, i] = (rh + 2.0 * ri) / 3.0
            else:
                Rhat[b, h, i] = ri


@_jit
def risk_utility_rows(lo: int, hi: int, d: np.ndarray, R: np.ndarray, out: np.ndarray) -> None:
    """``_smp_core.utility(d, R[:, :, None])`` for the rows r = b n + i in [lo, hi): (1 - d)(1 + min(d, 1) R_i),
    numpy's operations in numpy's order (``d`` (Bc, n, m), ``R`` (Bc, n)). Fills ``out`` (Bc, n, m)."""
    n = d.shape[1]
    for r in range(lo, hi):
        b = r // n
        i = r % n
        ri = R[b, i]
        row = d[b, i]
        o = out[b, i]
        for j in range(row.shape[0]):
            x = row[j]
            o[j] = (1.0 - x) * (1.0 + min(x, 1.0) * ri)


@_jit
def victory_rows(lo: int, hi: int, C: np.ndarray, P: np.ndarray) -> None:
    """``_smp_core.victory(C, "Linear")`` for the rows r = b M + a in [lo, hi): P[a, c] = C[a, c] / (C[a, c] +
    C[c, a]). Fills ``P`` (Bc, M, M)."""
    M = C.shape[1]
    col = np.empty(M)  # C[:, a], contiguous: the loop over c then runs in vectors (the divisions dominate)
    for r in range(lo, hi):
        b = r // M
        a = r % M
        for c in range(M):
            col[c] = C[b, c, a]
        for c in range(M):
            P[b, a, c] = C[b, a, c] / (C[b, a, c] + col[c])


#: The bargaining rules by code (``_smp_core.bargains``' ``kind``).
BARGAINS = ("S2P2", "S1P1", "S2PMax")


@_jit
def bargain_rows(lo: int, hi: int, x: np.ndarray, s: np.ndarray, target: np.ndarray, prob: np.ndarray, kind: int,
                 rnd: bool, bI: np.ndarray, bR: np.ndarray) -> None:
    """``_smp_core.bargains`` for the rows r = b n + i in [lo, hi): initiator i of draw b with its target j
    (``target`` (Bc, n), -1 for none: i's own position and that of actor 0), numpy's operations in numpy's
    order. ``S2P2``/``S1P1`` (``kind`` 0/1): W_i = (s_i p)^e, W_j = (s_j (1 - p))^e (e = 2: a square, which numpy
    computes as x * x; e = 1: the number itself), den = (W_i + W_j) + 1e-6, bI = ((W_i + 1e-6) x_i + W_j x_j) / den,
    bR = (W_i x_i + (W_j + 1e-6) x_j) / den, rounded to 1e-4 with ``rnd`` as numpy rounds (rint(y * 1e4) / 1e4);
    ``S2PMax`` (2): d_i = max(0, (1 - p) - p), bI = x_i + ((d_i s_j^2) / ((d_i s_j^2 + 1e-6) + (1 - d_i) s_i^2))
    (x_j - x_i), bR likewise from j's side. Fills ``bI``, ``bR`` (Bc, n, D)."""
    Bc, n, D = x.shape
    for r in range(lo, hi):
        b = r // n
        i = r % n
        j = target[b, i]
        has = j >= 0
        tj = j if has else 0
        pI = prob[b, i]
        pJ = 1.0 - pI
        for k in range(D):
            xi = x[b, i, k]
            xj = x[b, tj, k]
            if not has:
                bI[b, i, k] = xi
                bR[b, i, k] = xj
                continue
            si = s[b, i, k]
            sj = s[b, tj, k]
            if kind == 2:
                di = max(0.0, pJ - pI)
                dj = max(0.0, pI - pJ)
                sj2 = sj * sj
                si2 = si * si
                bI[b, i, k] = xi + di * sj2 / (di * sj2 + 1e-6 + (1.0 - di) * si2) * (xj - xi)
                bR[b, i, k] = xj + dj * si2 / (dj * si2 + 1e-6 + (1.0 - dj) * sj2) * (xi - xj)
                continue
            wi = si * pI
            wj = sj * pJ
            if kind == 0:
                wi = wi * wi
                wj = wj * wj
            den = wi + wj + 1e-6
            u = ((wi + 1e-6) * xi + wj * xj) / den
            v = (wi * xi + (wj + 1e-6) * xj) / den
            if rnd:
                u = np.rint(u * 10000.0) / 10000.0
                v = np.rint(v * 10000.0) / 10000.0
            bI[b, i, k] = u
            bR[b, i, k] = v


#: The relative margin around the squared tolerance inside which :func:`near_rows` leaves the decision to numpy.
NEAR_MARGIN = 1e-6


@_jit
def near_rows(lo: int, hi: int, x: np.ndarray, xT: np.ndarray, act: np.ndarray, tol: float, near: np.ndarray,
              unsure: np.ndarray) -> None:
    """``_smp_core._near`` for the rows r = b n + i in [lo, hi): ``near[b, i, j]`` = both active and
    ``sqrt(sum_k (x[b, i, k] - x[b, j, k])^2) < tol``, without the (n, n, D) differences (``x`` (Bc, n, D),
    ``xT`` (Bc, D, n)).

    numpy sums the D squares in the order of its einsum loop, here they are summed one after the
    other: the two sums differ by at most 2 D units in the last place (every term >= 0), and the
    square root is monotone and correctly rounded. So a sum below tol^2 (1 - 2 NEAR_MARGIN) is near
    whichever order numpy takes, one above tol^2 (1 + 2 NEAR_MARGIN) is not; in between (an actor a
    millionth of the tolerance from the threshold) ``unsure[r]`` is set and the caller takes numpy's
    own answer for the whole batch. On one issue the sum is a single square, numpy's exactly, and such a
    pair is decided here as numpy decides it (``sqrt(s) < tol``, both square roots correctly rounded): on
    positions of one decimal on a 0-100 scale, as KTAB's examples have, pairs exactly the tolerance apart
    are common. Fills ``near`` (Bc, n, n) and ``unsure`` (Bc n,)."""
    Bc, n, D = x.shape
    t2 = tol * tol
    below = t2 * (1.0 - 2.0 * NEAR_MARGIN)
    above = t2 * (1.0 + 2.0 * NEAR_MARGIN)
    s = np.empty(n)
    for r in range(lo, hi):
        b = r // n
        i = r % n
        row = near[b, i]
        for j in range(n):
            s[j] = 0.0
        for k in range(D):
            xi = x[b, i, k]
            p = xT[b, k]
            for j in range(n):
                d = xi - p[j]
                s[j] += d * d
        doubt = False
        for j in range(n):
            row[j] = s[j] < below and act[b, i] and act[b, j]
            if s[j] >= below and s[j] <= above:
                if D == 1:  # one square: numpy's sum too (0 + d d), so its own comparison decides here
                    row[j] = np.sqrt(s[j]) < tol and act[b, i] and act[b, j]
                else:
                    doubt = True
        unsure[r] = doubt


@_jit
def cluster_labels(near: np.ndarray, act: np.ndarray, cur: np.ndarray, new: np.ndarray) -> None:
    """One draw of :func:`cluster_rows`: ``near`` (n, n), ``act`` (n,); fills ``cur`` (n,), ``new`` a work array."""
    n = near.shape[0]
    for i in range(n):
        cur[i] = i if act[i] else n
    changed = True
    while changed:
        for i in range(n):
            m = n
            for j in range(n):
                if near[i, j] and cur[j] < m:
                    m = cur[j]
            new[i] = min(m, cur[i]) if act[i] else n
        changed = False
        for i in range(n):
            changed = changed or new[i] != cur[i]
            cur[i] = new[i]


@_jit
def cluster_rows(lo: int, hi: int, near: np.ndarray, act: np.ndarray, lab: np.ndarray) -> None:
    """``_smp_core.clusters``' labels for the draws lo <= b < hi: starting from each active actor's own index
    (n for the inactive), every actor takes the smallest label among its near actors and itself, all at
    once, until nothing changes, as numpy's loop does (integers only: the same labels). Fills ``lab`` (Bc, n)."""
    Bc, n, _ = near.shape
    new = np.empty(n, dtype=lab.dtype)
    for b in range(lo, hi):
        cluster_labels(near[b], act[b], lab[b], new)


if COMPILED:
    guard_cache(__file__, coalition_rows)
