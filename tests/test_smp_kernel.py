"""The SMP's compiled kernels (detente.models._smp_kernel) give _smp_core's numpy numbers, bit for bit.

The numpy building blocks are the engine's reference (tests/test_smp.py checks
them against a loop-by-loop implementation of the spec). The kernels replace
its two O(n^3) sums when numba is installed; here every path is compared with
``==``: numpy, the compiled kernels (with their rows shared out to threads),
and the same kernel source run as plain Python (what a change to the kernel
would be checked with when numba is absent).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente.models import _jit, _smp_kernel, smp
from detente.models import _smp_core as core
from detente.models.base import Inputs

RULES = list(_smp_kernel.RULES)
PATHS = ("numpy", "compiled", "pure")
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _use(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Make _smp_core run its O(n^3) sums with ``path`` at every size (and threads at every size)."""
    if path == "numpy":
        monkeypatch.setattr(core, "_kernel", lambda work: None)
        return
    assert _jit.numba_available(), "the test extra installs numba: the compiled path must be tested"
    kern = _smp_kernel if path == "compiled" else _jit.pure_module("detente.models._smp_kernel")
    assert kern.COMPILED == (path == "compiled")
    monkeypatch.setattr(core, "_kernel", lambda work: kern)
    monkeypatch.setattr(core, "PARALLEL_MIN_WORK", 0 if path == "compiled" else 1 << 62)
    monkeypatch.setattr(core, "PASS_PARALLEL_MIN_WORK", 0 if path == "compiled" else 1 << 62)


def _every_path(monkeypatch: pytest.MonkeyPatch, fn) -> dict:
    """``fn()`` with _smp_core on each of :data:`PATHS`, checked equal to numpy's, bit for bit; the results by path."""
    out = {}
    for path in PATHS:
        _use(monkeypatch, path)
        out[path] = fn()
    _equal(out["compiled"], out["numpy"])
    _equal(out["pure"], out["numpy"])
    return out


def _equal(a, b) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def _wide(rng: np.random.Generator, shape, low=-3.0, high=3.0) -> np.ndarray:
    """Values spread over many magnitudes, so that a different summation order would show."""
    return rng.uniform(-1, 1, shape) * 10.0 ** rng.uniform(low, high, shape)


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_coalition_sums_add_the_voters_in_numpys_order(path):
    # two options, one at 0: C[0, 1] and C[1, 0] are numpy's sums of max(0, +-x) over the voters,
    # for lengths around each branch of numpy's pairwise summation (8 running sums, halves above 128)
    kern = _smp_kernel if path == "compiled" else _jit.pure_module("detente.models._smp_kernel")
    rng = np.random.default_rng(0)
    lengths = list(range(1, 140)) + [247, 248, 249, 256, 257, 487, 488, 489, 968, 1000, 3849, 20000]
    for n in lengths:
        x = _wide(rng, n, -8, 8)
        V = np.zeros((1, n, 2))
        V[0, :, 0] = x
        C = np.zeros((1, 2, 2))
        kern.coalition_rows(0, 2, V, np.ones((1, n)), np.ones(2, dtype=np.bool_), 0, kern.pairwise_plan(n),
                            np.zeros((1, 0, 2), dtype=np.bool_), C)
        assert C[0, 0, 1] == np.maximum(x, 0.0).sum(), n
        assert C[0, 1, 0] == np.maximum(-x, 0.0).sum(), n


def test_the_kernels_constants_are_the_models():
    from detente.models import _smp_fused

    for name in ("BIN_SCALE", "FLOOR_CHALLENGE", "MIN_GAIN", "TIE_TOL"):
        assert getattr(_smp_kernel, name) == getattr(core, name), name
    for name in ("FLOOR_PCE", "EQ_TOL", "TIE_TOL"):  # the fused passes' copies (literals for numba's cache)
        assert getattr(_smp_fused, name) == getattr(core, name), name


def test_the_fused_passes_stay_below_the_sizes_where_the_methods_change():
    # the fused passes copy the PCE's whole product and the pair-at-a-time coalition sums, which numpy's
    # path and the kernels use below GATHER_MIN_OPTIONS and FEW_OPTIONS options: a resolution has n + 1
    assert smp.FUSED_MAX_ACTORS + 1 < min(core.GATHER_MIN_OPTIONS, _smp_kernel.FEW_OPTIONS)
    cfg = smp._Cfg(smp.Params())
    assert smp._fused(64, smp.FUSED_MAX_ACTORS, cfg, None) is not None
    old = core.GATHER_MIN_OPTIONS
    try:
        core.GATHER_MIN_OPTIONS = smp.FUSED_MAX_ACTORS  # were it lowered, the fused passes step aside
        assert smp._fused(64, smp.FUSED_MAX_ACTORS, cfg, None) is None
    finally:
        core.GATHER_MIN_OPTIONS = old


