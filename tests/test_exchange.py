"""The exchange model (Stokman & Van Oosten 1994): hand-derived cases, scalar references, invariances.

The first part tests the ``greedy`` variant (detente's earlier one-shot pass, kept so earlier
results stay reproducible); the second part the default ``decide`` variant (Decide's rounds).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from detente import api, models
from detente.models import compromise, exchange
from detente.models.base import Inputs

GREEDY = exchange.Params(variant="greedy")
#: The float loop (``arithmetic=float``, ties to the exchange formed first): the default until issue #13's switch to
#: Decide's decimals and coin. The tests below of the compiled loop, its scalar reference and its plain-Python copy
#: pin it; the hand-derived cases run the default too.
FLOAT = exchange.Params(arithmetic="float")


def _inputs(x, s, c, active=None):
    x = np.asarray(x, float)
    return Inputs.build(x, s, c, active=active, low=np.zeros(x.shape[-1]), high=np.full(x.shape[-1], 100.0))


# ---------------------------------------------------------------------------
# a slow, obviously-correct reference: plain Python floats, one exchange at a time


def reference(x, s, c, passes=1, active=None):
    """Positions after ``passes`` rounds, written from the model's definition with scalar loops."""
    x = [list(map(float, row)) for row in x]
    n, D = len(x), len(x[0])
    active = [True] * n if active is None else list(active)
    part = [[active[i] and c[i] > 0 and s[i][k] > 0 for k in range(D)] for i in range(n)]
    for _ in range(passes):
        W = [sum(c[i] * s[i][k] for i in range(n) if part[i][k]) for k in range(D)]
        O = [sum(c[i] * s[i][k] * x[i][k] for i in range(n) if part[i][k]) / W[k] if W[k] > 0 else 0.0 for k in range(D)]

        def side(i, k):
            if not part[i][k] or x[i][k] == O[k]:
                return 0
            return 1 if x[i][k] > O[k] else -1

        found = []  # (-gain, flat index, i, j, p, q, move of j on p, move of i on q)
        for i, j, p, q in itertools.product(range(n), range(n), range(D), range(D)):
            if not (side(i, p) * side(j, p) < 0 and side(i, q) * side(j, q) < 0):
                continue
            adv = s[i][p] * s[j][q] - s[i][q] * s[j][p]
            if adv <= 0:
                continue
            wjp, wiq = c[j] * s[j][p], c[i] * s[i][q]
            dp_max = min(wjp * abs(x[i][p] - x[j][p]) / W[p], abs(x[i][p] - O[p]))
            dq_max = min(wiq * abs(x[j][q] - x[i][q]) / W[q], abs(x[j][q] - O[q]))
            r = (s[i][p] + s[j][p]) / (s[i][q] + s[j][q])
            dp = min(dp_max, dq_max / r)
            gain = dp * adv / (s[i][q] + s[j][q])
            if gain <= 1e-12:
                continue
            mj = math.copysign(dp * W[p] / wjp, x[i][p] - x[j][p])
            mi = math.copysign(dp * r * W[q] / wiq, x[j][q] - x[i][q])
            flat = ((i * n + j) * D + p) * D + q
            found.append((-gain, flat, i, j, p, q, mj, mi))
        found.sort()
        used = set()
        new = [row[:] for row in x]
        for _, _, i, j, p, q, mj, mi in found:
            cells = {(i, p), (i, q), (j, p), (j, q)}
            if cells & used:
                continue
            used |= cells
            new[j][p] += mj
            new[i][q] += mi
        if not used:
            break
        x = new
    return x


def _compromise(x, s, c):
    x, s, c = np.asarray(x, float), np.asarray(s, float), np.asarray(c, float)
    w = c[:, None] * s
    return (w * x).sum(0) / w.sum(0)


# ---------------------------------------------------------------------------


