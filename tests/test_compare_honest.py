"""compare says what it compared (issue #12): the inputs that differ by display name where a person
reads (keys only in the JSON and CSV), and a note that describes the run that was made (draws or not),
in the CLI and in the report (which the web app's compare serves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import detente

PAIR = ["korea-2019", "korea-2019-wait"]


def _cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "detente", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def _differences_block(text: str) -> str:
    start = text.index("Inputs that differ")
    return text[start: text.index("note:", start)]


def test_differences_table_shows_names_and_the_json_keeps_keys():
    base, wait = detente.load(PAIR[0]), detente.load(PAIR[1])
    text = _cli("compare", *PAIR)
    block = _differences_block(text)
    dprk = base.actor("dprk")
    assert dprk.name != "dprk"
    assert dprk.short_name() in block
    assert base.issue("deal").short_name() in block
    reengage = next(e for e in wait.events if e.key not in {x.key for x in base.events})
    assert reengage.name and reengage.name[:15] in block
    # no key where a person reads: the actor's, the issue's and the events' keys are not in the table
    for key in ["dprk", "deal", reengage.key, "year-end-deadline", "changes.salience"]:
        assert key not in block, key
    d = json.loads(_cli("compare", *PAIR, "--format", "json"))
    rows = d["differences"]
    assert {r["actor"] for r in rows} == {"dprk"}
    assert {"deal"} <= {r["issue"] for r in rows if r["issue"]}
    assert any(r["field"] == "event year-end-deadline.changes.salience.deal" for r in rows)


@pytest.mark.parametrize("draws", [0, 30])
def test_the_note_describes_the_run_that_was_made(draws):
    text = _cli("compare", *PAIR, "--draws", str(draws))
    note = text[text.index("note: forecast:"):]
    if draws:
        assert f"median of {draws} Monte Carlo draws" in " ".join(note.split())
        assert "most likely event branch" not in note and "deterministic" not in note
    else:
        assert "one run each on the most likely event branch" in " ".join(note.split())
        assert "Monte Carlo" not in note


def test_report_comparison_with_draws_compares_medians_by_name():
    from detente.report.build import compute
    from detente.report.html import render

    data = compute(PAIR[0], "bdm", seed=2, draws=40, sensitivity=False, compare=[PAIR[1]])
    comp = data["comparison"]
    # the scenario's own row is the report's headline (the median of the same draws)
    first = comp["rows"][0]["forecast"]
    for r in data["summary"]:
        assert first[r["issue"]] == pytest.approx(r["forecast"], abs=1e-12)
    assert any("median of 40 Monte Carlo draws" in n for n in comp["notes"])
    base = detente.load(PAIR[0])
    assert {d["actor"] for d in comp["differences"]} == {base.actor("dprk").short_name()}
    html = render(data)
    section = html[html.index("Inputs that differ"):]
    section = section[: section.index("</table>")]
    assert base.actor("dprk").short_name().replace("&", "&amp;") in section and ">dprk<" not in section
    assert "median of 40 Monte Carlo draws" in html
