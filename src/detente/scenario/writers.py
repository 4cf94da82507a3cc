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


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, but a string holding a character YAML reads as a line break (NEL, LS, PS) is written
    double-quoted, where it is escaped (``\\N``, ``\\L``, ``\\P``): in a plain or single-quoted scalar a reader
    folds it to a space, so the text would not come back as written."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(s: Scenario) -> str:
    """The scenario as YAML text."""
    return yaml.dump(scenario_to_dict(s), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


_VALUE_PARTS = ("low", "high", "why", "source")
_MORE_PARTS = ("dist", "sd")  # written only when some value uses them


def _salience_column(s: Scenario) -> str:
    """``salience_0_1``, or ``salience`` (0-100), or ``salience_0_100`` when every salience is at most 1
    (which the reader would otherwise refuse as an undeclared 0-1 scale)."""
    if s.salience_scale == 1:
        return "salience_0_1"
    values = [x for a in s.actors for v in a.salience.values() for x in (v.value, v.low, v.high) if x is not None]
    return "salience_0_100" if values and max(values) <= 1 else "salience"


def stakeholder_columns(s: Scenario) -> list[str]:
    """The columns of the scenario's stakeholder table (:func:`stakeholder_rows`), as the table reader reads them."""
    sal_col = _salience_column(s)
    values = [a.capability for a in s.actors] + [v for a in s.actors for d in (a.positions, a.salience) for v in d.values()]
    more = [p for p in _MORE_PARTS if any(getattr(v, p) is not None for v in values)]
    cols = ["actor", "actor_name", "group", "color"]
    if any(a.notes for a in s.actors):
        cols.append("notes")
    cols += ["issue", "issue_name", "scale_low", "scale_high", "status_quo"]
    for base, col in (("capability", "capability"), ("position", "position"), ("salience", sal_col)):
        cols += [col, *(f"{base}_{p}" for p in (*_VALUE_PARTS, *more))]
    return cols


def stakeholder_rows(s: Scenario) -> Iterable[dict[str, Any]]:
    """One row per actor x issue: numbers as floats, text as text, None for a blank cell."""
    sal_col = _salience_column(s)
    for a in s.actors:
        for i in s.issues:
            row: dict[str, Any] = {
                "actor": a.key, "actor_name": a.name, "group": a.group, "color": a.color, "notes": a.notes,
                "issue": i.key, "issue_name": i.name, "scale_low": i.scale[0], "scale_high": i.scale[1],
                "status_quo": i.status_quo,
            }
            for base, col, v in (("capability", "capability", a.capability), ("position", "position", a.positions.get(i.key)),
                                 ("salience", sal_col, a.salience.get(i.key))):
                row[col] = None if v is None else v.value
                for p in (*_VALUE_PARTS, *_MORE_PARTS):
                    row[f"{base}_{p}"] = None if v is None else getattr(v, p)
            yield row


def dump_csv(s: Scenario) -> str:
    """The scenario's stakeholder table as CSV (one row per actor x issue).

    Reading the result back gives the same actors, issues and values; events,
    labels and metadata live only in YAML/JSON and workbooks. Text that a spreadsheet would
    run as a formula (starting with ``= + - @``) is written with a leading
    ``'``, which :func:`read_csv_table` takes off again.
    """
    cols = stakeholder_columns(s)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in stakeholder_rows(s):
        w.writerow({k: ("" if v is None else _number(v) if isinstance(v, float) else csv_safe(v)) for k, v in row.items()})
    return buf.getvalue()


def dump_json(s: Scenario) -> str:
    """The scenario as JSON text (the structure of a YAML file)."""
    import json

    return json.dumps(scenario_to_dict(s), indent=2, ensure_ascii=False) + "\n"


#: The sheets of a scenario workbook, in order (the first is the stakeholder table).
SHEETS = ("stakeholders", "issues", "labels", "thresholds", "events", "scenario", "record")


def workbook_sheets(s: Scenario) -> dict[str, list[list[Any]]]:
    """The scenario as the sheets of a workbook: the stakeholder table, then what a table cannot hold.

    ``issues`` (key, name, description, scale, status quo), ``labels`` (issue, point, label),
    ``thresholds`` (issue, name, value, direction), ``events`` (one row per event, its changes
    in ``capability``, ``position:<issue>``, ``salience:<issue>`` columns), ``scenario``
    (field, value: name, description, date, sources, calendar, rounds, salience scale, model) and
    ``record`` (kind, key, value, date, why, source: what happened to each issue and event).
    Sheets with nothing to say are left out.
    """
    cols = stakeholder_columns(s)
    sheets: dict[str, list[list[Any]]] = {"stakeholders": [cols, *([r.get(c) for c in cols] for r in stakeholder_rows(s))]}
    sheets["issues"] = [["key", "name", "description", "scale_low", "scale_high", "status_quo"],
                        *([i.key, i.name, i.description, i.scale[0], i.scale[1], i.status_quo] for i in s.issues)]
    labels = [[i.key, float(x), t] for i in s.issues for x, t in i.labels.items()]
    if labels:
        sheets["labels"] = [["issue", "point", "label"], *labels]
    thresholds = [[i.key, t.name, t.value, t.direction] for i in s.issues for t in i.thresholds]
    if thresholds:
        sheets["thresholds"] = [["issue", "name", "value", "direction"], *thresholds]
    if s.events:
        changed = [i.key for i in s.issues]
        pos = [k for k in changed if any(k in e.changes.positions for e in s.events)]
        sal = [k for k in changed if any(k in e.changes.salience for e in s.events)]
        head = ["key", "name", "type", "round", "date", "actor", "probability", "why", "source", "capability",
                *(f"position:{k}" for k in pos), *(f"salience:{k}" for k in sal)]
        sheets["events"] = [head, *(
            [e.key, e.name, e.type, e.round, None if e.date is None else e.date.isoformat(), e.actor, e.probability, e.why,
             e.source, e.changes.capability, *(e.changes.positions.get(k) for k in pos), *(e.changes.salience.get(k) for k in sal)]
            for e in s.events)]
    meta: list[list[Any]] = [["field", "value"], ["name", s.name]]
    if s.description:
        meta.append(["description", s.description])
    if s.date is not None:
        meta.append(["date", s.date.isoformat()])
    meta += [["source", x] for x in s.sources]
    if s.calendar is not None:
        meta += [["calendar_start", s.calendar.start.isoformat()], ["calendar_round", s.calendar.round]]
    if s.rounds is not None:
        meta.append(["rounds", s.rounds])
    meta.append(["salience_scale", s.salience_scale])
    if s.model is not None:
        meta.append(["model", s.model.name])
        if s.model.seed is not None:
            meta.append(["model_seed", str(s.model.seed)])  # text: a seed may pass a spreadsheet's 15 digits
        meta += [[f"param:{k}", _yaml_scalar(v)] for k, v in s.model.params.items()]
    sheets["scenario"] = meta
    if s.record is not None and (s.record.issues or s.record.events):
        iso = lambda d: None if d is None else d.isoformat()  # noqa: E731
        sheets["record"] = [["kind", "key", "value", "date", "why", "source"],
                            *(["issue", k, o.value, iso(o.date), o.why, o.source] for k, o in s.record.issues.items()),
                            *(["event", k, "happened" if e.happened else "did not happen", iso(e.date), e.why, e.source]
                              for k, e in s.record.events.items())]
    return sheets


def _yaml_scalar(v: Any) -> str:
    """A model parameter as one line of YAML (read back by the bounded YAML reader)."""
    text = yaml.dump(_plain(v), Dumper=_Dumper, default_flow_style=True, allow_unicode=True, width=10**9).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def dump_xlsx(s: Scenario) -> bytes:
    """The scenario as an Excel workbook (see :func:`workbook_sheets`); reading it back gives the same scenario.

    Needs openpyxl (the ``xlsx`` extra).
    """
    from .._xlsx import workbook_bytes

    return workbook_bytes(workbook_sheets(s), widths={"stakeholders": {0: 16, 1: 24}}, exact=True)


#: What :func:`dump` writes.
FORMATS = ("yaml", "json", "csv", "xlsx")
#: The media type and file suffix of each format (for a download).
MEDIA_TYPES = {"yaml": "application/yaml", "json": "application/json", "csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SUFFIXES = {"yaml": ".yaml", "json": ".json", "csv": ".csv", "xlsx": ".xlsx"}


def dump(s: Scenario, fmt: str) -> bytes:
    """The scenario as a file's bytes: ``yaml``, ``json``, ``csv`` (UTF-8) or ``xlsx``."""
    if fmt == "xlsx":
        return dump_xlsx(s)
    writer = {"yaml": dump_yaml, "json": dump_json, "csv": dump_csv}.get(fmt)
    if writer is None:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return writer(s).encode("utf-8")


def _number(x: float) -> str:
    """A float in its short form (``40``, ``0.3``) when that reads back exactly, else in full."""
    text = f"{x:.15g}"
    return text if float(text) == x else repr(x)