def test_hand_derived_two_issue_trade():
    # A cares about p (0.8) more than q (0.2), B the reverse; C sits between. Equal capabilities.
    # O_p = (0.8*100 + 0.2*0 + 0.5*50) / 1.5 = 70, O_q = 70 likewise. A (+ on p, - on q) and B (- on p,
    # + on q) are on opposite sides of both. dp_max = min(0.2*100/1.5, |100-70|) = 13.33, dq_max = 13.33,
    # r = (0.8+0.2)/(0.2+0.8) = 1, so dp = dq = 13.33 and the common gain is 13.33*(0.64-0.04)/1 = 8.
    # B's move on p is 13.33*1.5/0.2 = 100 (to A's position); A's on q is 100 (to B's). C (50, below
    # both outcomes) is on B's side of p and on A's side of q, and a trade needs opposite sides on both
    # issues, so C trades with no one. After: both outcomes are (0.8*100 + 0.2*100 + 0.5*50)/1.5 = 83.33.
    x = [[100, 0], [0, 100], [50, 50]]
    s = [[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]]
    inp = _inputs(x, s, [1, 1, 1])
    cand = exchange.candidates(inp.position, inp.salience, inp.capability, exchange._taking_part(inp))
    assert cand["outcome"][0] == pytest.approx([70, 70])
    assert cand["gain"][0, 0, 1, 0, 1] == pytest.approx(8.0)
    assert cand["gain"][0, 1, 0, 1, 0] == pytest.approx(8.0)  # the same exchange seen from B
    assert (cand["gain"] > 0).sum() == 2
    tr = exchange.run(inp, GREEDY)
    assert tr.final[0] == pytest.approx([250 / 3, 250 / 3])
    assert tr.position[0, 1] == pytest.approx(np.array([[100, 100], [100, 100], [50, 50]]))
    assert tr.rounds[0] == 1 and tr.extras["exchanges"][0, 1] == 1
    info = exchange.render_round(tr, 0, 1, ["A", "B", "C"], ["p", "q"])
    assert info["exchanges"] == 1
    moves = exchange.moves(tr, 0, 1, ["A", "B", "C"], ["p", "q"])
    assert {(m["actor"], m["issue"], m["counterpart"], m["in_return_on"], m["to"]) for m in moves} == {
        ("A", "q", "B", "p", 100.0),
        ("B", "p", "A", "q", 100.0),
    }


def test_outcome_limit_binds():
    # A (c=4) cares about p (0.9 vs 0.1), B (c=4) about q; C (c=1) cares in B's proportion, so it trades with
    # no one (s_Cp s_Bq - s_Cq s_Bp = 0) and A is on its side of p. W_p = 3.6 + 0.4 + 0.05 = 4.05,
    # O_p = (216 + 0 + 5)/4.05 = 54.57; W_q = 0.4 + 3.6 + 0.45 = 4.45, O_q = (0 + 360 + 22.5)/4.45 = 85.96.
    # B moving all the way to A (60) on p would shift O_p by 0.4*60/4.05 = 5.93, past A's 60: the shift stops at
    # 60 - O_p = 22/4.05 = 5.43 (A's full move on q would shift O_q by 0.4*100/4.45 = 8.99, and r = 1).
    # So B moves 5.43*4.05/0.4 = 55 on p, A moves 5.43*4.45/0.4 = 60.4 on q, and O_p ends exactly at 60.
    x = [[60, 0], [0, 100], [100, 50]]
    s = [[0.9, 0.1], [0.1, 0.9], [0.05, 0.45]]
    tr = exchange.run(_inputs(x, s, [4, 4, 1]), GREEDY)
    dp = 22 / 4.05
    assert tr.extras["exchanges"][0, 1] == 1
    assert tr.position[0, 1, 1, 0] == pytest.approx(55.0)
    assert tr.position[0, 1, 0, 1] == pytest.approx(dp * 4.45 / 0.4)
    assert tr.final[0] == pytest.approx([60.0, 382.5 / 4.45 + dp])


def test_partner_position_limits_the_trade():
    # A's full move to B on q is worth less than the trade B would make on p, so it limits the trade. By hand,
    # capabilities A=1, B=3, C=1: w_p = (0.6, 1.2, 0.5), W_p = 2.3, O_p = (60 + 0 + 10)/2.3 = 30.43;
    # w_q = (0.4, 2.4, 0.5), W_q = 3.3, O_q = (0 + 240 + 10)/3.3 = 75.76 (x_C = 20 on both).
    # dp_max = min(1.2*100/2.3 = 52.17, |100 - 30.43| = 69.57) = 52.17;
    # dq_max = min(0.4*100/3.3 = 12.12, |100 - 75.76| = 24.24) = 12.12; r = (0.6+0.4)/(0.4+0.8) = 5/6,
    # so dp = min(52.17, 12.12*6/5 = 14.55) = 14.55: A's full move to B on q limits the trade.
    x = [[100, 0], [0, 100], [20, 20]]
    s = [[0.6, 0.4], [0.4, 0.8], [0.5, 0.5]]
    c = [1, 3, 1]
    inp = _inputs(x, s, c)
    tr = exchange.run(inp, GREEDY)
    W_p, W_q = 2.3, 3.3
    dq = 0.4 * 100 / W_q
    dp = dq * 6 / 5
    assert tr.position[0, 1, 0, 1] == pytest.approx(100.0)  # A all the way to B on q
    assert tr.position[0, 1, 1, 0] == pytest.approx(dp * W_p / 1.2)  # B part of the way to A on p
    assert tr.final[0] == pytest.approx([70 / 2.3 + dp, 250 / 3.3 + dq])