def test_the_plain_python_kernel_is_the_same_source_uncompiled():
    pure = _jit.pure_module("detente.models._smp_kernel")
    assert _smp_kernel.COMPILED and not pure.COMPILED
    for name in ("coalition_rows", "_coalition_span", "_coalition_terms4", "_coalition_terms2", "_span", "_needed", "_pair_sums", "third_party_rows", "_third_row", "challenge_one",
                 "challenge_rows", "principals", "challenge_gain", "target_order_rows", "_third_range_prop", "_gains_range", "challenge_pruned",
                 "challenge_rows_pruned", "cluster_labels", "election_plan", "election_gather", "challenge_input_rows", "_hub_wants", "election_pair_rows",
                 "distance_rows", "utility_rows", "victory_rows", "_distance_row", "cluster_rows", "near_rows",
                 "risk_utility_rows", "_zigzag", "resolution_values_rows", "bargain_rows", "risk_row", "risk_rows"):
        assert getattr(pure, name).__code__.co_code == getattr(_smp_kernel, name).py_func.__code__.co_code


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rule=st.sampled_from(RULES), Bc=st.integers(1, 3), M=st.sampled_from([1, 2, 3, 5, 8, 12, 33, 45]),
       Nv=st.sampled_from([1, 2, 7, 8, 9, 16, 31]), masked=st.booleans(), elections=st.sampled_from([None, 1, 3]))
def test_coalitions_equal_numpy(monkeypatch, seed, rule, Bc, M, Nv, masked, elections):
    rng = np.random.default_rng(seed)
    V = _wide(rng, (Bc, Nv, M), -9, 1)  # tiny differences reach the Binary rule's step
    w = rng.uniform(0, 5, (Bc, Nv)) * (rng.random((Bc, Nv)) < 0.9)
    opt = rng.random((Bc, M)) < 0.7 if masked else None
    among = None if elections is None else rng.random((Bc, elections, M)) < 0.3
    if among is not None and opt is not None:
        among &= opt[:, None, :]
    out = {}
    for path in PATHS:
        _use(monkeypatch, path)
        out[path] = core.coalitions(V, w, rule, opt=opt, among=among)
    _equal(out["compiled"], out["numpy"])
    _equal(out["pure"], out["numpy"])


def test_coalitions_with_more_than_128_voters_equal_numpy(monkeypatch):
    # numpy splits sums of more than 128 terms in halves: the kernel must split them the same way
    rng = np.random.default_rng(1)
    for Nv in (129, 200, 300):
        V = _wide(rng, (1, Nv, 5))
        w = rng.uniform(0, 5, (1, Nv))
        out = {}
        for path in ("numpy", "compiled"):
            _use(monkeypatch, path)
            out[path] = core.coalitions(V, w, "Prop")
        _equal(out["compiled"], out["numpy"])


@pytest.mark.parametrize("rule", RULES)
def test_coalitions_of_many_options_and_voters_equal_numpy(monkeypatch, rule):
    # from 32 options on the options are summed side by side, and each running sum takes up to four of a
    # block's voters in one pass (blocks of 8 to 128 voters, halves above): every block length and remainder
    rng = np.random.default_rng(3)
    for Nv in list(range(1, 70, 3)) + [127, 128, 129, 160, 249, 300, 321]:
        M = 33 + Nv % 7
        V = _wide(rng, (2, Nv, M), -9 if rule in ("Binary", "PropBin") else -3, 1)
        w = rng.uniform(0, 5, (2, Nv)) * (rng.random((2, Nv)) < 0.9)
        opt = rng.random((2, M)) < 0.8 if Nv % 2 else None
        # a third of the time only the pairs of a few elections (sparse, or one of every option)
        among = None
        if Nv % 3 == 1:
            among = rng.random((2, 4, M)) < (0.15 if Nv % 2 else 1.0)
            among &= True if opt is None else opt[:, None, :]
        out = {}
        for path in ("numpy", "compiled"):
            _use(monkeypatch, path)
            out[path] = core.coalitions(V, w, rule, opt=opt, among=among)
        _equal(out["compiled"], out["numpy"])


@pytest.mark.parametrize("model", ["Conditional", "MarkovIncentive", "MarkovUniform"])
@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_elections_read_only_the_pairs_among_their_options(monkeypatch, model, path):
    # the resolution computes the coalitions of the pairs of each actor's own election only (among=Q):
    # every PCE over those elections gives the numbers it gives from the coalitions of every pair
    _use(monkeypatch, path)
    rng = np.random.default_rng(7)
    for M, nq, Nv in ((6, 5, 9), (40, 39, 40), (70, 69, 150)):
        for rule in ("Prop", "Binary", "ASymProsp"):
            V = _wide(rng, (2, Nv, M), -4, 1)
            w = rng.uniform(0, 5, (2, Nv))
            Q = np.zeros((2, nq, M), dtype=bool)
            Q[:, :, 0] = True  # the status quo, then an actor's own bargain and a few that target it
            Q[:, np.arange(nq), 1 + np.arange(nq)] = rng.random((2, nq)) < 0.9
            Q[:, :, 1:] |= rng.random((2, nq, M - 1)) < 2.0 / M
            Q[:, -1, :] = rng.random((2, M)) < 0.5  # one large election
            opt = Q.any(1)
            for vpm in ("Linear", "Binary"):
                C_all = core.coalitions(V, w, rule, opt=opt)
                C_few = core.coalitions(V, w, rule, opt=opt, among=Q)
                pair = np.einsum("bqa,bqc->bac", Q.astype(float), Q.astype(float)) > 0
                _equal(C_few[pair], C_all[pair])
                _equal(core.pce(C_few, core.victory(C_few, vpm), Q, model),
                       core.pce(C_all, core.victory(C_all, vpm), Q, model))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rule=st.sampled_from(RULES), Bc=st.integers(1, 3), n=st.integers(2, 11),
       pmodel=st.sampled_from([None, "Linear", "Square", "Octic", "Binary"]))
