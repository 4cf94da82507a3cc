"""The stakeholder table reader: one tolerant reader for CSV/TSV text, workbook sheets and DataFrames.

In three steps, each its own function:

1. :func:`table_records` turns a file's bytes into rows of cells: the encoding is sniffed
   (UTF-8 with or without a byte-order mark, UTF-16, else Windows-1252 with a note), and so is
   the delimiter (comma, semicolon or tab).
2. :func:`~detente.scenario.columns.read_header` maps the header onto detente's columns
   (synonyms of the literature mapped, unused columns ignored, each with a note).
3. :func:`read_table` reads the rows into a raw scenario (located nodes), in one of three
   layouts: long (one row per actor x issue), wide (one row per actor, ``position:<issue>``
   columns) or the literature's one-issue table. Last, :func:`check_scales` refuses saliences
   that all lie in [0, 1] without a declared scale.

The notes (what was guessed or mapped) ride on the returned node as ``node.notes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._parse import csv_records, csv_unsafe, decode_noted, delimiter_name, parse_number, read_bytes, slug, sniff_delimiter
from ..errors import Problem, ScenarioError
from .columns import STANCE_COLUMNS, Header, read_header
from .nodes import Node, NodeList

Rows = list[tuple[int, list[str]]]


def read_csv_table(path: Path, text: str | None = None, *, salience_scale: int | None = None) -> Node:
    """Read a delimited stakeholder table file (``text``: its text, already decoded) into a raw scenario.

    See :func:`read_table` for the layouts; the notes ride on the result as ``.notes``.
    """
    path = Path(path)
    rows, notes = table_records(path, text)
    return read_table(rows, str(path), stem=path.stem, salience_scale=salience_scale, notes=notes)


def table_records(path: Path, text: str | None = None) -> tuple[Rows, list[str]]:
    """A table file's non-blank rows (line, cells), and notes on its encoding and delimiter."""
    file = str(path)
    notes: list[str] = []
    if text is None:
        text, note = decode_noted(read_bytes(path), file)
        if note:
            notes.append(note)
    delim = sniff_delimiter(text)
    if delim != "," and path.suffix.lower() == ".csv":
        notes.append(f"read as a {delimiter_name(delim)}-separated table")
    rows = [(ln, [csv_unsafe(c) for c in r]) for ln, r in csv_records(text, file, delimiter=delim) if any(c.strip() for c in r)]
    return rows, notes


def read_table(rows: Rows, file: str | None, *, stem: str = "table", salience_scale: int | None = None,
               notes: list[str] | None = None) -> Node:
    """Read a stakeholder table (its header, then its rows of text cells) into a raw scenario dict.

    Layouts:

    * long: one row per actor x issue with columns ``actor, issue, capability, position,
      salience`` and optional ``*_low``/``*_high`` ranges, ``*_why`` rationales, ``*_source``,
      ``*_dist``, ``*_sd``, ``actor_name``, ``issue_name``, ``group``, ``color``, ``notes``,
      ``scale_low``, ``scale_high``, ``status_quo``;
    * wide: one row per actor, with ``position:<issue>`` and ``salience:<issue>`` columns (and
      their ``_low``, ``_high``, ... parts) for each issue;
    * one-issue (the literature's): ``actor, capability, position, salience``; the issue is
      named ``stem``.

    The salience scale is declared by the column (``salience_0_1``, ``salience_0_100``), by
    percent signs in the cells, or by ``salience_scale``; saliences that all lie in [0, 1]
    with none of these are a problem (see :func:`check_scales`). Without ``scale_low`` /
    ``scale_high`` an issue's scale is the range of its positions.
    """
    if not rows:
        raise ScenarioError([Problem(file, None, "", "the table is empty")])
    header = read_header(rows[0][1], file, rows[0][0])
    if header.problems:
        raise ScenarioError(header.problems)
    if len(rows) == 1:
        raise ScenarioError([Problem(file, rows[0][0], "", "the table has a header but no rows")])
    table = _Table(header, stem)
    for line, cells in rows[1:]:
        table.add_row(line, cells)
    check_scales(table, salience_scale)
    if table.problems:
        raise ScenarioError(table.problems)
    node = table.scenario(salience_scale or header.declared_scale or (100 if table.percent else None) or 100)
    node.notes = [*(notes or []), *header.notes, *table.notes]  # type: ignore[attr-defined]
    return node