def test_equal_gain_and_limits_from_utilities():
    """With one exchange realised, both traders gain the same amount in sincere (linear) utility."""
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(300):
        x = rng.uniform(0, 100, (4, 2)).round()
        s = rng.uniform(0.05, 1, (4, 2)).round(2)
        c = rng.uniform(1, 10, 4).round()
        tr = exchange.run(_inputs(x, s, c), GREEDY)
        if tr.extras["exchanges"][0, 1] != 1:
            continue
        moved = np.argwhere(tr.position[0, 1] != tr.position[0, 0])
        (a, k1), (b, k2) = moved
        assert a != b and k1 != k2
        O0, O1 = _compromise(x, s, c), tr.final[0]

        def util(i):  # sincere salience-weighted linear utility change
            return sum(s[i, k] * (abs(x[i, k] - O0[k]) - abs(x[i, k] - O1[k])) for k in range(2))

        assert util(a) > 0 and util(a) == pytest.approx(util(b), rel=1e-9, abs=1e-9)
        new = tr.position[0, 1]
        # a moved on k1 toward b's position without passing it, and the reverse
        assert min(x[a, k1], x[b, k1]) - 1e-9 <= new[a, k1] <= max(x[a, k1], x[b, k1]) + 1e-9
        assert min(x[b, k2], x[a, k2]) - 1e-9 <= new[b, k2] <= max(x[b, k2], x[a, k2]) + 1e-9
        # no outcome passes the position of the actor it moved toward
        assert min(O0[k1], x[b, k1]) - 1e-9 <= O1[k1] <= max(O0[k1], x[b, k1]) + 1e-9
        assert min(O0[k2], x[a, k2]) - 1e-9 <= O1[k2] <= max(O0[k2], x[a, k2]) + 1e-9
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("passes", [1, 3])
def test_matches_scalar_reference(passes):
    rng = np.random.default_rng(11)
    for trial in range(60):
        n, D = int(rng.integers(3, 7)), int(rng.integers(2, 5))
        x = rng.uniform(0, 100, (n, D)).round()
        s = rng.uniform(0.0, 1, (n, D)).round(1)  # some zero saliences: those actors sit out an issue
        c = rng.uniform(1, 10, n).round()
        tr = exchange.run(_inputs(x, s, c), exchange.Params(variant="greedy", passes=passes))
        ref = reference(x, s.tolist(), c.tolist(), passes)
        np.testing.assert_allclose(tr.position[0, -1], ref, rtol=1e-12, atol=1e-9, err_msg=f"trial {trial}")


def test_no_trade_gives_the_compromise_point():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 100, (6, 1))
    s = rng.uniform(0.1, 1, (6, 1))
    c = rng.uniform(1, 5, 6)
    one = _inputs(x, s, c)
    for params in (GREEDY, FLOAT, exchange.Params()):
        assert exchange.run(one, params).final == pytest.approx(compromise.run(one).final, rel=1e-15)
    # saliences in the same proportion for everybody: no one has a comparative advantage
    x2 = rng.uniform(0, 100, (6, 3))
    s2 = np.outer(rng.uniform(0.2, 1, 6), [0.3, 0.6, 0.9])
    two = _inputs(x2, s2, c)
    for params in (GREEDY, FLOAT, exchange.Params()):
        tr = exchange.run(two, params)
        assert tr.extras["exchanges"].sum() == 0
        assert tr.final == pytest.approx(compromise.run(two).final, rel=1e-12)


@pytest.mark.parametrize("variant", ["greedy", "decide"])
def test_inactive_actors_are_as_if_removed_and_batches_equal_single_draws(variant):
    # the float loop; with Decide's coin (the default) a draw's result depends on its seed too: tests/test_exchange_decide.py
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 100, (3, 6, 3)).round()
    s = rng.uniform(0.1, 1, (3, 6, 3)).round(2)
    c = rng.uniform(1, 9, (3, 6)).round()
    act = np.ones((3, 6), bool)
    act[1, 2] = False
    act[2, 0] = False
    batch = exchange.run(Inputs.build(x, s, c, active=act, low=np.zeros(3), high=np.full(3, 100.0)), exchange.Params(variant=variant, passes=2, arithmetic="float"))
    for b in range(3):
        keep = act[b]
        alone = exchange.run(_inputs(x[b][keep], s[b][keep], c[b][keep]),
                             exchange.Params(variant=variant, passes=2, arithmetic="float"))
        np.testing.assert_allclose(batch.final[b], alone.final[0], rtol=1e-13)
        np.testing.assert_allclose(batch.position[b, -1][keep], alone.position[0, -1], rtol=1e-13)
        np.testing.assert_array_equal(batch.position[b, -1][~keep], x[b][~keep])


def test_registered_with_citation_and_plays_the_flagship():
    assert "exchange" in models.names()
    mod = models.get("exchange")
    assert "Stokman" in mod.CITATION and mod.COUPLES_ISSUES
    with pytest.raises(ValidationError, match="rounds"):
        mod.Params(rounds=3)  # the parameter is `passes`; a scenario horizon does not apply
    for params, rounds in (({"variant": "greedy"}, 1), ({}, 10)):
        res = api.forecast(_flagship(), model="exchange", **params)
        data = res.to_dict()
        hist = data["history"]
        assert len(hist) == rounds + 1  # the starting state and the exchange rounds
        moves = hist[1]["moves"]
        assert moves and all(m["counterpart"] != m["actor"] and m["in_return_on"] != m["issue"] for m in moves)
        assert len(moves) == 2 * len(hist[1]["trades"]) == 2 * hist[1]["exchanges"]
        for issue in data["issues"].values():
            assert issue["forecast"] == pytest.approx(issue["compromise_before_exchange"] + issue["shift_by_exchange"])