def test_challenges_equal_numpy(monkeypatch, seed, rule, Bc, n, pmodel):
    rng = np.random.default_rng(seed)
    dist = rng.uniform(0, 1.2, (Bc, n, n))
    dist[:, np.arange(n), np.arange(n)] = 0.0
    Rhat = rng.uniform(-1, 1, (Bc, n, n))
    sigma = rng.uniform(0.1, 1, (Bc, n))
    w = rng.uniform(0, 50, (Bc, n)) * sigma
    act = rng.random((Bc, n)) < 0.85
    out = {}
    for path in PATHS:
        _use(monkeypatch, path)
        out[path] = core.challenges(dist, Rhat, w, sigma, act, rule, "SemiCommit", pmodel)
    for a, b, c in zip(out["numpy"], out["compiled"], out["pure"]):
        _equal(b, a)
        _equal(c, a)


def test_challenges_with_tied_targets_equal_numpy(monkeypatch):
    # actors 1 and 2 are copies of each other (same distances, weights and risk): their gains tie exactly,
    # and every path must pick the lower one
    rng = np.random.default_rng(5)
    Bc, n = 3, 9
    dist = rng.uniform(0, 1, (Bc, n, n))
    for a in (dist, dist.transpose(0, 2, 1)):
        a[:, 2] = a[:, 1]
    dist[:, np.arange(n), np.arange(n)] = 0.0
    R = rng.uniform(-1, 1, (Bc, n))
    R[:, 2] = R[:, 1]
    Rhat = core.estimate_risk(R, "OneThird")
    sigma = rng.uniform(0.1, 1, (Bc, n))
    sigma[:, 2] = sigma[:, 1]
    w = rng.uniform(0, 50, (Bc, n)) * sigma
    w[:, 2] = w[:, 1]
    act = np.ones((Bc, n), dtype=bool)
    out = {}
    for path in PATHS:
        _use(monkeypatch, path)
        out[path] = core.challenges(dist, Rhat, w, sigma, act, "Prop", "SemiCommit", None)
    assert (out["numpy"][0] == 1).any() and not (out["numpy"][0] == 2).any()  # the tie is there, and resolved
    for a, b, c in zip(out["numpy"], out["compiled"], out["pure"]):
        _equal(b, a)
        _equal(c, a)


def _challenge_problem(rng: np.random.Generator, Bc: int, n: int, copies: int, huge: bool):
    """Challenge inputs as a turn makes them, with exact ties (actors copied), inactive actors, total saliences of
    exactly 0 and 1, and (``huge``) weights so large that the search may not bound some targets."""
    dist = rng.uniform(0, 1, (Bc, n, n)) * rng.uniform(0.2, 1.2)
    for _ in range(copies):  # actor b becomes a copy of actor a: its gains tie with a's exactly
        a, b = rng.choice(n, 2, replace=False)
        dist[:, b] = dist[:, a]
        dist[:, :, b] = dist[:, :, a]
    dist[:, np.arange(n), np.arange(n)] = 0.0
    R = rng.uniform(-1, 1, (Bc, n))
    sigma = rng.uniform(0, 1, (Bc, n))
    sigma[:, rng.random(n) < 0.05] = 0.0
    sigma[:, rng.random(n) < 0.05] = 1.0
    cap = rng.uniform(1, 100, (Bc, n)) * (1e14 if huge else 1.0)
    act = rng.random((Bc, n)) < 0.9
    Rhat = core.estimate_risk(R, rng.choice(["None", "OneThird", "Full"]))
    return dist, Rhat, cap * sigma, sigma, act


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 2), n=st.integers(33, 140), copies=st.integers(0, 6),
       huge=st.booleans())
def test_the_pruned_challenge_search_equals_the_full_one(monkeypatch, seed, Bc, n, copies, huge):
    # the default rule's compiled search counts the third parties only of the targets that can be the best or
    # tie with it (blocks of 32 places, so n > 32 has several): the same targets, probabilities and gains as
    # the compiled search over every target and as numpy, ties (copied actors) included
    dist, Rhat, w, sigma, act = _challenge_problem(np.random.default_rng(seed), Bc, n, copies, huge)
    _use(monkeypatch, "compiled")
    monkeypatch.setattr(core, "PRUNE_TARGETS", True)  # (the monkeypatch is shared by hypothesis's examples)
    counted = np.full((Bc, n), -1, dtype=np.int64)
    pruned = core.challenges(dist, Rhat, w, sigma, act, "Prop", "SemiCommit", None, counted=counted)
    assert (counted >= 0).all()
    monkeypatch.setattr(core, "PRUNE_TARGETS", False)
    full = core.challenges(dist, Rhat, w, sigma, act, "Prop", "SemiCommit", None)
    _use(monkeypatch, "numpy")
    ref = core.challenges(dist, Rhat, w, sigma, act, "Prop", "SemiCommit", None)
    for a, b, c in zip(ref, full, pruned):
        _equal(b, a)
        _equal(c, a)


