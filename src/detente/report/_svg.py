"""The report's charts written as SVG directly, without matplotlib (issue #17).

matplotlib took most of a report's time: about 0.1-0.7 CPU seconds per chart (its layout measures every
text through FreeType, twice per saved figure) and 0.3-0.5 s to import, against a few milliseconds per chart
here. Each writer below draws the same chart as its matplotlib twin in :mod:`detente.report.charts` (same
data, same titles, labels, legend entries, annotations, colours and line styles, the same tick positions and
tick labels, the same axis limits), for the report's inline SVG; the twins stay for the PNG files and for
everything else that wants a :class:`matplotlib.figure.Figure`. ``tests/test_report_svg.py`` compares every
writer with its twin, element by element.

Text is measured with the advance widths of DejaVu Sans, the report's first font (the tables below are its
glyphs' advances in font units, 2048 to the em, for ASCII, Latin-1, Latin Extended-A and a few signs; other
characters count as a digit's width), so that the layout does not need the font file; the browser draws the
text in the font it has. Coordinates are points (1/72 inch), as in matplotlib's SVG.

Every function here is pure Python and numpy: importing this module imports no matplotlib.
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..numfmt import fmt_percent
from ..serialize import threshold_probability

#: Colours for actors without their own, in actor order (colour-blind friendly first).
PALETTE = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939",
    "#8c6d31", "#843c39", "#7b4173", "#3182bd",
]
FORECAST_COLOR = "#111111"
#: The most likely branch beside a Monte Carlo forecast (thin, dotted: not the headline).
BRANCH_COLOR = "#7a7a7a"
INK = "#222222"
GRID = "#e3e3e3"
#: Spines, tick marks and tick labels (the style's ``axes.edgecolor``, ``xtick.color``).
EDGE = "#888888"
TICK = "#444444"
#: The report's font size (matplotlib's ``font.size`` in the charts' style), titles, legends.
FONT_SIZE = 9.5
TITLE_SIZE = 11.0
LEGEND_SIZE = 8.5
FONT_FAMILY = "'DejaVu Sans', Arial, Helvetica, sans-serif"


def actor_colors(scenario: Any) -> dict[str, str]:
    """One colour per actor key: the actor's own ``color``, else the palette by order.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    dict of str -> str
    """
    out: dict[str, str] = {}
    for n, a in enumerate(scenario.actors):
        out[a.key] = a.color or PALETTE[n % len(PALETTE)]
    return out


def actor_label(actor: Any) -> str:
    """An actor's label in every chart: its display name shortened by the one rule
    (:meth:`detente.scenario.Actor.short_name`), never its key."""
    return str(actor.short_name())


def short(text: str, width: int = 28, lines: int = 2) -> str:
    """``text`` wrapped to ``width`` columns, at most ``lines`` lines."""
    parts = textwrap.wrap(str(text), width) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "\u2026"
    return "\n".join(parts)


def compact_tick(v: float, _pos: Any = None) -> str:
    """A tick label of a few characters: three significant digits, a short exponent (1.5e5, 2e−4)."""
    if v == 0:
        return "0"
    text = re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), f"{v:.3g}")
    return text.replace("-", "\u2212")


def round_labels(scenario: Any, rounds: int) -> list[str]:
    """Tick labels for rounds 0..rounds: dates from the calendar when there is one."""
    cal = scenario.calendar
    if cal is None:
        return [str(t) for t in range(rounds + 1)]
    out = []
    for t in range(rounds + 1):
        d = cal.date_of(max(t, 1)) if t else cal.start
        out.append("start" if t == 0 else f"{d:%b %Y}")
    return out


def round_ticks(scenario: Any, rounds: int) -> tuple[list[tuple[float, str]], float, str]:
    """The round axis: its ticks ``(value, label)``, their font size and the axis label."""
    if rounds == 0:
        return [(0.0, "forecast")], FONT_SIZE, ""
    step = max(1, int(np.ceil(rounds / 10)))
    ticks = list(range(0, rounds + 1, step))
    if scenario.calendar is not None:
        labels = round_labels(scenario, rounds)
        return ([(float(t), f"{t}\n{labels[t]}") for t in ticks], 7.5,
                f"round (one round = {scenario.calendar.round})")
    return [(float(t), str(t)) for t in ticks], FONT_SIZE, "round"


def scale_limits(issue: Any) -> tuple[float, float]:
    """An issue's axis limits: its scale and 3 % of it on either side."""
    lo, hi = issue.scale
    pad = 0.03 * (hi - lo)
    return lo - pad, hi + pad


def scale_ticks(issue: Any, wrap: int = 32) -> list[tuple[float, str]] | None:
    """An issue's scale labels as ticks ``(value, "label (value)")``, or None (plain numbers) without labels."""
    if not issue.labels:
        return None
    return [(float(t), f"{short(issue.labels[t], wrap)} ({t:g})") for t in sorted(issue.labels)]


# ----------------------------------------------------------------------------- text metrics

