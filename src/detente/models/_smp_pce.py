"""The Conditional PCE's sums of log victory probabilities over each election's options, compiled.

``_smp_core.pce`` (Conditional, from ``GATHER_MIN_OPTIONS`` options on) computes, for every election q
and option a of it, ``L[q, a] = sum_b Q[q, b] log P(a > b)`` as ``np.einsum("kj,kj->k", ...)`` of the
election's 0/1 row and the log row of a, gathered for every such (q, a): at 320 actors the gathers and
the einsum took 3.3 ms of a turn, single threaded. :func:`logit_rows` computes the same dot products
in place, in einsum's order (:func:`._smp_fused.dot2`, whose order ``_smp_core`` checks against this
numpy's einsum, at the lengths an election has, before it uses this module: ``_smp_core._pce_dots_ok``),
on the kernel threads. The logs themselves stay numpy's (numpy's ``log`` is not libm's).
"""

from __future__ import annotations

import numpy as np

from . import _smp_fused, _smp_kernel
from ._jit import compiling, guard_cache, jit
from ._smp_fused import dot2

COMPILED = compiling(__name__)
_jit = jit(COMPILED, cache=True, nogil=True, error_model="numpy")


@_jit
def logit_rows(lo: int, hi: int, Q: np.ndarray, logP: np.ndarray, L: np.ndarray) -> None:
    """``L[b, q, a] = einsum(Q[b, q] (as 0.0 / 1.0), logP[b, a])`` where ``Q[b, q, a]``, -inf elsewhere, minus
    the row's largest (0 if it has no option: numpy's ``L -= where(isfinite(max), max, 0)``, the same numbers),
    for the rows r = b nq + q in [lo, hi) (``Q`` (Bc, nq, M) bool, ``logP`` (Bc, M, M)). Fills ``L`` (Bc, nq, M)."""
    Bc, nq, M = Q.shape
    qf = np.empty(M)
    for r in range(lo, hi):
        b = r // nq
        q = r % nq
        for c in range(M):
            qf[c] = 1.0 if Q[b, q, c] else 0.0
        mx = -np.inf
        for a in range(M):
            v = dot2(qf, logP[b, a], M) if Q[b, q, a] else -np.inf
            L[b, q, a] = v
            mx = max(mx, v)
        if not np.isfinite(mx):
            mx = 0.0
        for a in range(M):
            L[b, q, a] = L[b, q, a] - mx


@_jit
def dot_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`dot2` of every row of ``a`` and ``b`` (k, n): what ``_smp_core._pce_dots_ok`` compares with numpy."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = dot2(a[i], b[i], a.shape[1])
    return out


def warmup() -> None:
    """Compile (or load) this module's kernels (``smp.warmup``)."""
    Q = np.ones((1, 1, 2), dtype=np.bool_)
    logit_rows(0, 1, Q, np.zeros((1, 2, 2)), np.empty((1, 1, 2)))
    dot_rows(np.zeros((1, 2)), np.zeros((1, 2)))


if COMPILED:
    guard_cache(__file__, logit_rows, _smp_fused.__file__, _smp_kernel.__file__)