def test_the_pruned_challenge_search_skips_most_targets_of_a_large_turn(monkeypatch):
    # the first turn of a 160-actor problem on one issue (like KTAB's a160): each initiator counts the third
    # parties of under half of the targets, and chooses as the full search does
    inputs = _inputs(np.random.default_rng(11), 1, 160, 1)
    seen = []
    real = core.challenges

    def record(*args, **kw):
        seen.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(core, "challenges", record)
    smp.run(inputs, smp.Params(rounds=1))
    monkeypatch.undo()
    _use(monkeypatch, "compiled")
    counted = np.zeros((1, 160), dtype=np.int64)
    pruned = core.challenges(*seen[0], counted=counted)
    monkeypatch.setattr(core, "PRUNE_TARGETS", False)
    full = core.challenges(*seen[0])
    for a, b in zip(full, pruned):
        _equal(b, a)
    active = seen[0][4][0]
    assert counted[0, active].mean() < 0.5 * 160, counted[0, active].mean()


_COMBOS = [
    {},
    {"preset": "consistent"},
    {"voting_rule": "PropCbc", "pce_model": "MarkovIncentive", "big_r_adjust": "Full"},
    {"voting_rule": "Binary", "victory_prob_model": "Binary", "pce_model": "MarkovUniform"},
    {"voting_rule": "ASymProsp", "victory_prob_model": "Square", "inter_vec_brgn": "S2PMax"},
    {"voting_rule": "Cubic", "third_party_commit": "NoCommit"},
    {"voting_rule": "PropBin", "state_transitions": "Stochastic"},
]


def _inputs(rng: np.random.Generator, B: int, n: int, D: int) -> Inputs:
    pos = rng.uniform(0, 100, (B, n, D))
    sal = rng.uniform(0.05, 1, (B, n, D))
    sal = sal / sal.sum(-1, keepdims=True) * rng.uniform(0.3, 0.9, (B, n, 1))
    cap = rng.uniform(1, 100, (B, n))
    act = rng.random((B, n)) < 0.9
    act[:, 0] = True
    return Inputs.build(pos, sal, cap, active=act, low=[0] * D, high=[100] * D,
                        seed=rng.integers(0, 2**63, B, dtype=np.uint64))


def _assert_same_run(a, b) -> None:
    _equal(a.position, b.position)
    _equal(a.forecast, b.forecast)
    _equal(a.rounds, b.rounds)
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        _equal(a.extras[key], b.extras[key])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 4), n=st.integers(2, 12), D=st.integers(1, 3),
       combo=st.sampled_from(range(len(_COMBOS))))
def test_smp_runs_equal_numpy_bit_for_bit(monkeypatch, seed, B, n, D, combo):
    inputs = _inputs(np.random.default_rng(seed), B, n, D)
    params = smp.Params(rounds=8, **_COMBOS[combo])
    _use(monkeypatch, "numpy")
    ref = smp.run(inputs, params)
    _use(monkeypatch, "compiled")
    _assert_same_run(smp.run(inputs, params), ref)


def test_a_large_smp_run_equals_numpy_bit_for_bit(monkeypatch):
    # 150 actors: more than 128 voters per sum, and rows shared out to threads with the default thresholds
    inputs = _inputs(np.random.default_rng(2), 1, 150, 2)
    params = smp.Params(rounds=2)
    _use(monkeypatch, "numpy")
    ref = smp.run(inputs, params)
    monkeypatch.undo()
    assert core._kernel(150**3) is _smp_kernel  # the default dispatch picks the kernels at this size
    _assert_same_run(smp.run(inputs, params), ref)


