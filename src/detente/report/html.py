"""The self-contained HTML report: one file, inline CSS and SVG, no network.

:func:`render` turns the report data of :func:`detente.report.build.compute`
into a complete HTML document. Nothing in it refers to another file or to the
network; it prints to PDF cleanly (print CSS: no navigation, charts kept whole
on a page, tables repeat their headers).
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..numfmt import fmt, fmt_percent, fmt_range
from ..stability import MOVING_NOTE_SHARE

SECTIONS = [
    ("trajectories", "Positions by round",
     "Every actor's position on each issue, round by round; the dashed black line is the model's forecast."),
    ("monte_carlo", "Monte Carlo", "The forecast's spread when uncertain inputs and events are drawn from their ranges."),
    ("moves", "Who moved whom",
     "Every move the model reports, round by round: who moved on which issue, from where to where, and because of whom."),
    ("power", "Effective power", "Capability times salience: who can and will weigh on each issue."),
    ("quadrants", "Perspective map", "How each actor sees each rival, as the model describes it."),
    ("sensitivity", "Sensitivity", "How far each issue's forecast moves when one input goes to the low or high end of its range."),
    ("comparison", "Comparison", "The forecasts of the scenario and its variants side by side."),
    ("record", "What happened",
     "Every model's forecast against the record (error, and the probability its draws gave the outcome's "
     "neighbourhood), and the smallest change to the inputs that would have made this model reproduce it."),
]

CSS = """
:root { --ink:#1d1f21; --muted:#5c6670; --rule:#d9dde1; --accent:#1f4e79; --bg:#fafbfc; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: var(--ink);
       margin: 0; background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--accent); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p.lead { color: var(--muted); margin-top: 4px; }