_EXTRA_CHARS = '–—‘’“”•…−≤≥×€→←≈≠'
_REGULAR = (
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303,
    1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178,
    1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251,
    1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995,
    1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716, 651, 821,
    1303, 1303, 1303, 1303, 690, 1024, 1024, 2048, 965, 1253, 1716, 739, 2048, 1024, 1024, 1716, 821, 821, 1024,
    1303, 1303, 651, 1024, 821, 965, 1253, 1985, 1985, 1985, 1087, 1401, 1401, 1401, 1401, 1401, 1401, 1995, 1430,
    1294, 1294, 1294, 1294, 604, 604, 604, 604, 1587, 1532, 1612, 1612, 1612, 1612, 1612, 1716, 1612, 1499, 1499,
    1499, 1499, 1251, 1239, 1290, 1255, 1255, 1255, 1255, 1255, 1255, 2011, 1126, 1260, 1260, 1260, 1260, 569, 569,
    569, 569, 1253, 1298, 1253, 1253, 1253, 1253, 1253, 1716, 1253, 1298, 1298, 1298, 1298, 1212, 1300, 1212, 1401,
    1255, 1401, 1255, 1401, 1255, 1430, 1126, 1430, 1126, 1430, 1126, 1430, 1126, 1577, 1300, 1587, 1300, 1294,
    1260, 1294, 1260, 1294, 1260, 1294, 1260, 1294, 1260, 1587, 1300, 1587, 1300, 1587, 1300, 1587, 1300, 1540,
    1298, 1876, 1423, 604, 569, 604, 569, 604, 569, 604, 569, 604, 569, 1208, 1138, 604, 569, 1343, 1186, 1186,
    1141, 569, 1141, 569, 1141, 768, 1141, 700, 1151, 582, 1532, 1298, 1532, 1298, 1532, 1298, 1666, 1532, 1298,
    1612, 1253, 1612, 1253, 1612, 1253, 2191, 2095, 1423, 842, 1423, 842, 1423, 842, 1300, 1067, 1300, 1067, 1300,
    1067, 1300, 1067, 1251, 803, 1251, 803, 1251, 803, 1499, 1298, 1499, 1298, 1499, 1298, 1499, 1298, 1499, 1298,
    1499, 1298, 2025, 1675, 1251, 1212, 1251, 1403, 1075, 1403, 1075, 1403, 1075, 721, 1024, 2048, 651, 651, 1061,
    1061, 1208, 2048, 1716, 1716, 1716, 1716, 1303, 1716, 1716, 1716, 1716
)
_BOLD = (
    713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425,
    1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399,
    1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483,
    1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134,
    1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716, 713, 934,
    1425, 1425, 1303, 1425, 748, 1024, 1024, 2048, 1155, 1323, 1716, 850, 2048, 1024, 1024, 1716, 897, 897, 1024,
    1507, 1303, 778, 1024, 897, 1155, 1323, 2120, 2120, 2120, 1188, 1585, 1585, 1585, 1585, 1585, 1585, 2222, 1503,
    1399, 1399, 1399, 1399, 762, 762, 762, 762, 1716, 1714, 1741, 1741, 1741, 1741, 1741, 1716, 1741, 1663, 1663,
    1663, 1663, 1483, 1511, 1473, 1382, 1382, 1382, 1382, 1382, 1382, 2146, 1214, 1389, 1389, 1389, 1389, 702, 702,
    702, 702, 1407, 1458, 1407, 1407, 1407, 1407, 1407, 1716, 1407, 1458, 1458, 1458, 1458, 1335, 1466, 1335, 1585,
    1382, 1585, 1382, 1585, 1382, 1503, 1214, 1503, 1214, 1503, 1214, 1503, 1214, 1700, 1466, 1716, 1466, 1399,
    1389, 1399, 1389, 1399, 1389, 1399, 1389, 1399, 1389, 1681, 1466, 1681, 1466, 1681, 1466, 1681, 1466, 1714,
    1458, 1994, 1618, 762, 702, 762, 702, 762, 702, 762, 702, 762, 702, 1524, 1404, 762, 702, 1587, 1362, 1362,
    1305, 702, 1305, 702, 1305, 982, 1305, 1140, 1315, 760, 1714, 1458, 1714, 1458, 1714, 1458, 2013, 1714, 1458,
    1741, 1407, 1741, 1407, 1741, 1407, 2390, 2241, 1577, 1010, 1577, 1010, 1577, 1010, 1475, 1219, 1475, 1219,
    1475, 1219, 1475, 1219, 1397, 979, 1397, 979, 1397, 979, 1663, 1458, 1663, 1458, 1663, 1458, 1663, 1458, 1663,
    1458, 1663, 1458, 2259, 1892, 1483, 1335, 1483, 1485, 1192, 1485, 1192, 1485, 1192, 891, 1024, 2048, 778, 778,
    1346, 1346, 1309, 2048, 1716, 1716, 1716, 1716, 1425, 1716, 1716, 1716, 1716
)