@pytest.mark.parametrize("during", [True, False])
def test_a_large_run_is_the_same_on_one_thread_and_with_its_report_beside(monkeypatch, during):
    # from BESIDE_MIN_ACTORS actors a single draw's report runs beside the turn (two kernel threads): in the
    # turn's thread while the other starts on the challenges (REPORT_DURING_CHALLENGES), or in a thread of its
    # own; one thread runs them one after the other: the same numbers, and the same as numpy's
    monkeypatch.setattr(smp, "REPORT_DURING_CHALLENGES", during)
    inputs = _inputs(np.random.default_rng(5), 1, smp.BESIDE_MIN_ACTORS + 6, 2)
    params = smp.Params(rounds=3)
    monkeypatch.setenv(_jit.THREADS_ENV, "1")
    one = smp.run(inputs, params)
    monkeypatch.setenv(_jit.THREADS_ENV, "2")
    beside = smp.run(inputs, params)
    _assert_same_run(beside, one)
    _use(monkeypatch, "numpy")
    _assert_same_run(smp.run(inputs, params), one)


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_the_resolutions_values_equal_numpy(monkeypatch, path):
    # (S - ut[i, j] - ut[i, tj[j]] + U_i(bI_j) + U_i(bR_j)) / N and S / N, distances past 1 and no salience included
    rng = np.random.default_rng(6)
    for Bc, n, D in ((1, 1, 1), (2, 7, 3), (1, 40, 2)):
        ideal, bI, bR = (rng.uniform(-0.5, 1.5, (Bc, n, D)) for _ in range(3))
        sal = rng.uniform(0, 1, (Bc, n, D)) * (rng.random((Bc, n, D)) < 0.8)
        sal[:, 0] = 0.0
        R, S = rng.uniform(-1, 1, (Bc, n)), _wide(rng, (Bc, n))
        ut = _wide(rng, (Bc, n, n))
        tj = rng.integers(0, n, (Bc, n))
        N = rng.integers(1, n + 1, Bc).astype(float)
        _use(monkeypatch, "numpy")
        want = core.resolution_values(ideal, sal, bI, bR, R, ut, S, tj, N)
        _use(monkeypatch, path)
        _equal(core.resolution_values(ideal, sal, bI, bR, R, ut, S, tj, N), want)


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_the_bargains_equal_numpy(monkeypatch, path):
    # every bargaining rule, rounded or not, initiators without a target (their own position and actor 0's),
    # win probabilities of 0, 1/2 and 1, saliences of 0, positions spread over many magnitudes
    rng = np.random.default_rng(8)
    for Bc, n, D in ((1, 1, 1), (2, 7, 3), (1, 40, 2)):
        x = rng.uniform(0, 1, (Bc, n, D)) * 10.0 ** rng.uniform(-6, 0, (Bc, n, D))
        s = rng.uniform(0, 1, (Bc, n, D)) * (rng.random((Bc, n, D)) < 0.8)
        target = rng.integers(-1, n, (Bc, n))
        prob = rng.choice([0.0, 0.5, 1.0, 0.3, 0.99], (Bc, n)) * (rng.random((Bc, n)) < 0.5) + \
            rng.uniform(0, 1, (Bc, n)) * (rng.random((Bc, n)) >= 0.5)
        for kind in _smp_kernel.BARGAINS:
            for rnd in (False, True):
                _use(monkeypatch, "numpy")
                want = core.bargains(x, s, target, prob, kind, rnd)
                _use(monkeypatch, path)
                got = core.bargains(x, s, target, prob, kind, rnd)
                _equal(got[0], want[0])
                _equal(got[1], want[1])


def test_coalitions_of_rows_with_most_of_their_pairs_wanted_equal_numpy(monkeypatch):
    # a row whose wanted options after it are at least 1 / DENSE of them sums them all in place and keeps the
    # wanted ones; fewer are gathered; all of them straight: every kind in one call, many voters
    rng = np.random.default_rng(7)
    for Nv, M in ((40, 60), (161, 90)):
        V = _wide(rng, (1, Nv, M))
        w = rng.uniform(0, 5, (1, Nv)) * (rng.random((1, Nv)) < 0.9)
        among = np.zeros((1, 6, M), dtype=bool)
        among[0, 0] = rng.random(M) < 0.9  # dense
        among[0, 1] = rng.random(M) < 0.3  # around 1 / DENSE
        among[0, 2:] = rng.random((4, M)) < 0.05  # sparse
        out = {}
        for path in ("numpy", "compiled"):
            _use(monkeypatch, path)
            out[path] = core.coalitions(V, w, "Prop", opt=among.any(1), among=among)
        _equal(out["compiled"], out["numpy"])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 3), M=st.integers(32, 90), Nv=st.sampled_from([3, 9, 40, 129, 160]),
       big=st.integers(0, 3), hub_min=st.sampled_from([2, 3, 10**9]))
def test_coalitions_election_by_election_equal_the_rows_and_numpy(monkeypatch, seed, Bc, M, Nv, big, hub_min):
    # the resolution's elections (ELECTION_PAIRS, the default rule): the status quo in every election (a hub), each
    # actor's own bargain, the bargains that target it (a few large elections), actors that challenge each other
    # (a pair in two elections), options in no election: the same C as the rows (coalition_rows) and numpy
    rng = np.random.default_rng(seed)
    nq = M - 1
    V = _wide(rng, (Bc, Nv, M), -4, 1)
    V[:, :, 5] = V[:, :, 4]  # two options alike: sums of zeros
    w = rng.uniform(0, 5, (Bc, Nv)) * (rng.random((Bc, Nv)) < 0.9)
    target = rng.integers(0, nq, (Bc, nq))
    heavy = rng.integers(0, nq, (Bc, max(big, 1)))
    pick = rng.random((Bc, nq)) < (0.5 if big else 0.0)
    target = np.where(pick, np.take_along_axis(heavy, rng.integers(0, heavy.shape[1], (Bc, nq)), 1), target)
    target[:, 1] = 2  # 1 and 2 challenge each other
    target[:, 2] = 1
    has = rng.random((Bc, nq)) < 0.9
    k = np.arange(nq)
    Q = np.zeros((Bc, nq, M), dtype=bool)
    Q[:, :, 0] = True
    Q[:, :, 1:] = has[:, None, :] & ((k[:, None] == k[None, :])[None] | (target[:, None, :] == k[None, :, None]))
    opt = Q.any(1)
    monkeypatch.setattr(_smp_kernel, "HUB_ELECTIONS", hub_min)
    pure = _jit.pure_module("detente.models._smp_kernel")
    monkeypatch.setattr(pure, "HUB_ELECTIONS", hub_min)
    out = {}
    for path, pairs in (("numpy", False), ("compiled", False), ("compiled", True), ("pure", True)):
        monkeypatch.setattr(core, "ELECTION_PAIRS", pairs)
        _use(monkeypatch, path)
        out[path, pairs] = core.coalitions(V, w, "Prop", opt=opt, among=Q)
    for key in (("compiled", False), ("compiled", True), ("pure", True)):
        _equal(out[key], out["numpy", False])
    # every task of the plan, and only the pairs wanted: a hub row or an election's member rows
    hub, start, members, tasks = _smp_kernel.election_plan(Q, np.ones(M, dtype=np.bool_), hub_min)
    assert (hub == ((Q.sum(1) >= hub_min) if hub_min <= nq else False)).all()
    sizes = np.diff(start).reshape(Bc, nq)
    assert len(tasks) == hub.sum() + np.maximum(sizes - 1, 0).sum()


