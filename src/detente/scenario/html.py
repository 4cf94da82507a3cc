"""Scenarios (and what is built on them) as small HTML tables for Jupyter (``_repr_html_``); every text escaped."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .schema import Scenario


def html_table(head: list[str], rows: Iterable[list[Any]], caption: str = "") -> str:
    """An HTML table; every cell (and the caption) escaped, numbers in their short form."""
    cap = f"<caption style='text-align:left'>{escape(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cell(c: Any) -> str:
    if c is None:
        return ""
    if isinstance(c, float):
        return f"{c:.4g}" if abs(c) < 1e4 else f"{c:,.0f}"
    return str(c)


def scenario_html(s: Scenario) -> str:
    """A scenario as HTML: its name and counts, its issues, and each actor's capability and stances."""
    head = f"<p><b>{escape(s.name)}</b> &mdash; {len(s.actors)} actors, {len(s.issues)} issues, {len(s.events)} events"
    head += f" (salience on 0-{s.salience_scale})</p>"
    if s.description:
        head += f"<p>{escape(s.description)}</p>"
    issues = html_table(["issue", "name", "scale", "status quo"],
                        ([i.key, i.name, f"{i.scale[0]:g} to {i.scale[1]:g}", i.status_quo] for i in s.issues), "Issues")
    actors = html_table(
        ["actor", "name", "capability", *(f"{i.key}: position (salience)" for i in s.issues)],
        ([a.key, a.name, a.capability.value,
          *(f"{a.positions[i.key].value:g} ({a.salience[i.key].value:g})" if i.key in a.positions and i.key in a.salience else ""
            for i in s.issues)] for a in s.actors),
        "Actors")
    notes = "".join(f"<p><i>note: {escape(n)}</i></p>" for n in s.reading_notes)
    return f"<div>{head}{issues}{actors}{notes}</div>"
