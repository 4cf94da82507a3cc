"""The second pre-registered attempt to beat the compromise model on DEU: the focal model.

Expected numbers come from hand derivations or from an independent, simple
scalar implementation in this file (bisection on the mixture's CDF), never
from the code's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from detente.backtest import capabilities, load_deu, run_backtest
from detente.models import get, names
from detente.models.base import Inputs
from test_backtest import _random_inputs


@pytest.fixture(scope="module")
def deu():
    return load_deu()


def test_focal_registered_and_protocol():
    assert "focal" in names()
    m = get("focal")
    for attr in ("NAME", "SUMMARY", "CITATION", "Params", "run"):
        assert hasattr(m, attr)
    assert m.NAME == "focal"
    assert "wave I" in m.CITATION and "median" in m.CITATION


def test_focal_by_hand():
    m = get("focal")
    # positions 0, 0, 60, equal capability and salience, scale 0-100: compromise C = 20.
    # No scale points, no tilt (h huge): masses pi*2/3 at 0 and pi/3 at 60.
    inp = Inputs.build([0.0, 0.0, 60.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], low=0.0, high=100.0)
    pi, b = 0.4, 20.0
    f = m.run(inp, m.Params(pi=pi, h=1e15, scale_share=0.0, b=b)).final[0, 0]
    # CDF at 0 = (1-pi) 0.5 e^{-1} + 2pi/3 = 0.377 < 1/2, so the median lies in (0, 60) where
    # (1-pi) F(x) + 2pi/3 = 1/2 and F(x) < 1/2: x = C + b ln(2 (1/2 - 2pi/3) / (1 - pi))
    expected = 20.0 + b * math.log(2 * (0.5 - 2 * pi / 3) / (1 - pi))
    assert f == pytest.approx(expected, abs=1e-9)
    # a large focal mass makes the median the heavy point itself
    assert m.run(inp, m.Params(pi=0.9, h=1e15, scale_share=0.0)).final[0, 0] == pytest.approx(0.0)
    # pi = 0 is the compromise point
    assert m.run(inp, m.Params(pi=0.0)).final[0, 0] == pytest.approx(20.0)


def test_focal_pi_zero_is_compromise():
    inp = _random_inputs(seed=2)
    f = get("focal").run(inp, get("focal").Params(pi=0.0)).final
    c = get("compromise").run(inp, get("compromise").Params()).final
    assert np.allclose(f, c)


def test_focal_batched_equals_single():
    m = get("focal")
    inp = _random_inputs()
    batched = m.run(inp, m.Params()).final
    for b in range(inp.shape[0]):
        assert np.allclose(m.run(inp.take([b]), m.Params()).final[0], batched[b])


def test_focal_inactive_equals_removed():
    m = get("focal")
    for seed in range(4):
        inp = _random_inputs(B=2, n=8, seed=seed)
        act = np.ones((2, 8), bool)
        act[:, [1, 5]] = False
        keep = [0, 2, 3, 4, 6, 7]
        removed = Inputs.build(
            inp.position[:, keep], inp.salience[:, keep], inp.capability[:, keep], low=0.0, high=100.0
        )
        far = inp.position.copy()
        far[:, [1, 5]] = 1000.0  # inactive actors far away must still not matter
        moved = Inputs.build(far, inp.salience, inp.capability, active=act, low=0.0, high=100.0)
        same = Inputs.build(inp.position, inp.salience, inp.capability, active=act, low=0.0, high=100.0)
        r = m.run(removed, m.Params()).final
        assert np.allclose(m.run(moved, m.Params()).final, r)
        assert np.allclose(m.run(same, m.Params()).final, r)


def test_focal_within_scale_and_without_context():
    m = get("focal")
    for seed in range(5):
        inp = _random_inputs(seed=seed)
        f = m.run(inp, m.Params(pi=0.7, h=20.0)).final
        assert (f >= 0.0 - 1e-9).all() and (f <= 100.0 + 1e-9).all()
    # no scale, status quo, roles or voting rule: the scale defaults to the positions' range
    inp = Inputs.build([10.0, 50.0, 90.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    f = m.run(inp, m.Params()).final
    assert np.isfinite(f).all() and 10.0 <= f[0, 0] <= 90.0


# ---------------------------------------------------------------------------
# the model's wave II and full-set MAE by an independent scalar loop


def _focal_scalar(x, s, c, low, high, pi=0.4, h=2.0, share=0.3, b=20.0):
    """The focal forecast of one issue, by bisection on the mixture's CDF (no vectorisation)."""
    w = [ci * si for ci, si in zip(c, s)]
    tw = sum(w)
    comp = sum(wi * xi for wi, xi in zip(w, x)) / tw
    width = (high - low) / 100.0
    pts = list(x) + [low, (low + high) / 2.0, high]
    prior = [(1 - share) * wi / tw for wi in w] + [share / 3.0] * 3
    dmin = min(abs(p - comp) for p, q in zip(pts, prior) if q > 0)
    tilt = [q * math.exp(-(abs(p - comp) - dmin) / (h * width)) for p, q in zip(pts, prior)]
    mass = [pi * t / sum(tilt) for t in tilt]

    def cdf(v):
        z = (v - comp) / (b * width)
        lap = 0.5 * math.exp(z) if z < 0 else 1 - 0.5 * math.exp(-z)
        return (1 - pi) * lap + sum(mk for p, mk in zip(pts, mass) if p <= v)

    lo, hi = low - 1.0, high  # cdf(low - 1) < 1/2 <= cdf(high)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if cdf(mid) >= 0.5:
            hi = mid
        else:
            lo = mid
    return hi


def test_focal_deu_mae_by_independent_loop(deu):
    caps, _ = capabilities(deu, "votes")
    err_f: dict[str, list[float]] = {}
    err_c: dict[str, list[float]] = {}
    for iss, cap in zip(deu.issues, caps):
        x, s, c = list(iss.position), list(iss.salience), list(cap)
        f = _focal_scalar(x, s, c, iss.low, iss.high)
        comp = sum(ci * si * xi for ci, si, xi in zip(c, s, x)) / sum(ci * si for ci, si in zip(c, s))
        err_f.setdefault(iss.meta["wave"], []).append(abs(f - iss.outcome))
        err_c.setdefault(iss.meta["wave"], []).append(abs(comp - iss.outcome))
    res = run_backtest(deu, models=["compromise", "focal"], capability="votes", seed=0, n_boot=200)
    by_f = res.summary["focal"]["by"]["wave"]
    by_c = res.summary["compromise"]["by"]["wave"]
    assert set(err_f) == {"DEU_I_EU15", "DEU_II_EU25_27"}
    for wave in err_f:
        assert by_f[wave]["n"] == len(err_f[wave])
        assert by_f[wave]["mae"] == pytest.approx(sum(err_f[wave]) / len(err_f[wave]), abs=1e-6)
        assert by_c[wave]["mae"] == pytest.approx(sum(err_c[wave]) / len(err_c[wave]), abs=1e-6)
    all_f = [e for v in err_f.values() for e in v]
    all_c = [e for v in err_c.values() for e in v]
    assert res.summary["focal"]["n"] == len(all_f) == 322
    assert res.mae("focal") == pytest.approx(sum(all_f) / len(all_f), abs=1e-6)
    assert res.summary["focal"]["mae_diff_vs_compromise"]["mean"] == pytest.approx(
        (sum(all_f) - sum(all_c)) / len(all_f), abs=1e-6
    )
