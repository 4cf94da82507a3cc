"""Excel workbooks (.xlsx) read as scenarios: a stakeholder-table sheet, and optional sheets for the rest.

The sheets (names case-blind; see :data:`~detente.scenario.writers.SHEETS`, which
:func:`~detente.scenario.writers.dump_xlsx` writes):

``stakeholders``
    The stakeholder table, in any layout the CSV reader reads (long, wide, one-issue), with
    the same columns. A workbook without a sheet of that name uses its first sheet.
``issues``
    ``key, name, description, scale_low, scale_high, status_quo``: one row per issue.
``labels`` / ``thresholds``
    ``issue, point, label`` / ``issue, name, value, direction``: named points and outcomes.
``events``
    ``key, name, type, round, date, actor, probability, why, source, capability`` and
    ``position:<issue>``, ``salience:<issue>`` for what a ``change`` sets.
``scenario``
    ``field, value`` rows: ``name``, ``description``, ``date``, ``source`` (one row each),
    ``calendar_start``, ``calendar_round``, ``rounds``, ``salience_scale``, ``model``,
    ``model_seed``, ``param:<name>`` (a value in YAML).

Other sheets are ignored with a note. Every problem names the file and sheet
(``wage.xlsx[issues]``) with the row as its line. The bounds are those of
:mod:`detente._xlsx`.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable

from .._parse import parse_number, read_bytes, short
from .._xlsx import Sheet, cell_text, read_sheets, sheet_file
from ..errors import Problem, ScenarioError
from .columns import normalize, read_header
from .nodes import Node, NodeList
from .table import read_table
from .writers import SHEETS
from .yaml_reader import parse_yaml

_TABLE_NAMES = ("stakeholders", "stakeholder", "actors", "table", "stakeholder_table")


def read_workbook(path: Path, *, salience_scale: int | None = None) -> Node:
    """Read a scenario workbook into a raw scenario dict (located nodes; notes ride as ``.notes``)."""
    file = str(path)
    sheets = read_sheets(read_bytes(path), file)
    by_name = {normalize(n): n for n in sheets}
    table_name = next((by_name[n] for n in _TABLE_NAMES if n in by_name), None)
    known = {by_name[n] for n in (*SHEETS, *_TABLE_NAMES) if n in by_name}
    if table_name is None and {"summary", "positions"} <= set(by_name):
        raise ScenarioError([Problem(file, None, "", "this is a forecast's workbook (detente forecast -f xlsx), not a scenario: "
                                     "read the scenario the forecast was made from")])
    if table_name is None:  # a user's own workbook: the first sheet whose header names the actors
        table_name = next((n for n in sheets if n not in known and sheets[n] and _names_actors(sheets[n][0][1])), None)
    if table_name is None:
        raise ScenarioError([Problem(file, None, "", f"no sheet holds a stakeholder table (sheets: {', '.join(map(repr, sheets))}): "
                                     "put it on a sheet named 'stakeholders', with a header row naming the columns actor, "
                                     "capability, position, salience (see docs/scenario-format.md, \"From your spreadsheet\")")])
    rows = [(n, [cell_text(v) for v in cells]) for n, cells in sheets[table_name]]
    if not rows:
        raise ScenarioError([Problem(sheet_file(file, table_name), None, "", "the sheet is empty")])
    if salience_scale is None and "scenario" in by_name:  # the scenario sheet may declare the table's salience scale
        salience_scale = _declared_scale(sheets[by_name["scenario"]])
    raw = read_table(rows, sheet_file(file, table_name), stem=path.stem, salience_scale=salience_scale)
    notes: list[str] = list(raw.notes)  # type: ignore[attr-defined]
    book = _Book(file, raw)
    for sheet, read in (("issues", book.issues), ("labels", book.labels), ("thresholds", book.thresholds),
                        ("events", book.events), ("scenario", book.scenario)):
        if sheet in by_name and by_name[sheet] != table_name:
            read(by_name[sheet], sheets[by_name[sheet]])
    if book.problems:
        raise ScenarioError(book.problems)
    ignored = [n for n in sheets if n != table_name and n not in known and sheets[n]]
    if ignored:
        notes.append(f"ignored the sheet{'s' if len(ignored) > 1 else ''} {', '.join(map(repr, ignored))} "
                     f"(detente reads {', '.join(SHEETS)})")
    if table_name != "stakeholders" and normalize(table_name) not in _TABLE_NAMES:
        notes.append(f"read the stakeholder table from the sheet {table_name!r}")
    raw.notes = notes  # type: ignore[attr-defined]
    return raw


def _names_actors(header: list[Any]) -> bool:
    """Whether a sheet's first row is a stakeholder table's header (it names an actor column)."""
    return "actor" in read_header([cell_text(c) for c in header], None, None).names


def _declared_scale(rows: Sheet) -> int | None:
    """The ``salience_scale`` row of a scenario sheet, when it holds 1 or 100."""
    for _, cells in rows[1:]:
        if len(cells) >= 2 and normalize(cell_text(cells[0])) == "salience_scale" and cell_text(cells[1]).strip() in ("1", "100"):
            return int(cell_text(cells[1]).strip())
    return None


class _Book:
    """The optional sheets of a workbook, read onto the raw scenario the stakeholder table gave."""

    def __init__(self, file: str, raw: Node):
        self.file, self.raw = file, raw
        self.problems: list[Problem] = []
        self.issues_by_key: dict[str, Node] = {i["key"]: i for i in raw["issues"]}

    # -- helpers ---------------------------------------------------------------------------
    def _records(self, sheet: str, rows: Sheet, need: tuple[str, ...], known: tuple[str, ...],
                 prefixed: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
        """Rows as dicts keyed by the header (normalized); a missing or unknown column is a problem."""
        where = sheet_file(self.file, sheet)
        if not rows:
            return []
        hline, head = rows[0]
        cols = [normalize(cell_text(c)) for c in head]
        for c in need:
            if c not in cols:
                self.problems.append(Problem(where, hline, c, f"missing column {c!r}"))
        for c in cols:
            if c and c not in known and not (":" in c and c.split(":", 1)[0] in prefixed):
                self.problems.append(Problem(where, hline, c[:60], f"unknown column (known: {', '.join(known)})"))
        out = []
        for n, cells in rows[1:]:
            rec = {}
            for i, c in enumerate(cols):
                if c and i < len(cells) and cells[i] is not None and cell_text(cells[i]).strip():
                    rec[c if ":" not in c else c.split(":", 1)[0] + ":" + cell_text(head[i]).split(":", 1)[1].strip()] = cells[i]
            if len(cells) > len(cols) and any(cell_text(x).strip() for x in cells[len(cols):]):
                self.problems.append(Problem(where, n, "", f"row has {len(cells)} cells, the header has {len(cols)}"))
            out.append((n, rec))
        return out

    def _number(self, where: str, n: int, col: str, v: Any) -> float | None:
        return parse_number(cell_text(v), where, n, col, self.problems, missing=None)

    def _text(self, v: Any) -> str:
        return cell_text(v).strip()

    def _date(self, where: str, n: int, col: str, v: Any) -> str | None:
        if isinstance(v, _dt.datetime | _dt.date):
            return (v.date() if isinstance(v, _dt.datetime) else v).isoformat()
        text = self._text(v)
        try:
            return _dt.date.fromisoformat(text).isoformat()
        except ValueError:
            self.problems.append(Problem(where, n, col, f"expected a date YYYY-MM-DD, got {short(text)}"))
            return None

    def _set(self, node: Node, key: Any, value: Any, where: str, n: int) -> None:
        node[key] = value
        node.locs[key] = (where, n)

    def _issue(self, where: str, n: int, rec: dict[str, Any]) -> Node | None:
        key = self._text(rec.get("issue", ""))
        if key not in self.issues_by_key:
            self.problems.append(Problem(where, n, "issue", f"unknown issue {short(key)} (issues: "
                                         f"{', '.join(self.issues_by_key) or 'none'})"))
            return None
        return self.issues_by_key[key]

    # -- the sheets ------------------------------------------------------------------------
    def issues(self, sheet: str, rows: Sheet) -> None:
        where = sheet_file(self.file, sheet)
        order: list[Node] = []
        for n, rec in self._records(sheet, rows, ("key",), ("key", "name", "description", "scale_low", "scale_high", "status_quo")):
            key = self._text(rec.get("key", ""))
            if not key:
                self.problems.append(Problem(where, n, "key", "empty issue key"))
                continue
            node = self.issues_by_key.get(key)
            if node is None:
                node = Node({"key": key}, origin=(where, n))
                node.locs["key"] = (where, n)
                self.issues_by_key[key] = node
            order.append(node)
            for col in ("name", "description"):
                if col in rec:
                    self._set(node, col, self._text(rec[col]), where, n)
            lo, hi = (self._number(where, n, c, rec.get(c)) for c in ("scale_low", "scale_high"))
            if lo is not None and hi is not None:
                self._set(node, "scale", [lo, hi], where, n)
            elif (lo is None) != (hi is None):
                self.problems.append(Problem(where, n, "scale_high" if hi is None else "scale_low", "give both ends of the scale"))
            sq = self._number(where, n, "status_quo", rec.get("status_quo"))
            if sq is not None:
                self._set(node, "status_quo", sq, where, n)
        rest = [i for i in self.issues_by_key.values() if all(i is not o for o in order)]
        self.raw["issues"] = NodeList([*order, *rest], origin=self.raw["issues"].origin)
        self.raw["issues"].locs = {k: i.origin for k, i in enumerate(self.raw["issues"])}

    def labels(self, sheet: str, rows: Sheet) -> None:
        where = sheet_file(self.file, sheet)
        for n, rec in self._records(sheet, rows, ("issue", "point", "label"), ("issue", "point", "label")):
            node = self._issue(where, n, rec)
            x = self._number(where, n, "point", rec.get("point"))
            if node is None or x is None:
                continue
            labels = node.get("labels")
            if labels is None:
                labels = Node(origin=(where, n))
                self._set(node, "labels", labels, where, n)
            self._set(labels, x, self._text(rec.get("label", "")), where, n)

    def thresholds(self, sheet: str, rows: Sheet) -> None:
        where = sheet_file(self.file, sheet)
        for n, rec in self._records(sheet, rows, ("issue", "name", "value"), ("issue", "name", "value", "direction")):
            node = self._issue(where, n, rec)
            if node is None:
                continue
            t = Node({"name": self._text(rec.get("name", ""))}, origin=(where, n))
            t["value"] = self._number(where, n, "value", rec.get("value"))
            if "direction" in rec:
                t["direction"] = self._text(rec["direction"]).lower()
            t.locs = {k: (where, n) for k in t}
            if "thresholds" not in node:
                self._set(node, "thresholds", NodeList(origin=(where, n)), where, n)
            node["thresholds"].locs[len(node["thresholds"])] = (where, n)
            node["thresholds"].append(t)

    def events(self, sheet: str, rows: Sheet) -> None:
        where = sheet_file(self.file, sheet)
        known = ("key", "name", "type", "round", "date", "actor", "probability", "why", "source", "capability")
        events = NodeList(origin=(where, rows[0][0] if rows else None))
        for n, rec in self._records(sheet, rows, ("type",), known, ("position", "salience")):
            ev = Node(origin=(where, n))
            for col in ("key", "name", "type", "actor", "why", "source"):
                if col in rec:
                    self._set(ev, col, self._text(rec[col]), where, n)
            for col in ("round", "probability"):
                x = self._number(where, n, col, rec.get(col)) if col in rec else None
                if x is not None:
                    self._set(ev, col, int(x) if col == "round" and x == int(x) else x, where, n)
            if "date" in rec:
                d = self._date(where, n, "date", rec["date"])
                if d is not None:
                    self._set(ev, "date", d, where, n)
            changes = Node(origin=(where, n))
            if "capability" in rec:
                changes["capability"] = self._number(where, n, "capability", rec["capability"])
            for part, name in (("position", "positions"), ("salience", "salience")):
                got = {k.split(":", 1)[1]: self._number(where, n, k, v) for k, v in rec.items() if k.startswith(part + ":")}
                if got:
                    changes[name] = Node(got, origin=(where, n))
                    changes[name].locs = {k: (where, n) for k in got}
            if changes:
                changes.locs = {k: (where, n) for k in changes}
                self._set(ev, "changes", changes, where, n)
            events.locs[len(events)] = (where, n)
            events.append(ev)
        self._set(self.raw, "events", events, where, events.origin[1] or 1)

    def scenario(self, sheet: str, rows: Sheet) -> None:
        where = sheet_file(self.file, sheet)
        fields: dict[str, Callable[[int, Any], None]] = {
            "name": lambda n, v: self._set(self.raw, "name", self._text(v), where, n),
            "description": lambda n, v: self._set(self.raw, "description", self._text(v), where, n),
            "date": lambda n, v: self._set(self.raw, "date", self._date(where, n, "date", v), where, n),
            "source": lambda n, v: self._source(where, n, v),
            "sources": lambda n, v: self._source(where, n, v),
            "calendar_start": lambda n, v: self._calendar(where, n, "start", self._date(where, n, "calendar_start", v)),
            "calendar_round": lambda n, v: self._calendar(where, n, "round", self._text(v)),
            "rounds": lambda n, v: self._whole(where, n, "rounds", v, self.raw),
            "salience_scale": lambda n, v: self._scale(where, n, v),
            "model": lambda n, v: self._set(self._model(where, n), "name", self._text(v), where, n),
            "model_seed": lambda n, v: self._whole(where, n, "seed", v, self._model(where, n)),
        }
        for n, rec in self._records(sheet, rows, ("field", "value"), ("field", "value")):
            field = self._text(rec.get("field", ""))
            key = normalize(field)
            if "value" not in rec:
                continue
            if key.startswith("param:"):
                self._param(where, n, field.split(":", 1)[1].strip(), rec["value"])
            elif key in fields:
                fields[key](n, rec["value"])
            else:
                self.problems.append(Problem(where, n, "field", f"unknown field {short(field)} (known: "
                                             f"{', '.join(f for f in fields if f != 'sources')}, param:<name>)"))

    def _source(self, where: str, n: int, v: Any) -> None:
        if "sources" not in self.raw:
            self._set(self.raw, "sources", NodeList(origin=(where, n)), where, n)
        self.raw["sources"].locs[len(self.raw["sources"])] = (where, n)
        self.raw["sources"].append(self._text(v))

    def _calendar(self, where: str, n: int, key: str, v: Any) -> None:
        if "calendar" not in self.raw:
            self._set(self.raw, "calendar", Node(origin=(where, n)), where, n)
        self._set(self.raw["calendar"], key, v, where, n)

    def _model(self, where: str, n: int) -> Node:
        if "model" not in self.raw:
            self._set(self.raw, "model", Node(origin=(where, n)), where, n)
        return self.raw["model"]

    def _whole(self, where: str, n: int, key: str, v: Any, node: Node) -> None:
        text = self._text(v)
        try:
            x = int(float(text)) if isinstance(v, float) and v == int(v) else int(text)
        except (ValueError, OverflowError):
            self.problems.append(Problem(where, n, key, f"expected a whole number, got {short(text)}"))
            return
        self._set(node, key, x, where, n)

    def _scale(self, where: str, n: int, v: Any) -> None:
        x = self._number(where, n, "salience_scale", v)
        if x is None:
            return
        if x != self.raw.get("salience_scale"):
            self.problems.append(Problem(where, n, "salience_scale",
                                         f"says {x:g}, the stakeholder table's salience column says {self.raw.get('salience_scale')} "
                                         "(name it 'salience_0_1' for 1, 'salience' for 100)"))

    def _param(self, where: str, n: int, name: str, v: Any) -> None:
        model = self._model(where, n)
        if "params" not in model:
            self._set(model, "params", Node(origin=(where, n)), where, n)
        if isinstance(v, str):
            try:
                v = parse_yaml(v, where)
            except ScenarioError as e:
                self.problems.extend(Problem(where, n, f"param:{name}", q.reason) for q in e.problems)
                return
        self._set(model["params"], name, v, where, n)
