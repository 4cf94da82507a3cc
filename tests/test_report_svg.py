"""The report's SVG writers (:mod:`detente.report._svg`) draw what their matplotlib twins draw (issue #17).

The report's charts are written as SVG by :mod:`detente.report._svg`, without matplotlib; the figures of
:mod:`detente.report.charts` stay for PNG files. Each writer is checked here against its twin on the
flagship's own data (a Monte Carlo, a sensitivity analysis, bdm's perspective map) and on a scenario
without scale labels, calendar or thresholds: every text (titles, axis labels, tick labels, legend entries,
annotations) the same, the axis limits the same, and every line, band, bar and point the same data, read back
from the SVG through its axes' box and limits.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from detente import models as registry
from detente.analysis import monte_carlo, sensitivity
from detente.api import load
from detente.engine import model_params
from detente.report import _svg, charts
from detente.report._adapt import monte_carlo_arrays, perspective_panels, sensitivity_rows

NS = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------------------- reading both sides


def _svg_texts(root: ET.Element) -> Counter:
    out: Counter = Counter()
    for t in root.iter(NS + "text"):
        spans = list(t.iter(NS + "tspan"))
        out["\n".join(s.text or "" for s in spans) if spans else (t.text or "")] += 1
    return out


def _mpl_texts(fig) -> Counter:
    """Every text matplotlib draws: visible, not empty, tick labels only at ticks inside the axis's view."""
    fig.draw_without_rendering()
    ticks = set()
    out: Counter = Counter()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lim), max(lim)
            for tick in axis.get_major_ticks():
                ticks.update((id(tick.label1), id(tick.label2)))
            for loc, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels()):
                if label.get_visible() and label.get_text() and lo - 1e-9 * (hi - lo) <= loc <= hi + 1e-9 * (hi - lo):
                    out[label.get_text()] += 1
    for t in fig.findobj(Text):
        if id(t) in ticks or not t.get_visible() or not t.get_text():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out[t.get_text()] += 1
    return out


def _axes(root: ET.Element) -> list[tuple[ET.Element, tuple[float, ...], tuple[float, ...]]]:
    return [(g, tuple(map(float, g.get("data-box").split())), tuple(map(float, g.get("data-lim").split())))
            for g in root.iter(NS + "g") if g.get("class") == "axes"]


def _to_data(box, lim, x, y):
    x0, y0, x1, y1 = box
    return (lim[0] + (np.asarray(x) - x0) / (x1 - x0) * (lim[1] - lim[0]),
            lim[2] + (y1 - np.asarray(y)) / (y1 - y0) * (lim[3] - lim[2]))


def _points(el: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in el.get("points").split()])


def _tol(lim) -> tuple[float, float]:
    """Half a hundredth of a point (the SVG's rounding) in data units, per axis, with room."""
    return abs(lim[1] - lim[0]) * 0.02 / 100, abs(lim[3] - lim[2]) * 0.02 / 100


def _check_limits(fig, root):
    svg_axes = _axes(root)
    mpl_axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(svg_axes) == len(mpl_axes)
    for (_, _, lim), ax in zip(svg_axes, mpl_axes):
        assert lim[:2] == pytest.approx(ax.get_xlim(), rel=1e-9, abs=1e-12)
        assert lim[2:] == pytest.approx(ax.get_ylim(), rel=1e-9, abs=1e-12)
    return list(zip(svg_axes, mpl_axes))


def _check_lines(pairs):
    """Every labelled line of matplotlib (its data) is a polyline of the SVG with the same label and points."""
    for (g, box, lim), ax in pairs:
        tx, ty = _tol(lim)
        svg_lines = {}
        for el in g.iter(NS + "polyline"):
            if el.get("data-label"):
                svg_lines.setdefault(el.get("data-label"), []).append(_to_data(box, lim, *_points(el).T))
        for line in ax.lines:
            label = line.get_label()
            if label.startswith("_"):
                continue
            xd, yd = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            keep = np.isfinite(xd) & np.isfinite(yd)
            got = svg_lines.pop(label)
            gx = np.concatenate([p[0] for p in got])
            gy = np.concatenate([p[1] for p in got])
            np.testing.assert_allclose(gx, xd[keep], atol=tx)
            np.testing.assert_allclose(gy, yd[keep], atol=ty)
        assert not svg_lines, svg_lines


