"""The exchange model's ``random-rate`` variant (Decide's second model): each exchange at its own rate.

Decide's own copy of the model does not run at the version read (docs/models/exchange.md), so the
variant is checked against a hand derivation and against the slow scalar reference of
``tests/_exchange_reference.py`` (written from the spec and the paper, not from the compiled loop),
fed the same random numbers: the first numbers of ``numpy.random.default_rng(seed)``, one per
candidate exchange in the order the candidates are formed.
"""

from __future__ import annotations

import numpy as np
import pytest

from detente.models import exchange
from detente.models.base import Inputs

RR = exchange.Params(variant="random-rate")


def _inputs(x, s, c, seed=None, active=None):
    x = np.asarray(x, float)
    return Inputs.build(x, s, c, active=active, low=np.zeros(x.shape[-1]), high=np.full(x.shape[-1], 100.0), seed=seed)


def _uniforms(seed):
    return np.random.default_rng(seed).random(100_000)


def test_one_trade_at_a_drawn_rate_by_hand():
    # A = (100, 0), s = (.8, .2); B = (0, 100), s = (.2, .8); C = (50, 50), s = (.5, .5); equal capabilities. O = 70 on
    # both; the one candidate is (A, B), A demands p (s_p/s_q 4 > .25). Its rate r = D_q / D_p lies between B's
    # indifference rate s_Bp/s_Bq = .25 and A's s_Ap/s_Aq = 4: r = .25 + 3.75 u. B moving all 100 to A on p shifts
    # O_p by D_p = .2 * 100 / 1.5 = 13.33; then D_q = 13.33 r and A moves D_q * 1.5 / .2 = 100 r on q, which fits when
    # r <= 1; otherwise A moves all 100 (D_q = 13.33) and D_p = 13.33 / r. No outcome reaches a partner (83.3 < 100).
    # Gains: A .8 D_p - .2 D_q, B .8 D_q - .2 D_p (equal, 8 each, only at r = 1).
    seen_below = seen_above = False
    for seed in range(12):
        u = _uniforms(seed)[0]
        r = 0.25 + 3.75 * u
        if r <= 1:
            Dp, Dq, mA, mB = 20 / 1.5, 20 / 1.5 * r, 100 * r, 100.0
            seen_below = True
        else:
            Dp, Dq, mA, mB = 20 / 1.5 / r, 20 / 1.5, 100.0, 100 / r
            seen_above = True
        tr = exchange.run(_inputs([[100, 0], [0, 100], [50, 50]], [[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]], [1, 1, 1], seed),
                          exchange.Params(variant="random-rate", passes=1))
        row = tr.extras["trades"][0, 1, 0]
        np.testing.assert_allclose(row, [0, 1, 0, 1, 0, mA, 0, mB, 0.8 * Dp - 0.2 * Dq, 0.8 * Dq - 0.2 * Dp], rtol=1e-12, atol=1e-12)
        assert tr.extras["exchanges"][0, 1] == 1
        np.testing.assert_allclose(tr.position[0, 1], [[100, mA], [mB, 100], [50, 50]], rtol=1e-12)
    assert seen_below and seen_above


def test_matches_the_slow_reference_on_random_scenarios():
    from _exchange_reference import random_case, reference_rounds

    rng = np.random.default_rng(2027)
    traded = unequal = 0
    for trial in range(50):
        x, s, c = random_case(rng, 4)
        seed = int(rng.integers(0, 2**32))
        part = (s > 0) & (c[:, None] > 0)
        ref, trades = reference_rounds(x.tolist(), s.tolist(), c.tolist(), part.tolist(), 4, _uniforms(seed))
        tr = exchange.run(_inputs(x, s, c, seed), exchange.Params(variant="random-rate", passes=4))
        np.testing.assert_allclose(tr.position[0], ref, rtol=1e-9, atol=1e-8, err_msg=f"trial {trial}")
        rows = tr.extras["trades"][0]
        got = [(t, *map(int, r[:4]), r[8], r[9]) for t in range(1, 5) for r in rows[t] if not np.isnan(r[0])]
        assert [g[:5] for g in got] == [tt[:5] for tt in trades], f"trial {trial}"
        np.testing.assert_allclose([g[5:] for g in got], [tt[7] for tt in trades], rtol=1e-9, err_msg=f"trial {trial}")
        traded += len(trades)
        unequal += sum(abs(g[5] - g[6]) > 1e-6 for g in got)
    assert traded > 150 and unequal > 0.9 * traded  # the two sides gain different amounts


def _scenario(B=4, n=8, D=4, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, (B, n, D))
    s = rng.uniform(0.1, 1, (B, n, D))
    c = rng.uniform(0.1, 1, (B, n))
    return x, s, c


def test_a_seed_fixes_the_result_and_another_seed_changes_it():
    x, s, c = _scenario()
    a = exchange.run(_inputs(x, s, c, seed=[5, 6, 7, 8]), RR)
    b = exchange.run(_inputs(x, s, c, seed=[5, 6, 7, 8]), RR)
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(a.extras["trades"], b.extras["trades"])
    other = exchange.run(_inputs(x, s, c, seed=[9, 6, 7, 8]), RR)
    assert not np.array_equal(other.position[0], a.position[0])  # draw 0 has another seed
    np.testing.assert_array_equal(other.position[1:], a.position[1:])  # the others keep theirs
    # and the equal-gain model is not what it plays
    assert not np.allclose(exchange.run(_inputs(x, s, c), exchange.Params()).forecast, a.forecast)


def test_batches_equal_single_draws_and_inactive_actors_are_as_if_removed():
    x, s, c = _scenario(B=3, n=7, D=3, seed=11)
    act = np.ones((3, 7), bool)
    act[1, 2] = False
    act[2, 0] = False
    seeds = [101, 202, 303]
    batch = exchange.run(Inputs.build(x, s, c, active=act, low=np.zeros(3), high=np.full(3, 100.0), seed=seeds), RR)
    for b in range(3):
        keep = act[b]
        alone = exchange.run(_inputs(x[b][keep], s[b][keep], c[b][keep], seed=seeds[b]), RR)
        np.testing.assert_array_equal(batch.position[b][:, keep], alone.position[0])
        np.testing.assert_array_equal(batch.position[b][:, ~keep], np.broadcast_to(x[b][~keep], batch.position[b][:, ~keep].shape))
        np.testing.assert_array_equal(batch.forecast[b], alone.forecast[0])


def test_the_exchange_realised_first_is_the_best_of_both_its_actors():
    from _exchange_reference import reference_rounds

    # on every draw: the first trade of round 1 is, among the round's valid candidates at the start, the best of both
    # its actors (each by its own gain), or, when no candidate is, the one with the highest smaller gain
    x, s, c = _scenario(B=6, n=6, D=3, seed=5)
    for b in range(6):
        tr = exchange.run(_inputs(x[b], s[b], c[b], seed=b), exchange.Params(variant="random-rate", passes=1))
        part = np.ones_like(s[b], bool)
        ref, trades = reference_rounds(x[b].tolist(), s[b].tolist(), c[b].tolist(), part.tolist(), 1, _uniforms(b))
        first = tr.extras["trades"][0, 1, 0]
        assert tuple(int(v) for v in first[:4]) == trades[0][1:5]
        assert first[8] > 0 and first[9] > 0


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="random-rate"):
        exchange.Params(variant="random_rate")