def _flagship():
    from importlib import resources

    return api.load(str(resources.files("detente") / "scenarios" / "korea-2019.yaml"))


# ---------------------------------------------------------------------------
# backtests: models that couple issues see each proposal as one scenario


def test_proposal_path_equals_issue_path_for_an_issue_wise_model():
    """Run the compromise model through the per-proposal path: every forecast must stay the same."""
    from detente.backtest import load_deu
    from detente.backtest.capability import capabilities
    from detente.backtest.run import _forecast_chunk, _forecast_proposal, _groups, _proposals

    ds = load_deu()
    groups = _proposals(ds)
    assert sum(len(g) for g in groups) == len(ds.issues) and any(len(g) > 1 for g in groups)
    assert all(len({ds.issues[j].meta["prnr"] for j in g}) == 1 for g in groups)
    for kind in ("votes", "shapley"):
        caps, _ = capabilities(ds, kind)
        seeds = np.zeros((len(ds.issues), 1), dtype=np.uint64)
        a, b = np.full(len(ds.issues), np.nan), np.full(len(ds.issues), np.nan)
        for idx in _groups(ds).values():
            a[idx] = _forecast_chunk(ds, compromise, compromise.Params(), caps, 1, seeds, idx, len(idx))
        for idx in groups:
            b[idx] = _forecast_proposal(ds, compromise, compromise.Params(), caps, 1, seeds, idx, 1)
        if kind == "votes":  # one capability per actor per proposal: exact
            np.testing.assert_allclose(b, a, rtol=1e-12)
        else:  # voting-power indices differ by issue within a proposal; the first issue's is used
            single = [g[0] for g in groups if len(g) == 1]
            np.testing.assert_allclose(b[single], a[single], rtol=1e-12)


def test_exchange_in_a_backtest_trades_across_the_scenarios_issues(trade_file):
    from detente.backtest import run_backtest

    d = trade_file.parent
    (d / "outcomes.csv").write_text("scenario,issue,outcome\ntrade.json,p,90\ntrade.json,q,80\n")
    res = run_backtest("outcomes", data=str(d), models=["compromise", "exchange(variant=greedy)"])
    frame = res.to_frame()
    # hand-derived above: compromise 70 on both, exchange 83.33 on both
    assert res.mae("compromise") == pytest.approx((20 + 10) / 2)
    assert res.mae("exchange(variant=greedy)") == pytest.approx((abs(250 / 3 - 90) + abs(250 / 3 - 80)) / 2)
    fc = api.forecast(api.load(str(d / "trade.json")), model="exchange", variant="greedy").forecast
    assert fc["p"] == pytest.approx(250 / 3) and fc["q"] == pytest.approx(250 / 3)
    assert len(frame) == 2


def test_deu_third_attempt_numbers_recomputed_by_the_scalar_reference():
    """docs/backtest.md ('Third attempt: result'): every DEU forecast of the exchange model, recomputed
    proposal by proposal with the scalar reference above, and the MAEs reported there."""
    from detente.backtest import load_deu, run_backtest
    from detente.backtest.capability import capabilities
    from detente.backtest.run import _proposals, build_proposal_inputs

    ds = load_deu()
    caps, _ = capabilities(ds, "votes")
    ref = np.full(len(ds.issues), np.nan)
    for idx in _proposals(ds):
        inp = build_proposal_inputs(ds, idx, caps, 1, np.zeros(1, dtype=np.uint64))
        x, s, c = inp.position[0], inp.salience[0], inp.capability[0]
        final = np.asarray(reference(x, s.tolist(), c.tolist(), 1))
        ref[idx] = _compromise(final, s, c)
    res = run_backtest(ds, models=["compromise", "exchange(variant=greedy)"], capability="votes", seed=0)
    frame = res.to_frame()
    np.testing.assert_allclose(frame["exchange(variant=greedy)"].to_numpy(), ref, rtol=1e-9, atol=1e-9)
    out = np.array([i.outcome for i in ds.issues])
    wave2 = np.array([i.meta["wave"] != "DEU_I_EU15" for i in ds.issues])
    err = np.abs(ref - out)
    assert round(err.mean(), 2) == 23.83 and round(err[wave2].mean(), 2) == 23.38 and round(err[~wave2].mean(), 2) == 24.22
    assert int((np.abs(ref - frame["compromise"].to_numpy()) > 1e-9).sum()) == 289


# ---------------------------------------------------------------------------
# the default variant: Decide's rounds (recalculation, voting positions, new start positions)


