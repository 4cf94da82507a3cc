"""Numbers follow the scale, names are display names (issue #12 points 4 and 6).

Expected digits come from the rule in :mod:`detente.numfmt` (the last shown digit is between 0.1 %
and 1 % of the scale's width) worked by hand for each scale; forecasts in the end-to-end checks are
weighted means computed here from the inputs.
"""

from __future__ import annotations

import json
import re

import pytest

import detente
from detente.cli import main as cli_main
from detente.numfmt import decimals, fmt, fmt_percent, fmt_range, meaning
from detente.scenario.schema import short_name


@pytest.mark.parametrize("scale, d", [((0, 1), 3), ((0, 10), 2), ((4, 10), 2), ((0, 100), 1), ((0, 1000), 0),
                                      ((0, 50), 1), ((-1, 1), 2), ((0, 0.1), 4), (100, 1)])
def test_decimals_follow_the_width(scale, d):
    assert decimals(scale) == d


def test_zero_to_one():
    assert fmt(0.478, (0, 1)) == "0.478"  # not "0.5"
    assert fmt_range(0.459, 0.541, (0, 1)) == "0.459-0.541"  # not "0.5-0.5"
    assert fmt(0.0004, (0, 1)) == "0.000" and fmt(-0.0004, (0, 1)) == "0.000"  # never "-0.000"


def test_zero_to_ten_and_four_to_ten():
    assert fmt(4.5, (0, 10)) == "4.50"  # not "5"
    assert fmt(7.389955686853767, (4, 10)) == "7.39"
    assert fmt(0.25, (0, 10), sign=True) == "+0.25" and fmt(-0.25, (4, 10), sign=True) == "-0.25"


def test_zero_to_hundred():
    assert fmt(65, (0, 100)) == "65.0"
    assert fmt_range(10.04, 63.66, (0, 100)) == "10.0-63.7"
    assert fmt_range(-3.2, 4.0, (-10, 10)) == "-3.2 to 4.0"  # width 20: 1 decimal; no "-3.2-4.0"
    assert fmt(None, (0, 100)) == "-" and fmt(float("nan"), (0, 100)) == "-"


def test_percent_never_rounds_a_rare_outcome_away():
    assert fmt_percent(0.004) == "<1%" and fmt_percent(0.996) == ">99%"
    assert fmt_percent(0.0) == "0%" and fmt_percent(1.0) == "100%" and fmt_percent(0.5) == "50%"


def test_meaning_between_named_points():
    labels = {35.0: "Cut to 35 hours", 40.0: "No change", 48.0: "Longer hours"}
    assert meaning(37.8, labels, (35, 48)) == "between Cut to 35 hours and No change"  # not "No change"
    assert meaning(40.1, labels, (35, 48)) == "No change"  # within 1 % of the width (0.13)
    assert meaning(48.0, labels, (35, 48)) == "Longer hours"
    assert meaning(50.0, {0.0: "none", 40.0: "some"}, (0, 100)) == "above some"
    assert meaning(20.0, {40.0: "some", 100.0: "all"}, (0, 100)) == "below some"
    assert meaning(20.0, {}, (0, 100)) == ""


def test_short_names_cut_at_words_and_drop_parentheticals():
    assert short_name("The US president (Donald Trump)") == "The US president"
    assert short_name("Kim Jong Un and the DPRK leadership") == "Kim Jong Un and the\u2026"
    assert short_name("US Congress") == "US Congress"
    assert len(short_name("x" * 40)) == 24


def _scenario(positions, scale, labels=None):
    return detente.load({
        "name": "digits", "model": {"name": "mean"},
        "issues": [{"key": "share", "name": "Share paid", "scale": list(scale), "labels": labels or {}}],
        "actors": [{"key": f"k{n}", "name": f"Actor number {n}", "capability": 1, "positions": {"share": x},
                    "salience": {"share": 50}} for n, x in enumerate(positions)],
    })


def test_cli_forecast_table_on_a_zero_to_one_scale(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the meaning cell must not wrap for the substring check
    # the mean of 0.400 and 0.556 is 0.478: a one-decimal table printed 0.5
    s = _scenario([0.4, 0.556], (0, 1), {0: "nothing", 1: "everything"})
    p = tmp_path / "s.json"
    p.write_text(json.dumps(s.to_dict()))
    assert cli_main(["forecast", str(p)]) == 0
    text = capsys.readouterr().out
    words = " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())  # the table's words, borders and wrapping gone
    assert "0.478" in text and "between nothing and everything" in words
    # the positions table heads its columns with the issue's name, its rows with actors' names
    assert "Share paid" in text and "Actor number 0" in text and "k0" not in text


def test_result_label_says_between(tmp_path):
    r = detente.forecast(_scenario([36.0, 39.6], (35, 48), {35: "Cut", 40: "No change"}))
    assert r.issues["share"]["forecast"] == pytest.approx(37.8)
    assert r.issues["share"]["label"] == "between Cut and No change"


def test_report_table_digits_and_names(tmp_path):
    from detente.report import compute, render

    html = render(compute(_scenario([0.4, 0.556], (0, 1)), sensitivity=False))
    assert re.search(r'<td class="num big">0\.478</td>', html)
    assert "word-break: break-all" not in html  # keys never wrap mid-word


@pytest.fixture(scope="module")
def flagship_report():
    from detente.report import compute

    return compute("korea-2019", model="bdm", sensitivity=True)


def test_report_charts_and_moves_use_display_names(flagship_report):
    data = flagship_report
    s = detente.load("korea-2019")
    svg = "".join(c["svg"] for c in data["charts"])
    # quadrant titles and legends: display names, no possessive of a key
    assert "as The US president sees it" in svg and "as Kim Jong Un and the\u2026 sees it" in svg
    for key in ("dprk", "rok"):
        assert f"{key}'s" not in svg and f">{key}<" not in svg
    # tornado labels: "salience of <name> on <issue name>"
    tornado = "".join(c["svg"] for c in data["charts"] if c["id"].startswith("tornado-"))
    assert re.search(r"(salience|position|capability) of ", tornado) and "'s salience" not in tornado
    # the moves' reasons name the counterpart as a person reads it; the machine fields keep keys
    names = {a.short_name() for a in s.actors}
    moves = data["moves"]
    assert moves and all(m["counterpart"] in s.actor_keys for m in moves if m["counterpart"])
    for m in moves:
        if m["counterpart"]:
            assert m["why"].split(" with ")[-1] in names, m["why"]


def test_report_digits_on_the_flagship(flagship_report):
    # 0-100 scales: one decimal in the summary table
    from detente.report import render

    html = render(flagship_report)
    cells = re.findall(r'<td class="num big">([^<]+)</td>', html)
    assert cells and all(re.fullmatch(r"-?\d+\.\d", c) for c in cells)
