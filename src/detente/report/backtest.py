"""The HTML report of a backtest: scores, the track-record bands' coverage, a reliability chart and PIT histograms.

``detente backtest ... --format html`` prints it. The charts are drawn from the
numbers in the result's summary (``reliability``, ``pit_histogram``), and the
same numbers are printed in a table under each chart.
"""

from __future__ import annotations

import html as _html
from typing import Any

import numpy as np

from ..backtest.result import REFERENCE
from ..calibrate import LEVELS
from . import charts
from .html import CSS


def _e(x: Any) -> str:
    return _html.escape("" if x is None else str(x))


def _pct(v: Any) -> str:
    return "&ndash;" if v is None else f"{100 * v:.0f}%"


def _num(v: Any, digits: int = 1) -> str:
    return "&ndash;" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def reliability_figure(summary: dict[str, dict[str, Any]]) -> Any:
    """Observed against nominal coverage of each model's central bands, with the diagonal."""
    fig = charts._figure(6.4, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 100], [0, 100], color="#999999", linewidth=1, linestyle="--", label="perfect calibration")
    for i, (label, s) in enumerate(summary.items()):
        rel = s.get("reliability")
        if not rel:
            continue
        ax.plot([100 * x for x in rel["nominal"]], [100 * y for y in rel["observed"]], marker="o", markersize=3,
                linewidth=1.2, color=charts.PALETTE[i % len(charts.PALETTE)], label=label)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("nominal coverage of the band (%)")
    ax.set_ylabel("share of outcomes inside (%)")
    ax.set_title("Reliability of the track-record bands")
    ax.legend(loc="upper left", fontsize=7)
    return fig


def pit_figure(summary: dict[str, dict[str, Any]]) -> Any:
    """One small PIT histogram per model (flat = calibrated; U = too narrow; hump = too wide)."""
    rows = [(label, s["pit_histogram"]) for label, s in summary.items() if s.get("pit_histogram")]
    cols = 4
    nrow = max(1, -(-len(rows) // cols))
    fig = charts._figure(8.0, 1.8 * nrow + 0.4)
    for k, (label, counts) in enumerate(rows):
        ax = fig.add_subplot(nrow, cols, k + 1)
        n = max(sum(counts), 1)
        ax.bar(np.arange(len(counts)) / len(counts), [c / n for c in counts], width=1 / len(counts), align="edge",
               color=charts.PALETTE[k % len(charts.PALETTE)])
        ax.axhline(1 / len(counts), color="#999999", linewidth=0.8, linestyle="--")
        ax.set_xlim(0, 1)
        ax.set_title(label if len(label) <= 26 else label[:25] + "\u2026", fontsize=8)
        ax.tick_params(labelsize=6.5)
    return fig


def render_backtest(res: Any) -> str:
    """The complete HTML document of a backtest result (:class:`detente.backtest.BacktestResult`)."""
    s_all = res.summary
    how = res.settings.get("bands", "")
    head = "".join(f"<th>{h}</th>" for h in ("model", "n", "MAE", "RMSE", f"MAE &minus; {REFERENCE} [95% CI]",
                                               *(f"cover {lev}%" for lev in LEVELS),
                                               *(f"interval score {lev}%" for lev in LEVELS), "CRPS"))
    body = []
    for label, s in s_all.items():
        boot = s.get("mae_diff_vs_compromise") or {}
        diff = (f"{boot['mean']:+.2f} [{boot['ci95'][0]:+.2f}, {boot['ci95'][1]:+.2f}]"
                if boot.get("n") and label != REFERENCE else "&ndash;")
        cov = s.get("coverage") or {}
        isc = s.get("interval_score") or {}
        body.append("<tr>" + "".join(
            f'<td class="num">{c}</td>' if i else f"<td>{c}</td>"
            for i, c in enumerate([_e(label), s["n"], _num(s["mae"], 2), _num(s["rmse"], 2), diff,
                                   *(_pct(cov.get(str(lev))) for lev in LEVELS),
                                   *(_num(isc.get(str(lev))) for lev in LEVELS), _num(s.get("crps"), 2)])) + "</tr>")
    scores = f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    rel_rows = []
    levels: list[float] = []
    for label, s in s_all.items():
        rel = s.get("reliability")
        if rel:
            levels = rel["nominal"]
            rel_rows.append(f"<tr><td>{_e(label)}</td>" + "".join(f'<td class="num">{100 * o:.1f}%</td>'
                                                                    for o in rel["observed"]) + "</tr>")
    rel_table = ('<table class="summary reliability"><thead><tr><th>model</th>'
                 + "".join(f"<th>{100 * x:.0f}%</th>" for x in levels) + "</tr></thead><tbody>"
                 + "".join(rel_rows) + "</tbody></table>")
    pit_rows = "".join(f"<tr><td>{_e(label)}</td>" + "".join(f'<td class="num">{c}</td>' for c in s["pit_histogram"])
                       + "</tr>" for label, s in s_all.items() if s.get("pit_histogram"))
    pit_table = ('<table class="summary pit"><thead><tr><th>model</th>'
                 + "".join(f"<th>{k / 10:.1f}&ndash;{(k + 1) / 10:.1f}</th>" for k in range(10))
                 + f"</tr></thead><tbody>{pit_rows}</tbody></table>")
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Backtest \u2013 detente</title><style>{CSS}</style></head><body><main>",
        f"<h1>Backtest on {_e(res.dataset)}</h1>",
        f'<p class="lead">{res.n_issues} scored issues ({len(res.skipped)} skipped), capability {_e(res.capability)}. '
        f"{_e(how)}.</p>",
        '<section id="scores"><h2>Scores</h2>', scores,
        '<p class="note">Coverage: the share of outcomes inside the model\'s track-record band of that nominal '
        "coverage. Interval (Winkler) score: the band's width plus 2/a times how far the outcome fell outside "
        "(lower is better). CRPS: of the conformal predictive distribution.</p></section>",
        '<section id="reliability"><h2>Reliability</h2>',
        charts.to_svg(reliability_figure(s_all), "Reliability of the track-record bands"), rel_table, "</section>",
        '<section id="pit"><h2>PIT histograms</h2>',
        charts.to_svg(pit_figure(s_all), "PIT histograms"), pit_table, "</section>",
        "</main></body></html>\n",
    ]
    return "".join(parts)
