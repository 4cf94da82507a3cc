"""Charts of scenarios and forecasts, as matplotlib figures.

Every function here builds a :class:`matplotlib.figure.Figure` without pyplot
(so it is safe in the web app's worker threads) and returns it. Turn a figure
into inline SVG with :func:`to_svg` or into a PNG file with :func:`to_png`.

Actors keep one colour across every chart: their ``color`` in the scenario,
else a fixed palette by actor order (:func:`actor_colors`).
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence, cast

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np
from matplotlib import cbook
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..numfmt import fmt_percent
from ..serialize import threshold_probability

# the palette, colours and the helpers shared with the report's own SVG writers (:mod:`._svg`, no matplotlib)
from ._svg import (
    BRANCH_COLOR,
    FORECAST_COLOR,
    GRID,
    INK,
    PALETTE,
    actor_colors,
    actor_label,
    round_labels,
)
from ._svg import QuadrantGrid as _QuadrantGrid
from ._svg import compact_tick as _compact_tick
from ._svg import label_groups as _label_groups
from ._svg import place as _place
from ._svg import short as _short

_STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "svg.fonttype": "none",
}


def _figure(width: float, height: float, layout: Literal["constrained"] | None = "constrained") -> Figure:
    """A new figure with detente's style applied (laid out by matplotlib's constrained layout, or by hand
    when ``layout`` is None)."""
    cast(Any, matplotlib.rcParams).update(_STYLE)  # its stubs accept only literal keys
    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


#: Width, height and descent of each text measured for SVG output, by text, font and kind (plain or math): a
#: function of those alone (matplotlib measures SVG text on its own fixed-size font outlines), kept for the process.
_SVG_TEXT_METRICS: dict[tuple[str, Any, Any], tuple[float, float, float]] = {}
#: At most this many texts kept (a report has a few hundred distinct ones).
_SVG_TEXT_METRICS_MAX = 20_000


class _RendererSVG(RendererSVG):
    """matplotlib's SVG renderer, with each text measured once per process.

    matplotlib caches a text's measure per renderer, and saving one figure makes two SVG renderers (the layout
    and crop pass, then the drawing), so every chart measured every text again, each time through FreeType's
    layout of the string (about 40 % of a chart's SVG output). The measure depends only on the text, its font
    and its kind, so it is kept here: the SVG written is the same."""

    def get_text_width_height_descent(self, s: str, prop: Any, ismath: Any) -> tuple[float, float, float]:
        if ismath == "TeX":  # measured by TeX, which matplotlib caches itself
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, prop.copy(), ismath)  # a copy: a FontProperties hashes by its (mutable) state
        got = _SVG_TEXT_METRICS.get(key)
        if got is None:
            got = super().get_text_width_height_descent(s, prop, ismath)
            if len(_SVG_TEXT_METRICS) >= _SVG_TEXT_METRICS_MAX:
                _SVG_TEXT_METRICS.clear()
            _SVG_TEXT_METRICS[key] = got
        return got


class _SVGCanvas(FigureCanvasSVG):
    """matplotlib's SVG canvas, drawing through :class:`_RendererSVG` (:func:`to_svg` saves through it as
    ``savefig`` saves through matplotlib's: the figure's canvas switched for the save, then put back)."""

    def print_svg(self, filename: Any, *, bbox_inches_restore: Any = None, metadata: Any = None, **_: Any) -> None:
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as opened:
            fh: Any = opened if cbook.file_requires_unicode(opened) else codecs.getwriter("utf-8")(opened)
            dpi = self.figure.dpi
            self.figure.dpi = 72  # one unit a point, as matplotlib's (print_figure puts the figure's dpi back)
            width, height = self.figure.get_size_inches()
            renderer = MixedModeRenderer(self.figure, width, height, dpi,
                                         _RendererSVG(width * 72, height * 72, fh, image_dpi=dpi, metadata=metadata),
                                         bbox_inches_restore=bbox_inches_restore)
            self.figure.draw(cast(Any, renderer))  # a renderer by delegation
            renderer.finalize()


def _scale_axis(ax: Any, issue: Any, axis: str = "y", wrap: int = 32) -> None:
    """Label an axis with the issue's scale labels (or its plain numbers)."""
    lo, hi = issue.scale
    pad = 0.03 * (hi - lo)
    if axis == "y":
        ax.set_ylim(lo - pad, hi + pad)
    else:
        ax.set_xlim(lo - pad, hi + pad)
    if issue.labels:
        ticks = sorted(issue.labels)
        names = [f"{_short(issue.labels[t], wrap)} ({t:g})" for t in ticks]
        (ax.set_yticks if axis == "y" else ax.set_xticks)(ticks)
        (ax.set_yticklabels if axis == "y" else ax.set_xticklabels)(names, fontsize=7.5)