def test_election_plan_leaves_elections_of_options_outside_the_rows_to_the_rows():
    Q = np.zeros((1, 4, 40), dtype=bool)
    Q[0, :, :3] = True
    rows = np.ones(40, dtype=np.bool_)
    assert len(_smp_kernel.election_plan(Q, rows, 3)[3]) == 3  # hubs 0, 1, 2: three rows, no election rows
    rows[1] = False
    assert len(_smp_kernel.election_plan(Q, rows, 3)[3]) == 0  # the caller then sums the rows (coalition_rows)


def test_warmup_compiles_the_kernels():
    assert smp.warmup() is True
    assert _smp_kernel.coalition_rows.signatures and _smp_kernel.third_party_rows.signatures
    assert _smp_kernel.election_plan.signatures and _smp_kernel.election_pair_rows.signatures
    assert _smp_kernel.challenge_rows.signatures and _smp_kernel.challenge_rows_pruned.signatures
    from detente.models import _smp_pce

    assert _smp_pce.logit_rows.signatures and _smp_kernel.near_rows.signatures
    assert _smp_kernel.resolution_values_rows.signatures and _smp_kernel.bargain_rows.signatures


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 4), n=st.integers(1, 12), rng=st.sampled_from(["Mid", "Min", "Max"]))
def test_risk_attitudes_equal_numpy(monkeypatch, seed, Bc, n, rng):
    """R from the PCE probabilities: compiled and plain Python are numpy's, bit for bit, with inactive actors, draws
    whose active actors tie (R = 0), no active actor, and a NaN (every R of its draw 0, as numpy's max gives)."""
    g = np.random.default_rng(seed)
    p = g.uniform(0, 1, (Bc, n)) * 10.0 ** g.uniform(-3, 0, (Bc, n))
    act = g.random((Bc, n)) < 0.8
    p[0, :] = p[0, 0]  # a draw of ties
    if Bc > 1:
        act[1] = False  # a draw with no active actor
    if Bc > 2:
        p[2, g.integers(0, n)] = np.nan
    out = _every_path(monkeypatch, lambda: core.risk_from_p(p, act, rng))
    assert (out["numpy"][0] == 0).all() and (out["numpy"][~act] == 0).all()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 3), n=st.integers(1, 12), m=st.integers(1, 13),
       D=st.integers(1, 4))
def test_distances_equal_numpy(monkeypatch, seed, Bc, n, m, D):
    rng = np.random.default_rng(seed)
    ideal, pts = rng.uniform(0, 1, (Bc, n, D)), rng.uniform(0, 1, (Bc, m, D))
    sal = rng.uniform(0, 1, (Bc, n, D)) * (rng.random((Bc, n, D)) < 0.8)
    sal[:, 0] = 0.0  # an actor that cares about nothing is at distance 0 from everything
    out = _every_path(monkeypatch, lambda: core.distances(ideal, sal, pts))
    assert (out["numpy"][:, 0] == 0).all()
    R = rng.uniform(-1, 1, (Bc, n))  # the utilities of those distances in one pass
    want = core.utility(out["numpy"], R[:, :, None])
    for path in PATHS:
        _use(monkeypatch, path)
        _equal(core.utilities(ideal, sal, pts, R), want)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 3), M=st.integers(1, 40))
def test_linear_victory_equals_numpy(monkeypatch, seed, Bc, M):
    C = 1e-8 + _wide(np.random.default_rng(seed), (Bc, M, M), -8, 3) ** 2
    want = C / (C + C.swapaxes(-1, -2))
    for path in PATHS:
        _use(monkeypatch, path)
        _equal(core.victory(C, "Linear"), want)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 3), nq=st.integers(1, 40), M=st.integers(1, 70),
       density=st.sampled_from([0.05, 0.3, 1.0]))