def _decide_vs_reference(x, s, c, rounds, low=None, high=None):
    from _exchange_reference import reference_rounds

    n, D = x.shape
    low = np.zeros(D) if low is None else np.asarray(low, float)
    high = np.full(D, 100.0) if high is None else np.asarray(high, float)
    x100 = (x - low) * 100 / (high - low)
    part = (s > 0) & (c[:, None] > 0)
    ref, trades = reference_rounds(x100.tolist(), s.tolist(), c.tolist(), part.tolist(), rounds)
    tr = exchange.run(Inputs.build(x, s, c, low=low, high=high), exchange.Params(arithmetic="float", passes=rounds))
    return tr, np.asarray(ref) * (high - low) / 100 + low, trades


def test_decide_matches_the_slow_reference_on_random_scenarios():
    from _exchange_reference import random_case

    rng = np.random.default_rng(2026)
    traded = 0
    for trial in range(60):
        x, s, c = random_case(rng, 5)
        D = x.shape[1]
        low, high = (None, None) if trial % 2 else (np.full(D, -50.0), np.full(D, 150.0))
        tr, ref, trades = _decide_vs_reference(x, s, c, 5, low, high)
        np.testing.assert_allclose(tr.position[0], ref, rtol=1e-9, atol=1e-8, err_msg=f"trial {trial}")
        # every realised trade, in order, with both actors, both issues, the positions and the gain
        rows = tr.extras["trades"][0]
        got = [(t, *map(int, r[:4]), r[8]) for t in range(1, 6) for r in rows[t] if not np.isnan(r[0])]
        assert [g[:5] for g in got] == [tt[:5] for tt in trades]
        np.testing.assert_allclose([g[5] for g in got], [tt[7] for tt in trades], rtol=1e-9)
        traded += len(trades)
    assert traded > 200


@pytest.mark.parametrize("arithmetic", ["float", None])  # the float loop, and the default (Decide's decimals and coin)
def test_recalculation_changes_the_second_trade(arithmetic):
    # Equal capabilities, two issues on 0-100. A = (20, 80), s = (.6, .4); B = (0, 80), s = (.8, .2); C = (100, 20),
    # s = (.4, .4). W_p = 1.8, O_p = (12 + 0 + 40)/1.8 = 28.89; W_q = 1, O_q = 32 + 16 + 8 = 56. A and B are left of
    # O_p and right of O_q, C the reverse: the candidates are (A, C) and (B, C).
    # (B, C): B (s_p/s_q = 4) demands p, C demands q. C all the way to B on p would need B to move 222 on q, more than
    # the 60 to C: so B moves all 60 (D_q = .2*60 = 12), D_p = 12 * (.2+.4)/(.8+.4) = 6, C moves 6*1.8/.4 = 27 (100 -> 73);
    # gain |12*.2 - 6*.8| = 2.4. No outcome passes a partner (O_q 56 -> 44 > 20; O_p 28.89 -> 22.89 > 0).
    # (A, C) at the round's start: C to A on p (80) moves O_p by 17.78 to 11.11, past A's 20: capped where O_p = 20,
    # C moves (28.89 - 20)*1.8/.4 = 40, D_p = 8.89, D_q = 8.89 * 1/.8 = 11.11, A moves 27.78 on q; gain .889 < 2.4.
    # So (B, C) is realised first. (A, C) shares C supplying p: C continues from 73 (its moves so far: -40, kept as its
    # history), and it records B's move to 20 on q (C demands q in both). Re-sized: C from 73 to A's 20 moves O_p from
    # (12 + 29.2)/1.8 = 22.89 to 11.11, past 20 again: capped at C's move 2.89*1.8/.4 = 13 (73 -> 60), D_p = 2.89,
    # D_q = 3.61, A moves 3.61/.4 = 9.03 on q (80 -> 70.97); gain |3.61*.4 - 2.89*.6| = .289 (not .889).
    x = np.array([[20, 80], [0, 80], [100, 20]], float)
    s = np.array([[0.6, 0.4], [0.8, 0.2], [0.4, 0.4]])
    c = np.ones(3)
    tr = exchange.run(_inputs(x, s, c), exchange.Params(arithmetic=arithmetic, passes=1))
    rows = tr.extras["trades"][0, 1]
    Dp2 = (12 + 0.4 * 73) / 1.8 - 20  # O_p with C at 73, down to A's 20
    Dq2 = Dp2 * (0.4 + 0.6) / (0.4 + 0.4)
    np.testing.assert_allclose(rows[0], [1, 2, 0, 1, 80, 20, 100, 73, 2.4, 2.4], rtol=1e-12)
    g2 = abs(Dq2 * 0.4 - Dp2 * 0.6)
    np.testing.assert_allclose(rows[1], [0, 2, 0, 1, 80, 80 - Dq2 / 0.4, 73, 73 - Dp2 * 1.8 / 0.4, g2, g2], rtol=1e-12)
    assert rows[1, 7] == pytest.approx(60) and rows[1, 5] == pytest.approx(70.9722222) and rows[1, 8] == pytest.approx(0.2888889)
    # the voting positions at the end of the round and the round's forecast
    y = np.array([[20, 80 - Dq2 / 0.4], [0, 20], [60, 20]])
    np.testing.assert_allclose(tr.position[0, 1], y, rtol=1e-12)
    np.testing.assert_allclose(tr.final[0], [(12 + 0 + 0.4 * 60) / 1.8, 0.4 * y[0, 1] + 0.2 * 20 + 0.4 * 20], rtol=1e-12)
    # the greedy variant lets C's cell trade once: only (B, C)
    assert exchange.run(_inputs(x, s, c), GREEDY).extras["exchanges"][0, 1] == 1
    # round 2 starts from x0 + (y - x0)(.1 + .4(1 - s)): B on q 80 - 60*.42 = 54.8, C on p 100 - 40*.34 = 86.4,
    # A on q 80 - 9.03*.34; the slow reference plays it
    tr2, ref, _ = _decide_vs_reference(x, s, c, 2)
    np.testing.assert_allclose(tr2.position[0], ref, rtol=1e-12)


