"""Vectorised building blocks of KTAB's Spatial Model of Politics (SMP).

Every function works on a chunk of ``Bc`` draws at once (the leading axis).
Positions and saliences are on the [0, 1] scale here. The notation follows
``/docs/models/smp.md``: ``d_i(y)`` is the salience-weighted distance from
actor i's ideal to a point y, ``U(d, R)`` the risk-adjusted utility, ``C`` the
coalition strengths, ``P`` the victory probabilities, ``p`` a Probabilistic
Condorcet Election (PCE) distribution.

The O(n^3) tensors (third parties in challenges, voters x option pairs in
coalitions) are computed in blocks of at most :data:`BLOCK` elements, so that
memory stays O(Bc n^2).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _jit

#: Positions closer than this (Euclidean, [0, 1] scale) are "the same".
EQ_TOL = 1e-3
#: A challenge is made only for a gain above this.
MIN_GAIN = 1e-5
#: Floor of coalition strengths in PCEs over options.
FLOOR_PCE = 1e-8
#: Floor of coalition strengths in challenges.
FLOOR_CHALLENGE = 1e-10
#: Scale of the "binary" vote step: bin(delta) = clip(delta / BIN_SCALE, -1, 1).
BIN_SCALE = 1e-8
#: Relative tolerance under which two probabilities or gains count as tied
#: (the first in order then wins, as in KTAB).
TIE_TOL = 1e-9
#: Max elements of one O(n^3) temporary block.
BLOCK = 1 << 16
#: From this many options on, the Conditional PCE sums only the entries of each election's own options
#: (einsum's dot product of each such row, which gives the numbers of the whole matrix product bit for bit:
#: ``tests/test_smp_kernel.py``); below, the whole product is cheaper than gathering the rows.
GATHER_MIN_OPTIONS = 32
#: Iteration cap of the Markov PCEs (they converge in far fewer steps).
MARKOV_MAX_ITER = 2000
#: Below this many elements of an O(n^3) sum (draws x n^3) the numpy code runs; from it on the
#: compiled kernels of :mod:`._smp_kernel` (same numbers), when numba is installed.
KERNEL_MIN_WORK = 1 << 15
#: Below this many elements a kernel runs on one thread (else on ``DETENTE_THREADS``, :func:`._jit.threads`).
PARALLEL_MIN_WORK = 1 << 18
#: Whether the kernels may be used at all (tests switch them off to compare with numpy).
USE_KERNELS = True
#: Whether the compiled coalitions of elections (``among``) with the default rule sum the pairs election by election
#: (``_smp_kernel.election_pair_rows``: the same numbers; tests switch it off to compare).
ELECTION_PAIRS = True
#: Whether, when the caller has other work during the challenges (``meanwhile``), another thread lays out the
#: targets' order (``_smp_kernel.target_order_rows``) while this one starts on it (the same numbers).
ORDER_BESIDE = True
#: Whether the compiled challenges with the default rule count the third parties only of the targets that can be
#: the best (``_smp_kernel.challenge_pruned``: the same numbers; tests switch it off to compare).
PRUNE_TARGETS = True


def _kernel(work: int) -> Any:
    """The compiled kernel module for a sum of ``work`` elements, or None (numpy then)."""
    if not USE_KERNELS or work < KERNEL_MIN_WORK:
        return None
    if not _jit.numba_available():
        return None
    return _compiled()[0]


def _compiled() -> list[Any]:
    """The compiled modules ``[_smp_kernel, _smp_pce]``, imported at the first call (numba's import takes a second)
    and then kept at hand: a function-level import costs about 1 us, at each of a 160-actor turn's ~30 lookups."""
    if not _LOADED:
        from . import _smp_kernel, _smp_pce

        _LOADED.extend((_smp_kernel, _smp_pce))
    return _LOADED


_LOADED: list[Any] = []


def _turn_kernel(Bc: int, n: int) -> Any:
    """:func:`_kernel` for an O(n^2) pass (distances, utilities, clusters) of a turn of n actors: compiled
    wherever the turn's O(n^3) sums are (draws x n^3 from ``KERNEL_MIN_WORK``), however small the pass
    itself (numba is then loaded anyway; at 160 actors on one issue numpy's passes took 2 ms a turn)."""
    return _kernel(Bc * n**3)


#: The O(n^2) elementwise passes of a turn (distances, utilities) are shared out to the kernel threads from
#: this many elements (at ~0.5 ns an element, shorter passes cost less than handing them out).
PASS_PARALLEL_MIN_WORK = 1 << 20


def _rows(fill: Callable[[int, int], None], rows: int, work: int, least: int | None = None,
          meanwhile: Callable[[], None] | None = None, before: Callable[[], None] | None = None) -> None:
    """``fill(lo, hi)`` over ``rows`` rows, shared out to the kernel threads when ``work`` is at least ``least``
    (:data:`PARALLEL_MIN_WORK` by default; each fills its own rows: the split changes no result); ``meanwhile``
    and ``before`` as :func:`._jit.split_rows` takes them (this thread's other work, while the others start on
    the rows; what the rows need done first)."""
    # warm: compiles (or loads) the kernel in this thread first: numba must not compile in two threads at once
    _jit.split_rows(rows, fill, parallel=work >= (PARALLEL_MIN_WORK if least is None else least), warm=True,
                    meanwhile=meanwhile, before=before)


def vote(w: np.ndarray, delta: np.ndarray, rule: str) -> np.ndarray:
    """The vote of a voter of weight ``w`` on a utility difference ``delta``.

    Parameters
    ----------
    w, delta : ndarray
        Broadcastable arrays.
    rule : {"Prop", "Binary", "PropBin", "PropCbc", "Cubic", "ASymProsp"}
        KTAB's voting rule.

    Returns
    -------
    ndarray
        ``Prop`` w d; ``Binary`` w bin(d); ``PropBin`` w (0.8 d + 0.2 bin(d));
        ``PropCbc`` w (0.5 d + 0.5 d^3); ``Cubic`` w d^3; ``ASymProsp`` w d for
        d < 0 and (2/3) w d otherwise, with bin(d) = clip(d / 1e-8, -1, 1).
    """
    if rule == "Prop":
        return w * delta
    if rule == "Binary":
        return w * np.clip(delta / BIN_SCALE, -1.0, 1.0)
    if rule == "PropBin":
        return w * (0.8 * delta + 0.2 * np.clip(delta / BIN_SCALE, -1.0, 1.0))
    if rule == "PropCbc":
        return w * (0.5 * delta + 0.5 * (delta * delta * delta))
    if rule == "Cubic":
        return w * (delta * delta * delta)
    if rule == "ASymProsp":
        return np.where(delta < 0, w * delta, (2.0 / 3.0) * w * delta)
    raise ValueError(f"unknown voting rule {rule!r}")  # pragma: no cover


def utility(d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``U(d, R) = (1 - d)(1 + d R)`` for d <= 1, else ``(1 - d)(1 + R)``.

    Each actor's utilities at a turn (``d`` (Bc, n, m), ``r`` (Bc, n, 1)) are computed in one compiled
    pass where the turn's kernels run (the same operations in the same order: the same numbers)."""
    if d.ndim == 3 and r.shape == d.shape[:2] + (1,):
        Bc, n, m = d.shape
        kern = _turn_kernel(Bc, n)
        if kern is not None:
            out = np.empty(d.shape)
            dc, rc = np.ascontiguousarray(d, dtype=float), np.ascontiguousarray(r[:, :, 0], dtype=float)
            _rows(lambda lo, hi: kern.risk_utility_rows(lo, hi, dc, rc, out), Bc * n, Bc * n * m * 4,
                  PASS_PARALLEL_MIN_WORK)
            return out
    return (1.0 - d) * (1.0 + np.minimum(d, 1.0) * r)


def distances(ideal: np.ndarray, sal: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``d_i(y_j)`` for every actor i and point j, shape (Bc, n, m).

    ``d_i(y) = sqrt(sum_k (s_ik (iota_ik - y_k))^2 / sum_k s_ik^2)``; an actor
    with zero salience on every issue is at distance 0 from everything (it
    does not care), which avoids 0 / 0.
    """
    Bc, n, D = ideal.shape
    kern = _turn_kernel(Bc, n)
    if kern is not None:
        den = np.ascontiguousarray(np.einsum("bik,bik->bi", sal, sal))
        out = np.empty((Bc, n, pts.shape[1]))
        args = tuple(np.ascontiguousarray(a, dtype=float) for a in (ideal, sal, pts.transpose(0, 2, 1)))
        _rows(lambda lo, hi: kern.distance_rows(lo, hi, *args, den, out), Bc * n, Bc * n * pts.shape[1] * D,
              PASS_PARALLEL_MIN_WORK)
        return out
    acc = np.zeros((Bc, n, pts.shape[1]))
    for k in range(D):
        t = sal[:, :, None, k] * (ideal[:, :, None, k] - pts[:, None, :, k])
        acc += t * t
    den = np.einsum("bik,bik->bi", sal, sal)
    ok = den > 0
    q = np.divide(acc, den[:, :, None], out=np.zeros_like(acc), where=ok[:, :, None])
    return np.sqrt(q)


def utilities(ideal: np.ndarray, sal: np.ndarray, pts: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``utility(distances(ideal, sal, pts), R[:, :, None])``, shape (Bc, n, m): each actor's utility of each
    point, in one compiled pass (without the distances' array) when the kernels run; the same numbers."""
    Bc, n, D = ideal.shape
    m = pts.shape[1]
    work = Bc * n * m * D
    kern = _turn_kernel(Bc, n)
    if kern is None:
        return utility(distances(ideal, sal, pts), R[:, :, None])
    den = np.ascontiguousarray(np.einsum("bik,bik->bi", sal, sal))
    out = np.empty((Bc, n, m))
    args = tuple(np.ascontiguousarray(a, dtype=float) for a in (ideal, sal, pts.transpose(0, 2, 1), den, R))
    _rows(lambda lo, hi: kern.utility_rows(lo, hi, *args, out), Bc * n, work, PASS_PARALLEL_MIN_WORK)
    return out


def resolution_values(ideal: np.ndarray, sal: np.ndarray, bI: np.ndarray, bR: np.ndarray, R: np.ndarray,
                      ut: np.ndarray, S: np.ndarray, tj: np.ndarray, N: np.ndarray) -> np.ndarray:
    """The resolution's values, shape (Bc, n, 1 + n): each voter i's value of the status quo, ``S_i / N``, and of
    every initiator j's bargain, ``(S_i - ut[i, j] - ut[i, tj[j]] + U_i(bI_j) + U_i(bR_j)) / N`` (``S`` (Bc, n)
    each voter's sum of its utilities of the active actors' positions, ``ut`` (Bc, n, n) those utilities, ``tj``
    (Bc, n) j's target, ``N`` (Bc,) the active actors). One compiled pass where the turn's kernels run (numpy's
    operations in numpy's order: the same numbers), without the n x n temporaries."""
    Bc, n, D = ideal.shape
    kern = _turn_kernel(Bc, n)
    if kern is None:
        Nb = N[:, None, None]
        u_tj = np.take_along_axis(ut, np.broadcast_to(tj[:, None, :], (Bc, n, n)), 2)
        Vb = (S[:, :, None] - ut - u_tj + utilities(ideal, sal, bI, R) + utilities(ideal, sal, bR, R)) / Nb
        return np.concatenate([S[:, :, None] / Nb, Vb], axis=-1)
    den = np.ascontiguousarray(np.einsum("bik,bik->bi", sal, sal))
    V = np.empty((Bc, n, 1 + n))
    args = tuple(np.ascontiguousarray(a, dtype=float) for a in (ideal, sal, bI.transpose(0, 2, 1),
                                                                 bR.transpose(0, 2, 1)))
    rest = (den, np.ascontiguousarray(R, dtype=float), np.ascontiguousarray(ut, dtype=float),
            np.ascontiguousarray(S, dtype=float), np.ascontiguousarray(tj, dtype=np.int64),
            np.ascontiguousarray(N, dtype=float))
    _rows(lambda lo, hi: kern.resolution_values_rows(lo, hi, *args, *rest, V), Bc * n, Bc * n * n * (2 * D + 4))
    return V


def coalitions(V: np.ndarray, w: np.ndarray, rule: str, opt: np.ndarray | None = None,
               among: np.ndarray | None = None) -> np.ndarray:
    """Coalition strengths ``C(a, b) = 1e-8 + sum_v max(0, vote(w_v, V[v, a] - V[v, b]))``.

    Parameters
    ----------
    V : ndarray, shape (Bc, Nv, M)
        Each voter's utility of each option.
    w : ndarray, shape (Bc, Nv)
        Voter weights (0 for absent voters).
    rule : str
        Voting rule.
    opt : ndarray of bool, shape (Bc, M), optional
        Options that matter; rows of other options are left at the floor.
    among : ndarray of bool, shape (Bc, nq, M), optional
        The elections that will read C (as :func:`pce`'s ``Q``): only the pairs of options that are
        both options of one election are computed, the others are left at the floor. A PCE reads
        no other pair (an option outside its election enters its sums times 0), so its result is the
        same; the resolution's elections (an actor's status quo and the few bargains it is part of)
        need a few per cent of the pairs of all the bargains.

    Returns
    -------
    ndarray, shape (Bc, M, M)
        With ``C(a, a) = 1e-8``.
    """
    Bc, Nv, M = V.shape
    C = np.zeros((Bc, M, M))
    rows = np.arange(M) if opt is None else np.flatnonzero(opt.any(axis=0))
    kern = _kernel(Bc * len(rows) * M * Nv)
    if kern is not None:
        mark = np.zeros(M, dtype=np.bool_)
        mark[rows] = True
        wc = np.ascontiguousarray(w, dtype=float)
        Vc = np.ascontiguousarray(V, dtype=float)
        code = kern.RULES.index(rule)
        plan = kern.pairwise_plan(Nv)
        Qc = np.zeros((Bc, 0, M), dtype=np.bool_) if among is None else np.ascontiguousarray(among, dtype=np.bool_)
        tasks = None
        if ELECTION_PAIRS and code == 0 and Qc.shape[1] > 0 and M >= kern.FEW_OPTIONS:
            hub, start, members, tasks = kern.election_plan(Qc, mark, kern.HUB_ELECTIONS)
        if tasks is not None and len(tasks):  # the pairs election by election (the same entries, the same numbers)
            G = kern.election_gather(Vc, Qc.shape[1], start, members)
            _rows(lambda lo, hi: kern.election_pair_rows(lo, hi, tasks, start, members, hub, G, Vc, wc, plan, Qc, C),
                  len(tasks), Bc * len(rows) * M * Nv)
        else:
            _rows(lambda lo, hi: kern.coalition_rows(lo, hi, Vc, wc, mark, code, plan, Qc, C), Bc * M,
                  Bc * len(rows) * M * Nv)
    else:
        Vt = np.ascontiguousarray(V.transpose(0, 2, 1))  # (Bc, M, Nv)
        step = max(1, BLOCK // max(1, Bc * M * Nv))
        wb = w[:, None, None, :]
        for r0 in range(0, len(rows), step):
            rr = rows[r0 : r0 + step]
            d = Vt[:, rr, None, :] - Vt[:, None, :, :]
            v = vote(wb, d, rule)
            np.maximum(v, 0.0, out=v)
            C[:, rr] = v.sum(-1)
        if among is not None:
            Qf = among.astype(float)
            C[~(_mm(Qf.swapaxes(-1, -2), Qf) > 0)] = 0.0
    C += FLOOR_PCE
    idx = np.arange(M)
    C[:, idx, idx] = FLOOR_PCE
    return C


def victory(C: np.ndarray, model: str) -> np.ndarray:
    """Victory probabilities ``P(a > b)`` from coalition strengths, shape (Bc, M, M).

    ``Linear``/``Square``/``Quartic``/``Octic``: ``f(C_ab) / (f(C_ab) + f(C_ba))``
    with f(x) = x, x^2, x^4, x^8 (computed relative to the larger of the two, so
    nothing overflows). ``Binary``: KTAB's near-step rule with a 10 % band.
    """
    Ct = C.swapaxes(-1, -2)
    if model == "Linear":
        M = C.shape[-1]
        Bc = C.size // max(1, M * M)
        kern = _kernel(Bc * M * M * M) if C.ndim == 3 else None  # compiled (on threads) where the coalitions were
        if kern is None:
            return C / (C + Ct)
        P = np.empty(C.shape)
        Cc = np.ascontiguousarray(C, dtype=float)
        _rows(lambda lo, hi: kern.victory_rows(lo, hi, Cc, P), Bc * M, Bc * M * M)  # one division an entry
        return P
    if model in ("Square", "Quartic", "Octic"):
        k = {"Square": 2, "Quartic": 4, "Octic": 8}[model]
        m = np.maximum(C, Ct)
        a = (C / m) ** k
        b = (Ct / m) ** k
        return a / (a + b)
    if model == "Binary":
        r = C / (C + Ct)
        mid = (2.1 * r - 1.0) / 0.1
        hi = 1.0 / (1.0 + 1e-6)
        lo = 1e-6 / (1.0 + 1e-6)
        P = np.where(C >= 1.1 * Ct, hi, np.where(Ct >= 1.1 * C, lo, mid))
        idx = np.arange(C.shape[-1])
        P[..., idx, idx] = 0.5
        return P
    raise ValueError(f"unknown victory model {model!r}")  # pragma: no cover


_PCE_DOTS_OK: bool | None = None


def _pce_kernel(work: int) -> Any:
    """The compiled sums of the Conditional PCE (:mod:`._smp_pce`) for ``work`` elements (elections x
    options x options), or None: numpy's then (without numba, below ``KERNEL_MIN_WORK``, or when this
    numpy's einsum does not sum in the kernel's order, :func:`_pce_dots_ok`)."""
    if _kernel(work) is None:
        return None
    pce_kernels = _compiled()[1]
    return pce_kernels if _pce_dots_ok(pce_kernels) else None


def _pce_dots_ok(kern: Any) -> bool:
    """Does ``np.einsum("kj,kj->k", ...)``, as :func:`pce` calls it, sum in the order of the kernel's dot
    product (:func:`._smp_fused.dot2`) at the lengths of elections over many options? Checked once, on numbers
    spread over many magnitudes, for lengths around each step of the loop (the few-actor passes check the
    shorter lengths and the matrix product themselves)."""
    global _PCE_DOTS_OK
    if _PCE_DOTS_OK is None:
        rng = np.random.default_rng(0)
        ok = True
        for n in list(range(GATHER_MIN_OPTIONS, GATHER_MIN_OPTIONS + 17)) + [64, 100, 127, 128, 129, 161, 255, 321, 1000]:
            a = rng.uniform(-1, 1, (6, n)) * 10.0 ** rng.uniform(-4, 4, (6, n))
            b = rng.uniform(-1, 1, (6, n)) * 10.0 ** rng.uniform(-4, 4, (6, n))
            a[:3] = rng.random((3, n)) < 0.5  # 0/1 rows, as an election's
            ok &= np.array_equal(np.einsum("kj,kj->k", a, b), kern.dot_rows(a, b))
        _PCE_DOTS_OK = bool(ok)
    return _PCE_DOTS_OK


#: Whether :func:`pce` may take the exponentials of only its elections' logits when they are few of the entries
#: (:func:`_pce_packed`; tests switch it off to compare), and below which share of the entries it does.
PACK_EXP = True
PACK_MAX_SHARE = 0.25
_EXP_PACKS_OK: bool | None = None


def _exp_packs_ok() -> bool:
    """Does this numpy's ``np.exp`` give each element the same bits in a packed array as in place (its vector loop
    the same for every lane and for the loop's remainder)? Checked once, on logits down to -800 and -inf, for
    lengths around every vector width."""
    global _EXP_PACKS_OK
    if _EXP_PACKS_OK is None:
        rng = np.random.default_rng(0)
        ok = True
        for n in list(range(1, 80)) + [161, 257, 1000]:
            x = -rng.uniform(0, 800, n) * (rng.random(n) < 0.7)
            x[rng.random(n) < 0.2] = -np.inf
            whole = np.exp(x)
            for _ in range(3):
                idx = np.flatnonzero(rng.random(n) < rng.uniform(0.05, 0.95))
                ok &= whole.take(idx).tobytes() == np.exp(x.take(idx)).tobytes()
        _EXP_PACKS_OK = bool(ok)
    return _EXP_PACKS_OK


def _pce_packed(L: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The Conditional PCE's probabilities from its logits ``L`` (-inf outside the elections, whose flat indices
    are ``idx``): the exponentials and the divisions of those entries only, the others 0 (exp(-inf) = 0, 0 / s =
    0). Each entry's exp is numpy's own (:func:`_exp_packs_ok`), a division is exact wherever it is done, and the
    rows are summed as they stand: the numbers of the whole arrays."""
    p = np.zeros(L.shape)
    p.put(idx, np.exp(L.take(idx)))
    s = p.sum(-1)
    row = idx // L.shape[-1]
    keep = s.take(row) > 0
    p.put(idx[keep], p.take(idx[keep]) / s.take(row[keep]))
    return p


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stacked matrix products summed in index order, whatever the batch size.

    ``a @ b`` hands stacks to BLAS, whose blocking (and so the last bit of a
    sum) can depend on how many draws are stacked; a draw's result must not.
    """
    return np.einsum("...ij,...jk->...ik", a, b)


def pce(C: np.ndarray, P: np.ndarray, Q: np.ndarray, model: str) -> np.ndarray:
    """PCE distributions over subsets of options.

    Parameters
    ----------
    C, P : ndarray, shape (Bc, M, M)
        Coalition strengths and victory probabilities among all M options.
    Q : ndarray of bool, shape (Bc, nq, M)
        ``nq`` elections per draw; each is over the options marked True.
    model : {"Conditional", "MarkovIncentive", "MarkovUniform"}

    Returns
    -------
    ndarray, shape (Bc, nq, M)
        Probabilities (0 outside each election's options, rows sum to 1).
        An election with no option gets all zeros.
    """
    if model == "Conditional":
        logP = np.maximum(P, 1e-300)
        np.log(logP, out=logP)  # in place: at a few hundred options each new array costs its page faults
        M = Q.shape[-1]
        if M < GATHER_MIN_OPTIONS:
            L = _mm(Q.astype(float), logP.swapaxes(-1, -2))  # L[q, a] = sum_{b in q} log P(a > b)
            L = np.where(Q, L, -np.inf)
        # the same, compiled; an election counts as a turn of M actors (Bc M^3: the kernels' measure of a turn),
        # so that one draw's single election over many options (the valuation's, the report's) is compiled too
        elif (kern := _pce_kernel(Q.shape[0] * max(Q.shape[1], M) * M * M)) is not None:
            L = np.empty(Q.shape)
            Qc = np.ascontiguousarray(Q, dtype=np.bool_)
            _rows(lambda lo, hi: kern.logit_rows(lo, hi, Qc, logP, L), Q.shape[0] * Q.shape[1],
                  int(Q.sum()) * M)
            # the kernel took each row's largest off already, and left -inf outside the elections, whose exp is 0:
            # the steps below that would change nothing are left out
            if Q.shape[1] > 1 and PACK_EXP and _exp_packs_ok():
                idx = np.flatnonzero(Qc)
                if PACK_MAX_SHARE * L.size > len(idx):  # many elections of few options each (the resolution's)
                    return _pce_packed(L, idx)
            p = np.exp(L, out=L)
            s = p.sum(-1, keepdims=True)
            return np.divide(p, s, out=p, where=s > 0)  # a row with no option is all 0 already
        else:  # only the entries that count (a in q): the same dot products over b, row by row
            Qf = Q.astype(float)
            L = np.full(Q.shape, -np.inf)
            bq, qq, aq = np.nonzero(Q)
            step = max(1, BLOCK // M)
            for k0 in range(0, len(bq), step):
                b, q, a = bq[k0 : k0 + step], qq[k0 : k0 + step], aq[k0 : k0 + step]
                L[b, q, a] = np.einsum("kj,kj->k", Qf[b, q], logP[b, a])
        mx = np.max(L, axis=-1, keepdims=True)
        mx = np.where(np.isfinite(mx), mx, 0.0)
        L -= mx
        p = np.exp(L, out=L)
        p[~Q] = 0.0
        s = p.sum(-1, keepdims=True)
        return np.divide(p, s, out=np.zeros_like(p), where=s > 0)
    Qf = Q.astype(float)
    Mq = Qf.sum(-1, keepdims=True)
    has = Mq[..., 0] > 0
    p = np.divide(Qf, Mq, out=np.zeros_like(Qf), where=Mq > 0)
    PT = P.swapaxes(-1, -2)
    running = has.copy()
    if model == "MarkovUniform":
        R1 = _mm(Qf, PT)  # sum_{b in q} P(a > b)
        Minv = np.divide(1.0, Mq, out=np.zeros_like(Mq), where=Mq > 0)
        return _markov(p, running, 1e-6, lambda p: Qf * (p * R1 + _mm(p, PT)) * Minv)
    if model == "MarkovIncentive":
        M = C.shape[-1]
        nmat = C * P
        idx = np.arange(M)
        nmat[..., idx, idx] += 1e-10
        colsum = _mm(Qf, nmat)  # sum over alpha in q of n(alpha, b)
        G1 = _mm(Qf, PT * nmat)  # sum_{b in q} P(a > b) n(b, a)
        Pn_T = (P * nmat).swapaxes(-1, -2)
        inv = np.divide(1.0, colsum, out=np.zeros_like(colsum), where=Q & (colsum > 0))
        return _markov(p, running, 1e-8, lambda p: Qf * (p * inv * G1 + _mm(p * inv, Pn_T)))
    raise ValueError(f"unknown PCE model {model!r}")  # pragma: no cover


def _markov(p: np.ndarray, running: np.ndarray, tol: float, step) -> np.ndarray:
    """Iterate p <- (p + step(p)) / 2 per election until max |step(p) - p_new| <= tol.

    Each election (leading axes) stops on its own; at most ``MARKOV_MAX_ITER`` steps.
    """
    for _ in range(MARKOV_MAX_ITER):
        q = step(p)
        pn = 0.5 * (p + q)
        diff = np.max(np.abs(q - pn), axis=-1)
        p = np.where(running[..., None], pn, p)
        running &= ~(diff <= tol)
        if not running.any():
            break
    return p


def risk_from_p(p: np.ndarray, act: np.ndarray, rng: str) -> np.ndarray:
    """Risk attitudes R (Bc, n) from the PCE probabilities of the actors' positions (compiled where the turn's
    kernels run: ``_smp_kernel.risk_rows``, the same operations)."""
    Bc, n = p.shape
    kern = _turn_kernel(Bc, n)
    if kern is not None:
        R = np.empty((Bc, n))
        kern.risk_rows(0, Bc, np.ascontiguousarray(p, dtype=float), np.ascontiguousarray(act, dtype=np.bool_),
                       kern.RANGES.index(rng), R)
        return R
    big = np.where(act, p, -np.inf).max(-1, keepdims=True)
    small = np.where(act, p, np.inf).min(-1, keepdims=True)
    span = big - small
    ok = np.isfinite(span) & (span > 0)
    span = np.where(ok, span, 1.0)
    big = np.where(ok, big, 0.0)
    small = np.where(ok, small, 0.0)
    if rng == "Min":
        R = (p - small) / span
    elif rng == "Mid":
        R = (3.0 * p - big - 2.0 * small) / (2.0 * span)
    elif rng == "Max":
        R = (2.0 * p - big - small) / span
    else:  # pragma: no cover
        raise ValueError(rng)
    return np.where(ok & act, R, 0.0)


def estimate_risk(R: np.ndarray, adj: str) -> np.ndarray:
    """``Rhat[h, i]``: actor h's estimate of actor i's R, shape (Bc, n, n)."""
    rh = R[:, :, None]
    ri = R[:, None, :]
    if adj == "None":
        out = np.broadcast_to(rh, R.shape + (R.shape[-1],))
    elif adj == "OneThird":
        out = (2.0 * rh + ri) / 3.0
    elif adj == "Half":
        out = (rh + ri) / 2.0
    elif adj == "TwoThirds":
        out = (rh + 2.0 * ri) / 3.0
    elif adj == "Full":
        out = np.broadcast_to(ri, R.shape + (R.shape[-1],))
    else:  # pragma: no cover
        raise ValueError(adj)
    return np.array(out)


def challenge_inputs(dist: np.ndarray, R: np.ndarray, adj: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(A, Bm, Rhat)`` for :func:`challenges`: ``1 - dist``, ``(1 - dist) min(dist, 1)`` and :func:`estimate_risk`
    (R, adj), in one compiled pass where the turn's kernels run (the same numbers); else None."""
    Bc, n, _ = dist.shape
    kern = _turn_kernel(Bc, n)
    if kern is None:
        return None
    A, Bm, Rhat = np.empty((Bc, n, n)), np.empty((Bc, n, n)), np.empty((Bc, n, n))
    d, Rc, code = np.ascontiguousarray(dist, dtype=float), np.ascontiguousarray(R, dtype=float), kern.ADJUSTS.index(adj)
    _rows(lambda lo, hi: kern.challenge_input_rows(lo, hi, d, Rc, code, A, Bm, Rhat), Bc * n, Bc * n * n * 4,
          PASS_PARALLEL_MIN_WORK)
    return A, Bm, Rhat


def challenges(
    dist: np.ndarray,
    Rhat: np.ndarray,
    w: np.ndarray,
    sigma: np.ndarray,
    act: np.ndarray,
    rule: str,
    commit: str,
    pmodel: str | None,
    meanwhile: Callable[[], None] | None = None,
    counted: np.ndarray | None = None,
    terms: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every actor's best challenge.

    Parameters
    ----------
    dist : ndarray, shape (Bc, n, n)
        ``dist[a, j] = d_a(x_j)``.
    Rhat : ndarray, shape (Bc, n, n)
        ``Rhat[h, a]``: h's estimate of a's risk attitude.
    w : ndarray, shape (Bc, n)
        Challenge vote weights (total salience x capability, 0 if absent).
    sigma : ndarray, shape (Bc, n)
        Total saliences (the target's resistance probability).
    act : ndarray of bool, shape (Bc, n)
    rule, commit : str
        Voting rule and third-party commitment.
    pmodel : str or None
        None for KTAB's linear ratio in the challenge; else a victory model
        applied to the coalition strengths.
    meanwhile : callable(), optional
        Other work of the caller's, done by this thread while the other kernel threads start on the
        challenges (then it joins them); else first.
    counted : ndarray of int, shape (Bc, n), optional
        Filled with the number of targets (padding included) whose third parties each initiator counted,
        when the compiled search that leaves out the targets that cannot win is used (the default rule with
        numba, :data:`PRUNE_TARGETS`); left as it is otherwise (every target counted).
    terms : (ndarray, ndarray), optional
        ``(1 - dist, (1 - dist) min(dist, 1))`` when the caller has them (:func:`challenge_inputs`).

    Returns
    -------
    target : ndarray of int, shape (Bc, n)
        Each initiator's chosen target, -1 for none.
    prob, gain : ndarray, shape (Bc, n)
        The initiator's estimated probability of winning and the gain (0 if none).
    """
    Bc, n, _ = dist.shape
    A, Bm = terms if terms is not None else (1.0 - dist, (1.0 - dist) * np.minimum(dist, 1.0))  # U(d, R) = A + Bm R
    ar = np.arange(n)
    target = np.full((Bc, n), -1)
    prob = np.zeros((Bc, n))
    gain = np.zeros((Bc, n))
    wj = w[:, None, :]  # weight of the target j
    third = commit == "SemiCommit"  # NoCommit / FullCommit: E_join_i == E_join_j, no third-party votes
    kern = _kernel(Bc * n * n * n) if third else None
    if kern is not None and pmodel is None:  # KTAB's defaults: the whole challenge in one compiled pass per row
        args = tuple(np.ascontiguousarray(a, dtype=float) for a in (A, Bm, Rhat, w, sigma))
        actc = np.ascontiguousarray(act, dtype=np.bool_)
        code = kern.RULES.index(rule)
        if code == 0 and PRUNE_TARGETS:  # the default rule: only the targets that can be the best are counted
            step = kern.target_block(n)
            P = -(-n // step) * step
            perm, iperm = np.empty((Bc, n), dtype=np.int64), np.empty((Bc, n), dtype=np.int64)
            AP, BmP, errb = np.empty((Bc, n, P)), np.empty((Bc, n, P)), np.empty(Bc)
            AT, BmT, Ad, Bd = np.empty((Bc, n, n)), np.empty((Bc, n, n)), np.empty((Bc, n)), np.empty((Bc, n))
            order = lambda lo, hi: kern.target_order_rows(lo, hi, *args[:4], perm, iperm, AP, BmP, errb,  # noqa: E731
                                                          AT, BmT, Ad, Bd)
            before = None
            if meanwhile is None or not ORDER_BESIDE:
                _rows(order, Bc, Bc * n * n, least=PASS_PARALLEL_MIN_WORK)
            else:  # the targets' order by another thread while this one does its other work (a few draws)
                _jit.warm_once(order)  # compiled (or loaded) in this thread first, as ``_rows`` does
                before = lambda: order(0, Bc)  # noqa: E731
            got = np.zeros((Bc, n), dtype=np.int64) if counted is None else counted
            _rows(lambda lo, hi: kern.challenge_rows_pruned(lo, hi, *args, actc, AP, BmP, perm, iperm, errb, step,
                                                            AT, BmT, Ad, Bd, target, prob, gain, got), Bc * n,
                  Bc * n * n * n, meanwhile=meanwhile, before=before)
            return target, prob, gain
        _rows(lambda lo, hi: kern.challenge_rows(lo, hi, *args, actc, code, target, prob, gain), Bc * n, Bc * n * n * n,
              meanwhile=meanwhile)
        return target, prob, gain
    if meanwhile is not None:
        meanwhile()
    step = n if kern is not None else max(1, BLOCK // max(1, Bc * n * n))
    for h0 in range(0, n, step):
        hs = ar[h0 : h0 + step]
        m = len(hs)
        Rh = Rhat[:, hs, :]  # (Bc, m, n_a)
        Rhh = Rh[:, np.arange(m), hs]  # h's estimate of its own R (Bc, m)
        # u[h][a][b] = A[a, b] + Bm[a, b] Rhat[h, a]: h's estimate of a's utility at b's position
        u_ii = A[:, hs, hs] + Bm[:, hs, hs] * Rhh  # u[h][h][h] (Bc, m)
        u_ij = Bm[:, hs, :] * Rhh[:, :, None] + A[:, hs, :]  # u[h][h][j] (Bc, m, n_j)
        u_ji = A[:, :, hs].transpose(0, 2, 1) + Bm[:, :, hs].transpose(0, 2, 1) * Rh  # u[h][j][h]
        u_jj = Bm[:, ar, ar][:, None, :] * Rh + A[:, ar, ar][:, None, :]  # u[h][j][j]
        # principals
        a_i = vote(w[:, hs, None], u_ii[:, :, None] - u_ij, rule)  # (Bc, m, n_j)
        a_j = vote(wj, u_ji - u_jj, rule)
        S0ij = FLOOR_CHALLENGE + np.maximum(a_i, 0.0) + np.maximum(a_j, 0.0)
        S0ji = FLOOR_CHALLENGE + np.maximum(-a_i, 0.0) + np.maximum(-a_j, 0.0)
        if kern is not None:
            Sij, Sji = np.empty_like(S0ij), np.empty_like(S0ji)
            code = kern.RULES.index(rule)
            Ac, Bc_, Rc, wc, S0a, S0b = (np.ascontiguousarray(a, dtype=float) for a in (A, Bm, Rhat, w, S0ij, S0ji))
            _rows(lambda lo, hi: kern.third_party_rows(lo, hi, Ac, Bc_, Rc, wc, S0a, S0b, code, Sij, Sji),
                  Bc * n, Bc * n * n * n)
        elif third:
            u_aj = Bm[:, None, :, :] * Rh[:, :, :, None]  # u[h][a][j] (Bc, m, n_a, n_j)
            u_aj += A[:, None, :, :]
            Sij, Sji = _third_parties(u_ji, u_aj, A[:, ar, ar], Bm[:, ar, ar], Rh, w, hs, S0ij, S0ji, rule)
        else:
            Sij, Sji = S0ij, S0ji
        if pmodel is None:
            pi = Sij / (Sij + Sji)
        else:
            pi = _pair_victory(Sij, Sji, pmodel)
        sj = sigma[:, None, :]
        g = (1.0 - sj) * 2.0 * u_ii[:, :, None] + sj * (pi * 2.0 * u_ii[:, :, None] + (1.0 - pi) * 2.0 * u_ij) - (
            u_ii[:, :, None] + u_ij
        )
        ok = act[:, hs, None] & act[:, None, :] & (hs[:, None] != ar[None, :])[None] & (g > MIN_GAIN)
        g = np.where(ok, g, -np.inf)
        best = g.max(-1)
        has = np.isfinite(best)
        thr = best - TIE_TOL * np.maximum(np.abs(best), 1.0)
        tj = np.argmax(g >= np.where(has, thr, np.inf)[..., None], axis=-1)
        target[:, hs] = np.where(has, tj, -1)
        prob[:, hs] = np.where(has, np.take_along_axis(pi, tj[..., None], -1)[..., 0], 0.0)
        gain[:, hs] = np.where(has, best, 0.0)
    return target, prob, gain


def _third_parties(u_ai, u_aj, Ad, Bd, Rh, w, hs, S0ij, S0ji, rule):
    """Coalition strengths after every third party's vote (SemiCommit), in place where possible.

    ``u_ai`` (Bc, m, n) = u[h][n][h]; ``u_aj`` (Bc, m, n, n) = u[h][n][j] (overwritten).
    """
    m = len(hs)
    n = u_aj.shape[-1]
    ar = np.arange(n)
    wn = w[:, None, :, None]
    u_ni = u_ai[:, :, :, None]
    u_nn = (Ad[:, None, :] + Bd[:, None, :] * Rh)[:, :, :, None]  # u[h][n][n] (Bc, m, n, 1)
    # v0 = vote(w_n, u[h][n][i] - u[h][n][j])
    v0 = np.subtract(u_ni, u_aj)
    if rule == "Prop":
        v0 *= wn
    else:
        v0 = vote(wn, v0, rule)
    # pi_n = (S0ij + max(0, v0)) / (S0ij + S0ji + |v0|)
    den = np.abs(v0)
    den += (S0ij + S0ji)[:, :, None, :]
    pin = np.maximum(v0, 0.0, out=v0)
    pin += S0ij[:, :, None, :]
    pin /= den
    # E_join_i - E_join_j = beta + pi_n ((u_nn - u_ni) - beta), beta = u_nj - u_nn
    beta = u_aj
    beta -= u_nn
    diff = np.subtract(u_nn - u_ni, beta, out=den)
    diff *= pin
    diff += beta
    if rule == "Prop":
        diff *= wn
        v = diff
    else:
        v = vote(wn, diff, rule)
    v[:, np.arange(m), hs, :] = 0.0  # n == initiator
    v[:, :, ar, ar] = 0.0  # n == target
    tot = v.sum(2)
    vpos = np.maximum(v, 0.0, out=pin)
    pos = vpos.sum(2)
    return S0ij + pos, S0ji + (pos - tot)


def _pair_victory(a: np.ndarray, b: np.ndarray, model: str) -> np.ndarray:
    """``P(a > b)`` for elementwise coalition strengths (used by the ``consistent`` preset)."""
    # a 2 x 2 matrix per element: [[a, a], [b, b]] -> P[0, 1] = P(a > b)
    M = np.stack([np.stack([a, a], -1), np.stack([b, b], -1)], -2)
    return victory(M, model)[..., 0, 1]


def bargains(x: np.ndarray, s: np.ndarray, target: np.ndarray, prob: np.ndarray, kind: str, rnd: bool):
    """Bargain positions of every initiator with its target, shape (Bc, n, D) each.

    Rows of actors who made no challenge hold their own position. Compiled (one pass, numpy's operations in
    numpy's order: the same numbers) where the turn's kernels run.
    """
    Bc, n, D = x.shape
    kern = _turn_kernel(Bc, n)
    if kern is not None:
        bI, bR = np.empty((Bc, n, D)), np.empty((Bc, n, D))
        xc, sc = np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(s, dtype=float)
        kern.bargain_rows(0, Bc * n, xc, sc, np.ascontiguousarray(target, dtype=np.int64),
                          np.ascontiguousarray(prob, dtype=float), kern.BARGAINS.index(kind), bool(rnd), bI, bR)
        return bI, bR
    has = target >= 0
    tj = np.where(has, target, 0)
    xj = np.take_along_axis(x, tj[:, :, None], 1)
    sj = np.take_along_axis(s, tj[:, :, None], 1)
    xi, si = x, s
    pI = prob[:, :, None]
    pJ = 1.0 - pI
    if kind in ("S2P2", "S1P1"):
        e = 2 if kind == "S2P2" else 1
        Wi = (si * pI) ** e
        Wj = (sj * pJ) ** e
        den = Wi + Wj + 1e-6
        bI = ((Wi + 1e-6) * xi + Wj * xj) / den
        bR = (Wi * xi + (Wj + 1e-6) * xj) / den
        if rnd:
            bI = np.round(bI, 4)
            bR = np.round(bR, 4)
    elif kind == "S2PMax":
        di = np.maximum(0.0, pJ - pI)
        dj = np.maximum(0.0, pI - pJ)
        bI = xi + di * sj**2 / (di * sj**2 + 1e-6 + (1.0 - di) * si**2) * (xj - xi)
        bR = xj + dj * si**2 / (dj * si**2 + 1e-6 + (1.0 - dj) * sj**2) * (xi - xj)
    else:  # pragma: no cover
        raise ValueError(kind)
    bI = np.where(has[:, :, None], bI, x)
    bR = np.where(has[:, :, None], bR, xj)
    return bI, bR


def _near(x: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Pairs of active positions at Euclidean distance < 1e-3, (Bc, n, n)."""
    diff = x[:, :, None, :] - x[:, None, :, :]
    return (np.sqrt(np.einsum("bijk,bijk->bij", diff, diff)) < EQ_TOL) & act[:, :, None] & act[:, None, :]


def clusters(x: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Single-linkage clusters of the active positions at Euclidean distance < 1e-3.

    Returns
    -------
    ndarray of int, shape (Bc, n)
        Each actor's cluster label: the lowest index of an actor in its cluster
        (-1 for inactive actors).
    """
    Bc, n, D = x.shape
    kern = _turn_kernel(Bc, n)
    if kern is not None:
        actc = np.ascontiguousarray(act, dtype=np.bool_)
        near = np.empty((Bc, n, n), dtype=np.bool_)
        unsure = np.zeros(Bc * n, dtype=np.bool_)
        xc, xt = np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(x.transpose(0, 2, 1), dtype=float)
        _rows(lambda lo, hi: kern.near_rows(lo, hi, xc, xt, actc, EQ_TOL, near, unsure), Bc * n, Bc * n * n * D)
        if unsure.any():  # a distance within a millionth of the tolerance: numpy's own sum decides
            near = _near(x, act)
        lab = np.empty((Bc, n), dtype=np.int64)
        _rows(lambda lo, hi: kern.cluster_rows(lo, hi, near, actc, lab), Bc, Bc * n * n)
        return np.where(act, lab, -1)
    near = _near(x, act)
    lab = np.where(act, np.arange(n)[None, :], n)
    while True:
        new = np.min(np.where(near, lab[:, None, :], n), axis=-1)
        new = np.where(act, np.minimum(new, lab), n)
        if np.array_equal(new, lab):
            break
        lab = new
    return np.where(act, lab, -1)
