"""The SMP's turn for few actors in a handful of compiled passes per batch, equal bit for bit to ``smp``'s numpy.

(Since the tenth pass of issue #17 the module also holds the compiled steps of the many-actor turn around its
kernels: the report's election, ``elect_setup_rows`` / ``elect_finish_rows``, and the resolution's set-up and
outcome, ``resolution_setup_rows`` / ``resolution_choice_rows``; ``smp`` checks their orders once per process.)

With a few actors (the flagship has eight) a turn of ``smp._run_chunk`` is
some sixty numpy calls on (draws x n x n) arrays: each is cheap, but their
passes over memory cost ~30 us per draw and turn. Here each draw's valuation,
report and turn run in compiled loops, draw by draw (rows shared out to
threads). Only the logarithms and exponentials of the three PCEs are left to
numpy (:func:`detente.models.smp._run_chunk_fused` calls ``np.log``/``np.exp``
on the whole batch between the passes): numpy's own SIMD ``exp``/``log``
differ from the C library's (which compiled code calls) in the last bit of a
few per cent of the values.

Every other operation is numpy's, in numpy's order (no fused multiply-add):

* sums along a contiguous axis (``a.sum(-1)``): 0.0 plus numpy's pairwise sum
  (:func:`np_sum`; one after the other below 8 terms, eight running sums up to 128);
* ``np.einsum`` dot products with both operands contiguous along the summed
  axis (the PCEs' ``Q @ log P^T``, the clusters' squared distances, and the
  centres and forecast on one issue): numpy's baseline SIMD loop, two lanes
  over even and odd terms, four pairs per step taken last first
  (:func:`dot2`); with a strided operand (the centres and the forecast on
  several issues) one term after the other (:func:`dot_seq`). These orders are
  numpy's build's, not the IEEE standard's: :func:`detente.models.smp._fused_ok`
  checks them against ``np.einsum`` once per process and the fused path is
  only used where they agree.

The report's election is over each draw's own clusters (``smp._report``'s M,
the draw's count): that count sets numpy's summation lengths, so each row sums
over its own count (``nclus``), in buffers laid out for the batch's most
(``Mb``); the slots past a row's count are only ever passed through numpy's
log (1.0) and exp (-inf), elementwise.
"""

from __future__ import annotations

import numpy as np

from ._jit import compiling, guard_cache, jit
from ._smp_kernel import ADJUSTS, MIN_GAIN, RANGES, _pair_sums, challenge_gain, cluster_labels, principals, risk_row, vote  # noqa: F401 (smp reads ADJUSTS, RANGES here)

COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True, error_model="numpy")

#: ``_smp_core``'s constants (literals: numba freezes module constants into its cache).
FLOOR_PCE, EQ_TOL, TIE_TOL, LOG_FLOOR = 1e-8, 1e-3, 1e-9, 1e-300
#: The bargains' rule by code.
BARGAINS = ("S2P2", "S1P1", "S2PMax")