def _round_axis(ax: Any, scenario: Any, rounds: int) -> None:
    ax.set_xlim(-0.3, rounds + 0.3)
    if rounds == 0:
        ax.set_xticks([0])
        ax.set_xticklabels(["forecast"])
        ax.set_xlabel("")
        return
    step = max(1, int(np.ceil(rounds / 10)))
    ticks = list(range(0, rounds + 1, step))
    labels = round_labels(scenario, rounds)
    ax.set_xticks(ticks)
    if scenario.calendar is not None:
        ax.set_xticklabels([f"{t}\n{labels[t]}" for t in ticks], fontsize=7.5)
        ax.set_xlabel(f"round (one round = {scenario.calendar.round})")
    else:
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("round")


# ----------------------------------------------------------------------------- trajectories


def trajectory_figure(result: Any, issue_key: str, branch: bool = False) -> Figure:
    """Every actor's position on one issue round by round, with the forecast line.

    Parameters
    ----------
    result : Result
    issue_key : str
    branch : bool
        The run is the most likely branch beside a Monte Carlo forecast: its line is labelled so
        (the forecast of such a run is the median of the draws, drawn in the fan chart).

    Returns
    -------
    Figure
    """
    scen = result.scenario
    issue = scen.issue(issue_key)
    hist = result.history
    colors = actor_colors(scen)
    T = hist[-1]["round"]
    fig = _figure(9.0, 4.4)
    ax = fig.add_subplot()
    rounds = [h["round"] for h in hist]
    for a in scen.actors:
        ys = [h["positions"].get(a.key, {}).get(issue_key) for h in hist]
        y = np.array([np.nan if v is None else v for v in ys], float)
        if np.all(np.isnan(y)):
            continue
        ax.plot(rounds, y, color=colors[a.key], lw=1.8, marker="o" if T <= 20 else None, ms=3.2,
                label=actor_label(a), alpha=0.9)
    fc = np.array([np.nan if h["forecast"][issue_key] is None else h["forecast"][issue_key] for h in hist], float)
    what = "most likely branch" if branch else "forecast"
    ax.plot(rounds, fc, color=FORECAST_COLOR, lw=3.0, ls="--", label=f"{what} ({result.model})", zorder=5)
    final = fc[-1]
    if np.isfinite(final):
        ax.annotate(issue.fmt(final), (rounds[-1], final), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=9, fontweight="bold", color=FORECAST_COLOR, annotation_clip=False)
    if issue.status_quo is not None:
        ax.axhline(issue.status_quo, color="#999999", lw=1, ls=":", zorder=1)
        ax.annotate("status quo", (0, issue.status_quo), xytext=(2, 3), textcoords="offset points",
                    fontsize=7, color="#777777")
    for ev in result.events:
        if ev.get("happened") and 0 < ev["round"] <= T:
            ax.axvline(ev["round"] - 0.5, color="#b0b0b0", lw=1, ls="-.", zorder=1)
            ax.annotate(_short(ev["name"], 22, 2), (ev["round"] - 0.5, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -3), textcoords="offset points", fontsize=6.5, color="#666666", va="top")
    _scale_axis(ax, issue)
    _round_axis(ax, scen, T)
    ax.set_ylabel(issue.short_name(40))
    ax.set_title(f"{issue.name}: positions by round" + (" (most likely branch)" if branch else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), borderaxespad=0)
    return fig