@pytest.mark.parametrize("arithmetic", ["float", None])  # the float loop, and the default (Decide's decimals and coin)
def test_an_outcome_on_the_partner_moves_on_past_it(arithmetic):
    # Decide's outcome limit binds only when the partner lies strictly between the outcome before and after the
    # move, so an outcome already on the partner's position moves on past it (docs/models/exchange.md, step 5).
    # Equal capabilities, two issues on 0-100: A = (0, 100), s = (.8, .2); B = (100, 50), s = (.2, .8);
    # C = (0, 0), s = (.5, .2). W_p = 1.5, O_p = 20/1.5 = 13.33; W_q = 1.2, O_q = (20 + 40)/1.2 = 50, exactly B's
    # position on q (B counts as left there). A is left on p and right on q, B the reverse, C left on both: the one
    # candidate is (A, B); A (s_p/s_q = 4) demands p and supplies q. B all the way to A on p (100) gives
    # D_p = .2*100/1.5 = 13.33, rate (.8 + .2)/(.2 + .8) = 1, A's move 13.33*1.2/.2 = 80 > 50 to B: so A moves all
    # 50 (100 -> 50), D_q = .2*50/1.2 = 8.33, B moves 8.33*1.5/.2 = 62.5 (100 -> 37.5), gain 8.33*(.8 - .2) = 5.
    # A's move takes O_q from 50 (on B) to 41.67: B is not strictly between, so the move stands (under the
    # theory's reading, the outcome may not move off B, the move would shrink to 0 and nothing would trade).
    x = [[0, 100], [100, 50], [0, 0]]
    s = [[0.8, 0.2], [0.2, 0.8], [0.5, 0.2]]
    tr = exchange.run(_inputs(x, s, [1, 1, 1]), exchange.Params(arithmetic=arithmetic, passes=2))
    np.testing.assert_allclose(tr.extras["trades"][0, 1, 0], [0, 1, 0, 1, 100, 50, 100, 37.5, 5, 5], rtol=1e-12)
    assert tr.extras["exchanges"][0, 1] == 1
    np.testing.assert_allclose(tr.forecast[0, 1], [7.5 / 1.5, 50 / 1.2], rtol=1e-12)
    # Decide itself (decide-exchange-model 2025.3.1, coin off; tests/data/decide/knife_edge.csv is this case) reports
    # p 5.0, q 41.666666666666... after round 1 and p 4.8333333, q 50.0 after round 2
    s2 = api.load(str(Path(__file__).parent / "data" / "decide" / "knife_edge.csv"))
    tr2 = exchange.run(s2.to_inputs(), exchange.Params(arithmetic=arithmetic, passes=2))
    np.testing.assert_allclose(tr2.forecast[0, 1:], [[5.0, 41.66666666666666], [4.833333333333333, 50.0]], rtol=1e-12)


def test_decide_matches_the_slow_reference_on_round_number_scenarios():
    # positions on a 25-point grid and saliences in tenths: exact gain ties and outcomes that land exactly on a
    # partner's position (the rules of docs/models/exchange.md on ties and on an outcome on the partner)
    rng = np.random.default_rng(13)
    traded = 0
    for trial in range(30):
        n, D = int(rng.integers(4, 9)), int(rng.integers(2, 5))
        x = rng.integers(0, 5, (n, D)) * 25.0
        s = rng.integers(1, 11, (n, D)) / 10
        c = rng.integers(1, 6, n) / 5
        tr, ref, trades = _decide_vs_reference(x, s, c, 4)
        np.testing.assert_allclose(tr.position[0], ref, rtol=1e-9, atol=1e-8, err_msg=f"trial {trial}")
        rows = tr.extras["trades"][0]
        got = [(t, *map(int, r[:4])) for t in range(1, 5) for r in rows[t] if not np.isnan(r[0])]
        assert got == [tt[:5] for tt in trades], f"trial {trial}"
        traded += len(trades)
    assert traded > 100


