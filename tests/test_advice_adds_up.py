"""Advice that adds up (issue #12 point 3).

Every number in an advice sentence is recomputed here from the JSON (medians over the draws), the
JSON's own arithmetic is checked, the base forecast is checked against an independent Monte Carlo
run, and a lever the actor cannot pull is never offered as its best.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import detente
from detente.analysis import advise, monte_carlo
from detente.numfmt import fmt, fmt_percent

SENTENCE = re.compile(
    r"^(?P<issue>.+): medians over (?P<draws>\d+) draws: the best lever for (?P<me>.+) is to (?P<lever>.+) \((?P<who>.+)\): "
    r"the forecast moves from (?P<f0>-?[\d.]+) to (?P<f1>-?[\d.]+) and ends (?P<rest>[\d.]+) points from "
    r"(?P<ideal>-?[\d.]+), where (?P=me) stands, instead of (?P<dist>[\d.]+): (?P<gain>-?[\d.]+) points closer "
    r"\((?P<share>.+) of the way\)\. "
    r"Draw by draw, it helps in (?P<helps>.+) of them$"
)


@pytest.fixture(scope="module")
def flagship():
    # the issue's example: trump on sanctions with bdm (printed "+10.5 ... from 31.2 to 26.5" before)
    return advise("korea-2019", "trump", "sanctions", model="bdm", draws=60, seed=0, progress=False)


def test_the_sentence_is_recomputed_from_the_json(flagship):
    d = json.loads(flagship.to_json())
    assert d["statistic"] == "median over 60 draws"
    (line,) = d["headline"]
    m = SENTENCE.match(line)
    assert m, line
    iss = d["issues"]["sanctions"]
    best = iss["best"]
    scale = detente.load("korea-2019").issue("sanctions").scale
    f0, f1, ideal = iss["forecast"], best["forecast"], iss["ideal"]
    # the printed forecasts and position are the JSON's, with the scale's digits
    assert m["issue"] == iss["name"] and m["lever"] == best["lever"] and m["who"] == best["who"]
    assert m["f0"] == fmt(f0, scale) and m["f1"] == fmt(f1, scale) and m["ideal"] == fmt(ideal, scale)
    _closes_on_its_digits(m)
    # the printed distances are the JSON's, to the last shown digit (rounding each number moves it by half a digit)
    step = 10.0 ** -1  # 0-100: one decimal
    assert abs(float(m["dist"]) - abs(f0 - ideal)) <= step and abs(float(m["rest"]) - abs(f1 - ideal)) <= step
    assert m["helps"] == fmt_percent(best["p_helps"])
    # and the JSON's own arithmetic closes (the old `distance` was a mean over draws)
    assert iss["distance"] == pytest.approx(abs(f0 - ideal), abs=1e-12)
    for lv in iss["levers"]:
        assert lv["gain"] == pytest.approx(iss["distance"] - abs(lv["forecast"] - ideal), abs=1e-12)
        assert lv["share_of_distance"] == pytest.approx(lv["gain"] / iss["distance"])


def _closes_on_its_digits(m: re.Match) -> None:
    """The sentence's arithmetic, recomputed from its own text: the distances are the printed forecasts'
    distances to the printed position, the gain their difference, the share the gain over the distance."""
    from decimal import Decimal

    f0, f1, ideal = Decimal(m["f0"]), Decimal(m["f1"]), Decimal(m["ideal"])
    dist, rest, gain = Decimal(m["dist"]), Decimal(m["rest"]), Decimal(m["gain"])
    assert dist == abs(f0 - ideal), m.group(0)
    assert rest == abs(f1 - ideal), m.group(0)
    assert gain == dist - rest, m.group(0)
    assert m["share"] == fmt_percent(float(gain / dist)), m.group(0)


def test_every_sentence_adds_up_on_the_digits_it_prints():
    """Every actor's advice on every issue of the flagship, and on a 0-1 scale (two decimals): each
    sentence closes on its own digits; and somewhere among them, rounding the unrounded distances and gain
    one by one would not have (the case the issue saw: "from 52.5 to 46.1 ... 6.3 points closer")."""
    share = detente.load({
        "name": "a share", "issues": [{"key": "q", "name": "Quota share", "scale": [0, 1]}],
        "actors": [{"key": k, "capability": c, "positions": {"q": x}, "salience": {"q": v}}
                   for k, c, x, v in [("a", 1, 0.83, 90), ("b", 3, 0.21, 60), ("c", 2, 0.57, 40), ("d", 1, 0.38, 75)]],
    })
    broken_elsewhere = 0
    checked = 0
    for s in (detente.load("korea-2019"), share):
        for actor in s.actor_keys:
            adv = advise(s, actor, model="compromise", draws=12, seed=1, progress=False)
            d = json.loads(adv.to_json())
            for line in d["headline"]:
                m = SENTENCE.match(line)
                if not m:
                    continue
                checked += 1
                _closes_on_its_digits(m)
                key = next(k for k, v in d["issues"].items() if line.startswith(v["name"] + ":"))
                iss, sc = d["issues"][key], s.issue(key).scale
                f0, f1, ideal = iss["forecast"], iss["best"]["forecast"], iss["ideal"]
                naive = (fmt(abs(f0 - ideal), sc), fmt(abs(f1 - ideal), sc), fmt(abs(f0 - ideal) - abs(f1 - ideal), sc))
                broken_elsewhere += naive != (m["dist"], m["rest"], m["gain"])
    assert checked >= 10
    assert broken_elsewhere >= 1  # the cases where printing the unrounded arithmetic would not add up


def test_the_base_is_the_median_of_an_independent_monte_carlo(flagship):
    # the same draws (seed, count) run by monte_carlo: the advice's base forecast is their median
    mc = monte_carlo("korea-2019", model="bdm", draws=60, seed=0, progress=False)
    d = detente.load("korea-2019").issue_keys.index("sanctions")
    assert flagship.base["forecast"].iloc[0] == pytest.approx(float(np.median(mc.forecasts[:, d])), abs=1e-9)


def test_every_lever_says_who_pulls_it(flagship):
    t = flagship.to_frame()
    assert set(t["control"]) <= {"itself", "persuasion", "others"}
    assert (t["pullable"] == (t["control"] != "others")).all()
    kinds = dict(zip(t["kind"], t["control"]))
    assert kinds["own position"] == kinds["salience"] == "itself"
    assert kinds["persuade"] == kinds["coalition"] == "persuasion" and kinds["remove"] == "others"
    assert t["who"].str.len().gt(0).all()


def _wage():
    # a union against employers who weigh three times as much: keeping the employers out would help the
    # union most, but that is not the union's to choose
    return detente.load({
        "name": "wage talk",
        "issues": [{"key": "wage", "name": "Wage rise", "scale": [0, 10], "labels": {0: "none", 10: "10 %"}}],
        "actors": [
            {"key": "union", "name": "IG Metall (the metalworkers)", "capability": 1, "positions": {"wage": 8}, "salience": {"wage": 90}},
            {"key": "employers", "name": "Employers' federation", "capability": 3, "positions": {"wage": 2},
             "salience": {"wage": 80}},
            {"key": "works-council", "name": "Works council", "capability": 1, "positions": {"wage": 6}, "salience": {"wage": 50}},
        ],
    })


def test_a_lever_the_actor_cannot_pull_is_never_its_best():
    adv = advise(_wage(), "union", model="compromise", draws=8, seed=0, progress=False)
    t = adv.to_frame()
    removal = t[(t["kind"] == "remove") & (t["target"] == "employers")].iloc[0]
    # capability x salience: union 0.9, employers 2.4, council 0.5; without the employers the weighted mean
    # goes from (0.9*8 + 2.4*2 + 0.5*6)/3.8 to (0.9*8 + 0.5*6)/1.4: by far the largest gain
    w, x = np.array([0.9, 2.4, 0.5]), np.array([8.0, 2.0, 6.0])
    before, after = w @ x / w.sum(), (w[[0, 2]] @ x[[0, 2]]) / w[[0, 2]].sum()
    assert removal["forecast"] == pytest.approx(after)
    assert adv.base["forecast"].iloc[0] == pytest.approx(before)
    assert removal["gain"] == t["gain"].max()
    assert not removal["pullable"] and removal["who"] == "the other parties, not IG Metall"
    best = adv.best("wage")
    assert best["pullable"] and best["kind"] != "remove"
    (line,) = adv.headline()
    assert "stayed out" not in line and f"best lever for IG Metall is to {best['lever']} ({best['who']})" in line
    # names a person reads are display names (shortened by the one rule), never keys
    assert "the best lever for IG Metall" in line and "works-council" not in line and "union" not in line


def test_cli_table_separates_what_ifs(capsys, tmp_path):
    from detente.cli import main as cli_main

    p = tmp_path / "wage.json"
    p.write_text(json.dumps(_wage().to_dict()))
    assert cli_main(["advise", str(p), "--actor", "union", "--model", "compromise", "--draws", "8"]) == 0
    out = capsys.readouterr().out
    assert "what-ifs that only others decide" in out
    assert "Employers' federation" in out and "works-council" not in out
    # 0-10 scale: two decimals
    assert re.search(r"forecast \d\.\d\d, IG Metall wants 8\.00", out.replace("\n", " "))


def test_the_table_adds_up_on_its_digits_too():
    """The advice table's gain and share of the way follow from its printed forecasts and position."""
    import os
    import subprocess
    import sys
    from decimal import Decimal

    r = subprocess.run([sys.executable, "-m", "detente", "advise", "korea-2019", "--actor", "dprk", "--issue", "deal"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "300"})
    assert r.returncode == 0, r.stderr
    title = re.search(r"forecast (-?[\d.]+), .+ wants (-?[\d.]+) \(([\d.]+) points apart\)", r.stdout)
    f0, ideal, apart = (Decimal(title[k]) for k in (1, 2, 3))
    assert apart == abs(f0 - ideal)
    rows = 0
    for line in r.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) != 7 or not re.fullmatch(r"[+-][\d.]+", cells[3]):
            continue
        f, gain = Decimal(cells[2]), Decimal(cells[3])
        assert gain == abs(f0 - ideal) - abs(f - ideal), line
        assert cells[4] == fmt_percent(float(gain / apart)), line
        rows += 1
    assert rows >= 5