nav.toc { font-size: 13px; margin: 12px 0 0; }
nav.toc a { margin-right: 12px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid var(--rule); padding: 5px 7px; text-align: left; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.why { display: block; color: var(--muted); font-size: 11.5px; line-height: 1.3; margin-top: 2px; }
.src { color: #8a6d00; font-size: 11px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
figure.chart { margin: 14px 0 22px; page-break-inside: avoid; break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption { font-size: 12px; color: var(--muted); }
.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: 8px 12px; font-size: 13px; margin: 10px 0; }
.meta td:first-child { width: 180px; color: var(--muted); }
code { font-size: 12px; white-space: nowrap; }
.meta code { white-space: normal; overflow-wrap: anywhere; }
.big { font-weight: 700; font-size: 15px; }
.unstable { color: #a35200; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2 { page-break-after: avoid; break-after: avoid; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  @page { size: A4; margin: 14mm; }
}
"""


def _e(x: Any) -> str:
    return "" if x is None else escape(str(x))


def _num(x: Any, scale: Any = (0.0, 100.0)) -> str:
    """A number with the decimals of its issue's scale (:mod:`detente.numfmt`)."""
    if x is None:
        return "&ndash;"
    try:
        return fmt(float(x), scale)
    except (TypeError, ValueError):
        return _e(x)


def _scales(data: dict[str, Any]) -> dict[str, Any]:
    """Issue key -> its scale, from the report's inputs."""
    return {i["key"]: i["scale"] for i in data["inputs"]["issues"]}


def _val(v: dict[str, Any] | None, scale: float = 1.0) -> str:
    """A value cell: the number, its range and its rationale."""
    if not v:
        return "&ndash;"
    s = f'<span class="big">{v["value"]:g}</span>'
    if "low" in v and "high" in v:
        s += f' <span class="why" style="display:inline">[{v["low"]:g}&ndash;{v["high"]:g}]</span>'
    if v.get("why"):
        s += f'<span class="why">{_e(v["why"])}'
        if v.get("source"):
            s += f' <span class="src">({_e(v["source"])})</span>'
        s += "</span>"
    elif v.get("source"):
        s += f' <span class="src">({_e(v["source"])})</span>'
    return s


def _stability_cell(st: dict[str, Any] | None, scale: Any = (0.0, 100.0)) -> str:
    if not st:
        return ""
    lo, hi = st["horizon_range"]
    a, b = st["horizons"]
    median = st.get("statistic") == "median"
    if not st["unstable"]:
        moving = st.get("draws_moving", 0.0)
        if median:
            return "stable" + (f' <span class="why">({fmt_percent(moving)} of draws move)</span>' if moving >= MOVING_NOTE_SHARE else "")
        return "settled" if st.get("settled_at") is not None else "stable"
    if median:
        cyc = f"alternates (period {st['cycle_length']}); " if st["cycle_length"] else ""
        what = "medians after rounds"
    else:
        cyc = f"cycles (period {st['cycle_length']}); " if st["cycle_length"] else ""
        what = "forecasts after rounds"
    return (f'<b class="unstable">unstable</b>: {cyc}{_num(lo, scale)} &ndash; {_num(hi, scale)} '
            f'<span class="why">{what} {a}&ndash;{b}</span>')


def _summary(data: dict[str, Any]) -> str:
    rows = data["summary"]
    mc = any("p50" in r for r in rows)
    branch = any("most_likely" in r for r in rows)
    stab = any("stability" in r for r in rows)
    head = ("<tr><th>issue</th><th>forecast" + (" (median of draws)" if mc else "") + "</th>"
            + "<th>track record 80%</th><th>meaning</th>"
            + ("<th>input band: 5&ndash;95% of draws</th><th>thresholds</th>" if mc else "")
            + ("<th>most likely branch</th>" if branch else "")
            + ("<th>stability" + (" (median)" if mc else "") + "</th>" if stab else "") + "</tr>")
    body = []
    for r in rows:
        tr = r.get("track_record")
        band = fmt_range(tr[0], tr[1], r["scale"], sep=" &ndash; ") if tr else "none"
        cells = (f'<td>{_e(r["name"])}</td><td class="num big">{_num(r["forecast"], r["scale"])}</td>'
                 f'<td class="num track-record">{band}</td><td>{_e(r.get("label"))}</td>')
        if mc:
            th = "<br>".join(f'{_e(t["name"])}: <b>{fmt_percent(t["probability"])}</b>' for t in r.get("thresholds", []))
            cells += f'<td class="num">{fmt_range(r.get("p5"), r.get("p95"), r["scale"], sep=" &ndash; ")}</td><td>{th}</td>'
        if branch:
            cells += f'<td class="num">{_num(r.get("most_likely"), r["scale"])}</td>'
        if stab:
            cells += f"<td>{_stability_cell(r.get('stability'), r['scale'])}</td>"
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note bands-note">{_e(data["bands_note"])}</p>' if data.get("bands_note") else ""
    return f'<table class="summary"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>{note}'


def _inputs(data: dict[str, Any]) -> str:
    inp = data["inputs"]
    issues = inp["issues"]
    out = ["<h3>Issues</h3><table><thead><tr><th>issue</th><th>scale</th><th>status quo</th>"
           "<th>what the scale means</th></tr></thead><tbody>"]
    for i in issues:
        labels = "<br>".join(f"<b>{k:g}</b>: {_e(v)}" for k, v in i["labels"])
        desc = f'<span class="why">{_e(i["description"])}</span>' if i.get("description") else ""
        out.append(f'<tr><td><b>{_e(i["name"])}</b> <code>{_e(i["key"])}</code>{desc}</td>'
                   f'<td class="num">{i["scale"][0]:g}&ndash;{i["scale"][1]:g}</td>'
                   f'<td class="num">{_num(i.get("status_quo"), i["scale"])}</td>'
                   f"<td>{labels}</td></tr>")
    out.append("</tbody></table>")
    sal = f"0&ndash;{inp['salience_scale']}"
    head = "".join(f"<th>{_e(i['name'])}: position</th><th>{_e(i['name'])}: salience ({sal})</th>" for i in issues)
    out.append(f"<h3>Actors</h3><table class=\"actors\"><thead><tr><th>actor</th><th>capability</th>{head}</tr></thead><tbody>")
    for a in inp["actors"]:
        cells = "".join(f"<td>{_val(a['positions'].get(i['key']))}</td><td>{_val(a['salience'].get(i['key']))}</td>" for i in issues)
        notes = f'<span class="why">{_e(a["notes"])}</span>' if a.get("notes") else ""
        out.append(f'<tr><td><span class="swatch" style="background:{_e(a["color"])}"></span><b>{_e(a["name"])}</b> '
                   f'<code>{_e(a["key"])}</code>{notes}</td><td>{_val(a["capability"])}</td>{cells}</tr>')
    out.append("</tbody></table>")
    if inp["events"]:
        shares = data["result"].get("events") if isinstance(data["result"].get("events"), dict) else None
        out.append("<h3>Events</h3><table><thead><tr><th>event</th><th>type</th><th>round</th><th>actor</th>"
                   "<th>probability</th><th>" + ("happened in (share of draws)" if shares is not None
                                                 else "happened in this run") + "</th></tr></thead><tbody>")
        happened = {e["key"]: e.get("happened") for e in data["result"]["meta"].get("events", [])}
        last = data["scenario"].get("rounds")
        actor_names = {a["key"]: a["name"] for a in inp["actors"]}
        for e in inp["events"]:
            why = f'<span class="why">{_e(e["why"])} <span class="src">({_e(e.get("source"))})</span></span>' if e.get("why") else ""
            h = happened.get(e["key"])
            if last is not None and e["round"] > last:
                shown = "no: after the last round"
            elif shares is not None:
                shown = fmt_percent(shares.get(e["key"], 0.0))
            else:
                shown = "yes" if h else ("no" if h is not None else "&ndash;")
            out.append(f'<tr><td>{_e(e["name"])}{why}</td><td>{_e(e["type"])}</td><td class="num">{e["round"]}</td>'
                       f'<td>{_e(actor_names.get(e.get("actor"), e.get("actor")))}</td><td class="num">{e["probability"]:g}</td>'
                       f'<td>{shown}</td></tr>')
        out.append("</tbody></table>")
    if inp["sources"]:
        out.append("<h3>Sources</h3><ul>" + "".join(f"<li>{_e(s)}</li>" for s in inp["sources"]) + "</ul>")
    return "".join(out)


def _charts(data: dict[str, Any], section: str) -> str:
    return "".join(
        f'<figure class="chart" id="chart-{_e(c["id"])}" data-chart="{_e(c["id"])}">{c["svg"]}'
        f'<figcaption>{_e(c["title"])}</figcaption></figure>'
        for c in data["charts"] if c["section"] == section
    )


def _comparison_table(data: dict[str, Any]) -> str:
    comp = data.get("comparison")
    if not comp:
        return ""
    keys = comp["issues"]
    scales = _scales(data)
    issue_names = {i["key"]: i["name"] for i in data["inputs"]["issues"]}
    head = "".join(f"<th>{_e(issue_names.get(k, k))}</th>" for k in keys)
    rows = "".join(
        f'<tr><td>{_e(r["scenario"])}</td>'
        + "".join(f'<td class="num">{_num(r["forecast"].get(k), scales.get(k, (0.0, 100.0)))}</td>' for k in keys) + "</tr>"
        for r in comp["rows"]
    )
    table = f"<table><thead><tr><th>scenario</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
    table += "".join(f'<p class="note">{_e(n)}</p>' for n in comp.get("notes") or [])
    diffs = comp.get("differences") or []
    if not diffs:
        return table
    cells = ("scenario", "actor", "issue", "field", "a", "b")
    first = _e(comp["rows"][0]["scenario"])
    drows = "".join(
        "<tr>" + "".join(f"<td>{_e('' if d.get(c) is None else d.get(c))}</td>" for c in cells) + "</tr>" for d in diffs
    )
    return (table + f"<h3>Inputs that differ from {first}</h3><table><thead><tr><th>scenario</th><th>actor</th>"
            f"<th>issue</th><th>field</th><th>{first}</th><th>this scenario</th></tr></thead><tbody>{drows}</tbody></table>")


#: At most this many moves are listed in a report (the JSON has them all).
MAX_MOVES = 80


def _moves_table(data: dict[str, Any]) -> str:
    moves = data.get("moves") or []
    if not moves:
        return ""
    names = {a["key"]: a["name"] for a in data["inputs"]["actors"]}
    colors = {a["key"]: a["color"] for a in data["inputs"]["actors"]}
    issue_names = {i["key"]: i["name"] for i in data["inputs"]["issues"]}
    scales = _scales(data)
    rows = "".join(
        f'<tr><td class="num">{m["round"]}</td>'
        f'<td><span class="swatch" style="background:{_e(colors.get(m["actor"], "#999"))}"></span>'
        f'{_e(names.get(m["actor"], m["actor"]))}</td>'
        f'<td>{_e(issue_names.get(m["issue"], m["issue"]))}</td>'
        f'<td class="num">{_num(m.get("from"), scales.get(m["issue"], (0.0, 100.0)))} &rarr; '
        f'{_num(m.get("to"), scales.get(m["issue"], (0.0, 100.0)))}</td>'
        f'<td>{_e(m.get("why"))}</td></tr>'
        for m in moves[:MAX_MOVES]
    )
    more = (f'<p class="note">The first {MAX_MOVES} of {len(moves)} moves; the JSON result lists every one.</p>'
            if len(moves) > MAX_MOVES else "")
    return ('<table class="moves"><thead><tr><th>round</th><th>actor</th><th>issue</th><th>position</th><th>why</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>{more}")


def _meta(data: dict[str, Any]) -> str:
    m = data["meta"]
    params = ", ".join(f"{k}={v}" for k, v in m["params"].items()) or "defaults"
    rows = [
        ("detente version", _e(m["version"])), ("model", _e(m["model"])), ("parameters", _e(params)),
        ("seed", _e(m["seed"]) or "none"), ("Monte Carlo draws", _e(m["draws"])),
        ("input hash (SHA-256)", f"<code>{_e(m['input_sha256'])}</code>"), ("created", _e(m.get("created"))),
    ]
    return '<table class="meta"><tbody>' + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</tbody></table>"


def _section_notes(data: dict[str, Any], words: tuple[str, ...]) -> str:
    return "".join(f'<p class="note">{_e(n)}</p>' for n in data["notes"] if n.lower().startswith(words))


_NOTE_PREFIX = {
    "monte_carlo": ("monte carlo",),
    "quadrants": ("perspective map",),
    "sensitivity": ("sensitivity",),
}


def render(data: dict[str, Any]) -> str:
    """The complete HTML document of a report.

    Parameters
    ----------
    data : dict
        What :func:`detente.report.build.compute` returns.

    Returns
    -------
    str
    """
    sc = data["scenario"]
    m = data["meta"]
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(sc['name'])} \u2013 detente report</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(sc['name'])}</h1>",
        f'<p class="lead">{_e(sc.get("description"))}</p>',
        f'<p class="lead">Forecast with <b>{_e(m["model"])}</b>'
        + (f" as of {_e(sc['date'])}" if sc.get("date") else "")
        + f" &middot; detente {_e(m['version'])}</p>",
        '<nav class="toc"><a href="#forecast">Forecast</a><a href="#inputs">Inputs</a>'
        + "".join(f'<a href="#{k}">{t}</a>' for k, t, _ in SECTIONS)
        + '<a href="#run">Run</a></nav>',
        '<section id="forecast"><h2>Forecast</h2>', _summary(data),
    ]
    general = [n for n in data["notes"] if not n.lower().startswith(sum(_NOTE_PREFIX.values(), ()))]
    parts += [f'<p class="note">{_e(n)}</p>' for n in general]
    parts.append("</section>")
    parts.append('<section id="inputs"><h2>Inputs and their sources</h2>' + _inputs(data) + "</section>")
    for key, title, lead in SECTIONS:
        body = _charts(data, key)
        notes = _section_notes(data, _NOTE_PREFIX.get(key, ("\0",)))
        if key == "comparison":
            if not data.get("comparison"):
                continue
            body = _comparison_table(data) + body
        if key == "moves":
            body = _moves_table(data) + body
        if key == "record":
            from .record import render_record

            body = render_record(data.get("record"))
        if key == "trajectories" and data.get("monte_carlo"):
            lead = ("Every actor's position on each issue, round by round, in the most likely branch (one run, each "
                    "uncertain event at its likelier outcome); the dashed black line is that branch's forecast. The "
                    "forecast of this run is the median of the draws (see Monte Carlo).")
        if key == "quadrants" and data.get("perspective"):
            lead = _e(data["perspective"]["description"])
        if not body and not notes:
            continue
        parts.append(f'<section id="{key}"><h2>{title}</h2><p class="lead">{lead}</p>{notes}{body}</section>')
    parts.append('<section id="run"><h2>Run</h2>' + _meta(data) + "</section>")
    parts.append("</main></body></html>\n")
    return "".join(parts)
