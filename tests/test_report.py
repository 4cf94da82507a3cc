"""The HTML report: one self-contained file with every panel; --png writes the images."""

from __future__ import annotations

import re

import pytest

from detente.cli import main
from detente.report import build_report


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    out, png = d / "report.html", d / "png"
    code = main(["report", "korea-2019", "--model", "bdm", "--draws", "60", "--seed", "3",
                 "--compare", "korea-2019-wait", "-o", str(out), "--png", str(png)])
    assert code == 0
    return out.read_text(encoding="utf-8"), png


def test_one_file_without_external_references(report_html):
    html, _ = report_html
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "<link" not in html and "<script src" not in html and "@import" not in html
    assert "url(http" not in html


def test_every_panel(report_html):
    html, _ = report_html
    for section in ("forecast", "inputs", "trajectories", "power", "quadrants", "comparison", "run"):
        assert f'id="{section}"' in html, section
    for issue in ("deal", "sanctions", "exercises"):
        assert f'data-chart="trajectory-{issue}"' in html
    assert 'data-chart="power"' in html and 'data-chart="comparison"' in html
    # inputs and their rationales, run metadata
    assert "Refused to settle" in html or "refused to settle" in html
    assert "input hash (SHA-256)" in html and "0.1.0" in html
    assert 'data-chart="fan-deal"' in html and 'data-chart="dist-deal"' in html
    assert 'data-chart="tornado-deal"' in html
    assert 'data-chart="quadrant-deal"' in html  # the report runs bdm
    # the comparison names what differs: the wait theory's DPRK deal position (korea-2019-wait.yaml)
    assert "Inputs that differ from korea-2019" in html
    assert "<td>dprk</td><td>deal</td><td>position</td><td>30 [15, 50]</td><td>20 [10, 30]</td>" in html
    assert "@media print" in html


def test_png_images_written(report_html):
    _, png = report_html
    names = {p.name for p in png.glob("*.png")}
    assert {"trajectory-deal.png", "power.png", "comparison.png"} <= names
    for p in png.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_static_model_report_and_bad_input(tmp_path):
    html = build_report("korea-2019", "compromise")
    assert "BDM quadrant map" in html and "bdm model only" in html
    code = main(["report", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "r.html")])
    assert code == 2 and not (tmp_path / "r.html").exists()
