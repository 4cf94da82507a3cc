"""The baseline models: known values, an independent optimum for nash, and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import detente
from conftest import emission_weighted_mean
from detente.models import Inputs, get

BASELINES = ["compromise", "median", "mean", "nash"]


def run(name, inputs, **params):
    m = get(name)
    return m.run(inputs, m.Params(**params)).final


# --------------------------------------------------------------------------- known values

def test_emission_known_values(emission_csv):
    s = detente.load(emission_csv)
    inp = s.to_inputs()
    # the compromise point of Bueno de Mesquita's table, computed exactly (7.38995...)
    assert run("compromise", inp)[0, 0] == pytest.approx(emission_weighted_mean(), rel=1e-14, abs=0)
    assert run("median", inp)[0, 0] == 7.0
    # the plain mean of the ten positions, by hand: (4+7+4+4+10+10+10+7+4+7)/10
    assert run("mean", inp)[0, 0] == pytest.approx(6.7)


def test_median_conventions_on_an_exact_tie():
    # two equal weights: condorcet takes the lower position, midpoint splits
    inp = Inputs.build([2.0, 6.0], [1.0, 1.0], [1.0, 1.0])
    assert run("median", inp)[0, 0] == 2.0
    assert run("median", inp, convention="midpoint")[0, 0] == 4.0
    # the classical unweighted median of 1, 3, 8, 9 is 5.5
    inp = Inputs.build([9.0, 1.0, 8.0, 3.0], [0.2, 0.9, 0.5, 0.3], [1, 2, 3, 4])
    assert run("median", inp, weights="equal", convention="midpoint")[0, 0] == 5.5


def test_median_is_the_l1_minimiser_among_positions():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = rng.integers(2, 9)
        x, s, c = rng.uniform(0, 100, n).round(0), rng.uniform(0, 1, n), rng.uniform(0.1, 5, n)
        w = s * c
        cost = [np.sum(w * np.abs(x - p)) for p in x]
        best = min(x[np.isclose(cost, min(cost), rtol=1e-12, atol=0)])
        assert run("median", Inputs.build(x, s, c))[0, 0] == best


def _nash_reference(x, c, s, d):
    """Maximise sum c_i log(u_i(p) - u_i(d)) with u_i(p) = -s_i (p - x_i)^2 numerically (scipy)."""
    x, c, s = map(np.asarray, (x, c, s))
    def neg(p):
        gain = s * ((d - x) ** 2 - (p - x) ** 2)
        if np.any(gain <= 0):
            return np.inf
        return -np.sum(c * np.log(gain))
    lo, hi = np.max(x - np.abs(d - x)), np.min(x + np.abs(d - x))
    if not lo < hi:
        return d
    res = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return res.x


@pytest.mark.parametrize(
    "x,c,s,d",
    [
        ([1.0, 3.0, 4.0], [1.0, 2.0, 1.0], [0.5, 0.8, 1.0], 10.0),
        ([20.0, 30.0, 55.0, 60.0], [3.0, 1.0, 2.0, 0.5], [1.0, 1.0, 0.3, 0.9], 0.0),
        ([70.0, 80.0], [1.0, 1.0], [1.0, 1.0], 100.0),
    ],
)
def test_nash_matches_an_independent_numerical_optimum(x, c, s, d):
    got = run("nash", Inputs.build(x, s, c, status_quo=[d]))[0, 0]
    assert got == pytest.approx(_nash_reference(x, c, s, d), abs=1e-6)


def test_nash_symmetric_two_actors_split_the_difference():
    # Independent derivation: with equal weights and d beyond both, the first-order condition
    # (x1 - p)/(r1^2 - (p - x1)^2) + (x2 - p)/(r2^2 - (p - x2)^2) = 0 for x = 0, 2, d = 10 gives
    # (-p)/(100 - p^2) + (2 - p)/(64 - (p - 2)^2) = 0  ->  p solves p(64-(p-2)^2) = (2-p)(100-p^2)
    inp = Inputs.build([0.0, 2.0], [1, 1], [1, 1], status_quo=[10.0])
    p = run("nash", inp)[0, 0]
    assert p * (64 - (p - 2) ** 2) == pytest.approx((2 - p) * (100 - p**2), abs=1e-8)


def test_nash_returns_status_quo_when_no_deal_beats_it():
    inp = Inputs.build([10.0, 90.0], [1, 1], [1, 1], status_quo=[50.0])
    assert run("nash", inp)[0, 0] == 50.0


def test_nash_without_status_quo_is_a_clear_error(emission_csv):
    with pytest.raises(detente.DetenteError, match="status quo"):
        detente.forecast(emission_csv, model="nash")


# --------------------------------------------------------------------------- properties

@st.composite
def scenarios(draw, min_n=2, max_n=8, D=2):
    n = draw(st.integers(min_n, max_n))
    fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    x = np.array(draw(st.lists(st.lists(fl(0, 100), min_size=D, max_size=D), min_size=n, max_size=n)))
    s = np.array(draw(st.lists(st.lists(fl(0.05, 1), min_size=D, max_size=D), min_size=n, max_size=n)))
    c = np.array(draw(st.lists(fl(0.1, 10), min_size=n, max_size=n)))
    sq = np.array(draw(st.lists(fl(0, 100), min_size=D, max_size=D)))
    return x, s, c, sq


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.sampled_from(BASELINES))
def test_forecast_within_range_of_positions(sc, name):
    x, s, c, sq = sc
    f = run(name, Inputs.build(x, s, c, status_quo=sq))[0]
    lo, hi = x.min(axis=0), x.max(axis=0)
    if name == "nash":  # the disagreement point is a possible outcome too
        lo, hi = np.minimum(lo, sq), np.maximum(hi, sq)
    assert np.all(f >= lo - 1e-9) and np.all(f <= hi + 1e-9)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.sampled_from(BASELINES), st.randoms(use_true_random=False), st.floats(0.01, 1000))
def test_invariant_to_actor_order_and_capability_scale(sc, name, rnd, k):
    x, s, c, sq = sc
    base = run(name, Inputs.build(x, s, c, status_quo=sq))[0]
    perm = list(range(len(c)))
    rnd.shuffle(perm)
    permuted = run(name, Inputs.build(x[perm], s[perm], c[perm], status_quo=sq))[0]
    scaled = run(name, Inputs.build(x, s, c * k, status_quo=sq))[0]
    tol = 1e-6 if name == "nash" else 1e-9
    np.testing.assert_allclose(permuted, base, atol=tol, rtol=1e-9)
    np.testing.assert_allclose(scaled, base, atol=tol, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.sampled_from(BASELINES), st.floats(0.1, 10), st.floats(-500, 500))
def test_equivariant_to_affine_rescaling_of_the_scale(sc, name, a, b):
    x, s, c, sq = sc
    base = run(name, Inputs.build(x, s, c, status_quo=sq, low=[0, 0], high=[100, 100]))[0]
    moved = run(name, Inputs.build(a * x + b, s, c, status_quo=a * sq + b, low=[b, b], high=[100 * a + b] * 2))[0]
    np.testing.assert_allclose((moved - b) / a, base, atol=1e-6, rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.lists(scenarios(min_n=4, max_n=4), min_size=1, max_size=5), st.sampled_from(BASELINES))
def test_batched_equals_one_by_one(batch, name):
    x = np.stack([b[0] for b in batch])
    s = np.stack([b[1] for b in batch])
    c = np.stack([b[2] for b in batch])
    sq = batch[0][3]
    together = run(name, Inputs.build(x, s, c, status_quo=sq, low=[0, 0], high=[100, 100]))
    for j in range(len(batch)):
        alone = run(name, Inputs.build(x[j], s[j], c[j], status_quo=sq, low=[0, 0], high=[100, 100]))[0]
        np.testing.assert_array_equal(together[j], alone)


@settings(max_examples=30, deadline=None)
@given(scenarios(min_n=3), st.sampled_from(BASELINES), st.data())
def test_inactive_actor_equals_removed_actor(sc, name, data):
    x, s, c, sq = sc
    gone = data.draw(st.integers(0, len(c) - 1))
    active = np.ones(len(c), bool)
    active[gone] = False
    keep = active
    masked = run(name, Inputs.build(x, s, c, active=active, status_quo=sq, low=[0, 0], high=[100, 100]))[0]
    removed = run(name, Inputs.build(x[keep], s[keep], c[keep], status_quo=sq, low=[0, 0], high=[100, 100]))[0]
    np.testing.assert_allclose(masked, removed, atol=1e-9)


def test_zero_salience_everywhere_still_forecasts():
    inp = Inputs.build([10.0, 30.0, 90.0], [0.0, 0.0, 0.0], [1.0, 1.0, 2.0], status_quo=[0.0])
    for name in BASELINES:
        f = run(name, inp)
        assert np.isfinite(f).all()
    # falls back to capability weights: (10 + 30 + 2*90) / 4
    assert run("compromise", inp)[0, 0] == pytest.approx(55.0)
