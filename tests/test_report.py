"""The HTML report: one self-contained file with every panel; --png writes the images."""

from __future__ import annotations

import re
from html import escape

import numpy as np
import pytest

import detente
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
    # the section and charts take their words from the model's perspective hook
    from detente.models import bdm

    view = bdm.perspective(detente.load("korea-2019").to_inputs())
    assert f'<p class="lead">{escape(view.description)}</p>' in html
    assert view.title == "expected-utility quadrants" and view.title in html
    # the comparison names what differs: the wait theory's DPRK deal position (korea-2019-wait.yaml)
    assert "Inputs that differ from korea-2019" in html
    s = detente.load("korea-2019")
    dprk, deal = escape(s.actor("dprk").short_name()), escape(s.issue("deal").short_name())
    assert f"<td>{dprk}</td><td>{deal}</td><td>position</td><td>30 [15, 50]</td><td>20 [10, 30]</td>" in html
    assert "@media print" in html


def test_png_images_written(report_html):
    _, png = report_html
    names = {p.name for p in png.glob("*.png")}
    assert {"trajectory-deal.png", "power.png", "comparison.png"} <= names
    for p in png.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_static_model_report_and_bad_input(tmp_path):
    html = build_report("korea-2019", "compromise")
    # compromise has no perspective hook: the section says so and names the models that have one
    assert "Perspective map: compromise does not describe how each actor sees its rivals; bdm does" in html
    code = main(["report", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "r.html")])
    assert code == 2 and not (tmp_path / "r.html").exists()


def test_place_labels_keeps_labels_apart_and_inside():
    """Dense clusters: no two labels overlap, no label covers a point, all stay inside the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from detente.report._svg import box_distance as _box_distance
    from detente.report._svg import overlap as _overlap
    from detente.report.charts import place_labels

    rng = np.random.default_rng(4)
    for trial in range(5):
        fig = Figure(figsize=(3, 3), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        pts = [(float(x), float(y), f"actor{k}") for k, (x, y) in enumerate(rng.normal(0, 0.15, (6, 2)))]
        for x, y, _ in pts:
            ax.plot(x, y, "o", ms=6)
        anns = place_labels(ax, pts, fontsize=6.5, marker_pt=6)
        r = fig.canvas.get_renderer()
        boxes = []
        for a in anns:  # the text alone, without a leader line: the same label drawn again without one
            bare = ax.annotate(a.get_text(), a.xy, xytext=a.xyann, textcoords="offset points", fontsize=a.get_fontsize(),
                               ha=a.get_ha(), va=a.get_va())
            boxes.append(tuple(bare.get_window_extent(r).extents))
            bare.remove()
        frame = tuple(ax.get_window_extent(r).extents)
        centres = [ax.transData.transform((x, y)) for x, y, _ in pts]
        for i, b in enumerate(boxes):
            assert _overlap(b, frame) == pytest.approx((b[2] - b[0]) * (b[3] - b[1]))
            for j, c in enumerate(boxes):
                if i != j:
                    assert _overlap(b, c) == 0, (trial, i, j)
            for cx, cy in centres:
                assert _box_distance(b, (cx, cy)) >= 2.9, trial  # clear of every marker (radius 3 pt)


def test_who_moved_whom(report_html, trade_file):
    """The report lists the moves a model reports: bdm's challenges in the fixture, and a hand-derived trade."""
    from detente.report.build import compute
    from detente.report.html import render

    html, _ = report_html
    assert 'id="moves"' in html and ("confrontation with" in html or "compromise with" in html)
    f = trade_file
    data = compute(str(f), "exchange", {"passes": 2}, sensitivity=False)
    # tests/test_exchange.py derives these trades by hand: A moves 0 -> 100 on q, B 0 -> 100 on p; round 2 starts
    # them at 42 (Decide's new start positions) and they trade all the way again
    got = sorted((m["round"], m["actor"], m["issue"], round(m["from"], 9), round(m["to"], 9), m["why"]) for m in data["moves"])
    assert got == [(1, "A", "q", 0.0, 100.0, "trade: B moves on p in return"),
                   (1, "B", "p", 0.0, 100.0, "trade: A moves on q in return"),
                   (2, "A", "q", 42.0, 100.0, "trade: B moves on p in return"),
                   (2, "B", "p", 42.0, 100.0, "trade: A moves on q in return")]
    page = render(data)
    assert 'id="moves"' in page and "trade: B moves on p in return" in page
    # a model without moves has no such section
    assert 'id="moves"' not in render(compute(str(f), "compromise", sensitivity=False))


def test_distribution_chart_labels_each_threshold_with_its_share_of_draws():
    from detente.report import charts

    scen = detente.load({
        "name": "t", "issues": [{"key": "x", "scale": [0, 100], "thresholds": [
            {"name": "high", "value": 60, "direction": "above"}, {"name": "low", "value": 20, "direction": "below"}]}],
        "actors": [{"key": k, "capability": 1, "positions": {"x": 50}, "salience": {"x": 50}} for k in "ab"],
    })
    # 10 draws: 60, 70 and 80 are at or above 60 (30 %); 10 and 20 at or below 20 (20 %); NaN draws are not counted
    finals = [10, 20, 30, 40, 50, 55, 58, 60, 70, 80, float("nan")]
    fig = charts.distribution_figure(scen, "x", finals)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("\u2265 60: 30%" in t for t in texts), texts
    assert any("\u2264 20: 20%" in t for t in texts), texts