# ----------------------------------------------------------------------------- effective power


def power_figure(scenario: Any) -> Figure:
    """Effective power (capability x salience) of each actor on each issue, as shares.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    Figure
    """
    colors = actor_colors(scenario)
    actors = scenario.actors
    issues = scenario.issues
    D = len(issues)
    fig = _figure(min(3.2 * D + 2.0, 12.0), 0.32 * len(actors) + 1.6)
    axes = fig.subplots(1, D, sharey=True, squeeze=False)[0]
    ypos = np.arange(len(actors))[::-1]
    for ax, iss in zip(axes, issues):
        w = np.array([
            a.capability.value * (a.salience[iss.key].value if iss.key in a.salience else 0.0) / scenario.salience_scale
            for a in actors
        ])
        share = 100.0 * w / w.sum() if w.sum() > 0 else w
        ax.barh(ypos, share, color=[colors[a.key] for a in actors], height=0.7)
        for y, v in zip(ypos, share):
            ax.annotate(f"{v:.0f}%", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5)
        ax.set_title(_short(iss.name, 30, 2), fontsize=9.5)
        ax.set_xlim(0, max(share.max() * 1.25, 1.0))
        ax.set_xlabel("share of effective power (%)")
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(ypos)
    axes[0].set_yticklabels([actor_label(a) for a in actors])
    fig.suptitle("Effective power: capability \u00d7 salience, per issue", x=0.01, ha="left", fontweight="bold", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- Monte Carlo


def fan_figure(scenario: Any, issue_key: str, rounds: Sequence[int], quantiles: dict[float, Sequence[float]],
               point: Sequence[float] | None = None, draws: int | None = None) -> Figure:
    """A fan chart of the forecast's spread by round.

    Parameters
    ----------
    scenario : Scenario
    issue_key : str
    rounds : sequence of int
    quantiles : dict of float -> sequence of float
        The forecast's quantiles per round, e.g. ``{0.05: [...], 0.25: [...],
        0.5: [...], 0.75: [...], 0.95: [...]}``.
    point : sequence of float, optional
        The most likely branch by round (one run, each uncertain event at its likelier
        outcome), drawn thin and labelled; the forecast line is the median of the draws.
    draws : int, optional
        For the title.
    """
    issue = scenario.issue(issue_key)
    fig = _figure(9.0, 4.0)
    ax = fig.add_subplot()
    r = np.asarray(rounds)
    qs = sorted(quantiles)
    pairs = [(qs[i], qs[-1 - i]) for i in range(len(qs) // 2)]
    for n, (lo, hi) in enumerate(pairs):
        shade = 0.18 + 0.22 * n
        ax.fill_between(r, quantiles[lo], quantiles[hi], color="#3465a4", alpha=shade, lw=0,
                        label=f"{100 * lo:g}\u2013{100 * hi:g}% of draws")
    if 0.5 in quantiles:  # the forecast of a run with draws is their median
        ax.plot(r, quantiles[0.5], color=FORECAST_COLOR, lw=2.2, ls="--", label="forecast (median of draws)")
    if point is not None:
        ax.plot(r, point, color=BRANCH_COLOR, lw=1.3, ls=":", label="most likely branch")
    _scale_axis(ax, issue)
    _round_axis(ax, scenario, int(r.max()) if len(r) else 0)
    ax.set_ylabel(issue.short_name())
    ax.set_title(f"{issue.name}: Monte Carlo spread" + (f" ({draws} draws)" if draws else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def distribution_figure(scenario: Any, issue_key: str, finals: Sequence[float], point: float | None = None,
                        median: float | None = None) -> Figure:
    """A histogram of the final forecast over Monte Carlo draws, with the issue's thresholds.

    Parameters
    ----------
    scenario : Scenario
    issue_key : str
    finals : sequence of float
        The final forecast of every draw.
    point : float, optional
        The most likely branch's forecast (drawn thin and labelled).
    median : float, optional
        The forecast: the median of the draws (default: computed from ``finals``).
    """
    issue = scenario.issue(issue_key)
    x = np.asarray(finals, float)
    x = x[np.isfinite(x)]
    fig = _figure(9.0, 3.6)
    ax = fig.add_subplot()
    lo, hi = issue.scale
    ax.hist(x, bins=np.linspace(lo, hi, 41).tolist(), color="#3465a4", alpha=0.85, weights=np.full(len(x), 100.0 / max(len(x), 1)),
            label=f"{len(x)} draws")
    if median is None and len(x):
        median = float(np.median(x))
    if median is not None:
        ax.axvline(median, color=FORECAST_COLOR, lw=2, ls="--", label=f"forecast (median) {issue.fmt(median)}")
    if point is not None:
        ax.axvline(point, color=BRANCH_COLOR, lw=1.3, ls=":", label=f"most likely branch {issue.fmt(point)}")
    for n_th, th in enumerate(sorted(issue.thresholds, key=lambda t: t.value)):
        share = threshold_probability(x, th.value, th.direction) if len(x) else 0.0
        ax.axvline(th.value, color="#c4a000", lw=1.3)
        sign = "\u2265" if th.direction == "above" else "\u2264"
        ax.annotate(f"{_short(th.name, 24, 2)}\n{sign} {th.value:g}: {fmt_percent(share)}",
                    (th.value, 1.0 - 0.16 * n_th), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", fontsize=7, va="top", color="#6b5800",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    _scale_axis(ax, issue, axis="x", wrap=14)
    for t in ax.get_xticklabels():
        t.set_fontsize(6.5)
    ax.set_ylabel("share of draws (%)")
    ax.set_title(f"{issue.name}: distribution of the final forecast")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# ----------------------------------------------------------------------------- sensitivity


def tornado_figure(title: str, base: float, rows: Sequence[tuple[str, float, float]], xlabel: str = "forecast",
                   top: int = 12) -> Figure:
    """A tornado chart: how far the forecast moves when each input goes to its low and high end.

    Parameters
    ----------
    title : str
    base : float
        The forecast at the point values.
    rows : sequence of (label, forecast at low, forecast at high)
    xlabel : str
    top : int
        Show the ``top`` widest bars.
    """
    rows = sorted(rows, key=lambda r: abs(r[2] - r[1]), reverse=True)[:top]
    fig = _figure(9.0, 0.34 * len(rows) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    for yy, (_label, lo, hi) in zip(y, rows):
        ax.barh(yy, lo - base, left=base, color="#d9822b", height=0.65, label="input at its low end" if yy == y[0] else None)
        ax.barh(yy, hi - base, left=base, color="#3465a4", height=0.65, label="input at its high end" if yy == y[0] else None)
    ax.axvline(base, color=FORECAST_COLOR, lw=1.5)
    ax.set_yticks(y)
    ax.set_yticklabels([_short(r[0], 56, 1) for r in rows], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# ----------------------------------------------------------------------------- comparison


def comparison_figure(scenario: Any, rows: Sequence[tuple[str, dict[str, float | None]]]) -> Figure:
    """The forecasts of several scenarios (or models) side by side on each issue's scale.

    Parameters
    ----------
    scenario : Scenario
        The first scenario, whose issues and labels set the axes.
    rows : sequence of (label, {issue key: forecast})
    """
    issues = scenario.issues
    fig = _figure(9.0, 1.35 * len(issues) + 1.0)
    axes = fig.subplots(len(issues), 1, squeeze=False)[:, 0]
    marks = ["o", "s", "D", "^", "v", "P", "X", "*"]
    for ax, iss in zip(axes, issues):
        lo, hi = iss.scale
        ax.hlines(0, lo, hi, color="#bbbbbb", lw=2)
        for n, (label, fc) in enumerate(rows):
            v = fc.get(iss.key)
            if v is None:
                continue
            ax.plot([v], [0], marker=marks[n % len(marks)], ms=10, ls="none", color=PALETTE[n % len(PALETTE)],
                    label=label, markeredgecolor="white", zorder=3)
        _scale_axis(ax, iss, axis="x", wrap=16)
        for t in ax.get_xticklabels():
            t.set_fontsize(6.5)
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        ax.spines["left"].set_visible(False)
        ax.grid(False)
        ax.set_title(iss.name, fontsize=9.5)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle("Comparison of forecasts", x=0.01, ha="left", fontweight="bold", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- perspective (quadrant) maps


def quadrant_figure(scenario: Any, issue_key: str, eu_self: np.ndarray, eu_other: np.ndarray,
                    actor_keys: Iterable[str] | None = None, *, axis_labels: tuple[str, str] = ("stake of {actor}", "stake of rival"),
                    quadrants: tuple[str, str, str, str] = ("", "", "", ""), title: str = "perspective map") -> Figure:
    """A model's perspective map for one issue: each actor's view of each rival.

    One small panel per actor i; each rival j is a point at (x[i, j],
    y[i, j]): i's own stake against j, and i's view of j's stake against i
    (for BDM: E^i(U_ij) and E^i(U_ji), whose quadrants read as conflict,
    compromise / capitulation and status quo). Each panel has its own
    symmetric scale; rivals at (nearly) the same point share one label.

    Parameters
    ----------
    scenario : Scenario
    issue_key : str
    eu_self, eu_other : ndarray, shape (n, n)
        ``x[i, j]`` and ``y[i, j]`` of :class:`detente.models.base.Perspective`.
    actor_keys : iterable of str, optional
        Limit the panels to these actors.
    axis_labels : (str, str)
        Axis labels; ``{actor}`` becomes the panel's actor.
    quadrants : 4 str
        What the quadrants (x > 0, y > 0), (x > 0, y < 0), (x < 0, y > 0),
        (x < 0, y < 0) mean.
    title : str
        Follows the issue's name in the figure's title.
    """
    g = _QuadrantGrid(scenario, actor_keys)
    colors, keys, name, show, ncol, nrow = g.colors, g.keys, g.name, g.show, g.ncol, g.nrow
    width, height, panel_w, panel_h = g.width, g.height, g.panel_w, g.panel_h
    left, right, top, bottom, gap_x, gap_y = g.left, g.right, g.top, g.bottom, g.gap_x, g.gap_y
    fig = _figure(width, height, layout=None)
    # the panels are alike, so a fixed grid (margins in inches: the suptitle and a panel's title above, tick
    # labels and axis labels left and below) replaces the constrained layout, which measured every tick label
    # of every panel on each draw
    axes = fig.subplots(nrow, ncol, squeeze=False, gridspec_kw={
        "left": left / width, "right": 1 - right / width, "top": 1 - top / height, "bottom": bottom / height,
        "wspace": gap_x / panel_w, "hspace": gap_y / panel_h}).ravel()
    labels: list[tuple[Any, list[tuple[float, float, str]]]] = []
    for ax, key in zip(axes, show):
        i = keys.index(key)
        pts = [(other, float(eu_self[i, j]), float(eu_other[i, j])) for j, other in enumerate(keys)
               if j != i and np.isfinite(eu_self[i, j]) and np.isfinite(eu_other[i, j])]
        # each panel on its own symmetric scale: the views differ by orders of magnitude
        lim = max([max(abs(x), abs(y)) for _, x, y in pts] + [1e-9]) * 1.15
        ax.axhline(0, color="#888888", lw=0.8)
        ax.axvline(0, color="#888888", lw=0.8)
        ax.plot([-lim, lim], [lim, -lim], color="#cccccc", lw=0.8, ls=":")
        # rivals at (nearly) the same point share one label instead of overprinting
        if pts:  # one artist for the panel's points, in the rivals' colours (7 pt across, as a 6 pt marker and its edge were)
            ax.scatter([x for _, x, _ in pts], [y for _, _, y in pts], s=49, c=[colors[o] for o, _, _ in pts],
                       marker="o", linewidths=0, zorder=2)
        groups = _label_groups(pts, lim, name)
        labels.append((ax, [(gx, gy, ", ".join(names)) for gx, gy, names in groups]))
        if not pts:
            ax.text(0.5, 0.5, "not taking part", transform=ax.transAxes, ha="center", va="center",
                    fontsize=7.5, color="#999999")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        for axis in (ax.xaxis, ax.yaxis):  # five or so short tick labels on a small panel (not nine)
            axis.set_major_locator(MaxNLocator(4))
            axis.set_major_formatter(FuncFormatter(_compact_tick))
        _fit_title(ax, name[key], panel_w + 0.2, fontsize=9, color=colors[key])
        ax.set_xlabel(axis_labels[0].replace("{actor}", name[key]), fontsize=7.5)
        ax.set_ylabel(axis_labels[1].replace("{actor}", name[key]), fontsize=7.5)
        ax.tick_params(labelsize=6.5)
        for (x, y), txt in zip([(0.97, 0.97), (0.97, 0.03), (0.03, 0.97), (0.03, 0.03)], quadrants):
            ax.text(x, y, txt, transform=ax.transAxes, ha="right" if x > 0.5 else "left",
                    va="top" if y > 0.5 else "bottom", fontsize=6, color="#999999")
    for ax in axes[len(show):]:
        ax.set_visible(False)
    placed = [a for ax, items in labels for a in place_labels(ax, items, fontsize=6.5, marker_pt=6)]
    if not _fits(fig, fig.suptitle(f"{scenario.issue(issue_key).name}: {title}", x=0.01, ha="left",
                                   fontweight="bold", fontsize=11)):
        # something (long tick labels, a label pushed out of a crowded panel) reaches into a neighbour or
        # off the page: lay the panels out by matplotlib's constrained layout instead, and label them again
        for a in placed:
            a.remove()
        fig.set_layout_engine("constrained")
        fig.draw_without_rendering()
        fig.set_layout_engine("none")  # keep the layout the labels are placed for
        for ax, items in labels:
            place_labels(ax, items, fontsize=6.5, marker_pt=6)
        fig._detente_tight = True  # type: ignore[attr-defined]  # cropped when saved (see _bbox)
    return fig


def _fits(fig: Figure, suptitle: Any) -> bool:
    """Whether the panels (with everything drawn on them) and the title stay on the page, apart."""
    renderer = fig._get_renderer()  # type: ignore[attr-defined]
    page = fig.bbox
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()] + [suptitle.get_window_extent(renderer)]
    for i, a in enumerate(boxes):
        if a.x0 < page.x0 - 1 or a.x1 > page.x1 + 1 or a.y0 < page.y0 - 1 or a.y1 > page.y1 + 1:
            return False
        for b in boxes[i + 1:]:
            if min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0):
                return False
    return True


def _fit_title(ax: Any, who: str, inches: float, fontsize: float, **kw: Any) -> None:
    """The panel's title "as WHO sees it", in a smaller font (down to 7 pt) and then with WHO shortened
    (an ellipsis) while it is wider than ``inches``."""
    title = ax.set_title(f"as {who} sees it", fontsize=fontsize, **kw)
    renderer = ax.figure._get_renderer()
    limit = inches * ax.figure.dpi
    keep = len(who)
    while title.get_window_extent(renderer).width > limit and keep > 4:
        if title.get_fontsize() > 7:
            title.set_fontsize(title.get_fontsize() - 0.5)
        else:
            keep -= 2
            title.set_text(f"as {who[:keep].rstrip()}\u2026 sees it")


def place_labels(ax: Any, items: list[tuple[float, float, str]], *, fontsize: float = 6.5, marker_pt: float = 6) -> list[Any]:
    """Label points so that labels overlap neither each other, nor the points, nor the axes' edges.

    Greedy: points are labelled left to right; each label takes the first of
    a list of offsets (nearest first) with the least overlap, measured on the
    rendered text's box (measured once per label, then moved to each offset). A label pushed away from its point gets a thin
    leader line. Call after the axes' limits (and the figure's layout) are
    final.

    Parameters
    ----------
    ax : Axes
    items : list of (x, y, text)
        Points in data coordinates and their labels.
    fontsize : float
    marker_pt : float
        Marker size in points (the markers are kept clear too).

    Returns
    -------
    list of Annotation
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
    to_px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    frame_box = (frame.x0, frame.y0, frame.x1, frame.y1)
    r = marker_pt / 2 * to_px
    centres = [ax.transData.transform((x, y)) for x, y, _ in items]
    taken = [(cx - r, cy - r, cx + r, cy + r) for cx, cy in centres]
    for txt in ax.texts:  # corner captions and other text already on the axes
        bb = txt.get_window_extent(renderer)
        taken.append((bb.x0, bb.y0, bb.x1, bb.y1))
    sizes = []
    for x, y, text in items:
        # measure the text once; every candidate box is that size, placed by its offset and alignment
        probe = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize,
                            ha="left", va="bottom")
        bb = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((bb.width, bb.height))
    spots = _place(centres, sizes, frame_box, taken, to_px)  # the greedy choice, shared with the SVG writer
    out = []
    for k in sorted(range(len(items)), key=lambda k: (centres[k][0], -centres[k][1])):
        x, y, text = items[k]
        dx, dy, ha, va, _box = spots[k]
        cx, cy = centres[k]
        far = abs(dx) + abs(dy) > 10
        # a point inside the axes is labelled whatever happens: no test of it at every drawing (matplotlib's
        # default, which hides the label of a point outside, stays for the others)
        inside = frame.x0 <= cx <= frame.x1 and frame.y0 <= cy <= frame.y1
        ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                          annotation_clip=False if inside else None,
                          arrowprops=dict(arrowstyle="-", color="#999999", lw=0.5, shrinkA=0, shrinkB=3) if far else None)
        out.append(ann)
    return out


# ----------------------------------------------------------------------------- output


_SVG_HEAD = re.compile(r"^.*?(<svg\b)", re.S)


def to_svg(fig: Figure, title: str | None = None) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no doctype).

    Parameters
    ----------
    fig : Figure
    title : str, optional
        Added as the SVG's ``<title>`` (read by screen readers).
    """
    buf = io.StringIO()
    canvas = fig.canvas
    try:  # what savefig does (switch to the SVG canvas, print, switch back), with detente's SVG canvas
        _SVGCanvas(fig).print_figure(buf, format="svg", bbox_inches=_bbox(fig))
    finally:
        fig.set_canvas(canvas)
    svg = _SVG_HEAD.sub(r"\1", buf.getvalue(), count=1)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg role="img" class="chart" ', 1)
    if title:
        esc = title.replace("&", "&amp;").replace("<", "&lt;")
        svg = re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + f"<title>{esc}</title>", svg, count=1)
    return svg


def _bbox(fig: Figure) -> Literal["tight"] | None:
    """``savefig``'s ``bbox_inches``: cropped to the drawing ("tight", which costs a second drawing pass),
    except for a figure laid out by hand (no layout engine), which fits its page already (checked)."""
    return "tight" if fig.get_layout_engine() is not None or getattr(fig, "_detente_tight", False) else None


def to_png(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write the figure as a PNG file and return its path."""
    p = Path(path)
    fig.savefig(p, format="png", dpi=dpi, bbox_inches=_bbox(fig), facecolor="white")
    return p
