"""Bueno de Mesquita's expected-utility ("challenge") model.

Every round each actor works out how threatened it is (a security pass with
neutral risk attitudes), turns that into a risk exponent r_i in [0.5, 2], and
then compares, for every other actor j, its expected utility of challenging j
with what it believes j expects from challenging it. The comparison yields an
offer from j -- confrontation (move to x_j), compromise (move part way) or
capitulation (move to x_j) -- and each actor accepts one offer; all moves
happen at once at the end of the round. The forecast is the weighted median of
the positions after each round (Bueno de Mesquita's prediction under majority
rule); the weighted mean is reported alongside it.

This module follows the reading fixed in ``/work/shared/specs/bdm-eum.md``:

``variant="scholz2011_code"`` (default)
    What the code of Scholz, Calbert & Smith (2011) computed: the probability
    that i prevails over j sums each voter's gain ``w_k (d_kj^{r_k} -
    d_ki^{r_k})`` (voter k with its own exponent) over the voters that prefer
    i, divided by one number per round, the sum of ``|v_k(x_a, x_b)|`` over
    every voter and every ordered pair of actors. Offers: confrontation first
    (least move), else compromise (smallest weighted offer value), never
    capitulation. Reproduces Bueno de Mesquita's published EC emission run.
``variant="paper"``
    The equations as printed by Scholz et al.: ``P_ij`` is the share of the
    weighted distance differences that favour i, so ``P_ij + P_ji = 1``; the
    offer needing the least move is taken; capitulation is on.

All arrays are processed at once: the batch axis B and the issue axis D form
the rows of one (B*D, n) problem (issues are independent), processed in chunks
so that memory stays O(chunk * n^2). The only O(n^3) work of a naive
implementation -- summing each voter's preference over every pair -- is done in
O(n^2 log n) per row with prefix sums over the voters sorted by position: a
voter prefers i to j exactly when it is closer to i (whatever its exponent),
i.e. when it lies on i's side of the midpoint of x_i and x_j.

References
----------
Bueno de Mesquita, B. (1994) "Political forecasting: an expected utility
method", in B. Bueno de Mesquita & F. Stokman (eds.) *European Community
Decision Making*, Yale University Press, ch. 4.

Scholz, J. B., Calbert, G. J. & Smith, G. A. (2011) "Unravelling Bueno De
Mesquita's group decision model", *Journal of Theoretical Politics* 23(4):
510-531.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ._common import issue_weights, weighted_median
from .base import Inputs, ModelInputError, ModelParams, Trajectory

NAME = "bdm"
SUMMARY = "Bueno de Mesquita's expected-utility (challenge) model, as replicated by Scholz et al. (2011)."
CITATION = (
    "Bueno de Mesquita (1994) in Bueno de Mesquita & Stokman (eds.) European Community Decision "
    "Making, Yale UP, ch. 4; Scholz, Calbert & Smith (2011) JTP 23(4): 510-531."
)

#: Move codes of ``extras["move_type"]``.
NONE, CONFRONTATION, COMPROMISE, CAPITULATION = 0, 1, 2, 3
MOVE_NAMES = {CONFRONTATION: "confrontation", COMPROMISE: "compromise", CAPITULATION: "capitulation"}

#: Two states are the same when every active position is within this times Delta.
STATE_TOL = 1e-12
#: The security spread max S - min S counts as zero below this times max(1, max |S|).
RISK_TOL = 1e-12
#: E_j > E_i (and E_j > |E_i|) need a margin of this times |E_i| + |E_j|.
TIE_TOL = 1e-12
#: Offers whose choice criterion is within this times Delta of the best tie (lowest index wins).
CHOICE_TOL = 1e-12
#: Actors closer than this times Delta count as coinciding: they make no offers to each other.
COINCIDE_TOL = 1e-9
#: Worker threads over the chunks of a batch (results do not depend on it).
THREADS = max(1, min(2, os.cpu_count() or 1))
#: Elements of one (rows, n, n) work array per chunk; about 20 such arrays are live.
CHUNK_ELEMENTS = 1 << 16
#: Up to this many actors the midpoint counts enumerate triples, above it they bisect.
TRIPLES_MAX_N = 24


class Params(ModelParams):
    """Parameters of the expected-utility model.

    Attributes
    ----------
    variant : {"scholz2011_code", "paper"}
        Which reading of the model (see the module docstring): it fixes the
        formula of the probability P_ij and the defaults of ``offer_choice``
        and ``capitulation``.
    own_perspective : bool
        False (the spec's default): actor i evaluates j's expected utility of
        challenging i with i's own exponent r_i. True: with j's exponent r_j.
    offer_choice : {"priority", "least_move"} or None
        Which of the offers an actor accepts. ``priority``: a confrontation
        (least move) if any, else the compromise with the smallest value of
        ``(|E_i| x_i + |E_j| x_j) / (|E_i| + |E_j|)``, else a capitulation
        (least move) -- what Scholz et al.'s code did. ``least_move``: the
        offer needing the least move. None: ``priority`` for
        ``scholz2011_code``, ``least_move`` for ``paper``. Ties go to the
        lowest actor index.
    capitulation : bool or None
        Whether the capitulation branch (E_j > 0 > E_i, E_j < |E_i|: offer
        x_j) is on. None: off for ``scholz2011_code`` (the authors' code never
        reaches it), on for ``paper``.
    Q : float in [0, 1]
        Probability that nothing changes when i does not challenge j. With the
        default 1 the terms in T and the median mu drop out.
    T : float in [0, 1]
        Probability that a change without challenge favours i (only used when
        Q < 1). Default 0.5: a change is as likely to help as to hurt.
    rounds : int
        Maximum number of rounds (default 10, as in the published run).
    stop : {"rounds", "convergence"}
        ``rounds``: run ``rounds`` rounds unless a state repeats.
        ``convergence``: also stop after a round in which no active actor
        moved more than ``eps * Delta``.
    eps : float
        Convergence threshold, relative to Delta (the initial range).

    Notes
    -----
    Cycle detection is always on: when the positions after a round equal
    (within ``STATE_TOL * Delta``) those after an earlier round, the run ends.
    A repeat of the previous state (nobody moved) is a fixed point: the draw
    has converged and its cycle length is 0. A longer repeat is a cycle; its
    length and the range of the forecast over it are reported.
    """

    variant: Literal["scholz2011_code", "paper"] = "scholz2011_code"
    own_perspective: bool = False
    offer_choice: Literal["priority", "least_move"] | None = None
    capitulation: bool | None = None
    Q: float = Field(1.0, ge=0.0, le=1.0)
    T: float = Field(0.5, ge=0.0, le=1.0)
    rounds: int = Field(10, ge=0)
    stop: Literal["rounds", "convergence"] = "rounds"
    eps: float = Field(1e-9, ge=0.0)

    def resolved_choice(self) -> str:
        """``offer_choice`` with the variant's default filled in."""
        if self.offer_choice is not None:
            return self.offer_choice
        return "priority" if self.variant == "scholz2011_code" else "least_move"

    def resolved_capitulation(self) -> bool:
        """``capitulation`` with the variant's default filled in."""
        if self.capitulation is not None:
            return self.capitulation
        return self.variant == "paper"


# ---------------------------------------------------------------------------
# Building blocks (public for tests and for readers of the spec)
# ---------------------------------------------------------------------------


def utilities(d: Any, r: Any, d_mu: Any = 0.0) -> tuple[np.ndarray, ...]:
    """The five utilities of i challenging j with exponent r.

    Parameters
    ----------
    d : array_like
        d_ij = |x_i - x_j| / Delta, in [0, 1].
    r : array_like
        The risk exponent used.
    d_mu : array_like
        d_i,mu, i's distance to the weighted median (only U_b and U_w use it).

    Returns
    -------
    U_s, U_f, U_b, U_w, U_sq : ndarray
        ``2 - 4 (0.5 - 0.5 d)^r``, ``2 - 4 (0.5 + 0.5 d)^r``,
        ``2 - 4 (0.5 - 0.25 (d_mu + d))^r``, ``2 - 4 (0.5 + 0.25 (d_mu + d))^r``
        and ``2 - 4 (0.5)^r`` (Bueno de Mesquita 1994; Scholz et al. 2011, eqs. 1-5).
    """
    d = np.asarray(d, float)
    r = np.asarray(r, float)
    dm = np.asarray(d_mu, float) + d
    u_s = 2.0 - 4.0 * (0.5 - 0.5 * d) ** r
    u_f = 2.0 - 4.0 * (0.5 + 0.5 * d) ** r
    u_b = 2.0 - 4.0 * np.maximum(0.5 - 0.25 * dm, 0.0) ** r
    u_w = 2.0 - 4.0 * (0.5 + 0.25 * dm) ** r
    u_sq = 2.0 - 4.0 * 0.5**r + 0.0 * d
    return u_s, u_f, u_b, u_w, u_sq


def risk_exponents(S: np.ndarray, active: np.ndarray, axis: int = -1) -> np.ndarray:
    """Risk exponents r_i in [0.5, 2] from the security values S_i.

    ``R_i = (2 S_i - max S - min S) / (max S - min S)`` and
    ``r_i = (1 - R_i / 3) / (1 + R_i / 3)`` over the active actors (along
    ``axis``); every r is 1 where the spread is (numerically) zero, i.e. at
    most ``RISK_TOL * max(1, max |S|)``, and inactive actors get 1.

    Parameters
    ----------
    S : ndarray
        Security values, actors along ``axis``.
    active : ndarray of bool, same shape
    axis : int
    """
    everyone = bool(np.all(active))
    Sa = S if everyone else np.where(active, S, np.nan)
    smax = np.nanmax(Sa, axis=axis, keepdims=True) if not everyone else S.max(axis=axis, keepdims=True)
    smin = np.nanmin(Sa, axis=axis, keepdims=True) if not everyone else S.min(axis=axis, keepdims=True)
    amax = np.maximum(np.abs(smax), np.abs(smin))
    spread = smax - smin
    ok = spread > RISK_TOL * np.maximum(1.0, amax)
    R = (2.0 * S - smax - smin) / (spread + ~ok) * ok  # 0 where the spread is zero
    if not everyone:
        R = R * active
    np.clip(R, -1.0, 1.0, out=R)
    return (1.0 - R / 3.0) / (1.0 + R / 3.0)


@lru_cache(maxsize=64)
def _pair_tables(n: int) -> dict[str, Any]:
    """Index tables of the pairs a < b of n sorted actors."""
    iu, ju = np.triu_indices(n, 1)
    tabs: dict[str, np.ndarray] = {"iu": iu, "ju": ju, "iu1": (iu + 1)[:, None], "ju_col": ju[:, None], "iu_col": iu[:, None]}
    pair_of = np.zeros((n, n), dtype=np.intp)
    pair_of[iu, ju] = np.arange(iu.size)
    # the rows of the pairs (a, a + g), a = 0 .. n - 1 - g, for each gap g
    tabs["gap_rows"] = {g: pair_of[np.arange(n - g), np.arange(g, n)] for g in range(1, n)}
    return tabs


def _midpoint_counts(xs: np.ndarray, method: str | None = None) -> np.ndarray:
    """#{k : xs_k < (xs_a + xs_b) / 2} for every pair a < b of sorted columns.

    ``xs`` is (n, m), each column sorted. Returns (n(n-1)/2, m) in
    ``np.triu_indices(n, 1)`` order. Voters up to a lie below the midpoint and
    voters from b on do not, so only the voters between a and b are compared:
    by enumerating the triples a < k < b (``"triples"``, small n) or by
    bisection (``"bisect"``, large n).
    """
    n, m = xs.shape
    if method is None:
        method = "triples" if n <= TRIPLES_MAX_N else "bisect"
    tabs = _pair_tables(n)
    iu, ju = tabs["iu"], tabs["ju"]
    if method == "triples":
        # the pairs (a, a + g) of each gap g: the voters between them are slices
        out = np.empty((iu.size, m), dtype=np.intp)
        for g in range(1, n):
            mid = 0.5 * (xs[: n - g] + xs[g:])
            cnt = np.zeros((n - g, m), dtype=np.intp)
            for c in range(1, g):
                cnt += xs[c : n - g + c] < mid
            cnt += np.arange(1, n - g + 1)[:, None]
            out[tabs["gap_rows"][g]] = cnt
        return out
    mid = 0.5 * (xs[iu] + xs[ju])
    lo = np.broadcast_to(tabs["iu1"], mid.shape).copy()
    hi = np.broadcast_to(tabs["ju_col"], mid.shape).copy()
    col = np.arange(m)
    flat = xs.ravel()
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        half = (lo + hi) >> 1
        go = open_ & (flat[np.minimum(half, n - 1) * m + col] < mid)
        lo = np.where(go, half + 1, lo)
        hi = np.where(open_ & ~go, half, hi)


class _Buffers:
    """Work arrays reused from round to round (fresh large arrays cost page faults).

    ``get(name, shape, dtype)`` returns the same array for the same name and
    shape; its content is garbage until written.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any = float) -> np.ndarray:
        key = (name, shape, np.dtype(dtype).str)
        a = self._arrays.get(key)
        if a is None:
            if len(self._arrays) > 256:  # shapes change when draws stop: drop stale ones
                self._arrays.clear()
            a = self._arrays[key] = np.empty(shape, dtype)
        return a


class _Geometry:
    """One round's pair quantities of m columns of n actors, sorted by position.

    All arrays are batch-last: (n, m) per actor, (n, n, m) per ordered pair,
    element [a, b, c] for actors a and b (sorted ranks) of column c.
    """

    def __init__(
        self, xs: np.ndarray, acts: np.ndarray, all_active: bool, delta: np.ndarray,
        count_method: str | None = None, buf: _Buffers | None = None,
    ):
        n, m = xs.shape
        self.n, self.m = n, m
        self.buf = buf = buf or _Buffers()
        nn = (n, n, m)
        ad = np.subtract(xs[:, None, :], xs[None, :, :], out=buf.get("ad", nn))
        np.abs(ad, out=ad)
        self.ad = ad  # |x_a - x_b|
        d = np.divide(ad, delta, out=buf.get("d", nn))  # a division: d is exactly 1 at the extremes
        np.minimum(d, 1.0, out=d)
        self.d = d
        valid = np.greater(ad, COINCIDE_TOL * delta, out=buf.get("valid", nn, bool))  # delta = inf when Delta = 0
        tabs = _pair_tables(n)
        self.iu, self.ju = tabs["iu"], tabs["ju"]
        if all_active:
            self.pact = None
        else:
            valid &= acts[:, None, :] & acts[None, :, :]
            self.pact = acts[self.iu] & acts[self.ju]
        self.valid = valid
        p = _midpoint_counts(xs, count_method)  # (P, m)
        col = np.arange(m)
        base = p * n
        self.idx_b = (base + tabs["ju_col"]) * m + col
        self.idx_a = (base + tabs["iu_col"]) * m + col

    def prevail(self, H: np.ndarray, variant: str, name: str = "P") -> np.ndarray:
        """P[a, b] from H[k, a] = w_k g_k(d_ka), g_k increasing (zero on the diagonal).

        Voter k prefers a to b exactly when it is closer to a, i.e. below the
        midpoint when x_a < x_b: N_ab = sum_k max(0, H[k, b] - H[k, a]) is a
        difference of prefix sums over the sorted voters, and N_ba the
        matching suffix sums.
        """
        n, m = self.n, self.m
        C = self.buf.get("C", (n + 1, n, m))
        C[0] = 0.0
        for k in range(n):  # (a loop of adds is much faster than cumsum on axis 0)
            np.add(C[k], H[k], out=C[k + 1])
        Cf = C.ravel()
        Z = Cf.take(self.idx_b)
        Z -= Cf.take(self.idx_a)  # N_ab for a < b
        tot = C[n]
        Nlow = tot[self.iu] - tot[self.ju] + Z  # N_ba
        if self.pact is not None:
            Z *= self.pact
            Nlow *= self.pact
        if variant == "paper":
            den = Z + Nlow
        else:
            den = 2.0 * (Z.sum(axis=0) + Nlow.sum(axis=0))
        ok = den > 0
        inv = ok / (den + ~ok)  # 1 / den, 0 where den = 0
        P = self.buf.get(name, (n, n, m))
        P[np.arange(n), np.arange(n)] = 0.0
        P[self.iu, self.ju] = Z * inv
        P[self.ju, self.iu] = Nlow * inv
        return P


def probabilities(x: Any, w: Any, r: Any = None, *, variant: str = "scholz2011_code", active: Any = None) -> np.ndarray:
    """P_ij, the probability that i's position prevails over j's.

    Parameters
    ----------
    x, w : array_like, shape (m, n)
        Positions and weights c*s of m independent rows.
    r : array_like, shape (m, n), optional
        The voters' exponents (``scholz2011_code`` only; default all 1).
    variant : {"scholz2011_code", "paper"}
    active : array_like of bool, shape (m, n), optional

    Returns
    -------
    ndarray, shape (m, n, n)
        Zero for coincident pairs and pairs with an inactive actor.
    """
    x = np.atleast_2d(np.asarray(x, float))
    w = np.broadcast_to(np.asarray(w, float), x.shape)
    act = np.ones(x.shape, bool) if active is None else np.broadcast_to(np.asarray(active, bool), x.shape)
    r = np.ones(x.shape) if r is None else np.broadcast_to(np.asarray(r, float), x.shape)
    xa = np.where(act, x, np.nan)
    delta = np.nanmax(xa, axis=1) - np.nanmin(xa, axis=1)
    order = np.argsort(x, axis=1, kind="stable")
    srt = lambda a: np.ascontiguousarray(np.take_along_axis(a, order, axis=1).T)  # noqa: E731
    xs, ws, rs, acts = srt(x), srt(np.where(act, w, 0.0)), srt(r), srt(act)
    geo = _Geometry(xs, acts, bool(act.all()), np.where(delta > 0, delta, np.inf))
    H = ws[:, None, :] * geo.d if variant == "paper" else ws[:, None, :] * geo.d ** rs[:, None, :]
    Ps = geo.prevail(H, variant)  # sorted coords, (n, n, m)
    m, n = x.shape
    rank = np.argsort(order, axis=1)
    out = np.empty((m, n, n))
    for c in range(m):
        out[c] = Ps[:, :, c][np.ix_(rank[c], rank[c])]
    return out


# ---------------------------------------------------------------------------
# The engine (batch-last: actors on the leading axes, the m rows last)
# ---------------------------------------------------------------------------


def _expected_general(
    geo: _Geometry, P: np.ndarray, ss: np.ndarray, rho: np.ndarray, dmu: np.ndarray, Q: float, T: float, challenger_rows: bool
) -> np.ndarray:
    """E(U) of every ordered pair with all five utilities (used when Q < 1 or own_perspective).

    ``challenger_rows=True``: element [i, j] is E(U_ij) (i challenges j,
    target salience s_j, P_ij, i's distance to mu). False: element [i, j] is
    E(U_ji) (j challenges i: s_i, P_ji, j's distance to mu). ``rho`` holds
    the exponent of each element.
    """
    if challenger_rows:
        st, Pc, dm = ss[None, :, :], P, dmu[:, None, :]
    else:
        st, Pc, dm = ss[:, None, :], P.transpose(1, 0, 2), dmu[None, :, :]
    u_s, u_f, u_b, u_w, u_sq = utilities(geo.d, rho, dm)
    return st * (Pc * u_s + (1.0 - Pc) * u_f) + (1.0 - st) * u_s - Q * u_sq - (1.0 - Q) * (T * u_b + (1.0 - T) * u_w)


def _pick(
    val: np.ndarray, orig: np.ndarray, n: int, tol: np.ndarray, buf: _Buffers, big: Any = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Per (i, column): whether any val[i, :] is below ``big``, and the input index of
    the smallest, values within ``tol`` (m,) of it tying and ties going to the
    lowest input index. ``val`` (n, n, m), ``orig`` (n, m) the input index of each
    rank (int32)."""
    mn = val.min(axis=1)
    over = np.greater(val, (mn + tol)[:, None, :], out=buf.get("over", val.shape, bool))
    key = np.multiply(over, np.int32(n), out=buf.get("key", val.shape, np.int32))
    key += orig[None, :, :]
    return mn < big, key.min(axis=1).astype(np.intp)


def _round(
    x: np.ndarray, w: np.ndarray, s: np.ndarray, act: np.ndarray, all_active: bool, delta: np.ndarray, fw: np.ndarray,
    params: Params, buf: _Buffers | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One round of m columns (arrays (n, m), actors in input order).

    Returns the new positions, the exponents r used, the move types and the
    counterparts (input index, -1 for none), all (n, m) in input order.
    """
    n, m = x.shape
    variant, Q, T = params.variant, params.Q, params.T
    order = np.argsort(x, axis=0, kind="stable")
    col = np.arange(m)
    fidx = order * m + col  # flat index of (input actor at rank a, column)
    xs, ws, ss, acts = (a.ravel().take(fidx) for a in (x, w, s, act))
    orig = order.astype(np.int32)
    rank = np.empty((n, m), dtype=np.intp)
    rank.ravel()[fidx] = np.arange(n)[:, None]
    buf = buf or _Buffers()
    nn = (n, n, m)
    geo = _Geometry(xs, acts, all_active, delta, buf=buf)
    d = geo.d
    if Q != 1.0:
        mu = weighted_median(x, fw, "condorcet", axis=0)
        dmu = np.minimum(np.abs(xs - mu) / delta, 1.0)
    else:
        dmu = np.zeros_like(xs)

    # 1. security pass, every r = 1: S_i = sum_{j != i} E(U_ji)
    H = np.multiply(ws[:, None, :], d, out=buf.get("H", nn))
    P1 = geo.prevail(H, variant, "P1")
    dv = d if all_active else np.multiply(d, acts[None, :, :], out=buf.get("dv", nn))
    if Q == 1.0:
        # r = 1: U_s = 2d, U_f = -2d, U_sq = 0, so E(U_ji) = 2 d_ij (1 - 2 s_i (1 - P_ji))
        Dsum = dv.sum(axis=1)
        PD = np.multiply(dv, P1, out=buf.get("t1", nn)).sum(axis=0)  # sum_j d_ji P_ji = sum_j d_ij P_ji
        S = 2.0 * (1.0 - 2.0 * ss) * Dsum + 4.0 * ss * PD
    else:
        E1 = _expected_general(geo, P1, ss, np.ones((1, 1, 1)), dmu, Q, T, challenger_rows=False)
        off = acts[:, None, :] & acts[None, :, :] & ~np.eye(n, dtype=bool)[:, :, None]
        S = (E1 * off).sum(axis=1)

    # 2. risk exponents
    rs = risk_exponents(S, acts, axis=0)

    # 3. offers, voters with their new exponents
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if variant == "paper":
            P = P1
        else:
            H = np.power(d, rs[:, None, :], out=buf.get("H", nn))
            H *= ws[:, None, :]
            P = geo.prevail(H, variant, "P")
        if Q == 1.0 and not params.own_perspective:
            # E / (4 * 0.5^r_i) for both perceptions (the same positive factor):
            # E(U_ij) = 4 h_i [(1 - a) - s_j (1 - P_ij)(b - a)], a = (1-d)^r_i, b = (1+d)^r_i
            ri = rs[:, None, :]
            a = np.subtract(1.0, d, out=buf.get("a", nn))
            np.power(a, ri, out=a)
            Dl = np.add(1.0, d, out=buf.get("Dl", nn))
            np.power(Dl, ri, out=Dl)
            Dl -= a
            G = np.subtract(1.0, a, out=a)
            u = np.subtract(1.0, P, out=buf.get("u", nn))
            u *= ss[None, :, :]
            e_i = np.multiply(u, Dl, out=buf.get("e_i", nn))
            np.subtract(G, e_i, out=e_i)
            e_j = np.multiply(u.transpose(1, 0, 2), Dl, out=buf.get("e_j", nn))
            np.subtract(G, e_j, out=e_j)
        else:
            rho_i = np.broadcast_to(rs[:, None, :], d.shape)
            e_i = _expected_general(geo, P, ss, rho_i, dmu, Q, T, challenger_rows=True)
            rho_j = np.broadcast_to(rs[None, :, :], d.shape) if params.own_perspective else rho_i
            e_j = _expected_general(geo, P, ss, rho_j, dmu, Q, T, challenger_rows=False)

        # E_j > E_i and E_j vs |E_i| need a margin of TIE_TOL (|E_i| + |E_j|): a tie of
        # exact arithmetic (e.g. two actors of zero salience) stays a tie
        valid = geo.valid
        tie = np.abs(e_i, out=buf.get("tie", nn))
        t1 = np.abs(e_j, out=buf.get("t1", nn))
        tie += t1
        tie *= TIE_TOL
        np.subtract(e_j, e_i, out=t1)
        conf = np.greater(t1, tie, out=buf.get("conf", nn, bool))
        b1 = np.greater(e_i, 0.0, out=buf.get("b1", nn, bool))
        conf &= b1
        conf &= valid
        split = np.greater(e_j, 0.0, out=buf.get("split", nn, bool))
        np.less(e_i, 0.0, out=b1)
        split &= b1
        split &= valid
        ssum = np.add(e_i, e_j, out=t1)
        comp = np.greater(ssum, tie, out=buf.get("comp", nn, bool))
        comp &= split
        capit = params.resolved_capitulation()
        if capit:
            np.negative(ssum, out=ssum)
            cap = np.greater(ssum, tie, out=buf.get("cap", nn, bool))
            cap &= split
        else:
            cap = None

        ad = geo.ad
        inf = np.inf
        ctol = CHOICE_TOL * np.where(np.isfinite(delta), delta, 0.0)
        big = 2.0 * ad.max(axis=(0, 1)) + 1.0  # above every |x_i - x_j| of the column
        if params.resolved_choice() == "priority":
            pen = np.logical_not(conf, out=b1)
            pen = np.multiply(pen, big, out=buf.get("pen", nn))
            pen += ad
            has_c, oc = _pick(pen, orig, n, ctol, buf, big)
            crit = np.multiply(e_j, xs[None, :, :], out=buf.get("crit", nn))
            crit -= np.multiply(e_i, xs[:, None, :], out=pen)
            crit /= np.subtract(e_j, e_i, out=pen)
            np.logical_not(comp, out=b1)
            np.copyto(crit, inf, where=b1)
            has_m, om = _pick(crit, orig, n, ctol, buf)
            if capit:
                pen = np.logical_not(cap, out=b1)
                pen = np.multiply(pen, big, out=buf.get("pen", nn))
                pen += ad
                has_k, ok_ = _pick(pen, orig, n, ctol, buf, big)
            else:
                has_k, ok_ = np.zeros((n, m), bool), om
            oj = np.where(has_c, oc, np.where(has_m, om, ok_))
            mt = np.where(has_c, CONFRONTATION, np.where(has_m, COMPROMISE, np.where(has_k, CAPITULATION, NONE)))
        else:
            # the move to a compromise offer, computed as |to - x_i| like the offer itself
            to = xs[:, None, :] + (xs[None, :, :] - xs[:, None, :]) * np.abs(e_i / e_j)
            move = np.where(comp, np.abs(to - xs[:, None, :]), inf)
            either = conf | cap if capit else conf
            move = np.where(either, ad, move)
            has, oj = _pick(move, orig, n, ctol, buf)
            mt = np.zeros((n, m), dtype=np.intp)
            if has.any():
                js = rank.ravel().take(np.where(has, oj, 0) * m + col)
                flat = (np.arange(n)[:, None] * n + js) * m + col
                mt = np.where(conf.ravel().take(flat), CONFRONTATION, np.where(comp.ravel().take(flat), COMPROMISE, CAPITULATION))
                mt = np.where(has, mt, NONE)
        moved = mt != NONE
        oj = np.where(moved, oj, 0)
        xj = x.ravel().take(oj * m + col)  # the counterpart's position
        js = rank.ravel().take(oj * m + col)  # the counterpart's rank
        flat = (np.arange(n)[:, None] * n + js) * m + col
        frac = np.abs(e_i.ravel().take(flat) / e_j.ravel().take(flat))
        xi = xs
        to_s = np.where(mt == COMPROMISE, xi + (xj - xi) * np.where(mt == COMPROMISE, frac, 0.0), xj)
        new_s = np.where(moved, to_s, xs)
    # back to input order
    new = np.empty_like(x)
    r = np.empty_like(x)
    mtype = np.empty((n, m), dtype=np.int8)
    cp = np.empty((n, m), dtype=np.int32)
    new.ravel()[fidx] = new_s
    r.ravel()[fidx] = np.where(acts, rs, 1.0)
    mtype.ravel()[fidx] = mt
    cp.ravel()[fidx] = np.where(moved, oj, -1)
    return new, r, mtype, cp


def _simulate(
    x0: np.ndarray, w: np.ndarray, s: np.ndarray, act: np.ndarray, fw: np.ndarray, params: Params
) -> dict[str, np.ndarray]:
    """Run m rows of (m, n) arrays through the rounds (one chunk)."""
    m, n = x0.shape
    R = params.rounds
    xa = np.where(act, x0, np.nan)
    delta = np.nanmax(xa, axis=1) - np.nanmin(xa, axis=1)
    dscale = np.where(delta > 0, delta, np.inf)  # d = 0 everywhere when Delta = 0
    tol = STATE_TOL * delta

    pos = np.empty((m, R + 1, n))
    pos[:, 0] = x0
    risk = np.ones((m, R + 1, n))
    mtype = np.zeros((m, R + 1, n), dtype=np.int8)
    mcp = np.full((m, R + 1, n), -1, dtype=np.int32)
    rounds = np.zeros(m, dtype=np.int64)
    cycle = np.zeros(m, dtype=np.int64)
    converged = np.zeros(m, dtype=bool)
    running = np.arange(m)
    x = x0.copy()
    buf = _Buffers()
    # batch-last copies of the constant inputs
    wT, sT, actT, fwT = (np.ascontiguousarray(a.T) for a in (w, s, act, fw))
    for t in range(1, R + 1):
        if running.size == 0:
            pos[:, t] = pos[:, t - 1]
            continue
        rr = running
        full = rr.size == m
        sub = slice(None) if full else rr
        # a single column is padded to two so that every reduction runs in the same order
        cols = rr if rr.size > 1 else np.array([rr[0], rr[0]])
        xr = np.ascontiguousarray(x[cols].T)
        a_ = actT[:, cols]
        new, r, mt, cp = _round(
            xr, wT[:, cols], sT[:, cols], a_, bool(a_.all()), dscale[cols], fwT[:, cols], params, buf
        )
        k = rr.size
        new, r, mt, cp = new[:, :k].T, r[:, :k].T, mt[:, :k].T, cp[:, :k].T
        xr = xr[:, :k].T
        new = np.where(act[sub], new, xr)
        x[sub] = new
        pos[:, t] = x
        risk[sub, t] = r
        mtype[sub, t] = mt
        mcp[sub, t] = cp
        rounds[sub] = t
        # a repeated state ends the run (a repeat of the last state: a fixed point)
        close = (np.abs(pos[sub, :t] - new[:, None, :]) <= tol[sub, None, None]) | ~act[sub][:, None, :]
        same = close.all(axis=2)  # (k, t)
        hit = same.any(axis=1)
        latest = t - 1 - np.argmax(same[:, ::-1], axis=1)
        length = np.where(hit, t - latest, 0)
        fixed = length == 1
        cyc = length >= 2
        done = fixed | cyc
        if params.stop == "convergence":
            moved = np.where(act[sub], np.abs(new - xr), 0.0).max(axis=1, initial=0.0)
            small = moved <= params.eps * delta[sub]
            fixed = fixed | (small & ~cyc)
            done = done | small
        converged[rr[fixed]] = True
        cycle[rr[cyc]] = length[cyc]
        running = rr[~done]
    return {"position": pos, "risk": risk, "move_type": mtype, "move_counterpart": mcp,
            "rounds": rounds, "cycle_length": cycle, "converged": converged}


def _rows(inputs: Inputs) -> tuple[np.ndarray, ...]:
    """(B*D, n) rows of positions, weights c*s, saliences, active flags, forecast weights."""
    B, n, D = inputs.shape
    x = np.ascontiguousarray(inputs.position.transpose(0, 2, 1)).reshape(B * D, n)
    s = np.ascontiguousarray(inputs.salience.transpose(0, 2, 1)).reshape(B * D, n)
    act = np.broadcast_to(inputs.active[:, None, :], (B, D, n)).reshape(B * D, n)
    cap = np.broadcast_to(inputs.capability[:, None, :], (B, D, n)).reshape(B * D, n)
    w = np.where(act, cap * s, 0.0)
    fw = np.ascontiguousarray(issue_weights(inputs).transpose(0, 2, 1)).reshape(B * D, n)
    return x, w, s, act, fw


def run(inputs: Inputs, params: Params = Params()) -> Trajectory:
    """Run the expected-utility model on every draw and issue.

    Parameters
    ----------
    inputs : Inputs
        B draws of n actors on D issues; each issue is run on its own.
    params : Params

    Returns
    -------
    Trajectory
        ``position`` (B, R+1, n, D); ``forecast`` the weighted median
        (``condorcet`` convention, w = c*s with the ``issue_weights``
        fallback) per round; ``rounds`` per draw (the most over its issues).
        ``extras``: ``mean`` (B, R+1, D) weighted mean; ``risk`` (B, R+1, n,
        D) the exponents used in each round (round 0, inactive actors and
        rounds after a stop hold 1); ``move_type`` (int8: 0 none, 1
        confrontation, 2 compromise, 3 capitulation) and ``move_counterpart``
        (actor index, -1 for none), both (B, R+1, n, D). ``info`` per draw
        and issue (B, D): ``cycle_length`` (0: none; a fixed point is
        ``converged`` with length 0), ``converged``, ``cycle_min`` and
        ``cycle_max`` (the forecast range over the cycle, the final forecast
        when there is none), ``issue_rounds`` (rounds run per issue); and
        ``active`` (B, n).

    Raises
    ------
    ModelInputError
        When a draw has no active actor.
    """
    B, n, D = inputs.shape
    if not inputs.active.any(axis=1).all():
        raise ModelInputError("bdm: every draw needs at least one active actor")
    x, w, s, act, fw = _rows(inputs)
    M = B * D
    R = params.rounds
    chunk = max(2, CHUNK_ELEMENTS // max(1, n * n))  # >= 2: a lone column is padded to two
    out = {
        "position": np.empty((M, R + 1, n)),
        "risk": np.empty((M, R + 1, n)),
        "move_type": np.empty((M, R + 1, n), dtype=np.int8),
        "move_counterpart": np.empty((M, R + 1, n), dtype=np.int32),
        "rounds": np.empty(M, dtype=np.int64),
        "cycle_length": np.empty(M, dtype=np.int64),
        "converged": np.empty(M, dtype=bool),
    }
    def work(lo: int) -> None:
        hi = min(M, lo + chunk)
        res = _simulate(x[lo:hi], w[lo:hi], s[lo:hi], act[lo:hi], fw[lo:hi], params)
        for k, v in res.items():
            out[k][lo:hi] = v

    starts = range(0, M, chunk)
    threads = min(THREADS, len(starts))
    if threads > 1:  # numpy releases the GIL in its loops; chunks are independent
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, starts))
    else:
        for lo in starts:
            work(lo)
    pos = out["position"]
    forecast = weighted_median(pos, fw[:, None, :], "condorcet", axis=2)  # (M, R+1)
    mean = (pos * fw[:, None, :]).sum(axis=2) / fw.sum(axis=1)[:, None]
    rounds = out["rounds"]
    cyc = out["cycle_length"]
    t = np.arange(R + 1)[None, :]
    in_cycle = (t > (rounds - cyc)[:, None]) & (t <= rounds[:, None]) & (cyc > 0)[:, None]
    final = forecast[np.arange(M), rounds]
    cmin = np.where(cyc > 0, np.where(in_cycle, forecast, np.inf).min(axis=1), final)
    cmax = np.where(cyc > 0, np.where(in_cycle, forecast, -np.inf).max(axis=1), final)

    def per_round(a: np.ndarray) -> np.ndarray:  # (M, R+1[, n]) -> (B, R+1[, n], D)
        a = a.reshape((B, D) + a.shape[1:])
        return np.moveaxis(a, 1, -1)

    rounds_bd = rounds.reshape(B, D)
    return Trajectory(
        position=per_round(pos),
        forecast=per_round(forecast),
        rounds=rounds_bd.max(axis=1),
        extras={
            "mean": per_round(mean),
            "risk": per_round(out["risk"]),
            "move_type": per_round(out["move_type"]),
            "move_counterpart": per_round(out["move_counterpart"]),
        },
        info={
            "cycle_length": cyc.reshape(B, D),
            "converged": out["converged"].reshape(B, D),
            "cycle_min": cmin.reshape(B, D),
            "cycle_max": cmax.reshape(B, D),
            "issue_rounds": rounds_bd,
            "active": inputs.active.copy(),
        },
    )


def render_round(traj: Trajectory, b: int, t: int, actors: list[str], issues: list[str]) -> dict[str, Any]:
    """Round ``t`` of draw ``b``: risk exponents, moves and weighted means.

    Returns
    -------
    dict
        ``{"risk": {actor: {issue: r}}, "moves": [{"actor", "issue", "type",
        "counterpart", "to"}], "mean": {issue: float}}``. Only active actors
        appear under ``risk`` and only actors that moved under ``moves``.
    """
    act = traj.info["active"][b] if "active" in traj.info else np.ones(len(actors), bool)
    risk = traj.extras["risk"][b, t]
    mt = traj.extras["move_type"][b, t]
    cp = traj.extras["move_counterpart"][b, t]
    pos = traj.position[b, t]
    moves = []
    for i, actor in enumerate(actors):
        for k, issue in enumerate(issues):
            code = int(mt[i, k])
            if code != NONE:
                moves.append(
                    {
                        "actor": actor,
                        "issue": issue,
                        "type": MOVE_NAMES[code],
                        "counterpart": actors[int(cp[i, k])],
                        "to": float(pos[i, k]),
                    }
                )
    return {
        "risk": {a: {iss: float(risk[i, k]) for k, iss in enumerate(issues)} for i, a in enumerate(actors) if act[i]},
        "moves": moves,
        "mean": {iss: float(traj.extras["mean"][b, t, k]) for k, iss in enumerate(issues)},
    }


def summarize(traj: Trajectory, b: int, issues: list[str]) -> dict[str, dict[str, Any]]:
    """Per issue of draw ``b``: final weighted mean, cycle length and range, rounds run."""
    out = {}
    for k, issue in enumerate(issues):
        cyc = int(traj.info["cycle_length"][b, k])
        out[issue] = {
            "mean": float(traj.extras["mean"][b, -1, k]),
            "cycle_length": cyc,
            "cycle_range": [float(traj.info["cycle_min"][b, k]), float(traj.info["cycle_max"][b, k])] if cyc else None,
            "rounds": int(traj.info["issue_rounds"][b, k]),
        }
    return out