def test_conditional_pce_over_each_elections_options_equals_the_whole_product(monkeypatch, seed, Bc, nq, M, density):
    # from GATHER_MIN_OPTIONS options on, the PCE sums only the rows of each election's own options
    rng = np.random.default_rng(seed)
    Q = rng.random((Bc, nq, M)) < density
    C = rng.uniform(1e-8, 10, (Bc, M, M))
    P = core.victory(C, "Linear")
    out = {}
    for gather in (False, True, "compiled"):
        monkeypatch.setattr(core, "GATHER_MIN_OPTIONS", 1 if gather else 1 << 30)
        monkeypatch.setattr(core, "BLOCK", 97)  # several blocks of rows
        _use(monkeypatch, "compiled" if gather == "compiled" else "numpy")  # compiled: _smp_pce's sums
        out[gather] = core.pce(C, P, Q, "Conditional")
    _equal(out[True], out[False])
    _equal(out["compiled"], out[False])
    # the whole product with every step out of place, as the PCE was first written (its logs and exps now
    # run in place: the same numbers)
    logP = np.log(np.maximum(P, 1e-300))
    L = np.where(Q, np.einsum("...ij,...jk->...ik", Q.astype(float), logP.swapaxes(-1, -2)), -np.inf)
    mx = np.max(L, axis=-1, keepdims=True)
    p = np.where(Q, np.exp(L - np.where(np.isfinite(mx), mx, 0.0)), 0.0)
    s = p.sum(-1, keepdims=True)
    _equal(out[False], np.divide(p, s, out=np.zeros_like(p), where=s > 0))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), Bc=st.integers(1, 3), n=st.integers(1, 14), D=st.integers(1, 3))
def test_clusters_equal_numpy(monkeypatch, seed, Bc, n, D):
    # positions on a coarse grid with steps under the 1e-3 tolerance: chains of near actors, so that
    # labels travel several steps before they settle
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (Bc, n, D)) * 0.0006
    act = rng.random((Bc, n)) < 0.85
    out = {}
    for path in PATHS:
        _use(monkeypatch, path)
        out[path] = core.clusters(x, act)
    _equal(out["compiled"], out["numpy"])
    _equal(out["pure"], out["numpy"])


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_near_pairs_at_the_tolerance_are_numpys(monkeypatch, path):
    # pairs at distances around 1e-3, down to the last bits: the kernel decides the clear ones itself and
    # leaves any pair within a millionth of the threshold to numpy's own sum (unsure); the near matrix and the
    # clusters are numpy's either way
    _use(monkeypatch, path)
    kern = _smp_kernel if path == "compiled" else _jit.pure_module("detente.models._smp_kernel")
    rng = np.random.default_rng(11)
    for D in (1, 2, 3, 5):
        for scale in (1e-3 * (1 + 1e-12), 1e-3 * (1 + 1e-5), 1e-3 * (1 - 1e-5), 2e-3):
            Bc, n = 2, 9
            u = rng.normal(size=(Bc, n, D))
            u /= np.linalg.norm(u, axis=-1, keepdims=True)
            x = 0.5 + np.cumsum(u * scale * rng.choice([1.0, 1.0 - 1e-15, 1.0 + 1e-15], (Bc, n, 1)), axis=1)
            act = rng.random((Bc, n)) < 0.9
            near, unsure = np.empty((Bc, n, n), dtype=bool), np.zeros(Bc * n, dtype=bool)
            kern.near_rows(0, Bc * n, x, np.ascontiguousarray(x.transpose(0, 2, 1)), act, core.EQ_TOL, near, unsure)
            ref = core._near(x, act)
            sure = ~unsure.reshape(Bc, n)
            _equal(near[sure], ref[sure])  # every row it is sure of is numpy's
            # steps of 1e-3 (1 + 1e-12) are unsure on several issues; on one, the kernel decides them as numpy does
            assert unsure.any() == (D > 1 and abs(scale / 1e-3 - 1) < 1e-6)
            got = core.clusters(x, act)
            _use(monkeypatch, "numpy")
            _equal(got, core.clusters(x, act))
            _use(monkeypatch, path)


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_near_pairs_on_one_issue_are_decided_as_numpy_does(path):
    # positions of one decimal on a 0-100 scale (KTAB's examples): many pairs exactly the tolerance apart, up to
    # the rounding of x / 100; on one issue the kernel is sure of every pair, and its near matrix is numpy's
    kern = _smp_kernel if path == "compiled" else _jit.pure_module("detente.models._smp_kernel")
    rng = np.random.default_rng(12)
    Bc, n = 2, 60
    x = rng.integers(490, 510, (Bc, n, 1)) / 10.0 / 100.0
    x[:, 1::7] += 1e-3 * (1 - 1e-13)  # and pairs a last bit or so inside and outside it
    x[:, 2::7] -= 1e-3 * (1 + 1e-13)
    x[:, 3], x[:, 4] = 0.0, 1e-3  # exactly the tolerance apart: not near (sqrt(1e-3 ** 2) == 1e-3)
    act = rng.random((Bc, n)) < 0.95
    act[:, 3:5] = True
    near, unsure = np.empty((Bc, n, n), dtype=bool), np.zeros(Bc * n, dtype=bool)
    kern.near_rows(0, Bc * n, x, np.ascontiguousarray(x.transpose(0, 2, 1)), act, core.EQ_TOL, near, unsure)
    d = np.abs(x[:, :, None, 0] - x[:, None, :, 0])
    assert (np.abs(d - 1e-3) < 1e-9).sum() > 100  # the case: many pairs at the tolerance
    assert not unsure.any()
    _equal(near, core._near(x, act))