def _check_bars(pairs):
    """Every bar (a rectangle on the axes, in order) at the same place and size."""
    for (g, box, lim), ax in pairs:
        tx, ty = _tol(lim)
        bars = [el for el in g.iter(NS + "rect") if el.get("class") == "bar"]
        want = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() != 0 and p.get_height() != 0]
        got = []
        for el in bars:
            x, y, w, h = (float(el.get(k)) for k in ("x", "y", "width", "height"))
            (a, b), (c, d) = _to_data(box, lim, [x, x + w], [y + h, y])
            got.append((a, c, b - a, d - c))
        got = [b for b in got if abs(b[2]) > tx and abs(b[3]) > ty]
        norm = sorted((min(p.get_x(), p.get_x() + p.get_width()), min(p.get_y(), p.get_y() + p.get_height()),
                       abs(p.get_width()), abs(p.get_height())) for p in want)
        norm = [b for b in norm if b[2] > tx and b[3] > ty]
        assert len(sorted(got)) == len(norm)
        for a, b in zip(sorted(got), norm):
            assert a == pytest.approx(b, abs=max(tx, ty) * 2)


# ----------------------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def flagship():
    scen = load("korea-2019")
    mc = monte_carlo(scen, "bdm", draws=200, seed=0, progress=False, by_round=True, chunk=100)
    sens = sensitivity_rows(sensitivity(scen, "bdm", method="oat", seed=0, progress=False))
    view = registry.get("bdm").perspective(scen.to_inputs(), model_params("bdm", {}))
    return scen, mc, sens, view


def _both(svg: str, fig):
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.find(NS + "title").text == "T"
    got, want = _svg_texts(root), _mpl_texts(fig)
    got.pop("T", None)
    assert got == want, (got - want, want - got)
    return root, _check_limits(fig, root)


def test_trajectory_matches_matplotlib(flagship):
    scen, mc, _, _ = flagship
    for key in scen.issue_keys:
        root, pairs = _both(_svg.trajectory(mc.point, key, branch=True, svg_title="T"),
                            charts.trajectory_figure(mc.point, key, branch=True))
        _check_lines(pairs)


def test_fan_and_distribution_match_matplotlib(flagship):
    scen, mc, _, _ = flagship
    data = monte_carlo_arrays(mc)
    for key in scen.issue_keys:
        branch = [h["forecast"][key] for h in mc.point.history]
        args = (scen, key, data["rounds"], data["quantiles"][key])
        fig = charts.fan_figure(*args, point=branch, draws=data["draws"])
        root, pairs = _both(_svg.fan(*args, point=branch, draws=data["draws"], svg_title="T"), fig)
        _check_lines(pairs)
        (g, box, lim), ax = pairs[0]
        bands = [el for el in g.iter(NS + "polygon")]
        fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert [b.get("data-label") for b in bands] == [c.get_label() for c in fills]
        q = data["quantiles"][key]
        for el, (lo, hi) in zip(bands, [(0.05, 0.95), (0.25, 0.75)]):
            x, y = _to_data(box, lim, *_points(el).T)
            n = len(data["rounds"])
            np.testing.assert_allclose(y[:n], q[lo], atol=_tol(lim)[1])
            np.testing.assert_allclose(y[n:][::-1], q[hi], atol=_tol(lim)[1])
            np.testing.assert_allclose(x[:n], data["rounds"], atol=_tol(lim)[0])
        f = data["finals"][key]
        args2 = (scen, key, f)
        kw = {"point": mc.most_likely(key), "median": float(np.median(f))}
        root, pairs = _both(_svg.distribution(*args2, **kw, svg_title="T"), charts.distribution_figure(*args2, **kw))
        _check_bars(pairs)


