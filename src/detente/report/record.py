"""The report's "What happened" section: every model scored against the record, and the explanation.

:func:`record_data` computes the section's data (plain JSON-able dicts, kept
in the report data under ``record``); :func:`render_record` turns it into
HTML for :mod:`detente.report.html`. The section appears only for a scenario
that records what happened (``record:``, see docs/scenario-format.md).
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..analysis.score import SCORE_DRAWS  # draws per model for the score when the report draws none itself

#: Said under a section that shipped with detente (:mod:`detente.report._shipped`) instead of computing.
SHIPPED_NOTE = ("This section was computed when this version of detente was built, from exactly this scenario, "
                "model, parameters, draws and seed: every step is seeded, so computing it now gives the same "
                "numbers (the tests recompute it).")


def plan_record(scen: Any, model: str, params: dict[str, Any], draws: int, budget: Any) -> float:
    """The estimated seconds of the section (every model's score and one explanation), checked per step."""
    from .. import models as registry
    from ..analysis.explain import default_evaluations, plan_explain
    from ..analysis.montecarlo import plan_monte_carlo
    from ..engine import model_params

    if scen.record is None or not scen.record.issues:
        return 0.0
    total = 0.0
    n = draws or SCORE_DRAWS
    for m in registry.names():
        if draws and m == model:  # the score takes the report's own Monte Carlo, which plan_report counts
            continue
        ps = params if m == model else {}
        p = model_params(m, ps)
        total += plan_monte_carlo(scen, m, p, set(ps), n, budget=budget, what=f"score: Monte Carlo ({m})").seconds
    p = model_params(model, params)
    est = plan_explain(scen, model, p, set(params), default_evaluations(scen, model, p, set(params)), budget)
    return total + est


def record_data(scen: Any, model: str, params: dict[str, Any], *, draws: int, seed: int, budget: Any,
                monte_carlo: Any = None) -> dict | None:
    """Every model's score against the record and ``model``'s explanation of it (None without a record).

    ``monte_carlo``: the report's own Monte Carlo of ``model``, which the score uses instead of
    drawing the same draws again."""
    if scen.record is None or not scen.record.issues:
        return None
    sc = record_score(scen, model, params, draws=draws, seed=seed, budget=budget, monte_carlo=monte_carlo)
    return {"score": sc, "explain": record_explain(scen, model, params, seed=seed, budget=budget)}


def record_score(scen: Any, model: str, params: dict[str, Any], *, draws: int, seed: int, budget: Any,
                 monte_carlo: Any = None) -> dict:
    """The section's score of every model (``score`` of :func:`record_data`): a step of its own, so that the
    report may compute it in either of its processes (the value does not depend on where: it is seeded)."""
    from ..analysis import score

    return score(scen, draws=draws or SCORE_DRAWS, seed=seed, params={model: params}, progress=False, budget=budget,
                 given=None if monte_carlo is None else {model: monte_carlo}).to_dict()


def record_explain(scen: Any, model: str, params: dict[str, Any], *, seed: int, budget: Any) -> dict:
    """The section's explanation by ``model`` (``explain`` of :func:`record_data`)."""
    from ..analysis import explain

    return explain(scen, model=model, seed=seed, params=params, budget=budget).to_dict()


def _e(x: Any) -> str:
    return "" if x is None else escape(str(x))


def _n(x: Any, digits: int = 1) -> str:
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return "&ndash;"


def render_record(rec: dict[str, Any] | None) -> str:
    """The section's HTML: the record with its sources, the score table per issue, the explanation."""
    if not rec:
        return ""
    sc, ex = rec["score"], rec["explain"]
    out = ["<h3>The record</h3><table><thead><tr><th>issue</th><th>outcome</th><th>what happened</th>"
           "<th>source</th></tr></thead><tbody>"]
    for key, o in sc["outcome"].items():
        out.append(f'<tr><td>{_e(key)}</td><td class="num big">{o["value"]:g}</td><td>{_e(o.get("why"))}'
                   f'{"<span class=why>" + _e(o["date"]) + "</span>" if o.get("date") else ""}</td>'
                   f'<td><span class="src">{_e(o.get("source"))}</span></td></tr>')
    out.append("</tbody></table>")
    models = list(sc["models"])
    keys = list(sc["outcome"])
    head = "".join(f'<th>{_e(k)} (recorded {sc["outcome"][k]["value"]:g})</th>' for k in keys)
    out.append(f'<h3>Every model against the record</h3><table class="score"><thead><tr><th>model</th>{head}'
               "<th>mean abs. error</th></tr></thead><tbody>")
    for m in models:
        cells = []
        for key in keys:
            r = sc["models"][m]["issues"].get(key)
            if r is None:
                cells.append("<td>&ndash;</td>")
                continue
            extra = ""
            if "p_near" in r:
                extra = (f'<span class="why">P(&plusmn;{sc["outcome"][key]["radius"]:g}) {100 * r["p_near"]:.0f}%; '
                         f'{sc["band"]}% band {_n(r["band_low"])}&ndash;{_n(r["band_high"])}</span>')
            cells.append(f'<td class="num">{_n(r["forecast"])} <b>({r["error"]:+.1f})</b>{extra}</td>')
        out.append(f'<tr><td>{_e(m)}</td>{"".join(cells)}<td class="num big">{_n(sc["models"][m]["mae"])}</td></tr>')
    out.append("</tbody></table>")
    out.append('<p class="note">' + "<br>".join(_e(n) for n in sc["meta"].get("notes", [])) + "</p>")
    for m, why in sc.get("not_run", {}).items():
        out.append(f'<p class="note">{_e(m)}: not run: {_e(why)}</p>')
    out.append(f"<h3>What would have had to be different ({_e(ex['model'])})</h3>")
    out.append("<p>" + " ".join(_e(h) for h in ex["headline"]) + "</p>")
    if ex["changes"]:
        out.append('<table class="explain"><thead><tr><th>#</th><th>input</th><th>from &rarr; to</th><th>units</th>'
                   "<th>range</th><th>inside the range</th></tr></thead><tbody>")
        for c in ex["changes"]:
            rng = (f'{c["range_low"]:g}&ndash;{c["range_high"]:g}' if c.get("range_low") is not None
                   and c.get("range_high") is not None else "none")
            out.append(f'<tr><td class="num">{c["rank"]}</td><td>{_e(c["label"])}</td>'
                       f'<td class="num">{c["from"]:.3g} &rarr; {c["to"]:.3g}</td><td class="num">{c["units"]:+.2f}</td>'
                       f'<td class="num">{rng}</td><td>{"yes" if c["inside_range"] else "no"}</td></tr>')
        out.append("</tbody></table>")
    out.append('<p class="note">' + "<br>".join(_e(n) for n in ex["meta"].get("notes", [])) + "</p>")
    if rec.get("shipped"):
        out.append(f'<p class="note">{SHIPPED_NOTE}</p>')
    return "".join(out)
