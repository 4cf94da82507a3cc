"""The SMP's fused passes for few actors (detente.models._smp_fused) give the numpy path's numbers, bit for bit.

``smp.run`` runs a chunk of draws of at most ``FUSED_MAX_ACTORS`` actors, with
the settings the fused passes cover, in a handful of compiled passes per turn
(``smp._run_chunk_fused``) instead of ``smp._run_chunk``'s numpy calls. The
numpy path is the reference (``tests/test_smp.py`` checks it against a
loop-by-loop implementation of the spec, ``tests/test_smp_kernel.py`` its
compiled O(n^3) sums); here every output of a run is compared with ``==``
between the two: positions, forecasts, rounds and every extra, on random
scenarios (with inactive actors, draws stopping at different turns, several
chunks), on the flagship over its timeline with its events, and with the rows
shared out to one or two threads.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detente import load
from detente.analysis._draws import monte_carlo_draws
from detente.models import _smp_core as core
from detente.models import _smp_fused, smp
from detente.models.base import Inputs
from detente.simulate import simulate

#: The settings the fused passes cover, beyond KTAB's defaults (each run also mixes in D, n, rounds).
COMBOS = [
    {},
    {"voting_rule": "Binary"},
    {"voting_rule": "PropCbc", "big_r_range": "Min", "big_r_adjust": "Full"},
    {"voting_rule": "ASymProsp", "inter_vec_brgn": "S2PMax", "big_r_range": "Max", "big_r_adjust": "None"},
    {"voting_rule": "Cubic", "inter_vec_brgn": "S1P1", "big_r_adjust": "Half"},
    {"voting_rule": "PropBin", "big_r_adjust": "TwoThirds", "stop_fraction": 0.2},
    {"round_bargains": False},
    {"pce_weights": "capability_salience"},
]


def _inputs(rng: np.random.Generator, B: int, n: int, D: int, clumped: bool = False) -> Inputs:
    pos = rng.uniform(0, 100, (B, n, D))
    if clumped:  # several actors at one position: clusters of more than one actor, ties in the report
        pos = np.round(pos / 25) * 25
    sal = rng.uniform(0.05, 1, (B, n, D))
    sal = sal / sal.sum(-1, keepdims=True) * rng.uniform(0.3, 0.9, (B, n, 1))
    cap = rng.uniform(1, 100, (B, n))
    act = rng.random((B, n)) < 0.85
    act[:, 0] = True
    return Inputs.build(pos, sal, cap, active=act, low=[0] * D, high=[100] * D)


def _runs(monkeypatch: pytest.MonkeyPatch, fn):
    """``fn()`` on the numpy path (the fused passes off), then with the fused passes forced at every size."""
    monkeypatch.setattr(smp, "USE_FUSED", False)
    ref = fn()
    monkeypatch.setattr(smp, "USE_FUSED", True)
    monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)
    return ref, fn()


def _equal(a, b, what: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), what


def _same_run(a, b) -> None:
    _equal(a.position, b.position, "position")
    _equal(a.forecast, b.forecast, "forecast")
    _equal(a.rounds, b.rounds, "rounds")
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        _equal(a.extras[key], b.extras[key], key)
    assert a.info.keys() == b.info.keys()
    for key in a.info:
        _equal(a.info[key], b.info[key], key)


def test_the_fused_passes_are_used_and_their_einsum_orders_hold_here():
    # this machine's numpy sums in the orders the kernels copy: the fused path must be on (not silently off)
    smp._FUSED_OK = None
    assert smp._fused_ok(_smp_fused)
    cfg = smp._Cfg(smp.Params())
    assert smp._fused(1000, 8, cfg, None) is _smp_fused
    assert smp._fused(1000, smp.FUSED_MAX_ACTORS + 1, cfg, None) is None
    assert smp._fused(1000, 8, smp._Cfg(smp.Params(pce_model="MarkovUniform")), None) is None
    assert smp._fused(1000, 8, smp._Cfg(smp.Params(preset="consistent")), None) is None
    assert smp._fused(1, 3, cfg, None) is None  # too little work: numpy, without importing numba


def test_a_different_einsum_order_turns_the_fused_passes_off(monkeypatch):
    # the check compares with numpy's einsum: an einsum that sums in another order (here one term after the
    # other, as numpy would on another build) must be caught
    def sequential(a, b):
        out = np.zeros(a.shape[:-1] + b.shape[-1:])
        for j in range(a.shape[-1]):
            out += a[..., :, j, None] * b[..., j, None, :]
        return out

    monkeypatch.setattr(core, "_mm", sequential)
    monkeypatch.setattr(smp, "_FUSED_OK", None)
    with pytest.warns(RuntimeWarning, match="numpy path"):  # the fallback says why
        assert not smp._fused_ok(_smp_fused)
    assert smp._fused(1000, 8, smp._Cfg(smp.Params()), None) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 6), n=st.integers(2, 12), D=st.integers(1, 4),
       rounds=st.integers(1, 14), combo=st.sampled_from(range(len(COMBOS))), clumped=st.booleans())
def test_fused_runs_equal_numpy_bit_for_bit(monkeypatch, seed, B, n, D, rounds, combo, clumped):
    inputs = _inputs(np.random.default_rng(seed), B, n, D, clumped)
    params = smp.Params(rounds=rounds, **COMBOS[combo])
    ref, got = _runs(monkeypatch, lambda: smp.run(inputs, params))
    assert smp._fused(B, n, smp._Cfg(params), None) is _smp_fused
    _same_run(ref, got)


def test_fused_runs_over_several_chunks_and_threads_equal_numpy(monkeypatch):
    # many draws stopping at different turns, in chunks of 13 draws, rows shared out to two threads
    inputs = _inputs(np.random.default_rng(11), 60, 10, 2)
    params = smp.Params(rounds=40)
    monkeypatch.setattr(smp, "CHUNK", 13 * 100)
    ref, got = _runs(monkeypatch, lambda: smp.run(inputs, params))
    assert len(set(ref.rounds.tolist())) > 3  # the draws do stop at different turns
    _same_run(ref, got)
    monkeypatch.setattr(core, "PARALLEL_MIN_WORK", 0)
    for threads in ("1", "2"):
        monkeypatch.setenv("DETENTE_THREADS", threads)
        _same_run(ref, smp.run(inputs, params))


def test_the_flagship_over_its_timeline_equals_numpy(monkeypatch):
    # korea-2019 (8 actors, 3 issues, two events) with smp over 300 Monte Carlo draws: the runner calls
    # the model once per segment between the events, with the events' changes in between
    scenario = load("korea-2019")
    draws = monte_carlo_draws(scenario, 300, seed=3)
    assert draws.happened.any(axis=0).all() and not draws.happened.all(axis=0).any()
    params = smp.Params()
    ref, got = _runs(monkeypatch, lambda: simulate(scenario, "smp", params, inputs=draws.inputs,
                                                   happened=draws.happened))
    assert ref.position.shape[2] == 8
    _same_run(ref, got)


def test_degenerate_draws_equal_numpy(monkeypatch):
    # a draw with no active actor, actors that care about nothing (zero saliences: distance 0 to all), zero
    # capabilities (the clusters' plain means), shared positions (ties in the report and the challenges)
    rng = np.random.default_rng(3)
    for n, D in ((1, 1), (3, 2), (9, 3), (10, 1)):
        B = 6
        pos = rng.uniform(0, 100, (B, n, D))
        pos[:3] = np.round(pos[:3] / 50) * 50
        sal = rng.uniform(0, 1, (B, n, D)) * (rng.random((B, n, D)) < 0.6)
        cap = rng.uniform(0, 100, (B, n)) * (rng.random((B, n)) < 0.7)
        act = rng.random((B, n)) < 0.7
        act[0] = False
        inputs = Inputs.build(pos, sal, cap, active=act, low=[0] * D, high=[100] * D)
        ref, got = _runs(monkeypatch, lambda: smp.run(inputs, smp.Params(rounds=8)))
        _same_run(ref, got)


def test_warmup_compiles_the_fused_passes_and_the_kernels():
    assert smp.warmup() is True
    assert smp.USE_FUSED  # restored
    for kernel in (_smp_fused.valuation_rows, _smp_fused.report_rows, _smp_fused.record_rows,
                   _smp_fused.turn_rows, _smp_fused.move_rows, _smp_fused.logits_rows, _smp_fused.report_logits_rows,
                   _smp_fused.fill_rows):
        assert len(kernel.signatures) == 1, kernel  # the one signature every run uses
    from detente.models import _smp_kernel

    assert _smp_kernel.coalition_rows.signatures and _smp_kernel.challenge_rows.signatures


@pytest.mark.parametrize("n,D", [(6, 9), (10, 12)])
def test_many_issues_equal_numpy(monkeypatch, n, D):
    # from 8 issues on the clusters' squared distances take numpy einsum's steps of eight
    inputs = _inputs(np.random.default_rng(n + D), 12, n, D)
    ref, got = _runs(monkeypatch, lambda: smp.run(inputs, smp.Params(rounds=10)))
    _same_run(ref, got)


@pytest.mark.parametrize("fused", [False, True])
def test_a_draw_in_a_batch_equals_the_draw_alone_bit_for_bit(monkeypatch, fused):
    # each draw's report elects among its own clusters: padding the election to the batch's most clusters would
    # change numpy's summation lengths (so the last bit of ``pce``, from about 9 actors) with the batch a draw
    # runs in. Clumped positions: the draws' cluster counts differ; on both paths, a draw batched with others,
    # alone, or in chunks of any size has the same numbers (==)
    monkeypatch.setattr(smp, "USE_FUSED", fused)
    if fused:
        monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)
    rng = np.random.default_rng(16)
    for n in (9, 11, 14):
        inputs = _inputs(rng, 10, n, 2, clumped=True)
        params = smp.Params(rounds=6)
        assert smp._fused(1, n, smp._Cfg(params), None) is (_smp_fused if fused else None)
        whole = smp.run(inputs, params)
        nclus = (whole.extras["cluster"] == np.arange(n)).sum(-1)
        assert len(set(nclus[:, 0].tolist())) > 1  # the draws elect among different numbers of clusters
        for b in range(10):
            one = smp.run(inputs.take(slice(b, b + 1)), params)
            t = one.position.shape[1]
            assert one.rounds[0] == whole.rounds[b]
            _equal(whole.position[b, :t], one.position[0], "position")
            _equal(whole.forecast[b, :t], one.forecast[0], "forecast")
            assert whole.extras.keys() == one.extras.keys()
            for key in whole.extras:
                _equal(whole.extras[key][b, :t], one.extras[key][0], key)
        for per_chunk in (1, 3, 4, 7):
            monkeypatch.setattr(smp, "CHUNK", per_chunk * n * n)
            _same_run(whole, smp.run(inputs, params))
        monkeypatch.undo()
        monkeypatch.setattr(smp, "USE_FUSED", fused)
        if fused:
            monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)


def test_np_sum_plan_sums_in_numpys_order():
    # the report's sums of capabilities over any number of actors (numpy's pairwise summation, halves above 128)
    from detente.models import _smp_kernel

    rng = np.random.default_rng(5)
    for n in list(range(1, 300)) + [511, 512, 513, 1000, 4097]:
        a = rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-8, 8, n)
        assert np.float64(_smp_fused.np_sum_plan(a, _smp_kernel.pairwise_plan(n))).tobytes() == a.sum().tobytes(), n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([3, 9, 40, 129, 160]), D=st.integers(1, 3),
       Bc=st.integers(1, 3))
def test_the_compiled_report_equals_numpy(monkeypatch, seed, n, D, Bc):
    # smp._report's clusters, their election and the forecast, its set-up and results compiled (where the turn's
    # kernels run) and in numpy: clusters of several actors, of capability 0, inactive actors, ties
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (Bc, n, D))
    copy = rng.random((Bc, n)) < 0.5
    src = rng.integers(0, n, (Bc, n))
    x = np.where(copy[:, :, None], np.take_along_axis(x, src[:, :, None].repeat(D, 2), 1), x)
    ideal = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    s = rng.uniform(0.05, 1, (Bc, n, D))
    R = rng.uniform(-1, 1, (Bc, n))
    cap = rng.uniform(0, 100, (Bc, n)) * (rng.random((Bc, n)) < 0.7)
    act = rng.random((Bc, n)) < 0.9
    cap = np.where(act, cap, 0.0)
    cfg = smp._Cfg(smp.Params())
    monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)  # the turn's kernels (and so the compiled report) at every size
    assert smp._elect_kernels(Bc, n, D) is _smp_fused
    out = []
    for compiled in (False, True):
        monkeypatch.setattr(smp, "USE_ELECT_KERNELS", compiled)
        out.append(smp._report(x, ideal, s, R, cap * s.sum(-1), cap, act, cfg))
    for a, b in zip(*out):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([3, 9, 40, 129]), D=st.integers(1, 3), B=st.integers(1, 3),
       stochastic=st.booleans(), clumped=st.booleans())
def test_the_compiled_resolution_and_report_equal_numpy(monkeypatch, seed, n, D, B, stochastic, clumped):
    # smp._run_chunk's turn (the numpy path of many actors) with its resolution's set-up and outcome and its
    # report's election compiled, or in numpy: the same runs (stochastic transitions keep numpy's draw)
    rng = np.random.default_rng(seed)
    inp = _inputs(rng, B, n, D, clumped=clumped)
    params = smp.Params(rounds=4, state_transitions="Stochastic" if stochastic else "Deterministic")
    monkeypatch.setattr(smp, "USE_FUSED", False)
    monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)
    assert smp._glue_kernels(B, n, D) is _smp_fused and smp._elect_kernels(B, n, D) is _smp_fused
    out = []
    for compiled in (False, True):
        monkeypatch.setattr(smp, "USE_GLUE_KERNELS", compiled)
        monkeypatch.setattr(smp, "USE_ELECT_KERNELS", compiled)
        out.append(smp.run(inp, params))
    _same_run(*out)


def test_a_different_sum_order_turns_the_compiled_resolution_off(monkeypatch):
    # the check compares with numpy: a compiled sum in another order (here the plan of fewer terms) is caught, and
    # numpy's resolution runs, with a warning
    from detente.models import _smp_kernel

    monkeypatch.setattr(_smp_kernel, "_PLANS", {160: _smp_kernel.pairwise_plan(150)})
    with pytest.warns(RuntimeWarning, match="resolution"):
        assert not smp._glue_ok(_smp_fused, 160, 1)
    monkeypatch.setattr(smp, "_GLUE_OK", {})
    monkeypatch.setattr(core, "KERNEL_MIN_WORK", 0)
    with pytest.warns(RuntimeWarning):
        assert smp._glue_kernels(1, 160, 1) is None