def test_tornado_and_power_match_matplotlib(flagship):
    scen, _, sens, _ = flagship
    for iss in scen.issues:
        args = (f"{iss.name}: what moves the forecast", sens["base"][iss.key], sens["rows"][iss.key])
        kw = {"xlabel": f"forecast of {iss.short_name()}"}
        root, pairs = _both(_svg.tornado(*args, **kw, svg_title="T"), charts.tornado_figure(*args, **kw))
        _check_bars(pairs)
    root, pairs = _both(_svg.power(scen, svg_title="T"), charts.power_figure(scen))
    _check_bars(pairs)


def test_perspective_map_matches_matplotlib(flagship):
    scen, _, _, view = flagship
    for key, x, y in perspective_panels(view, scen):
        kw = {"axis_labels": (view.x_label, view.y_label), "quadrants": view.quadrants, "title": view.title}
        fig = charts.quadrant_figure(scen, key, x, y, **kw)
        svg = _svg.quadrant(scen, key, x, y, **kw, svg_title="T")
        root = ET.fromstring(svg)
        got, want = _svg_texts(root), _mpl_texts(fig)
        got.pop("T", None)
        assert got == want, (got - want, want - got)
        pairs = _check_limits(fig, root)
        for (g, box, lim), ax in pairs:
            dots = sorted(tuple(np.round(_to_data(box, lim, float(c.get("cx")), float(c.get("cy"))), 6))
                          for c in g.iter(NS + "circle"))
            offsets = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
            want_pts = sorted(tuple(np.round(p, 6)) for o in offsets for p in np.asarray(o))
            assert len(dots) == len(want_pts)
            tx, ty = _tol(lim)
            for a, b in zip(dots, want_pts):
                assert a == pytest.approx(b, abs=max(tx, ty) * 2)


def test_plain_scenario_matches_matplotlib(tmp_path):
    """A scenario without scale labels, calendar or thresholds: numbered axes, matplotlib's tick choice."""
    from detente.api import forecast

    res = forecast("korea-2019", "bdm")
    scen = load({"name": "plain", "rounds": 4, "issues": [{"key": "x", "name": "X", "scale": [0, 10]}],
                 "actors": [{"key": k, "name": k.upper(), "capability": c, "positions": {"x": p}, "salience": {"x": 50}}
                            for k, c, p in (("a", 30, 1.5), ("b", 20, 7.25), ("c", 40, 4.0))]})
    res = forecast(scen, "bdm")
    root, pairs = _both(_svg.trajectory(res, "x", svg_title="T"), charts.trajectory_figure(res, "x"))
    _check_lines(pairs)
    finals = np.random.default_rng(1).uniform(2, 8, 300)
    root, pairs = _both(_svg.distribution(scen, "x", finals, svg_title="T"), charts.distribution_figure(scen, "x", finals))
    _check_bars(pairs)


def test_svg_writers_import_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys; import detente.report._svg, detente.report.build; "
            "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if m.startswith('matplotlib'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_text_metrics_are_dejavu_sans():
    """The advance widths shipped are the font's own (read here from the font file matplotlib ships)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font, LoadFlags

    for bold in (False, True):
        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans",
                                                                 weight="bold" if bold else "normal"))
        font = FT2Font(path)
        for ch in "Az09 %(…×≥−é":
            want = font.load_char(ord(ch), flags=LoadFlags.NO_SCALE).horiAdvance / font.units_per_EM * 10
            assert _svg.text_width(ch, 10, bold=bold) == pytest.approx(want)
    assert re.fullmatch(r"[\d.]+", str(_svg.text_width("abc\nabcdef", 12))) and \
        _svg.text_width("abc\nabcdef", 12) == _svg.text_width("abcdef", 12)