def test_a_round_with_more_exchanges_than_room_is_played_again_with_room_for_every_candidate(monkeypatch):
    rng = np.random.default_rng(21)
    B, n = 12, 18  # room for 4 n D = 216 exchanges a round, fewer than the M = 243 candidates
    inp = Inputs.build(rng.uniform(0, 100, (B, n, 3)), rng.uniform(0.1, 1, (B, n, 3)), rng.uniform(0.1, 1, (B, n)),
                       low=np.zeros(3), high=np.full(3, 100.0))
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)
    roomy = exchange.run(inp, FLOAT)
    monkeypatch.setattr(exchange, "_ROOM", 0)  # room for no exchange: every draw that trades is played again
    tight = exchange.run(inp, FLOAT)
    M = exchange._max_candidates(n, 3)
    assert tight.extras["trades"].shape == (B, 11, M, len(exchange.TRADE_FIELDS))
    K = roomy.extras["trades"].shape[2]
    assert K == 4 * n * 3 < M
    np.testing.assert_array_equal(tight.extras["trades"][:, :, :K], roomy.extras["trades"])
    assert np.isnan(tight.extras["trades"][:, :, K:]).all()
    for a, b in ((tight.position, roomy.position), (tight.extras["exchanges"], roomy.extras["exchanges"]),
                 (tight.rounds, roomy.rounds)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("arithmetic", ["float", None])  # the float loop, and the default (Decide's decimals and coin)
def test_decide_new_start_positions_by_hand(arithmetic):
    # the two-actor trade of test_hand_derived_two_issue_trade: round 1 moves A to 100 on q and B to 100 on p. Round 2
    # starts from B_p = 0 + 100*(.1 + .4*.8) = 42 and A_q = 42: O = (80 + 8.4 + 25)/1.5 = 75.6 on both; A (100 > 75.6 on
    # p, 42 < 75.6 on q) and B trade again, J = B moving all 58 to A on p shifts O_p by .2*58/1.5 = 7.73, and A's
    # equal-gain move on q is 7.73*1.5/.2 = 58, exactly to B: both end at 100 again.
    x = [[100, 0], [0, 100], [50, 50]]
    s = [[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]]
    tr = exchange.run(_inputs(x, s, [1, 1, 1]), exchange.Params(arithmetic=arithmetic, passes=2))
    rows = tr.extras["trades"][0]
    np.testing.assert_allclose(rows[1, 0], [0, 1, 0, 1, 0, 100, 0, 100, 8.0, 8.0], rtol=1e-12)
    np.testing.assert_allclose(rows[2, 0, :8], [0, 1, 0, 1, 42, 100, 42, 100], rtol=1e-12)
    assert tr.forecast[0, 0] == pytest.approx([70, 70]) and tr.forecast[0, 1] == pytest.approx([250 / 3, 250 / 3])
    assert tr.forecast[0, 2] == pytest.approx([250 / 3, 250 / 3])


def test_decide_is_deterministic_and_passes_counts_rounds():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 100, (2, 8, 4)).round()  # round numbers: exact gain ties happen
    s = rng.uniform(0.1, 1, (2, 8, 4)).round(1)
    c = rng.uniform(0.1, 1, (2, 8)).round(1)
    inp = Inputs.build(x, s, c, low=np.zeros(4), high=np.full(4, 100.0))
    for arithmetic in ("float", None):  # the float loop, and the default (Decide's coin: fixed by the draws' seeds)
        a, b = exchange.run(inp, exchange.Params(arithmetic=arithmetic)), exchange.run(inp, exchange.Params(arithmetic=arithmetic))
        np.testing.assert_array_equal(a.position, b.position)
        assert a.position.shape[1] == 11  # Decide's default: 10 rounds
        three = exchange.run(inp, exchange.Params(arithmetic=arithmetic, passes=3))
        np.testing.assert_array_equal(three.position, a.position[:, :4])


def test_plain_python_loop_gives_the_compiled_numbers_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(9)
    inp = Inputs.build(rng.uniform(0, 100, (3, 7, 3)), rng.uniform(0.1, 1, (3, 7, 3)), rng.uniform(0.1, 1, (3, 7)),
                       low=np.zeros(3), high=np.full(3, 100.0))
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)  # compiled (where numba is installed: CI has it)
    fast = exchange.run(inp, exchange.Params(arithmetic="float", passes=4))
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", float("inf"))  # plain Python
    slow = exchange.run(inp, exchange.Params(arithmetic="float", passes=4))
    assert fast.extras["exchanges"].sum() > 10
    np.testing.assert_array_equal(fast.position, slow.position)
    np.testing.assert_array_equal(fast.extras["trades"], slow.extras["trades"])