@_jit
def _block_sum(a: np.ndarray, lo: int, m: int) -> float:
    """numpy's pairwise sum of a block ``a[lo:lo + m]`` of at most 128 terms: one after the other from 0.0 below 8,
    else eight running sums (from the first eight terms) combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
    (r6 + r7)), then the terms after the last full eight."""
    if m < 8:
        res = 0.0
        for i in range(lo, lo + m):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    end = m - m % 8
    for i in range(lo + 8, lo + end, 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(lo + end, lo + m):
        res += a[i]
    return res


@_jit
def np_sum(a: np.ndarray, n: int) -> float:
    """``a[:n].sum()`` as numpy computes it (0.0 plus the pairwise sum, :func:`_block_sum`; n <= 128)."""
    return 0.0 + _block_sum(a, 0, n)


@_jit
def dot2(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """``np.einsum`` of ``a[:n] . b[:n]``, both contiguous: :func:`dot2_at` from the starts of both."""
    return dot2_at(a, 0, b, 0, n)


@_jit
def dot2_at(a: np.ndarray, ia: int, b: np.ndarray, ib: int, n: int) -> float:
    """``np.einsum`` of ``a[ia:ia + n] . b[ib:ib + n]``, both contiguous (indexed in place: a slice costs numba a
    reference count, an atomic increment and decrement, as much as a dot product of a few terms): two lanes
    (even, odd terms), in steps of eight terms whose pairs are added last first, then the rest pair by pair;
    the lanes added; 0.0 plus that."""
    acc0 = 0.0
    acc1 = 0.0
    i = 0
    while n - i >= 8:
        acc0 = acc0 + a[ia + i + 6] * b[ib + i + 6]
        acc1 = acc1 + a[ia + i + 7] * b[ib + i + 7]
        acc0 = acc0 + a[ia + i + 4] * b[ib + i + 4]
        acc1 = acc1 + a[ia + i + 5] * b[ib + i + 5]
        acc0 = acc0 + a[ia + i + 2] * b[ib + i + 2]
        acc1 = acc1 + a[ia + i + 3] * b[ib + i + 3]
        acc0 = acc0 + a[ia + i] * b[ib + i]
        acc1 = acc1 + a[ia + i + 1] * b[ib + i + 1]
        i += 8
    while i < n:
        acc0 = acc0 + a[ia + i] * b[ib + i]
        if i + 1 < n:
            acc1 = acc1 + a[ia + i + 1] * b[ib + i + 1]
        else:
            acc1 = acc1 + 0.0
        i += 2
    return 0.0 + (acc0 + acc1)


@_jit
def dot_seq(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """``np.einsum`` of ``a[:n] . b[:n]`` with a strided operand: 0.0 plus the terms one after the other."""
    acc = 0.0
    for i in range(n):
        acc = acc + a[i] * b[i]
    return acc


@_jit
def dot_probe(a: np.ndarray, b: np.ndarray, seq: bool) -> np.ndarray:
    """:func:`dot2` (or :func:`dot_seq`) of every row of ``a`` and ``b`` (k, n): what ``smp._fused_ok`` compares
    with ``np.einsum``."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = dot_seq(a[i], b[i], a.shape[1]) if seq else dot2(a[i], b[i], a.shape[1])
    return out


@_jit
def np_sum_plan(a: np.ndarray, plan: np.ndarray) -> float:
    """``a.sum()`` as numpy computes it for any length: numpy's pairwise summation as ``plan``
    (``_smp_kernel.pairwise_plan`` (len(a)): blocks of at most 128 terms summed as :func:`np_sum` sums them,
    halves added), 0.0 plus the total."""
    stack = np.empty(plan.shape[0] + 1)
    top = -1
    for s in range(plan.shape[0]):
        if plan[s, 0] == 1:
            stack[top - 1] = stack[top - 1] + stack[top]
            top -= 1
            continue
        top += 1
        stack[top] = _block_sum(a, plan[s, 1], plan[s, 2])
    return 0.0 + stack[0]


@_jit
def _cluster_slots(lab: np.ndarray, M: int, order: np.ndarray, valid: np.ndarray) -> None:
    """``smp._elect``'s M slots of a draw's clusters (``lab`` (n,) the actors' labels), as ``argsort(~isrep,
    stable)[:M]`` orders them: the representatives (an actor that is its cluster's label) in index order, then other
    actors; ``order`` (>= M,) the slots' actors, ``valid`` whether each is a cluster."""
    k = 0
    for i in range(lab.shape[0]):
        if lab[i] == i and k < M:
            order[k] = i
            valid[k] = True
            k += 1
    for i in range(lab.shape[0]):
        if k >= M:
            break
        if lab[i] != i:
            order[k] = i
            valid[k] = False
            k += 1


@_jit
def _first_probable(p: np.ndarray, q: np.ndarray, iq: int, M: int) -> int:
    """An actor's choice in its resolution election, as ``smp._step`` makes it: the first of its options (``q[iq + a]``
    not 0) whose probability ``p[a]`` is within the tie tolerance of the largest of ``p[:M]``; 0, the status quo,
    if none."""
    pmax = -np.inf
    for a in range(M):
        pmax = max(pmax, p[a])
    for a in range(M):
        if q[iq + a] != 0 and p[a] >= pmax * (1 - TIE_TOL):
            return a
    return 0


@_jit
def _most_probable(pr: np.ndarray, valid: np.ndarray, centre: np.ndarray, M: int, tied: np.ndarray) -> int:
    """The slot of the most probable of M clusters (``pr`` (>= M,) their probabilities, ``valid`` which slots are
    clusters, ``centre`` (>= M, D)), as ``smp._elect`` picks it: within the tie tolerance of the largest, the
    smallest centre issue by issue, then the first slot (0 if none); ``tied`` a work array."""
    pmax = -np.inf
    for m in range(M):
        pmax = max(pmax, pr[m])
    for m in range(M):
        tied[m] = valid[m] and pr[m] >= pmax * (1 - TIE_TOL)
    for kk in range(centre.shape[1]):
        mn = np.inf
        for m in range(M):
            if tied[m]:
                mn = min(mn, centre[m, kk])
        for m in range(M):
            tied[m] = tied[m] and (centre[m, kk] if tied[m] else np.inf) <= mn
    for m in range(M):
        if tied[m]:
            return m
    return 0


@_jit
def elect_setup_rows(lo: int, hi: int, lab: np.ndarray, cap: np.ndarray, x: np.ndarray, M: int, plan: np.ndarray,
                     seq: bool, order: np.ndarray, valid: np.ndarray, centre: np.ndarray) -> None:
    """``smp._elect``'s clusters of the draws lo <= b < hi, as its numpy computes them: ``order`` (Bc, M) the
    representatives (an actor that is its cluster's label) in index order, then other actors up to M slots;
    ``valid`` (Bc, M) which slots are clusters; ``centre`` (Bc, M, D) their members' capability-weighted mean
    positions (plain mean where those weights sum to 0), the weights summed in numpy's order (``plan``:
    ``_smp_kernel.pairwise_plan`` (n)) and the products as ``np.einsum`` sums them (:func:`dot_seq` with
    ``seq``, on more than one issue, else :func:`dot2`)."""
    n, D = x.shape[1], x.shape[2]
    W = np.empty(n)
    col = np.empty(n)
    for b in range(lo, hi):
        _cluster_slots(lab[b], M, order[b], valid[b])
        for m in range(M):
            lead = order[b, m]
            ok = valid[b, m]
            for i in range(n):
                W[i] = cap[b, i] if (ok and lab[b, i] == lead) else 0.0
            if not np_sum_plan(W, plan) > 0:
                for i in range(n):
                    W[i] = 1.0 if (ok and lab[b, i] == lead) else 0.0
            ws = np_sum_plan(W, plan)
            ws = ws if ws > 0 else 1.0
            for kk in range(D):
                for i in range(n):
                    col[i] = x[b, i, kk]
                t = dot_seq(W, col, n) if seq else dot2(W, col, n)
                centre[b, m, kk] = t / ws


@_jit
def elect_finish_rows(lo: int, hi: int, pr: np.ndarray, order: np.ndarray, valid: np.ndarray, centre: np.ndarray,
                      lab: np.ndarray, act: np.ndarray, cap: np.ndarray, x: np.ndarray, plan: np.ndarray, seq: bool,
                      p_actor: np.ndarray, fc: np.ndarray) -> None:
    """``smp._elect``'s results of the draws lo <= b < hi from the clusters' PCE probabilities ``pr`` (Bc, M), as
    its numpy computes them: ``p_actor`` (Bc, n) each active actor's cluster's probability; ``fc`` (Bc, D) the
    capability-weighted position of the most probable cluster (ties: the smallest centre, issue by issue; weights
    of 0: the plain mean; no active actor: the mean of every position). Sums as :func:`elect_setup_rows`'."""
    n, D = x.shape[1], x.shape[2]
    M = pr.shape[1]
    byl = np.empty(n)
    tied = np.empty(M, dtype=np.bool_)
    w = np.empty(n)
    col = np.empty(n)
    for b in range(lo, hi):
        for i in range(n):
            byl[i] = 0.0
        for m in range(M):
            byl[order[b, m]] = pr[b, m] if valid[b, m] else 0.0
        for i in range(n):
            p_actor[b, i] = byl[max(lab[b, i], 0)] if act[b, i] else 0.0
        best = order[b, _most_probable(pr[b], valid[b], centre[b], M, tied)]
        for i in range(n):
            w[i] = cap[b, i] if lab[b, i] == best else 0.0
        if not np_sum_plan(w, plan) > 0:
            for i in range(n):
                w[i] = 1.0 if lab[b, i] == best else 0.0
        if np_sum_plan(w, plan) <= 0:
            for i in range(n):
                w[i] = 1.0
        ws = np_sum_plan(w, plan)
        for kk in range(D):
            for i in range(n):
                col[i] = x[b, i, kk]
            t = dot_seq(w, col, n) if seq else dot2(w, col, n)
            fc[b, kk] = t / ws


@_jit
def resolution_setup_rows(lo: int, hi: int, target: np.ndarray, act: np.ndarray, ut: np.ndarray, plan: np.ndarray,
                          Q: np.ndarray, S: np.ndarray) -> None:
    """``smp._step``'s set-up of the resolution for the draws lo <= b < hi, as its numpy computes it: the elections
    ``Q`` (Bc, n, n + 1), actor i's over the status quo (0) and the bargain 1 + j of every initiator j that has a
    target and is i or targets i; and ``S`` (Bc, n), each voter's sum of its utilities ``ut`` (Bc, n, n) of the
    active actors' positions, in numpy's order (``plan``: ``_smp_kernel.pairwise_plan`` (n))."""
    n = act.shape[1]
    row = np.empty(n)
    for b in range(lo, hi):
        for i in range(n):
            Q[b, i, 0] = True
            for j in range(n):
                Q[b, i, 1 + j] = target[b, j] >= 0 and (j == i or target[b, j] == i)
        for i in range(n):
            for j in range(n):
                row[j] = ut[b, i, j] if act[b, j] else 0.0
            S[b, i] = np_sum_plan(row, plan)


@_jit
def resolution_choice_rows(lo: int, hi: int, p: np.ndarray, Q: np.ndarray, bI: np.ndarray, bR: np.ndarray,
                           x: np.ndarray, ideal: np.ndarray, act: np.ndarray, newx: np.ndarray, newideal: np.ndarray,
                           choice: np.ndarray) -> None:
    """``smp._step``'s outcome of the resolution for the draws lo <= b < hi (deterministic transitions, no
    accommodation matrix), as its numpy computes it: each actor's choice in its election ``p`` (Bc, n, n + 1) (the
    first option within the tie tolerance of its most probable, the status quo 0 when none), ``choice`` (Bc, n) the
    bargain's initiator (-1: the status quo, or inactive), and the new positions and ideals: its side of that bargain
    (``bI`` if it is the initiator, else ``bR``), or where it was."""
    n, D = x.shape[1], x.shape[2]
    M = p.shape[2]
    for b in range(lo, hi):
        for i in range(n):
            m = _first_probable(p[b, i], Q[b, i], 0, M) - 1
            mm = max(m, 0)
            moves = m >= 0 and act[b, i]
            for k in range(D):
                side = bI[b, mm, k] if m == i else bR[b, mm, k]
                nx = side if moves else x[b, i, k]
                newx[b, i, k] = nx
                newideal[b, i, k] = nx if act[b, i] else ideal[b, i, k]
            choice[b, i] = m if act[b, i] else -1


@_jit
def _utility(d: float, r: float) -> float:
    return (1.0 - d) * (1.0 + min(d, 1.0) * r)


@_jit
def _distances(ideal: np.ndarray, sal: np.ndarray, den: np.ndarray, pts: np.ndarray, m: int, out: np.ndarray) -> None:
    """``_smp_core.distances`` of one draw: actor i's ideal to the first m points, into out[:, :m]."""
    n, D = ideal.shape
    for i in range(n):
        d = den[i]
        for j in range(m):
            acc = 0.0
            for k in range(D):
                t = sal[i, k] * (ideal[i, k] - pts[j, k])
                acc += t * t
            out[i, j] = np.sqrt(acc / d) if d > 0 else 0.0


@_jit
def _election(V: np.ndarray, M: int, w: np.ndarray, opt: np.ndarray, rule: int, C: np.ndarray, lp: np.ndarray) -> None:
    """``_smp_core.coalitions`` then ``victory`` (Linear) of one draw: voters' utilities V (Nv, >= M) of the
    first M options, weights w; ``lp`` (M * M,) gets max(P, 1e-300) (for numpy's log). Only the pairs of
    options in ``opt`` are summed (the others only ever meet a 0 weight in the PCE); C (>= M, >= M) scratch."""
    for a in range(M):
        for c in range(M):
            C[a, c] = FLOOR_PCE
    for a in range(M):
        if not opt[a]:
            continue
        for c in range(M):
            if c == a or not opt[c] or (rule == 0 and c < a):
                continue
            pos, neg = _pair_sums(a, c, V, w, rule)
            C[a, c] = pos + FLOOR_PCE
            if rule == 0:
                C[c, a] = neg + FLOOR_PCE
    for a in range(M):
        for c in range(M):
            p = C[a, c] / (C[a, c] + C[c, a])
            lp[a * M + c] = max(p, LOG_FLOOR)


@_jit
def logits_rows(lo: int, hi: int, M: int, nq: int, logp: np.ndarray, Qf: np.ndarray, z: np.ndarray) -> None:
    """The Conditional PCE's logits of rows lo <= r < hi: for each of the row's nq elections over M options
    (``Qf`` (rows * nq * M,) 1.0 for an option in it), L_a = sum_b Q_b log P(a > b) (``logp`` (rows * M * M,)
    numpy's logs), -inf outside the election, minus the election's largest (0 if none); into ``z``."""
    for r in range(lo, hi):
        for q in range(nq):
            o = (r * nq + q) * M
            _logits_at(logp, r * M * M, Qf, o, M, z, o)


@_jit
def report_logits_rows(lo: int, hi: int, Mb: int, nclus: np.ndarray, logp: np.ndarray, Qf: np.ndarray,
                       z: np.ndarray) -> None:
    """:func:`logits_rows` of the report's elections (one per row), each over the row's own clusters
    (Mr = max(1, nclus[r]); ``logp`` Mr x Mr at r * Mb * Mb, ``Qf`` and ``z`` at r * Mb); -inf past Mr."""
    for r in range(lo, hi):
        Mr = max(1, nclus[r])
        o = r * Mb
        _logits_at(logp, r * Mb * Mb, Qf, o, Mr, z, o)
        for a in range(Mr, Mb):
            z[o + a] = -np.inf


@_jit
def _logits_at(lg: np.ndarray, il: int, qf: np.ndarray, iq: int, M: int, z: np.ndarray, iz: int) -> None:
    """One election's logits over M options: ``lg[il:il + M * M]`` numpy's logs (M x M), ``qf[iq:iq + M]`` 1.0 for
    an option in it; into ``z[iz:iz + M]`` (indexed in place: a slice per dot product would cost numba a
    reference count each, an atomic increment and decrement, as much as the product of a few terms)."""
    mx = -np.inf
    for a in range(M):
        L = dot2_at(qf, iq, lg, il + a * M, M) if qf[iq + a] != 0.0 else -np.inf
        z[iz + a] = L
        mx = max(mx, L)
    if not np.isfinite(mx):
        mx = 0.0
    for a in range(M):
        z[iz + a] = z[iz + a] - mx


@_jit
def _pce_probs(e: np.ndarray, qf: np.ndarray, M: int, p: np.ndarray) -> None:
    """The PCE's probabilities from numpy's exponentials ``e`` of the logits: p = where(Q, e, 0) / its sum."""
    for a in range(M):
        p[a] = e[a] if qf[a] != 0.0 else 0.0
    s = np_sum(p, M)
    for a in range(M):
        p[a] = p[a] / s if s > 0 else 0.0


@_jit
def valuation_rows(lo: int, hi: int, idx: np.ndarray, x: np.ndarray, ideal: np.ndarray, sal: np.ndarray,
                   den: np.ndarray, wp: np.ndarray, act: np.ndarray, rule: int, dist: np.ndarray, logp: np.ndarray,
                   Qf: np.ndarray, lab: np.ndarray, nclus: np.ndarray, rep: np.ndarray) -> None:
    """First pass of a state (draw b = idx[r]): distances ``dist[r]``, the valuation's election up to numpy's log
    (``logp``, ``Qf``: n x n, one election of the active actors), the clusters' labels ``lab[r]`` and count
    (for the rows whose forecast is wanted, ``rep[r]``; else a count of 1)."""
    n, D = x.shape[1], x.shape[2]
    V = np.empty((n, n))
    C = np.empty((n, n))
    near = np.empty((n, n), dtype=np.bool_)
    new = np.empty(n, dtype=lab.dtype)
    diff = np.empty(D)
    for r in range(lo, hi):
        b = idx[r]
        dr = dist[r]
        _distances(ideal[b], sal[b], den[b], x[b], n, dr)
        for i in range(n):
            for j in range(n):
                V[i, j] = 1.0 - dr[i, j]
        _election(V, n, wp[b], act[b], rule, C, logp[r * n * n:(r + 1) * n * n])
        for a in range(n):
            Qf[r * n + a] = 1.0 if act[b, a] else 0.0
        if not rep[r]:
            nclus[r] = 1
            continue
        xb = x[b]
        for i in range(n):
            for j in range(n):
                for k in range(D):
                    diff[k] = xb[i, k] - xb[j, k]
                near[i, j] = (np.sqrt(dot2(diff, diff, D)) < EQ_TOL) and act[b, i] and act[b, j]
        cluster_labels(near, act[b], lab[r], new)
        c = 0
        for i in range(n):
            if act[b, i]:
                if lab[r, i] == i:
                    c += 1
            else:
                lab[r, i] = -1
        nclus[r] = c


@_jit
def report_rows(lo: int, hi: int, idx: np.ndarray, Mb: int, nclus: np.ndarray, x: np.ndarray, ideal: np.ndarray,
                sal: np.ndarray, den: np.ndarray, wp: np.ndarray, c: np.ndarray, act: np.ndarray, rule: int, rng: int,
                e_val: np.ndarray, Qv: np.ndarray, R: np.ndarray, lab: np.ndarray, order: np.ndarray,
                valid: np.ndarray, centre: np.ndarray, logp: np.ndarray, Qf: np.ndarray, rep: np.ndarray) -> None:
    """Second pass of a state: the valuation's probabilities from numpy's exp (``e_val``) and the risk
    attitudes ``R[r]``; the report's clusters in ``smp._report``'s order (representatives first, padded to
    the row's Mr = max(1, nclus[r]) slots), their centres, and their election up to numpy's log (``logp``:
    Mr x Mr at r * Mb * Mb, then 1.0 up to (r + 1) * Mb * Mb; ``Qf``: Mb at r * Mb). ``Qv`` the valuation's
    elections. The report only for the rows whose forecast is wanted (``rep[r]``; the others' ``logp`` 1.0)."""
    n, D = x.shape[1], x.shape[2]
    p = np.empty(n)
    W = np.empty(n)
    col = np.empty(n)
    dc = np.empty((n, Mb))
    V = np.empty((n, Mb))
    C = np.empty((Mb, Mb))
    for r in range(lo, hi):
        b = idx[r]
        _pce_probs(e_val[r * n:(r + 1) * n], Qv[r * n:(r + 1) * n], n, p)
        risk_row(p, act[b], rng, R[r])
        if not rep[r]:
            for k in range(r * Mb * Mb, (r + 1) * Mb * Mb):
                logp[k] = 1.0
            for m in range(Mb):
                Qf[r * Mb + m] = 0.0
            continue
        lr = lab[r]
        Mr = max(1, nclus[r])
        _cluster_slots(lr, Mr, order[r], valid[r])
        xb = x[b]
        for m in range(Mr):
            anyw = False
            for i in range(n):
                g = valid[r, m] and lr[i] == order[r, m]
                W[i] = c[b, i] if g else 0.0
                anyw = anyw or W[i] > 0
            if not anyw:
                for i in range(n):
                    W[i] = 1.0 if (valid[r, m] and lr[i] == order[r, m]) else 0.0
            ws = np_sum(W, n)
            ws = ws if ws > 0 else 1.0
            for kk in range(D):
                for i in range(n):
                    col[i] = xb[i, kk]
                t = dot2(W, col, n) if D == 1 else dot_seq(W, col, n)
                centre[r, m, kk] = t / ws
        _distances(ideal[b], sal[b], den[b], centre[r], Mr, dc)
        Rr = R[r]
        for i in range(n):
            for m in range(Mr):
                V[i, m] = _utility(dc[i, m], Rr[i])
        o = r * Mb * Mb
        _election(V, Mr, wp[b], valid[r], rule, C, logp[o:o + Mr * Mr])
        for k in range(o + Mr * Mr, o + Mb * Mb):
            logp[k] = 1.0
        for m in range(Mb):
            Qf[r * Mb + m] = 1.0 if (m < Mr and valid[r, m]) else 0.0


@_jit
def record_rows(lo: int, hi: int, idx: np.ndarray, t: int, Mb: int, nclus: np.ndarray, x: np.ndarray, c: np.ndarray,
                act: np.ndarray, e_rep: np.ndarray, Qf: np.ndarray, R: np.ndarray, lab: np.ndarray, order: np.ndarray,
                valid: np.ndarray, centre: np.ndarray, ideal: np.ndarray, h_x: np.ndarray, h_ideal: np.ndarray,
                h_pce: np.ndarray, h_cluster: np.ndarray, h_risk: np.ndarray, h_forecast: np.ndarray,
                full: bool, rep: np.ndarray) -> None:
    """Third pass of a state: the clusters' probabilities from numpy's exp (``e_rep``), each actor's, the most
    probable cluster (ties: the smallest centre, issue by issue) and its capability-weighted position: the
    state's records at turn t of draw idx[r] (``smp._report``), with its positions and ideals. Row r's
    election is over its own Mr = max(1, nclus[r]) slots, at r * Mb. Without ``full``, the forecast only
    (the other records are not written: ``smp.run_forecasts``), of the rows with ``rep[r]``."""
    n, D = x.shape[1], x.shape[2]
    pr = np.empty(Mb)
    byl = np.empty(n)
    tied = np.empty(Mb, dtype=np.bool_)
    w = np.empty(n)
    col = np.empty(n)
    for r in range(lo, hi):
        if not rep[r]:
            continue
        b = idx[r]
        Mr = max(1, nclus[r])
        _pce_probs(e_rep[r * Mb:r * Mb + Mr], Qf[r * Mb:r * Mb + Mr], Mr, pr)
        lr = lab[r]
        if full:
            for i in range(n):
                byl[i] = 0.0
            for m in range(Mr):
                byl[order[r, m]] = pr[m] if valid[r, m] else 0.0
            for i in range(n):
                for kk in range(D):
                    h_x[b, t, i, kk] = x[b, i, kk]
                    h_ideal[b, t, i, kk] = ideal[b, i, kk]
                h_pce[b, t, i] = byl[max(lr[i], 0)] if act[b, i] else 0.0
                h_cluster[b, t, i] = lr[i]
                h_risk[b, t, i] = R[r, i]
        best = order[r, _most_probable(pr, valid[r], centre[r], Mr, tied)]
        anyw = False
        for i in range(n):
            w[i] = c[b, i] if lr[i] == best else 0.0
            anyw = anyw or w[i] > 0
        if not anyw:
            for i in range(n):
                w[i] = 1.0 if lr[i] == best else 0.0
        ws = np_sum(w, n)
        if ws <= 0:
            for i in range(n):
                w[i] = 1.0
            ws = np_sum(w, n)
        xb = x[b]
        for kk in range(D):
            for i in range(n):
                col[i] = xb[i, kk]
            t_ = dot2(w, col, n) if D == 1 else dot_seq(w, col, n)
            h_forecast[b, t, kk] = t_ / ws


@_jit
def _bargain(xi: float, xj: float, si: float, sj: float, pI: float, kind: int, rnd: bool) -> tuple[float, float]:
    """``_smp_core.bargains`` on one issue of one challenge."""
    pJ = 1.0 - pI
    if kind == 2:
        di = max(0.0, pJ - pI)
        dj = max(0.0, pI - pJ)
        bI = xi + di * (sj * sj) / (di * (sj * sj) + 1e-6 + (1.0 - di) * (si * si)) * (xj - xi)
        bR = xj + dj * (si * si) / (dj * (si * si) + 1e-6 + (1.0 - dj) * (sj * sj)) * (xi - xj)
        return bI, bR
    if kind == 0:
        Wi = (si * pI) * (si * pI)
        Wj = (sj * pJ) * (sj * pJ)
    else:
        Wi = si * pI
        Wj = sj * pJ
    den = Wi + Wj + 1e-6
    bI = ((Wi + 1e-6) * xi + Wj * xj) / den
    bR = (Wi * xi + (Wj + 1e-6) * xj) / den
    if rnd:
        bI = np.rint(bI * 10000.0) / 10000.0
        bR = np.rint(bR * 10000.0) / 10000.0
    return bI, bR


#: The rows of :func:`_challenge`'s scratch: third-party sums and positive parts, the principals' strengths and
#: their sum, gains, win probabilities, the initiator's utilities of the targets' positions.
TOT, POS, SSUM, S0, S1, G, PI, UIJ = 0, 1, 2, 3, 4, 5, 6, 7


@_jit
def _challenge(h: int, A: np.ndarray, Bm: np.ndarray, Rh: np.ndarray, w: np.ndarray, sigma: np.ndarray,
               act: np.ndarray, rule: int, work: np.ndarray) -> tuple[int, float, float]:
    """Initiator h's best challenge in one draw: ``_smp_kernel.challenge_one``'s numbers (the same operations in
    the same order: each target's third-party sums run third party by third party), in one function the
    compiler sees whole (a third less time at the flagship's eight actors than its calls into the large-n
    kernels' helpers). ``work`` (8, n) scratch, indexed in place (its rows as slices would cost numba a
    reference count each, an atomic increment and decrement, at every initiator)."""
    n = A.shape[0]
    Rhh = Rh[h]
    u_ii = A[h, h] + Bm[h, h] * Rhh
    for j in range(n):  # the principals' votes
        work[UIJ, j] = Bm[h, j] * Rhh + A[h, j]
        u_ji = A[j, h] + Bm[j, h] * Rh[j]
        u_jj = Bm[j, j] * Rh[j] + A[j, j]
        work[S0, j], work[S1, j] = principals(vote(w[h], u_ii - work[UIJ, j], rule), vote(w[j], u_ji - u_jj, rule))
        work[TOT, j] = -0.0
        work[POS, j] = -0.0
        work[SSUM, j] = work[S0, j] + work[S1, j]
    for m in range(n):  # third party m's votes on the challenges to every target j (j = m is put back after)
        if m == h:
            continue
        R = Rh[m]
        wn = w[m]
        u_ni = A[m, h] + Bm[m, h] * R
        u_nn = Bm[m, m] * R + A[m, m]
        tm, pm = work[TOT, m], work[POS, m]
        for j in range(n):
            u_nj = Bm[m, j] * R + A[m, j]
            v0 = vote(wn, u_ni - u_nj, rule)
            den = abs(v0) + work[SSUM, j]
            pin = ((v0 if v0 > 0.0 else 0.0) + work[S0, j]) / den
            beta = u_nj - u_nn
            v = vote(wn, ((u_nn - u_ni) - beta) * pin + beta, rule)
            work[TOT, j] += v
            work[POS, j] += v if v > 0.0 else 0.0
        work[TOT, m], work[POS, m] = tm, pm
    best = -np.inf
    for j in range(n):
        sij = work[S0, j] + work[POS, j]
        sji = work[S1, j] + (work[POS, j] - work[TOT, j])
        work[PI, j] = sij / (sij + sji)
        sj = sigma[j]
        pij, uij = work[PI, j], work[UIJ, j]
        gj = challenge_gain(sj, u_ii, uij, pij)
        if not (act[h] and act[j] and j != h and gj > MIN_GAIN):
            gj = -np.inf
        work[G, j] = gj
        best = max(best, gj)
    if np.isfinite(best):
        thr = best - TIE_TOL * max(abs(best), 1.0)
        tj = 0
        while work[G, tj] < thr:
            tj += 1
        return tj, work[PI, tj], best
    return -1, 0.0, 0.0


@_jit
def turn_rows(lo: int, hi: int, idx: np.ndarray, go: np.ndarray, x: np.ndarray, ideal: np.ndarray, sal: np.ndarray,
              den: np.ndarray, sigma: np.ndarray, wp: np.ndarray, wc: np.ndarray, act: np.ndarray, nact: np.ndarray,
              rule: int, adj: int, kind: int, rnd: bool, dist: np.ndarray, R: np.ndarray, target: np.ndarray,
              prob: np.ndarray, gain: np.ndarray, bI: np.ndarray, bR: np.ndarray, logp: np.ndarray,
              Qf: np.ndarray) -> None:
    """First pass of a turn (rows with ``go[r]``): the challenges, the bargains and the resolution's elections
    (each actor's, over its status quo and the bargains it is part of) up to numpy's log (``logp``:
    (n + 1) x (n + 1); ``Qf``: n x (n + 1)); ``smp._step``."""
    n, D = x.shape[1], x.shape[2]
    M = n + 1
    A = np.empty((n, n))
    Bm = np.empty((n, n))
    Rh = np.empty(n)
    ut = np.empty((n, n))
    work = np.empty((8, n))
    row = np.empty(n)
    S = np.empty(n)
    dI = np.empty((n, n))
    dR = np.empty((n, n))
    V = np.empty((n, M))
    C = np.empty((M, M))
    opt = np.empty(M, dtype=np.bool_)
    for r in range(lo, hi):
        if not go[r]:
            for k in range(M * M):
                logp[r * M * M + k] = 0.5
            for k in range(n * M):
                Qf[r * n * M + k] = 0.0
            continue
        b = idx[r]
        dr = dist[r]
        Rr = R[r]
        for i in range(n):
            for j in range(n):
                d = dr[i, j]
                A[i, j] = 1.0 - d
                Bm[i, j] = (1.0 - d) * min(d, 1.0)
                ut[i, j] = _utility(d, Rr[i])
        wcb, sigb, actb = wc[b], sigma[b], act[b]
        for h in range(n):
            for i in range(n):  # estimate_risk: h's estimate of i's R
                rh, ri = Rr[h], Rr[i]
                if adj == 0:
                    Rh[i] = rh
                elif adj == 1:
                    Rh[i] = (2.0 * rh + ri) / 3.0
                elif adj == 2:
                    Rh[i] = (rh + ri) / 2.0
                elif adj == 3:
                    Rh[i] = (rh + 2.0 * ri) / 3.0
                else:
                    Rh[i] = ri
            target[r, h], prob[r, h], gain[r, h] = _challenge(h, A, Bm, Rh, wcb, sigb, actb, rule, work)
        xb, sb = x[b], sal[b]
        for i in range(n):
            j = target[r, i]
            tj = j if j >= 0 else 0
            for k in range(D):
                if j >= 0:
                    bI[r, i, k], bR[r, i, k] = _bargain(xb[i, k], xb[tj, k], sb[i, k], sb[tj, k], prob[r, i], kind, rnd)
                else:
                    bI[r, i, k], bR[r, i, k] = xb[i, k], xb[tj, k]
        _distances(ideal[b], sb, den[b], bI[r], n, dI)
        _distances(ideal[b], sb, den[b], bR[r], n, dR)
        N = float(max(nact[b], 1))
        for a in range(n):
            for j in range(n):
                row[j] = ut[a, j] if act[b, j] else 0.0
            S[a] = np_sum(row, n)
        for a in range(n):
            V[a, 0] = S[a] / N
            for i in range(n):
                j = target[r, i]
                tj = j if j >= 0 else 0
                V[a, 1 + i] = (S[a] - ut[a, i] - ut[a, tj] + _utility(dI[a, i], Rr[a]) + _utility(dR[a, i], Rr[a])) / N
        q = Qf[r * n * M:(r + 1) * n * M]
        opt[0] = True
        for m in range(n):
            opt[1 + m] = False
        for i in range(n):
            q[i * M] = 1.0
            for m in range(n):
                inq = target[r, m] >= 0 and (m == i or target[r, m] == i)
                q[i * M + 1 + m] = 1.0 if inq else 0.0
                opt[1 + m] = opt[1 + m] or inq
        _election(V, M, wp[b], opt, rule, C, logp[r * M * M:(r + 1) * M * M])


@_jit
def move_rows(lo: int, hi: int, idx: np.ndarray, go: np.ndarray, t: int, x: np.ndarray, ideal: np.ndarray,
              act: np.ndarray, e_res: np.ndarray, Qf: np.ndarray, target: np.ndarray, prob: np.ndarray,
              gain: np.ndarray, bI: np.ndarray, bR: np.ndarray, moved: np.ndarray, h_target: np.ndarray,
              h_prob: np.ndarray, h_gain: np.ndarray, h_bI: np.ndarray, h_bR: np.ndarray,
              h_choice: np.ndarray, full: bool) -> None:
    """Second pass of a turn: each actor's PCE from numpy's exp (``e_res``), the bargain it adopts (the most
    probable, the first of ties), the new positions and ideals (in ``x``, ``ideal``), the turn's movement
    ``moved[r]`` and (with ``full``) its records at turn t."""
    n, D = x.shape[1], x.shape[2]
    M = n + 1
    p = np.empty(M)
    nx = np.empty((n, D))
    mv = np.empty(n)
    dd = np.empty(D)
    for r in range(lo, hi):
        if not go[r]:
            continue
        b = idx[r]
        for i in range(n):
            o0 = (r * n + i) * M
            _pce_probs(e_res[o0:o0 + M], Qf[o0:o0 + M], M, p)
            m = _first_probable(p, Qf, o0, M) - 1
            mm = max(m, 0)
            for k in range(D):
                newp = bI[r, mm, k] if m == i else bR[r, mm, k]
                nx[i, k] = newp if (m >= 0 and act[b, i]) else x[b, i, k]
            if full:
                h_choice[b, t, i] = m if act[b, i] else -1
        for i in range(n):
            for k in range(D):
                dd[k] = (nx[i, k] - x[b, i, k]) * (nx[i, k] - x[b, i, k])
            mv[i] = np.sqrt(np_sum(dd, D)) if act[b, i] else 0.0
        moved[r] = np_sum(mv, n)
        for i in range(n):
            if full:
                h_target[b, t, i] = target[r, i]
                h_prob[b, t, i] = prob[r, i]
                h_gain[b, t, i] = gain[r, i]
                for k in range(D):
                    h_bI[b, t, i, k] = bI[r, i, k]
                    h_bR[b, t, i, k] = bR[r, i, k]
            for k in range(D):
                x[b, i, k] = nx[i, k]
                if act[b, i]:
                    ideal[b, i, k] = nx[i, k]


@_jit
def fill_rows(lo: int, hi: int, rounds: np.ndarray, T1: int, h_x: np.ndarray, h_ideal: np.ndarray,
              h_pce: np.ndarray, h_cluster: np.ndarray, h_risk: np.ndarray, h_forecast: np.ndarray,
              h_target: np.ndarray, h_prob: np.ndarray, h_gain: np.ndarray, h_bI: np.ndarray, h_bR: np.ndarray,
              h_choice: np.ndarray, h_change: np.ndarray) -> None:
    """The records of draws lo <= b < hi after their last turn, up to T1 states (``smp._run_chunk``'s): each
    state repeats the last, each turn did nothing (no challenge, no choice, no change; both sides of every
    bargain at the positions)."""
    n, D = h_x.shape[2], h_x.shape[3]
    for b in range(lo, hi):
        e = rounds[b]
        for t in range(e + 1, T1):
            for i in range(n):
                for k in range(D):
                    h_x[b, t, i, k] = h_x[b, e, i, k]
                    h_ideal[b, t, i, k] = h_ideal[b, e, i, k]
                    h_bI[b, t, i, k] = h_x[b, e, i, k]
                    h_bR[b, t, i, k] = h_x[b, e, i, k]
                h_pce[b, t, i] = h_pce[b, e, i]
                h_cluster[b, t, i] = h_cluster[b, e, i]
                h_risk[b, t, i] = h_risk[b, e, i]
                h_target[b, t, i] = -1
                h_prob[b, t, i] = 0.0
                h_gain[b, t, i] = 0.0
                h_choice[b, t, i] = -1
            for k in range(D):
                h_forecast[b, t, k] = h_forecast[b, e, k]
            h_change[b, t] = 0.0


if COMPILED:
    from . import _smp_kernel

    guard_cache(__file__, np_sum, _smp_kernel.__file__)