def check_scales(table: _Table, declared: int | None) -> None:
    """Saliences all in [0, 1] without a declared scale are a problem; capability shares get a note."""
    h = table.header
    sal = table.values["salience"]
    if sal and declared is None and h.declared_scale is None and not table.percent and all(0 <= v <= 1 for v in sal):
        table.problems.append(Problem(
            table.file, h.line, h.salience_col,
            f"every salience lies between 0 and 1 (the largest is {max(sal):g}), and nothing says on which scale: read "
            "on detente's 0-100 scale they would all be nearly nil. Declare the scale: name the column 'salience_0_1' "
            "(or 'salience_0_100' if they really are small saliences out of 100), or give the scale when reading "
            "(command line: --salience-scale 1; Python: detente.load(path, salience_scale=1))"))
    if declared is not None and h.declared_scale is not None and declared != h.declared_scale:
        table.problems.append(Problem(table.file, h.line, h.salience_col,
                                      f"the column says salience_scale {h.declared_scale}, the option says {declared}"))
    cap = table.values["capability"]
    if cap and all(0 < v <= 1 for v in cap):
        table.notes.append(f"the capabilities all lie between 0 and 1 (largest {max(cap):g}): read as shares; the models use "
                           "only their ratios, so no scale needs declaring")


class _Table:
    """A stakeholder table being read: row by row into located issue and actor nodes."""

    def __init__(self, header: Header, stem: str):
        self.header, self.file, self.stem = header, header.file, stem
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.sal_col = header.salience_col
        self.issues: dict[str, Node] = {}
        self.actors: dict[str, Node] = {}
        self.positions: dict[str, list[float]] = {}  # by issue, for a scale not given
        self.explicit_scale: set[str] = set()
        self.values: dict[str, list[float]] = {"salience": [], "capability": []}  # every number given, for the scale checks
        self.percent = False  # a salience cell written with '%'
        names = header.names | {c for c, _ in header.wide.values()}
        self.parts = {base: [f"{base}_{k}" for k in ("low", "high", "sd", "why", "source", "dist") if f"{base}_{k}" in names]
                      for base in ("capability", "position", "salience")}

    # -- one row ---------------------------------------------------------------------
    def add_row(self, line: int, raw: list[str]) -> None:
        """One row: the actor x issue rows it holds (several in the wide layout), each read in turn."""
        h = self.header
        if len(raw) > len(h.cols) and any(c.strip() for c in raw[len(h.cols):]):
            self.problems.append(Problem(self.file, line, "", f"row has {len(raw)} cells, the header has {len(h.cols)}"))
            return
        row = {c: (raw[i] if i < len(raw) else "") for i, c in enumerate(h.cols) if c}
        if not h.wide:
            self.add_stance_row(line, row, h.layout == "one-issue")
            return
        akey_text = row.get("actor", "").strip()
        if not akey_text:
            self.problems.append(Problem(self.file, line, "actor", "empty actor"))
            return
        actor = self._actor(line, row, slug(akey_text), akey_text)
        for issue in h.issues:  # a stance whose cells are all blank: the actor takes no part in that issue
            sub = dict(row)
            for i, (col, iss) in h.wide.items():
                if iss == issue:
                    sub[col] = raw[i] if i < len(raw) else ""
            self._issue(line, sub, slug(issue), issue)
            if any(sub.get(c, "").strip() for c, iss in h.wide.values() if iss == issue and c in STANCE_COLUMNS):
                self._stance(line, sub, actor, slug(issue), akey_text, issue)

    def add_stance_row(self, line: int, row: dict[str, str], one_issue: bool) -> None:
        """One actor x issue: the issue and actor it names (created on first sight), then the stance."""
        akey_text = row.get("actor", "").strip()
        if not akey_text:
            self.problems.append(Problem(self.file, line, "actor", "empty actor"))
            return
        ikey_text = self.stem if one_issue else row.get("issue", "").strip()
        if not ikey_text:
            self.problems.append(Problem(self.file, line, "issue", "empty issue"))
            return
        ikey = slug(ikey_text)
        self._issue(line, row, ikey, ikey_text)
        actor = self._actor(line, row, slug(akey_text), akey_text)
        self._stance(line, row, actor, ikey, akey_text, ikey_text)

    def _number(self, row: dict[str, str], line: int, col: str, missing: str | None = None) -> float | None:
        return parse_number(row.get(col, ""), self.file, line, col, self.problems, missing=missing)

    def _value(self, row: dict[str, str], line: int, col: str, base: str) -> Any:
        """A value cell with its optional ``*_low``, ``*_high``, ``*_why``, ``*_source``, ``*_dist``, ``*_sd`` cells."""
        parts = self.parts[base]  # the part columns this table has
        cell = row.get(col, "")
        if base in self.values and cell.endswith("%"):  # '80%': a number written as a percentage
            cell = cell[:-1]
            self.percent = self.percent or base == "salience"
        v = parse_number(cell, self.file, line, col, self.problems)
        if v is None:
            return None
        if base in self.values:
            self.values[base].append(v)
        if not parts or not any(row.get(c, "").strip() for c in parts):
            return v
        cells = {k: row.get(f"{base}_{k}", "").strip() for k in ("low", "high", "sd", "why", "source", "dist")}
        for k in ("low", "high"):
            if base in self.values and cells[k].endswith("%"):
                cells[k] = cells[k][:-1]
        lo, hi, sd = (parse_number(cells[k], self.file, line, f"{base}_{k}", self.problems, missing=None) for k in ("low", "high", "sd"))
        if base in self.values:
            self.values[base].extend(x for x in (lo, hi) if x is not None)
        out = Node({"value": v}, origin=(self.file, line))
        for k, x in (("low", lo), ("high", hi), ("dist", cells["dist"]), ("sd", sd), ("why", cells["why"]), ("source", cells["source"])):
            if x is not None and x != "":
                out[k] = x
        out.locs = {k: (self.file, line) for k in out}
        return out

    def _issue(self, line: int, row: dict[str, str], ikey: str, ikey_text: str) -> None:
        """The row's issue (created on first sight), with the scale and status quo the row gives."""
        file = self.file
        if ikey not in self.issues:
            node = Node({"key": ikey, "name": row.get("issue_name", "").strip() or ikey_text}, origin=(file, line))
            node.locs.update({"key": (file, line), "name": (file, line)})
            self.issues[ikey] = node
            self.positions[ikey] = []
        inode = self.issues[ikey]
        lo = self._number(row, line, "scale_low")
        hi = self._number(row, line, "scale_high")
        if lo is not None and hi is not None:
            if ikey in self.explicit_scale and list(inode["scale"]) != [lo, hi]:
                self.problems.append(Problem(file, line, "scale_low", f"issue {ikey_text!r} has a different scale on an earlier row"))
            inode["scale"] = [lo, hi]
            inode.locs["scale"] = (file, line)
            self.explicit_scale.add(ikey)
        sq = self._number(row, line, "status_quo")
        if sq is not None:
            inode["status_quo"] = sq
            inode.locs["status_quo"] = (file, line)

    def _actor(self, line: int, row: dict[str, str], akey: str, akey_text: str) -> Node:
        """The row's actor (created on first sight); a later row must repeat its capability."""
        file = self.file
        if akey in self.actors:
            a = self.actors[akey]
            cap = self._value(row, line, "capability", "capability") if row.get("capability", "").strip() else None
            prev = a["capability"]
            pv = prev["value"] if isinstance(prev, dict) else prev
            cv = cap["value"] if isinstance(cap, dict) else cap
            if cv is not None and pv is not None and cv != pv:
                self.problems.append(Problem(
                    file, line, "capability", f"actor {akey_text!r} has capability {pv:g} on an earlier row and {cv:g} here"))
            return a
        cap = self._value(row, line, "capability", "capability")
        a = Node({"key": akey, "name": row.get("actor_name", "").strip() or akey_text}, origin=(file, line))
        a.locs.update({"key": (file, line), "name": (file, line)})
        for opt in ("group", "color", "notes"):
            if row.get(opt, "").strip():
                a[opt] = row[opt].strip()
                a.locs[opt] = (file, line)
        a["capability"] = cap
        a.locs["capability"] = (file, line)
        a["positions"] = Node(origin=(file, line))
        a["salience"] = Node(origin=(file, line))
        self.actors[akey] = a
        return a

    def _stance(self, line: int, row: dict[str, str], a: Node, ikey: str, akey_text: str, ikey_text: str) -> None:
        """The actor's position and salience on the row's issue (one row per actor and issue)."""
        if ikey in a["positions"]:
            self.problems.append(Problem(self.file, line, "actor", f"duplicate row for actor {akey_text!r} on issue {ikey_text!r}"))
            return
        pos = self._value(row, line, "position", "position")
        sal = self._value(row, line, self.sal_col, "salience")
        for name, v in (("positions", pos), ("salience", sal)):
            a[name][ikey] = v
            a[name].locs[ikey] = (self.file, line)
        if pos is not None:
            self.positions[ikey].append(pos["value"] if isinstance(pos, dict) else pos)

    # -- the whole -------------------------------------------------------------------
    def scenario(self, salience_scale: int) -> Node:
        """The raw scenario: issues without a scale given span their positions."""
        file = self.file
        scen = Node(origin=(file, 1))
        scen["name"] = self.stem
        scen.locs["name"] = (file, 1)
        scen["salience_scale"] = salience_scale
        scen.locs["salience_scale"] = (file, self.header.line)
        for ikey, inode in self.issues.items():
            if "scale" not in inode:
                inode["scale"] = list(_scale_of(self.positions[ikey]))
                inode.locs["scale"] = inode.origin
        for name, nodes in (("issues", self.issues), ("actors", self.actors)):
            scen[name] = NodeList(nodes.values(), origin=(file, 1))
            scen[name].locs = {i: n.origin for i, n in enumerate(nodes.values())}
        return scen


def _scale_of(xs: list[float]) -> tuple[float, float]:
    """The scale of an issue given none: the range of its positions (0-100 when that is one point inside it)."""
    lo, hi = (min(xs), max(xs)) if xs else (0.0, 100.0)
    if lo == hi:
        lo, hi = (0.0, 100.0) if 0 <= lo <= 100 else (lo - 1, hi + 1)
    return lo, hi