_UNITS = 2048.0
_ADVANCE = [
    {chr(c): w for c, w in zip([*range(32, 127), *range(160, 384)], table)}
    | dict(zip(_EXTRA_CHARS, table[95 + 224:]))
    for table in (_REGULAR, _BOLD)
]
#: Ascent and descent of a line of text, and the distance between two lines' baselines, per point of size
#: (DejaVu Sans: "l" reaches 0.76 em above the baseline and "p" 0.21 below; matplotlib spaces lines 1.2 apart).
ASCENT, DESCENT, LINE = 0.76, 0.24, 1.2


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width in points of ``text`` (its widest line) at ``size`` points."""
    adv = _ADVANCE[1 if bold else 0]
    digit = adv["0"]
    return max(sum(adv.get(c, digit) for c in line) for line in str(text).split("\n")) * size / _UNITS


def text_height(text: str, size: float) -> float:
    """The height in points of ``text`` (every line) at ``size`` points."""
    return ((str(text).count("\n")) * LINE + ASCENT + DESCENT) * size


# ----------------------------------------------------------------------------- ticks

#: The steps between ticks, per power of ten: matplotlib's automatic ticks (``AutoLocator``), and a
#: ``MaxNLocator`` made with no steps (the perspective map's).
AUTO_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
MAXN_STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ticks(lo: float, hi: float, nbins: int, steps: Sequence[float] = AUTO_STEPS) -> list[float]:
    """Ticks at round numbers between ``lo`` and ``hi``, at most ``nbins`` intervals across the range: the
    smallest of ``steps`` times a power of ten no shorter than ``(hi - lo) / nbins`` that puts two ticks or
    more in the range (as matplotlib's ``MaxNLocator`` chooses)."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / nbins
    scale = 10.0 ** math.floor(math.log10(raw))
    steps = [s * scale for s in (*steps, 10.0 * steps[1])]
    first = next((i for i, s in enumerate(steps) if s >= raw), len(steps) - 1)
    ticks: list[float] = []
    for step in steps[first:]:
        k0 = math.ceil(lo / step - 1e-9)
        k1 = math.floor(hi / step + 1e-9)
        ticks = [k * step for k in range(k0, k1 + 1)]
        if len(ticks) >= 2:
            break
    return [0.0 if abs(t) < 1e-12 * step else t for t in ticks]


def auto_nbins(length: float, label_size: float, axis: str) -> int:
    """How many intervals fit on an axis ``length`` points long (matplotlib's heuristic: a tick label needs three
    times its size across, twice along a vertical axis), from 1 to 9."""
    return int(min(max(math.floor(length / (label_size * (3 if axis == "x" else 2))), 1), 9))


def plain_labels(ticks: Sequence[float]) -> list[str]:
    """Tick labels with as many decimals as the ticks need, all alike (matplotlib's plain format, its minus)."""
    dec = 0
    while dec < 8 and any(abs(round(t, dec) - t) > 1e-9 * max(1.0, abs(t)) for t in ticks):
        dec += 1
    return [f"{t:.{dec}f}".replace("-", "\u2212") for t in ticks]


def margins(lo: float, hi: float, fraction: float = 0.05, sticky: Iterable[float] = ()) -> tuple[float, float]:
    """Autoscaled limits of data from ``lo`` to ``hi``: ``fraction`` of the range added on both sides, not past
    a sticky value at an end (a bar's base)."""
    if not hi > lo:
        d = abs(lo) * 0.05 if lo else 0.05
        return lo - d, hi + d
    pad = fraction * (hi - lo)
    a, b = lo - pad, hi + pad
    for s in sticky:
        if s == lo:
            a = lo
        if s == hi:
            b = hi
    return a, b


# ----------------------------------------------------------------------------- the document


def _n(v: float) -> str:
    """A coordinate as short text (hundredths of a point)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


#: matplotlib's dash patterns per line width (``lines.*_pattern``, scaled by the width).
_DASHES = {"--": (3.7, 1.6), ":": (1.0, 1.65), "-.": (6.4, 1.6, 1.0, 1.6)}


def _stroke(color: str, lw: float, ls: str = "-", alpha: float | None = None) -> str:
    out = f'fill="none" stroke="{color}" stroke-width="{_n(lw)}"'
    if ls in _DASHES:
        out += f' stroke-dasharray="{" ".join(_n(d * lw) for d in _DASHES[ls])}"'
    else:
        out += ' stroke-linecap="square"'
    if alpha is not None:
        out += f' stroke-opacity="{_n(alpha)}"'
    return out + ' stroke-linejoin="round"'


class Doc:
    """An SVG picture being written: elements in drawing order, in points (y down)."""

    def __init__(self, width: float, height: float):
        self.width, self.height = width, height
        self.parts: list[str] = []

    def text(self, x: float, y: float, s: str, size: float, *, ha: str = "left", va: str = "baseline",
             color: str = INK, bold: bool = False, rotate: bool = False, cls: str | None = None) -> tuple[float, float, float, float]:
        """Write ``s`` anchored at ``(x, y)`` by its alignment (``ha`` left/center/right, ``va``
        top/center/bottom/baseline; ``rotate``: turned a quarter left, ``ha``/``va`` then apply to the turned
        text); its box ``(x0, y0, x1, y1)``."""
        lines = str(s).split("\n")
        w, h = text_width(s, size, bold), text_height(s, size)
        top = {"top": 0.0, "center": h / 2, "bottom": h, "baseline": ASCENT * size + (len(lines) - 1) * LINE * size}[va]
        left = {"left": 0.0, "center": w / 2, "right": w}[ha]
        anchor = {"left": "start", "center": "middle", "right": "end"}[ha]
        attrs = f'font-size="{_n(size)}" fill="{color}"' + (' font-weight="bold"' if bold else "")
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if cls:
            attrs += f' class="{cls}"'
        if rotate:  # drawn level at the origin, then turned and moved to (x, y)
            attrs += f' transform="translate({_n(x)} {_n(y)}) rotate(-90)"'
            x0, y0 = 0.0, 0.0
        else:
            x0, y0 = x, y
        base = y0 - top + ASCENT * size
        if len(lines) == 1:
            self.parts.append(f'<text x="{_n(x0)}" y="{_n(base)}" {attrs}>{_esc(s)}</text>')
        else:
            spans = "".join(f'<tspan x="{_n(x0)}" y="{_n(base + i * LINE * size)}">{_esc(line)}</tspan>'
                            for i, line in enumerate(lines))
            self.parts.append(f"<text {attrs}>{spans}</text>")
        if rotate:  # the turned box: the text's width runs up the page, its height to the right
            return (x - top, y - (w - left), x - top + h, y + left)
        return (x - left, y - top, x - left + w, y - top + h)

    def line(self, xs: Sequence[float], ys: Sequence[float], color: str, lw: float, ls: str = "-",
             alpha: float | None = None, label: str | None = None) -> None:
        """A line through the points (a gap at every point that is not finite)."""
        runs: list[list[str]] = [[]]
        for x, y in zip(xs, ys):
            if math.isfinite(x) and math.isfinite(y):
                runs[-1].append(f"{_n(x)},{_n(y)}")
            elif runs[-1]:
                runs.append([])
        data = f' data-label="{_esc(label)}"' if label else ""
        for run in runs:
            if run:
                self.parts.append(f'<polyline points="{" ".join(run)}" {_stroke(color, lw, ls, alpha)}{data}/>')

    def rect(self, x: float, y: float, w: float, h: float, color: str, alpha: float | None = None,
             cls: str | None = None) -> None:
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        extra = (f' fill-opacity="{_n(alpha)}"' if alpha is not None else "") + (f' class="{cls}"' if cls else "")
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{color}"{extra}/>')

    def polygon(self, xs: Sequence[float], ys: Sequence[float], color: str, alpha: float | None = None,
                label: str | None = None) -> None:
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in zip(xs, ys))
        extra = (f' fill-opacity="{_n(alpha)}"' if alpha is not None else "") + (f' data-label="{_esc(label)}"' if label else "")
        self.parts.append(f'<polygon points="{pts}" fill="{color}"{extra}/>')

    def circle(self, x: float, y: float, r: float, color: str, alpha: float | None = None) -> None:
        extra = f' fill-opacity="{_n(alpha)}"' if alpha is not None else ""
        self.parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{color}"{extra}/>')

    def svg(self, title: str | None = None) -> str:
        """The picture as an inline ``<svg>`` element (with its ``<title>``, for screen readers)."""
        w, h = _n(self.width), _n(self.height)
        head = (f'<svg role="img" class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" '
                f'viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}">')
        if title:
            head += f"<title>{_esc(title)}</title>"
        return head + f'<rect width="{w}" height="{h}" fill="#ffffff"/>' + "".join(self.parts) + "</svg>"


class Axes:
    """A plot area of a :class:`Doc`: its box ``(x0, y0, x1, y1)`` in points (y down) and its data limits.

    Drawing goes into layers (patches, grid, lines, texts), written in that order by :meth:`close` inside a
    ``<g class="axes">`` that records the box and the limits (``data-box``, ``data-lim``: how to read a point
    back as data)."""

    def __init__(self, doc: Doc, box: tuple[float, float, float, float], xlim: tuple[float, float],
                 ylim: tuple[float, float]):
        self.doc, self.box, self.xlim, self.ylim = doc, box, xlim, ylim
        self.layers: dict[float, Doc] = {}

    def X(self, v: Any) -> Any:
        x0, _, x1, _ = self.box
        return x0 + (np.asarray(v, float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (x1 - x0)

    def Y(self, v: Any) -> Any:
        _, y0, _, y1 = self.box
        return y1 - (np.asarray(v, float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * (y1 - y0)

    def layer(self, z: float) -> Doc:
        """The layer at ``z`` (matplotlib's zorder: patches 1, grid 1.5, lines 2, texts 3)."""
        got = self.layers.get(z)
        if got is None:
            got = self.layers[z] = Doc(self.doc.width, self.doc.height)
        return got

    def plot(self, xs: Any, ys: Any, color: str, lw: float, ls: str = "-",
             alpha: float | None = None, label: str | None = None, z: float = 2.0) -> None:
        self.layer(z).line([float(v) for v in self.X(xs)], [float(v) for v in self.Y(ys)], color, lw, ls, alpha, label)

    def hline(self, y: float, color: str, lw: float, ls: str = "-", z: float = 2.0) -> None:
        self.layer(z).line([self.box[0], self.box[2]], [float(self.Y(y))] * 2, color, lw, ls)

    def vline(self, x: float, color: str, lw: float, ls: str = "-", z: float = 2.0) -> None:
        self.layer(z).line([float(self.X(x))] * 2, [self.box[1], self.box[3]], color, lw, ls)

    def grid(self, xticks: Sequence[float] = (), yticks: Sequence[float] = ()) -> None:
        g = self.layer(1.5)
        for t in xticks:
            g.line([float(self.X(t))] * 2, [self.box[1], self.box[3]], GRID, 0.8)
        for t in yticks:
            g.line([self.box[0], self.box[2]], [float(self.Y(t))] * 2, GRID, 0.8)

    def close(self) -> None:
        x0, y0, x1, y1 = self.box
        self.doc.parts.append(f'<g class="axes" data-box="{_n(x0)} {_n(y0)} {_n(x1)} {_n(y1)}" data-lim="'
                              f'{self.xlim[0]!r} {self.xlim[1]!r} {self.ylim[0]!r} {self.ylim[1]!r}">')
        for z in sorted(self.layers):
            self.doc.parts.extend(self.layers[z].parts)
        self.doc.parts.append("</g>")

    def spines(self) -> None:
        """The left and bottom spines (the style hides the top and right ones)."""
        x0, y0, x1, y1 = self.box
        s = self.layer(2.5)
        s.line([x0, x0], [y0, y1], EDGE, 0.8)
        s.line([x0, x1], [y1, y1], EDGE, 0.8)


#: Tick marks: length and the gap to their labels, points.
TICK_LEN, TICK_PAD, LABEL_PAD, TITLE_PAD = 3.5, 3.5, 4.0, 6.0


def xtick_marks(ax: Axes, ticks: Sequence[tuple[float, str]], size: float, labels: bool = True) -> float:
    """Tick marks and labels below the axes; the bottom of the lowest label."""
    y1 = ax.box[3]
    low = y1 + TICK_LEN
    t = ax.layer(2.5)
    for v, label in ticks:
        x = float(ax.X(v))
        t.line([x, x], [y1, y1 + TICK_LEN], TICK, 0.8)
        if labels and label:
            low = max(low, t.text(x, y1 + TICK_LEN + TICK_PAD, label, size, ha="center", va="top", color=TICK,
                                  cls="tick")[3])
    return low


def ytick_marks(ax: Axes, ticks: Sequence[tuple[float, str]], size: float, labels: bool = True) -> float:
    """Tick marks and labels left of the axes; the left edge of the widest label."""
    x0 = ax.box[0]
    left = x0 - TICK_LEN
    t = ax.layer(2.5)
    for v, label in ticks:
        y = float(ax.Y(v))
        t.line([x0 - TICK_LEN, x0], [y, y], TICK, 0.8)
        if labels and label:
            left = min(left, t.text(x0 - TICK_LEN - TICK_PAD, y, label, size, ha="right", va="center", color=TICK,
                                    cls="tick")[0])
    return left


def ticks_width(ticks: Sequence[tuple[float, str]], size: float) -> float:
    return max([text_width(label, size) for _, label in ticks] + [0.0])


def ticks_height(ticks: Sequence[tuple[float, str]], size: float) -> float:
    return max([text_height(label, size) for _, label in ticks if label] + [0.0])


# ----------------------------------------------------------------------------- legends

#: A legend entry: ("line", color, width, style, marker size, alpha) or ("patch", color, alpha), and its label.
Entry = tuple[tuple[Any, ...], str]
#: matplotlib's legend geometry, in units of its font size.
_HANDLE_LEN, _HANDLE_PAD, _LABEL_SPACING, _BORDER_PAD, _HANDLE_H = 2.0, 0.8, 0.5, 0.4, 0.7


def legend_size(entries: Sequence[Entry], size: float = LEGEND_SIZE) -> tuple[float, float]:
    """The width and height of a legend (no frame) of these entries."""
    if not entries:
        return 0.0, 0.0
    w = max(text_width(label, size) for _, label in entries)
    rows = [max(text_height(label, size), _HANDLE_H * size) for _, label in entries]
    return ((2 * _BORDER_PAD + _HANDLE_LEN + _HANDLE_PAD) * size + w,
            2 * _BORDER_PAD * size + sum(rows) + _LABEL_SPACING * size * (len(rows) - 1))


def legend(doc: Doc, x: float, y: float, entries: Sequence[Entry], size: float = LEGEND_SIZE) -> None:
    """A legend whose top left corner is at ``(x, y)``: per entry its handle (a short line, with its marker,
    or a patch) and its label."""
    if not entries:
        return
    parts = ['<g class="legend">']
    sub = Doc(doc.width, doc.height)
    top = y + _BORDER_PAD * size
    hx = x + _BORDER_PAD * size
    for handle, label in entries:
        h = max(text_height(label, size), _HANDLE_H * size)
        mid = top + h / 2
        if handle[0] == "line":
            _, color, lw, ls, ms, alpha = handle
            sub.line([hx, hx + _HANDLE_LEN * size], [mid, mid], color, lw, ls, alpha)
            if ms:
                sub.circle(hx + _HANDLE_LEN * size / 2, mid, ms / 2 + 0.5, color, alpha)
        else:
            _, color, alpha = handle
            sub.rect(hx, mid - _HANDLE_H * size / 2, _HANDLE_LEN * size, _HANDLE_H * size, color, alpha)
        sub.text(hx + (_HANDLE_LEN + _HANDLE_PAD) * size, mid, label, size, va="center", cls="legend-label")
        top += h + _LABEL_SPACING * size
    doc.parts.extend(parts + sub.parts + ["</g>"])


# ----------------------------------------------------------------------------- one plot with a legend beside


class Frame:
    """The layout of a chart of one plot: a title above (left-aligned, bold), tick labels and axis labels left
    and below, a legend to the right (its left edge ``anchor`` of the plot's width past the plot), inside a page
    ``width`` by ``height`` points (widened for a long title, as matplotlib's crop would)."""

    def __init__(self, width: float, height: float, *, title: str, xlabel: str, ylabel: str,
                 yticks: Sequence[tuple[float, str]], ytick_size: float, xtick_height: float,
                 entries: Sequence[Entry], anchor: float, pad: float = 4.0):
        lw, lh = legend_size(entries)
        left = pad + (text_height(ylabel, FONT_SIZE) + LABEL_PAD if ylabel else 0.0) + ticks_width(yticks, ytick_size) \
            + TICK_LEN + TICK_PAD
        top = pad + text_height(title, TITLE_SIZE) + TITLE_PAD
        bottom = pad + (text_height(xlabel, FONT_SIZE) + LABEL_PAD if xlabel else 0.0) + xtick_height + TICK_LEN + TICK_PAD
        plot_w = (width - left - pad - lw) / (1.0 + anchor)
        width = max(width, left + text_width(title, TITLE_SIZE, bold=True) + pad)
        height = max(height, top + bottom + 40.0, top + lh + pad)
        self.doc = Doc(width, height)
        self.box = (left, top, left + max(plot_w, 40.0), height - bottom)
        self.title, self.xlabel, self.ylabel, self.entries, self.anchor = title, xlabel, ylabel, entries, anchor

    def finish(self, ax: Axes, xticks: Sequence[tuple[float, str]], xtick_size: float,
               yticks: Sequence[tuple[float, str]], ytick_size: float, ylabel_size: float = FONT_SIZE) -> None:
        """Spines, ticks, axis labels, the title and the legend, around the plot drawn on ``ax``."""
        ax.spines()
        low = xtick_marks(ax, xticks, xtick_size)
        left = ytick_marks(ax, yticks, ytick_size)
        x0, y0, x1, y1 = ax.box
        ax.close()
        doc = self.doc
        if self.xlabel:
            doc.text((x0 + x1) / 2, low + LABEL_PAD, self.xlabel, FONT_SIZE, ha="center", va="top", cls="xlabel")
        if self.ylabel:
            doc.text(left - LABEL_PAD, (y0 + y1) / 2, self.ylabel, ylabel_size, ha="center", va="bottom", rotate=True,
                     cls="ylabel")
        doc.text(x0, y0 - TITLE_PAD, self.title, TITLE_SIZE, va="bottom", bold=True, cls="title")
        legend(doc, x1 + self.anchor * (x1 - x0), y0, self.entries)



def _line_entry(color: str, lw: float, ls: str = "-", ms: float = 0.0, alpha: float | None = None) -> tuple[Any, ...]:
    return ("line", color, lw, ls, ms, alpha)


def _scale_yticks(issue: Any, lim: tuple[float, float], length: float) -> tuple[list[tuple[float, str]], float]:
    """An issue's ticks on a vertical axis: its scale labels (7.5 pt), else round numbers."""
    got = scale_ticks(issue)
    if got is not None:
        return got, 7.5
    ticks = nice_ticks(lim[0], lim[1], auto_nbins(length, FONT_SIZE, "y"))
    return list(zip(ticks, plain_labels(ticks))), FONT_SIZE


def _auto_ticks(lim: tuple[float, float], length: float, axis: str, size: float = FONT_SIZE) -> list[tuple[float, str]]:
    ticks = nice_ticks(lim[0], lim[1], auto_nbins(length, size, axis))
    return list(zip(ticks, plain_labels(ticks)))


def trajectory(result: Any, issue_key: str, branch: bool = False, svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.trajectory_figure` as SVG: every actor's position on one issue round by round,
    with the forecast line (labelled the most likely branch with ``branch``)."""
    scen = result.scenario
    issue = scen.issue(issue_key)
    hist = result.history
    colors = actor_colors(scen)
    T = hist[-1]["round"]
    rounds = [h["round"] for h in hist]
    marker = 3.2 if T <= 20 else 0.0
    series = []
    for a in scen.actors:
        ys = [h["positions"].get(a.key, {}).get(issue_key) for h in hist]
        y = np.array([np.nan if v is None else v for v in ys], float)
        if not np.all(np.isnan(y)):
            series.append((a, y))
    fc = np.array([np.nan if h["forecast"][issue_key] is None else h["forecast"][issue_key] for h in hist], float)
    what = "most likely branch" if branch else "forecast"
    entries: list[Entry] = [(_line_entry(colors[a.key], 1.8, "-", marker, 0.9), actor_label(a)) for a, _ in series]
    entries.append((_line_entry(FORECAST_COLOR, 3.0, "--"), f"{what} ({result.model})"))
    xticks, xsize, xlabel = round_ticks(scen, T)
    ylim = scale_limits(issue)
    yticks = scale_ticks(issue)
    fr_title = f"{issue.name}: positions by round" + (" (most likely branch)" if branch else "")
    ylabel = issue.short_name(40)
    pre = yticks if yticks is not None else [(0.0, "000")]
    final = fc[-1]
    fr = Frame(648.0, 316.8, title=fr_title, xlabel=xlabel, ylabel=ylabel, yticks=pre, ytick_size=7.5 if yticks else FONT_SIZE,
               xtick_height=ticks_height(xticks, xsize), entries=entries, anchor=0.05)
    ax = Axes(fr.doc, fr.box, (-0.3, T + 0.3), ylim)
    if yticks is None:
        yticks, ysize = _scale_yticks(issue, ylim, fr.box[3] - fr.box[1])
    else:
        ysize = 7.5
    ax.grid([v for v, _ in xticks], [v for v, _ in yticks])
    lines = ax.layer(2.0)
    for a, y in series:
        ax.plot(rounds, y, colors[a.key], 1.8, alpha=0.9, label=actor_label(a))
        if marker:
            for x, v in zip(ax.X(rounds), ax.Y(y)):
                if math.isfinite(v):
                    lines.circle(float(x), float(v), marker / 2 + 0.5, colors[a.key], 0.9)
    ax.plot(rounds, fc, FORECAST_COLOR, 3.0, "--", label=f"{what} ({result.model})", z=5.0)
    texts = ax.layer(3.0)
    if np.isfinite(final):
        texts.text(float(ax.X(rounds[-1])) + 6, float(ax.Y(final)), issue.fmt(final), 9, va="center", bold=True,
                   color=FORECAST_COLOR, cls="annotation")
    if issue.status_quo is not None:
        ax.hline(issue.status_quo, "#999999", 1, ":", z=1.0)
        texts.text(float(ax.X(0)) + 2, float(ax.Y(issue.status_quo)) - 3, "status quo", 7, color="#777777",
                   cls="annotation")
    for ev in result.events:
        if ev.get("happened") and 0 < ev["round"] <= T:
            ax.vline(ev["round"] - 0.5, "#b0b0b0", 1, "-.", z=1.0)
            texts.text(float(ax.X(ev["round"] - 0.5)) + 3, ax.box[1] + 3, short(ev["name"], 22, 2), 6.5,
                       va="top", color="#666666", cls="annotation")
    fr.finish(ax, xticks, xsize, yticks, ysize)
    return fr.doc.svg(svg_title)


def fan(scenario: Any, issue_key: str, rounds: Sequence[int], quantiles: dict[float, Sequence[float]],
        point: Sequence[float] | None = None, draws: int | None = None, svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.fan_figure` as SVG: the forecast's spread by round."""
    issue = scenario.issue(issue_key)
    r = np.asarray(rounds)
    qs = sorted(quantiles)
    pairs = [(qs[i], qs[-1 - i]) for i in range(len(qs) // 2)]
    entries: list[Entry] = [(("patch", "#3465a4", 0.18 + 0.22 * n), f"{100 * lo:g}\u2013{100 * hi:g}% of draws")
                            for n, (lo, hi) in enumerate(pairs)]
    if 0.5 in quantiles:
        entries.append((_line_entry(FORECAST_COLOR, 2.2, "--"), "forecast (median of draws)"))
    if point is not None:
        entries.append((_line_entry(BRANCH_COLOR, 1.3, ":"), "most likely branch"))
    T = int(r.max()) if len(r) else 0
    xticks, xsize, xlabel = round_ticks(scenario, T)
    ylim = scale_limits(issue)
    yt = scale_ticks(issue)
    fr = Frame(648.0, 288.0, title=f"{issue.name}: Monte Carlo spread" + (f" ({draws} draws)" if draws else ""),
               xlabel=xlabel, ylabel=issue.short_name(), yticks=yt or [(0.0, "000")],
               ytick_size=7.5 if yt else FONT_SIZE, xtick_height=ticks_height(xticks, xsize), entries=entries,
               anchor=0.01)
    xlim = (-0.3, T + 0.3)
    ax = Axes(fr.doc, fr.box, xlim, ylim)
    yticks, ysize = (yt, 7.5) if yt is not None else _scale_yticks(issue, ylim, fr.box[3] - fr.box[1])
    for n, (lo, hi) in enumerate(pairs):
        xs = [float(v) for v in ax.X(r)]
        ax.layer(1.0).polygon(xs + xs[::-1], [float(v) for v in ax.Y(quantiles[lo])] +
                              [float(v) for v in ax.Y(quantiles[hi])][::-1], "#3465a4", 0.18 + 0.22 * n,
                              label=f"{100 * lo:g}\u2013{100 * hi:g}% of draws")
    ax.grid([v for v, _ in xticks], [v for v, _ in yticks])
    if 0.5 in quantiles:
        ax.plot(r, quantiles[0.5], FORECAST_COLOR, 2.2, "--", label="forecast (median of draws)")
    if point is not None:
        ax.plot(r, point, BRANCH_COLOR, 1.3, ":", label="most likely branch")
    fr.finish(ax, xticks, xsize, yticks, ysize)
    return fr.doc.svg(svg_title)


def distribution(scenario: Any, issue_key: str, finals: Sequence[float], point: float | None = None,
                 median: float | None = None, svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.distribution_figure` as SVG: a histogram of the final forecast over the draws,
    with the issue's thresholds."""
    issue = scenario.issue(issue_key)
    x = np.asarray(finals, float)
    x = x[np.isfinite(x)]
    lo, hi = issue.scale
    edges = np.linspace(lo, hi, 41)
    counts = np.histogram(x, bins=edges.tolist(), weights=np.full(len(x), 100.0 / max(len(x), 1)))[0]
    if median is None and len(x):
        median = float(np.median(x))
    entries: list[Entry] = [(("patch", "#3465a4", 0.85), f"{len(x)} draws")]
    if median is not None:
        entries.append((_line_entry(FORECAST_COLOR, 2, "--"), f"forecast (median) {issue.fmt(median)}"))
    if point is not None:
        entries.append((_line_entry(BRANCH_COLOR, 1.3, ":"), f"most likely branch {issue.fmt(point)}"))
    xlim = scale_limits(issue)
    xt = scale_ticks(issue, wrap=14)
    xsize = 6.5  # every tick label of this axis, scale labels or numbers
    top = float(counts.max()) if len(counts) else 0.0
    ylim = margins(0.0, top, sticky=(0.0,)) if top > 0 else (0.0, 1.0)
    fr = Frame(648.0, 259.2, title=f"{issue.name}: distribution of the final forecast", xlabel="",
               ylabel="share of draws (%)", yticks=[(0.0, "00")], ytick_size=FONT_SIZE,
               xtick_height=ticks_height(xt or [(0.0, "0")], xsize), entries=entries, anchor=0.01)
    ax = Axes(fr.doc, fr.box, xlim, ylim)
    xticks = xt if xt is not None else _auto_ticks(xlim, fr.box[2] - fr.box[0], "x", xsize)
    yticks = _auto_ticks(ylim, fr.box[3] - fr.box[1], "y")
    yticks = [(v, s) for v, s in yticks if ylim[0] - 1e-9 <= v <= ylim[1] + 1e-9]
    xticks = [(v, s) for v, s in xticks if xlim[0] - 1e-9 <= v <= xlim[1] + 1e-9]
    bars = ax.layer(1.0)
    y0 = float(ax.Y(0.0))
    for a, b, c in zip(edges[:-1], edges[1:], counts):
        if c > 0:
            xa, xb = float(ax.X(a)), float(ax.X(b))
            bars.rect(xa, float(ax.Y(c)), xb - xa, y0 - float(ax.Y(c)), "#3465a4", 0.85, cls="bar")
    ax.grid([v for v, _ in xticks], [v for v, _ in yticks])
    if median is not None:
        ax.vline(median, FORECAST_COLOR, 2, "--")
    if point is not None:
        ax.vline(point, BRANCH_COLOR, 1.3, ":")
    texts = ax.layer(3.0)
    for n_th, th in enumerate(sorted(issue.thresholds, key=lambda t: t.value)):
        share = threshold_probability(x, th.value, th.direction) if len(x) else 0.0
        ax.vline(th.value, "#c4a000", 1.3)
        sign = "\u2265" if th.direction == "above" else "\u2264"
        label = f"{short(th.name, 24, 2)}\n{sign} {th.value:g}: {fmt_percent(share)}"
        tx = float(ax.X(th.value)) + 3
        ty = ax.box[1] + 0.16 * n_th * (ax.box[3] - ax.box[1]) + 3
        w, h = text_width(label, 7), text_height(label, 7)
        texts.rect(tx - 1.4, ty - 1.4, w + 2.8, h + 2.8, "#ffffff", 0.85)
        texts.text(tx, ty, label, 7, va="top", color="#6b5800", cls="annotation")
    fr.finish(ax, xticks, xsize, yticks, FONT_SIZE)
    return fr.doc.svg(svg_title)


def tornado(title: str, base: float, rows: Sequence[tuple[str, float, float]], xlabel: str = "forecast",
            top: int = 12, svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.tornado_figure` as SVG: how far the forecast moves when each input goes to its
    low and high end (the ``top`` widest bars)."""
    rows = sorted(rows, key=lambda r: abs(r[2] - r[1]), reverse=True)[:top]
    n = len(rows)
    ys = np.arange(n)[::-1]
    ylabels = [(float(yy), short(r[0], 56, 1)) for yy, r in zip(ys, rows)]
    entries: list[Entry] = [(("patch", "#d9822b", None), "input at its low end"),
                            (("patch", "#3465a4", None), "input at its high end")] if n else []
    ends = [base] + [v for r in rows for v in (r[1], r[2])]
    xlim = margins(min(ends), max(ends), sticky=(base,))
    ylim = margins(-0.325, n - 1 + 0.325) if n else (-0.5, 0.5)
    fr = Frame(648.0, 24.48 * n + 108.0, title=title, xlabel=xlabel, ylabel="", yticks=ylabels or [(0.0, "")],
               ytick_size=8, xtick_height=text_height("0", FONT_SIZE), entries=entries, anchor=0.01)
    ax = Axes(fr.doc, fr.box, xlim, ylim)
    xticks = [(v, s) for v, s in _auto_ticks(xlim, fr.box[2] - fr.box[0], "x") if xlim[0] - 1e-9 <= v <= xlim[1] + 1e-9]
    bars = ax.layer(1.0)
    for yy, (_label, lo, hi) in zip(ys, rows):
        top_y, bottom_y = float(ax.Y(yy + 0.325)), float(ax.Y(yy - 0.325))
        for end, color in ((lo, "#d9822b"), (hi, "#3465a4")):
            xa, xb = float(ax.X(base)), float(ax.X(end))
            bars.rect(xa, top_y, xb - xa, bottom_y - top_y, color, cls="bar")
    ax.grid([v for v, _ in xticks], [])
    ax.vline(base, FORECAST_COLOR, 1.5)
    fr.finish(ax, xticks, FONT_SIZE, ylabels, 8)
    return fr.doc.svg(svg_title)


def power(scenario: Any, svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.power_figure` as SVG: effective power (capability x salience) of each actor on
    each issue, as shares, a panel per issue."""
    colors = actor_colors(scenario)
    actors = scenario.actors
    issues = scenario.issues
    D = len(issues)
    width, height = min(3.2 * D + 2.0, 12.0) * 72, (0.32 * len(actors) + 1.6) * 72
    pad = 4.0
    names = [actor_label(a) for a in actors]
    ypos = np.arange(len(actors))[::-1]
    heads = [short(iss.name, 30, 2) for iss in issues]
    head_h = max(text_height(h, FONT_SIZE) for h in heads)
    sup = "Effective power: capability \u00d7 salience, per issue"
    left = pad + max(text_width(s, FONT_SIZE) for s in names) + TICK_LEN + TICK_PAD
    top = pad + text_height(sup, TITLE_SIZE) + 4.0 + head_h + TITLE_PAD
    xlabel = "share of effective power (%)"
    bottom = pad + text_height(xlabel, FONT_SIZE) + LABEL_PAD + text_height("0", FONT_SIZE) + TICK_LEN + TICK_PAD
    gap = 14.0
    shares = []
    for iss in issues:
        w = np.array([a.capability.value * (a.salience[iss.key].value if iss.key in a.salience else 0.0)
                      / scenario.salience_scale for a in actors])
        shares.append(100.0 * w / w.sum() if w.sum() > 0 else w)
    pw = (width - left - pad - gap * (D - 1)) / D
    doc = Doc(width, height)
    ylim = margins(-0.35, len(actors) - 1 + 0.35)
    for k, share in enumerate(shares):
        x0 = left + k * (pw + gap)
        xlim = (0.0, max(float(share.max()) * 1.25, 1.0))
        ax = Axes(doc, (x0, top, x0 + pw, height - bottom), xlim, ylim)
        xticks = [(v, s) for v, s in _auto_ticks(xlim, pw, "x") if xlim[0] - 1e-9 <= v <= xlim[1] + 1e-9]
        bars, texts = ax.layer(1.0), ax.layer(3.0)
        for y, v, a in zip(ypos, share, actors):
            ya, yb = float(ax.Y(y + 0.35)), float(ax.Y(y - 0.35))
            bars.rect(float(ax.X(0)), ya, float(ax.X(v)) - float(ax.X(0)), yb - ya, colors[a.key], cls="bar")
            texts.text(float(ax.X(v)) + 3, float(ax.Y(y)), f"{v:.0f}%", 7.5, va="center", cls="annotation")
        ax.grid([v for v, _ in xticks], [])
        ax.spines()
        low = xtick_marks(ax, xticks, FONT_SIZE)
        ytick_marks(ax, [(float(y), s) for y, s in zip(ypos, names)], FONT_SIZE, labels=k == 0)
        ax.close()
        doc.text(x0 + pw / 2, low + LABEL_PAD, xlabel, FONT_SIZE, ha="center", va="top", cls="xlabel")
        doc.text(x0, top - TITLE_PAD, heads[k], FONT_SIZE, va="bottom", bold=True, cls="title")
    doc.text(0.01 * width, pad, sup, TITLE_SIZE, va="top", bold=True, cls="title")
    return doc.svg(svg_title)


# ----------------------------------------------------------------------------- perspective (quadrant) maps

#: The perspective map's fixed grid, inches: left, right, top, bottom margins, gaps between panels (x, y).
QUADRANT_MARGINS = (0.7, 0.2, 0.62, 0.45, 0.7, 0.72)

# Candidate label offsets (points) from the labelled point, nearest first: (dx, dy, ha, va), dy upwards.
NEAR = [(4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"), (-4, -3, "right", "top"),
        (0, 6, "center", "bottom"), (0, -6, "center", "top")]
FAR = [(dx * 3, dy * 3, ha, va) for dx, dy, ha, va in NEAR] + [(dx * 6, dy * 6, ha, va) for dx, dy, ha, va in NEAR]

Box = tuple[float, float, float, float]


class QuadrantGrid:
    """The perspective map's layout, the same for its SVG (:func:`quadrant`) and its matplotlib figure
    (:func:`detente.report.charts.quadrant_figure`): the actors shown (``show``, at most 4 panels a row), their
    colours and names, the figure's size and each panel's (inches), and the margins (:data:`QUADRANT_MARGINS`)."""

    def __init__(self, scenario: Any, actor_keys: Iterable[str] | None = None):
        self.colors = actor_colors(scenario)
        self.keys = scenario.actor_keys
        self.name = {a.key: actor_label(a) for a in scenario.actors}
        self.show = list(actor_keys or self.keys)
        self.ncol = min(4, len(self.show))
        self.nrow = int(np.ceil(len(self.show) / self.ncol))
        self.width, self.height = 2.6 * self.ncol + 1.6, 2.5 * self.nrow + 0.8
        self.left, self.right, self.top, self.bottom, self.gap_x, self.gap_y = QUADRANT_MARGINS
        self.panel_w = (self.width - self.left - self.right - (self.ncol - 1) * self.gap_x) / self.ncol
        self.panel_h = (self.height - self.top - self.bottom - (self.nrow - 1) * self.gap_y) / self.nrow


def label_groups(pts: Sequence[tuple[str, float, float]], lim: float,
                 name: dict[str, str]) -> list[tuple[float, float, list[str]]]:
    """A perspective-map panel's labels: rivals ``(key, x, y)`` at (nearly) the same point (within 4 % of the
    panel's half-width ``lim`` on both axes, of the first such rival) share one label, ``(x, y, names)``."""
    groups: list[tuple[float, float, list[str]]] = []
    for other, x, y in pts:
        for gx, gy, names in groups:
            if abs(gx - x) <= 0.04 * lim and abs(gy - y) <= 0.04 * lim:
                names.append(name[other])
                break
        else:
            groups.append((x, y, [name[other]]))
    return groups


def overlap(a: Any, b: Any) -> float:
    """The area shared by two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def box_distance(box: Any, point: Any) -> float:
    """Distance from a point to the nearest point of a box."""
    dx = max(box[0] - point[0], 0.0, point[0] - box[2])
    dy = max(box[1] - point[1], 0.0, point[1] - box[3])
    return float(np.hypot(dx, dy))


def place(centres: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]], frame: Box,
          taken: list[Box], to_px: float = 1.0) -> list[tuple[float, float, str, str, Box]]:
    """Where each label goes, so that labels overlap neither each other, nor the points, nor the frame's edges.

    Greedy, in a frame whose y runs up (matplotlib's display space): points are labelled left to right (top
    first); each label (``sizes``: its width and height) takes the first of :data:`NEAR` then :data:`FAR`'s
    offsets (points, ``to_px`` pixels each) with the least cost: overlaps first (with ``taken``, the boxes
    already placed, which grows), then a box nearer to another point than to its own, then a small preference
    for near offsets. Returns per label, in the order given, ``(dx, dy, ha, va, box)``."""
    out: list[Any] = [None] * len(centres)
    for k in sorted(range(len(centres)), key=lambda k: (centres[k][0], -centres[k][1])):
        w, h = sizes[k]
        cx, cy = centres[k]
        best = None
        for rank, (dx, dy, ha, va) in enumerate(NEAR + FAR):
            x0 = cx + dx * to_px - {"left": 0.0, "center": w / 2, "right": w}[ha]
            y0 = cy + dy * to_px - {"bottom": 0.0, "top": h}[va]
            box = (x0, y0, x0 + w, y0 + h)
            clash = sum(overlap(box, o) for o in taken)
            inside = overlap(box, frame)
            outside = (box[2] - box[0]) * (box[3] - box[1]) - inside
            own = box_distance(box, centres[k])
            ambiguous = sum(max(0.0, own - box_distance(box, c)) for j, c in enumerate(centres) if j != k)
            cost = 1000 * (clash + 2 * outside) + 40 * ambiguous + 0.5 * rank
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, box)
            if clash == 0 and outside <= 0 and ambiguous == 0:
                break
        assert best is not None  # the first candidate always sets it
        taken.append(best[5])
        out[k] = best[1:]
    return out


def quadrant(scenario: Any, issue_key: str, eu_self: np.ndarray, eu_other: np.ndarray,
             actor_keys: Iterable[str] | None = None, *, axis_labels: tuple[str, str] = ("stake of {actor}", "stake of rival"),
             quadrants: tuple[str, str, str, str] = ("", "", "", ""), title: str = "perspective map",
             svg_title: str | None = None) -> str:
    """:func:`detente.report.charts.quadrant_figure` as SVG: a model's perspective map for one issue, a panel
    per actor, each rival a point at ``(eu_self[i, j], eu_other[i, j])``, on the same fixed grid."""
    g = QuadrantGrid(scenario, actor_keys)
    colors, keys, name, show, ncol = g.colors, g.keys, g.name, g.show, g.ncol
    width, height, panel_w, panel_h = g.width, g.height, g.panel_w, g.panel_h
    left, top, gap_x, gap_y = g.left, g.top, g.gap_x, g.gap_y
    W, H = width * 72, height * 72
    doc = Doc(W, H)
    for n, key in enumerate(show):
        r, c = divmod(n, ncol)
        x0 = (left + c * (panel_w + gap_x)) * 72
        y0 = (top + r * (panel_h + gap_y)) * 72
        box = (x0, y0, x0 + panel_w * 72, y0 + panel_h * 72)
        i = keys.index(key)
        pts = [(other, float(eu_self[i, j]), float(eu_other[i, j])) for j, other in enumerate(keys)
               if j != i and np.isfinite(eu_self[i, j]) and np.isfinite(eu_other[i, j])]
        lim = max([max(abs(x), abs(y)) for _, x, y in pts] + [1e-9]) * 1.15
        ax = Axes(doc, box, (-lim, lim), (-lim, lim))
        ticks = [t for t in nice_ticks(-lim, lim, 4, MAXN_STEPS) if -lim - 1e-12 <= t <= lim + 1e-12]
        ticked = [(t, compact_tick(t)) for t in ticks]
        ax.grid(ticks, ticks)
        ax.hline(0, "#888888", 0.8)
        ax.vline(0, "#888888", 0.8)
        ax.plot([-lim, lim], [lim, -lim], "#cccccc", 0.8, ":")
        dots = ax.layer(2.0)
        for other, x, y in pts:
            dots.circle(float(ax.X(x)), float(ax.Y(y)), 3.5, colors[other])
        groups = label_groups(pts, lim, name)
        texts = ax.layer(3.0)
        taken: list[Box] = []

        def up(b: Box) -> Box:  # an SVG box (y down) in the placing frame (y up)
            return (b[0], H - b[3], b[2], H - b[1])

        if not pts:
            taken.append(up(texts.text((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, "not taking part", 7.5,
                                       ha="center", va="center", color="#999999")))
        for (fx, fy), txt in zip([(0.97, 0.97), (0.97, 0.03), (0.03, 0.97), (0.03, 0.03)], quadrants):
            if txt:
                tb = texts.text(box[0] + fx * (box[2] - box[0]), box[3] - fy * (box[3] - box[1]), txt, 6,
                                ha="right" if fx > 0.5 else "left", va="top" if fy > 0.5 else "bottom", color="#999999")
                taken.append(up(tb))
        # the panel's title, smaller (down to 7 pt) and then with the actor's name shortened while too wide
        who, size, keep = name[key], 9.0, len(name[key])
        head = f"as {who} sees it"
        while text_width(head, size, bold=True) > (panel_w + 0.2) * 72 and keep > 4:
            if size > 7:
                size -= 0.5
            else:
                keep -= 2
                head = f"as {who[:keep].rstrip()}\u2026 sees it"
        doc_title = (head, size)
        items = [(gx, gy, ", ".join(names)) for gx, gy, names in groups]
        centres = [(float(ax.X(x)), H - float(ax.Y(y))) for x, y, _ in items]
        taken[0:0] = [(cx - 3, cy - 3, cx + 3, cy + 3) for cx, cy in centres]
        spots = place(centres, [(text_width(t, 6.5), text_height(t, 6.5)) for _, _, t in items], up(box), taken)
        for (_, _, txt), (cx, cy), (dx, dy, ha, va, lb) in zip(items, centres, spots):
            texts.text(cx + dx, H - (cy + dy), txt, 6.5, ha=ha, va=va, cls="point-label")
            if abs(dx) + abs(dy) > 10:  # a leader from the label to its point, stopping 3 pt short of it
                qx = min(max(cx, lb[0]), lb[2])
                qy = min(max(cy, lb[1]), lb[3])
                d = math.hypot(cx - qx, cy - qy)
                if d > 3:
                    ex, ey = cx - (cx - qx) * 3 / d, cy - (cy - qy) * 3 / d
                    ax.layer(2.5).line([qx, ex], [H - qy, H - ey], "#999999", 0.5)
        ax.spines()
        low = xtick_marks(ax, ticked, 6.5)
        far_left = ytick_marks(ax, ticked, 6.5)
        ax.close()
        doc.text(box[0], box[1] - TITLE_PAD, doc_title[0], doc_title[1], va="bottom", bold=True, color=colors[key],
                 cls="title")
        doc.text((box[0] + box[2]) / 2, low + LABEL_PAD, axis_labels[0].replace("{actor}", name[key]), 7.5,
                 ha="center", va="top", cls="xlabel")
        doc.text(far_left - LABEL_PAD, (box[1] + box[3]) / 2, axis_labels[1].replace("{actor}", name[key]), 7.5,
                 ha="center", va="bottom", rotate=True, cls="ylabel")
    doc.text(0.01 * W, 0.02 * H, f"{scenario.issue(issue_key).name}: {title}", TITLE_SIZE, va="top", bold=True,
             cls="title")
    return doc.svg(svg_title)


#: The report's charts drawn here, by name (each the twin of ``<name>_figure`` in :mod:`detente.report.charts`).
WRITERS: dict[str, Callable[..., str]] = {
    "trajectory": trajectory, "fan": fan, "distribution": distribution, "tornado": tornado, "power": power,
    "quadrant": quadrant,
}
