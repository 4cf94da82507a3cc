"""Writing a scenario back: a plain dict, YAML text, a CSV stakeholder table."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Iterable

import yaml

from .._parse import csv_safe

if TYPE_CHECKING:
    from .schema import Scenario

def scenario_to_dict(s: Scenario) -> dict[str, Any]:
    """A plain, compact dict of a scenario (what a YAML/JSON file would hold)."""
    d = s.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    d["name"] = s.name
    d["issues"] = [
        {**i.model_dump(mode="json", exclude_none=True, exclude_defaults=True), "key": i.key, "name": i.name,
         "scale": list(i.scale)}
        for i in s.issues
    ]
    d["actors"] = [
        {
            **{k: v for k, v in a.model_dump(mode="json", exclude_none=True).items() if k not in ("capability", "positions", "salience")},
            "capability": a.capability.compact(),
            "positions": {k: v.compact() for k, v in a.positions.items()},
            "salience": {k: v.compact() for k, v in a.salience.items()},
        }
        for a in s.actors
    ]
    if s.events:
        d["events"] = [e.model_dump(mode="json", exclude_none=True, exclude_defaults=False) for e in s.events]
        for e in d["events"]:
            if not e.get("changes") or not any(e["changes"].values()):
                e.pop("changes", None)
    d["salience_scale"] = s.salience_scale
    return d


def dump_yaml(s: Scenario) -> str:
    """The scenario as YAML text."""
    return yaml.safe_dump(scenario_to_dict(s), sort_keys=False, allow_unicode=True, width=100)


def _csv_rows(s: Scenario) -> Iterable[dict[str, Any]]:
    sal_col = "salience_0_1" if s.salience_scale == 1 else "salience"
    for a in s.actors:
        for i in s.issues:
            row: dict[str, Any] = {
                "actor": a.key, "actor_name": a.name, "group": a.group or "", "color": a.color or "",
                "issue": i.key, "issue_name": i.name, "scale_low": i.scale[0], "scale_high": i.scale[1],
                "status_quo": "" if i.status_quo is None else i.status_quo,
            }
            for col, v in (("capability", a.capability), ("position", a.positions.get(i.key)), (sal_col, a.salience.get(i.key))):
                base = "salience" if col == sal_col else col
                row[col] = "" if v is None else v.value
                row[f"{base}_low"] = "" if v is None or v.low is None else v.low
                row[f"{base}_high"] = "" if v is None or v.high is None else v.high
                row[f"{base}_why"] = "" if v is None or v.why is None else v.why
                row[f"{base}_source"] = "" if v is None or v.source is None else v.source
            yield row


def dump_csv(s: Scenario) -> str:
    """The scenario's stakeholder table as CSV (one row per actor x issue).

    Reading the result back gives the same actors, issues and values; events,
    labels and metadata live only in YAML/JSON. Text that a spreadsheet would
    run as a formula (starting with ``= + - @``) is written with a leading
    ``'``, which :func:`read_csv_table` takes off again.
    """
    sal_col = "salience_0_1" if s.salience_scale == 1 else "salience"
    cols = [
        "actor", "actor_name", "group", "color", "issue", "issue_name", "scale_low", "scale_high", "status_quo",
        "capability", "capability_low", "capability_high", "capability_why", "capability_source",
        "position", "position_low", "position_high", "position_why", "position_source",
        sal_col, "salience_low", "salience_high", "salience_why", "salience_source",
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for row in _csv_rows(s):
        w.writerow({k: (_number(v) if isinstance(v, float) else csv_safe(v)) for k, v in row.items()})
    return buf.getvalue()


def _number(x: float) -> str:
    """A float in its short form (``40``, ``0.3``) when that reads back exactly, else in full."""
    text = f"{x:.15g}"
    return text if float(text) == x else repr(x)
