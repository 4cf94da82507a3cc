"""The exchange model's default against Decide itself, on Decide's own example files.

``tests/data/decide/decide_ranges.json`` holds, per file, round and issue, the lowest and highest
forecast Decide produced over repeated runs (its tie coin seeded 0, 1, 2, ... plus one run with
the coin off; the file says how, with which release, and when). Decide's runs differ only by that
coin, so its spread is the range of equally valid results of the model. detente has no coin (a tie
goes to the exchange formed first, docs/models/exchange.md), so its one result should land inside
that range, round by round.

Two things keep it from landing inside everywhere, both measured (docs/models/exchange.md, "Against
Decide"): a range from about a hundred runs under-samples the spread's edges (Decide's own code,
run once with detente's tie rule in place of its coin, ``first_tie`` in the JSON, lands outside
it too), and on 8 of 101 moves in Decide's runs its 28-digit decimals stop, by one unit of the 26th
decimal place, a move that exact arithmetic (and detente) lets through. So the tests ask that every
forecast lie within ``SLACK`` points of Decide's range beyond what Decide's own deterministic run
needs, that at least ``INSIDE`` of each file's forecasts lie inside it, and that every round's
number of exchanges lies within Decide's fewest and most. More runs of Decide can only widen its
ranges, which can only bring more of detente's forecasts inside (and Decide's own run, too).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detente import api
from detente.models import exchange

DATA = Path(__file__).parent / "data" / "decide"
RANGES = json.loads((DATA / "decide_ranges.json").read_text(encoding="utf-8"))
FILES = ("sample_data.txt", "cop21.csv", "copenhagen.csv")

#: Points of the 0-100 scale by which detente's forecast may lie further outside Decide's range than Decide's own
#: code, run with detente's tie rule, lies outside it (the most over the file's rounds and issues).
SLACK = 0.1
#: Share of a file's round-and-issue forecasts that lie inside Decide's range, at least.
INSIDE = 0.9


def _forecasts(name):
    s = api.load(str(DATA / name))
    tr = exchange.run(s.to_inputs())
    return s, tr


def _outside(name, got):
    """Points (0-100 scale) by which each forecast of rounds 1-10 lies outside Decide's range (<= 0 inside)."""
    rec = RANGES["files"][name]
    s = api.load(str(DATA / name))
    assert rec["issues"] == s.issue_keys
    lo, hi = np.array(rec["low"]), np.array(rec["high"])  # (round, issue), the issue's own scale
    width = np.array([i.scale[1] - i.scale[0] for i in s.issues])
    assert got.shape == lo.shape == (10, len(s.issues))
    return np.maximum(lo - got, got - hi) * 100 / width


def test_every_example_file_was_measured_often_enough():
    assert sorted(RANGES["files"]) == sorted(FILES) == sorted(RANGES["first_tie"]["files"])
    for name, rec in RANGES["files"].items():
        assert rec["runs"] >= 80, name  # ten runs under-sample the spread badly (docs/models/exchange.md)


@pytest.mark.parametrize("name", FILES)
def test_default_within_the_spread_of_decides_own_runs_round_by_round(name):
    s, tr = _forecasts(name)
    out = _outside(name, tr.forecast[0, 1:11])
    own = _outside(name, np.array(RANGES["first_tie"]["files"][name]["forecast"]))  # Decide's code, detente's tie rule
    inside = out <= 1e-4  # the recorded ranges are rounded to 6 decimals on the issue's own scale
    misses = [(t + 1, s.issue_keys[k], round(float(out[t, k]), 3)) for t, k in zip(*np.nonzero(~inside))]
    assert out.max() <= max(own.max(), 0.0) + SLACK, (float(own.max()), misses)
    assert inside.mean() >= INSIDE, misses
    counts = RANGES["files"][name]["exchanges"]
    for t in range(1, 11):
        lo, hi = counts[t - 1]
        assert lo <= tr.extras["exchanges"][0, t] <= hi, (t, int(tr.extras["exchanges"][0, t]), lo, hi)


def test_sample_data_round_one_as_decide_reports_it():
    # the issue's numbers from Decide's round 1 on the sample file of its documentation
    s, tr = _forecasts("sample_data.txt")
    fc = dict(zip(s.issue_keys, tr.forecast[0, 1]))
    assert round(fc["woonwerkverkeer"], 1) == 16.2
    assert 75.1 <= fc["extra-investering"] <= 76.5
    assert round(fc["tol-hoogte"], 2) == 3.66
    lo, hi = RANGES["files"]["sample_data.txt"]["exchanges"][0]
    assert lo <= tr.extras["exchanges"][0, 1] <= hi


# Decide's own code with detente's tie rule in place of its coin: the same exchanges, in the same order, until
# the first move that Decide's decimals stop by a hair and exact arithmetic lets through (docs/models/exchange.md)
#: file -> rounds whose forecasts and exchanges agree (to 1e-9); Decide's decimals first stop such a move in the next
#: (sample_data round 5, cop21 round 2, copenhagen round 8), where detente then realises more exchanges than it
SAME_AS_DECIDE = {"sample_data.txt": 4, "cop21.csv": 1, "copenhagen.csv": 7}


@pytest.mark.parametrize("name", sorted(SAME_AS_DECIDE))
def test_decides_code_with_detentes_tie_rule_gives_detentes_exchanges(name):
    from detente._parse import slug

    rec = RANGES["first_tie"]["files"][name]
    rounds_same = SAME_AS_DECIDE[name]
    s, tr = _forecasts(name)
    A, I = s.actor_keys, s.issue_keys
    rows = tr.extras["trades"][0, 1]
    rows = rows[~np.isnan(rows[:, 0])]
    mine = [(A[int(r[0])], A[int(r[1])], I[int(r[3])], I[int(r[2])], r[8]) for r in rows]
    theirs = [(slug(a), slug(b), slug(p), slug(q), g) for a, b, p, q, g in rec["round_1"]]
    # every exchange of round 1, in order, with the same actors, issues and gain
    assert [m[:4] for m in mine] == [t[:4] for t in theirs]
    np.testing.assert_allclose([m[4] for m in mine], [t[4] for t in theirs], rtol=1e-9)
    fc = np.array(rec["forecast"])
    np.testing.assert_allclose(tr.forecast[0, 1 : rounds_same + 1], fc[:rounds_same], rtol=0, atol=1e-9)
    assert list(tr.extras["exchanges"][0, 1 : rounds_same + 1]) == rec["exchanges"][:rounds_same]
    t = rounds_same + 1  # the move Decide's decimals stop goes through here: one exchange more, other forecasts
    assert tr.extras["exchanges"][0, t] > rec["exchanges"][t - 1]
    assert np.abs(tr.forecast[0, t] - fc[t - 1]).max() > 1e-6