def test_greedy_compiled_loop_gives_the_numpy_numbers_bit_for_bit(monkeypatch):
    # the greedy variant runs compiled (numba) for batches past PURE_MAX_WORK, else as numpy over the batch
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 100, (40, 9, 4))
    x[::2] = x[::2].round()  # round numbers: gain ties, broken by the flat index in both
    s = rng.uniform(0, 1, (40, 9, 4)).round(1)
    c = rng.uniform(0.1, 1, (40, 9)).round(1)
    act = rng.uniform(size=(40, 9)) > 0.1
    inp = Inputs.build(x, s, c, active=act, low=np.zeros(4), high=np.full(4, 100.0))
    for passes in (1, 4):
        monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)
        fast = exchange.run(inp, exchange.Params(variant="greedy", passes=passes))
        monkeypatch.setattr(exchange, "PURE_MAX_WORK", float("inf"))
        slow = exchange.run(inp, exchange.Params(variant="greedy", passes=passes))
        assert slow.extras["exchanges"].sum() > 40
        np.testing.assert_array_equal(fast.position, slow.position)
        np.testing.assert_array_equal(fast.forecast, slow.forecast)
        np.testing.assert_array_equal(fast.rounds, slow.rounds)
        np.testing.assert_array_equal(fast.extras["exchanges"], slow.extras["exchanges"])
        np.testing.assert_array_equal(fast.extras["trades"], slow.extras["trades"])


@pytest.mark.parametrize("n, D", [(2, 2), (3, 1), (5, 2), (10, 3), (12, 5)])
def test_greedy_compiled_loop_split_over_threads_gives_the_numpy_numbers(monkeypatch, n, D):
    # the compiled loop visits only the candidates that can have a gain and takes the best remaining one
    # (ties by flat index) instead of sorting them all; calls of a few draws each, over two threads, with
    # each thread's forecast: everything equals the numpy pass over the whole batch, NaN padding included
    rng = np.random.default_rng(100 + 10 * n + D)
    B = 60
    x = rng.uniform(0, 100, (B, n, D))
    x[::2] = (x[::2] / 25).round() * 25  # coarse grids: many exact gain ties, and actors on an outcome
    s = rng.uniform(0, 1, (B, n, D))
    s[::3] = (s[::3] * 4).round() / 4  # some zero saliences (out of an issue), equal ratios
    c = rng.uniform(0.1, 1, (B, n)).round(1)
    act = rng.uniform(size=(B, n)) > 0.15
    act[:, 0] = True  # someone votes on every issue (else the forecast is 0 / 0)
    inp = Inputs.build(x, s, c, active=act, low=np.zeros(D), high=np.full(D, 100.0))
    monkeypatch.setenv("DETENTE_THREADS", "2")
    for passes in (1, 3):
        monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)
        monkeypatch.setattr(exchange, "_CALL_WORK", 3 * n * n * D * D * passes)  # three draws a call
        fast = exchange.run(inp, exchange.Params(variant="greedy", passes=passes))
        monkeypatch.setattr(exchange, "PURE_MAX_WORK", float("inf"))
        slow = exchange.run(inp, exchange.Params(variant="greedy", passes=passes))
        if D > 1 and n > 2:
            assert slow.extras["exchanges"].sum() > B
        for got, want in ((fast.position, slow.position), (fast.forecast, slow.forecast), (fast.rounds, slow.rounds),
                          (fast.extras["exchanges"], slow.extras["exchanges"])):
            assert got.shape == want.shape
            assert np.array_equal(got, want)
        assert fast.extras["trades"].shape == slow.extras["trades"].shape
        assert np.array_equal(fast.extras["trades"], slow.extras["trades"], equal_nan=True)


def test_greedy_compiled_loop_with_every_pair_a_candidate(monkeypatch):
    # half the actors at one corner, half at the other, on every issue: every pair is on opposite sides of
    # every outcome, so a round forms the most candidates there can be (the compiled loop's tables are that big)
    rng = np.random.default_rng(3)
    B, n, D = 20, 10, 4
    x = np.where(np.arange(n)[None, :, None] < n // 2, 10.0, 90.0) + np.zeros((B, n, D))
    s = rng.uniform(0.1, 1, (B, n, D))
    c = rng.uniform(0.1, 1, (B, n))
    inp = Inputs.build(x, s, c, low=np.zeros(D), high=np.full(D, 100.0))
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", -1)
    fast = exchange.run(inp, exchange.Params(variant="greedy", passes=2))
    monkeypatch.setattr(exchange, "PURE_MAX_WORK", float("inf"))
    slow = exchange.run(inp, exchange.Params(variant="greedy", passes=2))
    cand = exchange.candidates(x, s, c, np.ones((B, n, D), bool))
    assert ((cand["gain"] > 0).reshape(B, -1).sum(axis=1) == 2 * exchange._max_candidates(n, D)).all()
    assert (slow.extras["exchanges"][:, 1] == n * D // 4).any()  # a round with as many exchanges as there is room for
    assert np.array_equal(fast.position, slow.position) and np.array_equal(fast.forecast, slow.forecast)
    assert np.array_equal(fast.extras["trades"], slow.extras["trades"], equal_nan=True)