def test_the_compiled_pce_sums_in_numpys_order_or_steps_aside(monkeypatch):
    # the check that lets the large-n PCE use the compiled dot products holds on this machine (as the
    # few-actor passes' does), and a numpy that summed otherwise would get numpy's path back
    from detente.models import _smp_pce

    assert core._pce_dots_ok(_smp_pce)
    monkeypatch.setattr(core, "_kernel", lambda work: _smp_kernel)
    assert core._pce_kernel(1) is _smp_pce
    monkeypatch.setattr(core, "_PCE_DOTS_OK", False)
    assert core._pce_kernel(1) is None


@pytest.mark.parametrize("path", ["compiled", "pure"])
def test_utilities_at_a_turn_equal_numpy(monkeypatch, path):
    # U(d, R) = (1 - d)(1 + min(d, 1) R) of each actor's row, distances past 1 included
    rng = np.random.default_rng(4)
    for Bc, n, m in ((1, 1, 1), (2, 7, 9), (1, 40, 41)):
        d = rng.uniform(0, 1.3, (Bc, n, m))
        R = rng.uniform(-1, 1, (Bc, n, 1))
        _use(monkeypatch, "numpy")
        want = core.utility(d, R)
        _use(monkeypatch, path)
        _equal(core.utility(d, R), want)


@pytest.mark.parametrize("M", [40, 161])
def test_the_pce_of_many_small_elections_takes_the_exponentials_it_needs_only(monkeypatch, M):
    # the resolution's elections (a status quo and a few bargains each, and one large one): the exponentials and
    # divisions of their own entries only give the numbers of the whole arrays, and numpy's path's
    assert core._exp_packs_ok()
    rng = np.random.default_rng(M)
    for Bc in (1, 2):
        nq = M - 1
        Q = np.zeros((Bc, nq, M), dtype=bool)
        Q[:, :, 0] = True
        Q[:, np.arange(nq), 1 + np.arange(nq)] = True
        Q[:, :, 1:] |= rng.random((Bc, nq, M - 1)) < 1.0 / M
        Q[:, 3, :] = rng.random((Bc, M)) < 0.5
        Q[:, 5, :] = False  # an election with no option
        C = rng.uniform(0, 1, (Bc, M, M)) * 10.0 ** rng.uniform(-6, 2, (Bc, M, M)) + core.FLOOR_PCE
        P = core.victory(C, "Linear")
        P[:, 0, 1] = 0.0  # a log of the floor
        out = {}
        for path, pack in (("numpy", False), ("compiled", False), ("compiled", True)):
            _use(monkeypatch, path)
            monkeypatch.setattr(core, "PACK_EXP", pack)
            out[path, pack] = core.pce(C, P, Q, "Conditional")
        assert 4 * Q.sum() < Q.size  # the packed case
        _equal(out["compiled", True], out["compiled", False])
        _equal(out["compiled", True], out["numpy", False])
        assert (out["compiled", True][:, 5] == 0).all()


@pytest.mark.parametrize("path", ["compiled", "pure"])
@pytest.mark.parametrize("adj", list(_smp_kernel.ADJUSTS))
def test_the_challenges_inputs_equal_numpy(monkeypatch, path, adj):
    # 1 - d, (1 - d) min(d, 1) and every risk estimate in one compiled pass: numpy's numbers (distances past 1 too)
    rng = np.random.default_rng(3)
    dist = rng.uniform(0, 1.3, (2, 37, 37)) * 10.0 ** rng.uniform(-6, 0, (2, 37, 37))
    R = rng.uniform(-1, 1, (2, 37))
    _use(monkeypatch, path)
    got = core.challenge_inputs(dist, R, adj)
    assert got is not None
    _equal(got[0], 1.0 - dist)
    _equal(got[1], (1.0 - dist) * np.minimum(dist, 1.0))
    _equal(got[2], core.estimate_risk(R, adj))
    _use(monkeypatch, "numpy")
    assert core.challenge_inputs(dist, R, adj) is None


def test_the_compiled_pce_is_found_however_the_kernel_module_was_reached(monkeypatch):
    # _pce_kernel takes its module from where _kernel keeps them: a _kernel replaced (as the tests' paths do) before
    # any real lookup in the process had left that list empty (an IndexError)
    monkeypatch.setattr(core, "_LOADED", [])
    _use(monkeypatch, "compiled")
    rng = np.random.default_rng(3)
    M = core.GATHER_MIN_OPTIONS + 8
    C = rng.uniform(0.1, 1, (1, M, M))
    P = C / (C + C.transpose(0, 2, 1))
    Q = np.ones((1, 1, M), dtype=bool)
    got = core.pce(C, P, Q, "Conditional")
    _use(monkeypatch, "numpy")
    _equal(got, core.pce(C, P, Q, "Conditional"))
