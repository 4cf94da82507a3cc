"""One headline per run (issue #12, point 1): with draws, the forecast is the median of the draws in
every output (CLI table, JSON, CSV, report, web), the most likely branch beside it, labelled.

The expected median is recomputed here from the draws the CSV lists (``np.median`` of each issue's
1,000 rows), never read back from the field under test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

FLAGSHIP = ["korea-2019", "--model", "bdm", "--draws", "1000", "--seed", "1"]
WEB = {"base_url": "http://127.0.0.1", "headers": {"X-Detente": "1"}}


def _cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "detente", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def cli_csv() -> str:
    return _cli("forecast", *FLAGSHIP, "--format", "csv")


@pytest.fixture(scope="module")
def medians(cli_csv) -> dict[str, float]:
    """Each issue's median over the 1,000 draws of the CSV output."""
    rows = list(csv.DictReader(io.StringIO(cli_csv)))
    by: dict[str, list[float]] = {}
    for r in rows:
        if r["table"] != "draws":
            continue
        by.setdefault(r["issue"], []).append(float(r["forecast"]))
    assert {len(v) for v in by.values()} == {1000}
    return {k: float(np.median(v)) for k, v in by.items()}


@pytest.fixture(scope="module")
def point() -> dict[str, float]:
    """The most likely branch: the same run without draws."""
    import detente

    return detente.forecast("korea-2019", model="bdm", seed=1).forecast


def test_the_flagship_has_a_branch_that_differs_from_its_median(medians, point):
    # otherwise the tests below could not tell the median from the most likely branch
    assert any(abs(medians[k] - point[k]) > 1 for k in medians)


def test_csv_summary_headline_is_the_median(cli_csv, medians, point):
    summary = [r for r in csv.DictReader(io.StringIO(cli_csv)) if r["table"] == "summary"]
    assert {r["issue"] for r in summary} == set(medians)
    for r in summary:
        assert float(r["forecast"]) == pytest.approx(medians[r["issue"]], abs=1e-12)
        assert float(r["most_likely"]) == pytest.approx(point[r["issue"]], abs=1e-12)


def test_json_headline_is_the_median_with_the_branch_beside_it(medians, point):
    d = json.loads(_cli("forecast", *FLAGSHIP, "--format", "json"))
    for k, m in medians.items():
        iss = d["issues"][k]
        assert iss["forecast"] == pytest.approx(m, abs=1e-12)
        assert iss["distribution"]["median"] == pytest.approx(m, abs=1e-12)
        assert iss["most_likely"]["forecast"] == pytest.approx(point[k], abs=1e-12)
        assert set(iss["stability"]) >= {"cycle_length", "range", "horizon_spread"}
    notes = " ".join(d["meta"]["notes"])
    assert "median of 1,000 Monte Carlo draws" in notes
    assert "--draws" not in notes and "deterministic run" not in notes


def test_cli_table_headline_is_the_median(medians, point):
    text = _cli("forecast", *FLAGSHIP)
    assert "Forecast (median of the draws), its bands and the most likely branch" in text
    import detente

    scen = detente.load("korea-2019")
    for k, m in medians.items():
        name = scen.issue(k).short_name()
        row = next(line for line in text.splitlines() if line.lstrip("│┃| ").startswith(name))
        cells = [c.strip() for c in re.split(r"[│┃|]", row)[1:-1]]
        assert cells[0] == name
        assert float(cells[1]) == pytest.approx(m, abs=0.051)  # shown to one decimal (0-100 scale)
        assert float(cells[5]) == pytest.approx(point[k], abs=0.051)  # the most likely branch, beside the bands


def test_report_headline_is_the_median(medians, point, tmp_path):
    from detente.report.build import compute
    from detente.report.html import render

    data = compute("korea-2019", "bdm", seed=1, draws=1000, sensitivity=False)
    html = render(data)
    body = html[html.index('class="summary"'):html.index("</table>", html.index('class="summary"'))]
    assert "forecast (median of draws)" in body and "most likely branch" in body
    for r in data["summary"]:
        assert r["forecast"] == pytest.approx(medians[r["issue"]], abs=1e-12)
        assert r["most_likely"] == pytest.approx(point[r["issue"]], abs=1e-12)
        assert data["result"]["issues"][r["issue"]]["forecast"] == pytest.approx(medians[r["issue"]], abs=1e-12)
        assert f'<td class="num big">{r["forecast"]:.1f}</td>' in body
    # the fan chart's forecast line is the median; the most likely branch is drawn beside it, labelled
    fan = next(c for c in data["charts"] if c["id"] == "fan-sanctions")["svg"]
    assert "forecast (median of draws)" in fan and "most likely branch" in fan and "point forecast" not in fan
    assert not any("--draws" in n or "deterministic run" in n for n in data["notes"])


def test_web_headline_is_the_median_and_notes_name_web_controls(medians, cli_csv, tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    with TestClient(create_app(tmp_path / "runs.db"), **WEB) as c:
        r = c.post("/api/forecast", json={"name": "korea-2019", "model": "bdm", "seed": 1, "draws": 1000})
        assert r.status_code == 201, r.text
        run = r.json()
        for row in run["results"]["summary"]:
            assert row["forecast"] == pytest.approx(medians[row["issue"]], abs=1e-12)
        j = c.get(f"/api/runs/{run['id']}/json").json()
        for k, m in medians.items():
            assert j["issues"][k]["forecast"] == pytest.approx(m, abs=1e-12)
        # the run's CSV lists every draw, the same draws as the CLI's: its medians are the headline
        web = [(r["draw"], r["issue"], r["forecast"]) for r in csv.DictReader(io.StringIO(c.get(f"/api/runs/{run['id']}/csv").text))]
        cli = [(r["draw"], r["issue"], r["forecast"]) for r in csv.DictReader(io.StringIO(cli_csv)) if r["table"] == "draws"]
        assert web == cli
        # a model without a perspective map: the note names the web app's Model menu, not a CLI flag
        r = c.post("/api/forecast", json={"name": "korea-2019", "model": "compromise"})
        html = c.get(f"/api/runs/{r.json()['id']}/report").text
        assert "pick bdm in the Model menu" in html and "--model" not in html and "--draws" not in html
