"""The CSV stakeholder table reader (one row per actor x issue, or the literature's one-issue table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._parse import csv_records, csv_unsafe, parse_number, slug
from ..errors import Problem, ScenarioError
from .nodes import Node, NodeList

_TRUE_COLS = {
    "actor", "actor_name", "group", "color", "notes", "issue", "issue_name", "scale_low", "scale_high",
    "status_quo", "capability", "capability_low", "capability_high", "capability_why",
    "position", "position_low", "position_high", "position_why", "salience", "salience_0_1",
    "salience_low", "salience_high", "salience_why",
    "capability_source", "position_source", "salience_source",
}


def read_csv_table(path: Path, text: str) -> Node:
    """Read a stakeholder table into a raw scenario dict.

    Two layouts:

    * long: one row per actor x issue with columns ``actor, issue,
      capability, position, salience`` and optional ``*_low``/``*_high``
      ranges, ``*_why`` rationales, ``actor_name``, ``issue_name``,
      ``group``, ``color``, ``scale_low``, ``scale_high``, ``status_quo``;
    * one-issue (the literature's): ``actor, capability, position, salience``.

    Salience is on the 0-100 scale unless the column is named
    ``salience_0_1``. Without ``scale_low``/``scale_high`` an issue's scale is
    the range of its positions.
    """
    file = str(path)
    rows = [(ln, r) for ln, r in csv_records(text, file) if any(c.strip() for c in r)]
    if not rows:
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    table = _Table(path, *rows[0])
    if len(rows) == 1:
        raise ScenarioError([Problem(file, rows[0][0], "", "the table has a header but no rows")])
    for line, raw in rows[1:]:
        table.add_row(line, raw)
    if table.problems:
        raise ScenarioError(table.problems)
    return table.scenario()


class _Table:
    """A stakeholder table being read: its header, then row by row into located issue and actor nodes."""

    def __init__(self, path: Path, hline: int, header: list[str]):
        self.path, self.file = path, str(path)
        self.problems: list[Problem] = []
        self.cols = [c.strip().lower() for c in header]
        self.sal_col = "salience_0_1" if "salience_0_1" in self.cols else "salience"
        self._check_header(hline)
        self.one_issue = "issue" not in self.cols
        self.issues: dict[str, Node] = {}
        self.actors: dict[str, Node] = {}
        self.positions: dict[str, list[float]] = {}  # by issue, for a scale not given
        self.explicit_scale: set[str] = set()

    def _check_header(self, hline: int) -> None:
        unknown = [c for c in self.cols if c and c not in _TRUE_COLS]
        if unknown:
            self.problems.append(Problem(self.file, hline, unknown[0],
                                         f"unknown column {unknown[0]!r}; known: {', '.join(sorted(_TRUE_COLS))}"))
        for need in ("actor", "capability", "position", self.sal_col):
            if need not in self.cols:
                self.problems.append(Problem(self.file, hline, need, f"missing column {need!r}"))
        if self.problems:
            raise ScenarioError(self.problems)

    # -- one row ---------------------------------------------------------------------
    def add_row(self, line: int, raw: list[str]) -> None:
        """One actor x issue row: the issue and actor it names (created on first sight), then the stance."""
        cols = self.cols
        if len(raw) > len(cols) and any(c.strip() for c in raw[len(cols):]):
            self.problems.append(Problem(self.file, line, "", f"row has {len(raw)} fields, the header has {len(cols)}"))
            return
        row = {c: (csv_unsafe(raw[i]) if i < len(raw) else "") for i, c in enumerate(cols) if c}
        akey_text = row.get("actor", "").strip()
        if not akey_text:
            self.problems.append(Problem(self.file, line, "actor", "empty actor"))
            return
        ikey_text = self.path.stem if self.one_issue else row.get("issue", "").strip()
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
        """A value cell with its optional ``*_low``, ``*_high``, ``*_why``, ``*_source`` cells."""
        v = parse_number(row.get(col), self.file, line, col, self.problems)
        lo = self._number(row, line, f"{base}_low")
        hi = self._number(row, line, f"{base}_high")
        why = row.get(f"{base}_why", "").strip()
        src = row.get(f"{base}_source", "").strip()
        if v is None:
            return None
        if lo is None and hi is None and not why and not src:
            return v
        out = Node({"value": v}, origin=(self.file, line))
        for k, x in (("low", lo), ("high", hi), ("why", why), ("source", src)):
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
        cap = self._value(row, line, "capability", "capability")
        if akey in self.actors:
            a = self.actors[akey]
            prev = a["capability"]
            pv = prev["value"] if isinstance(prev, dict) else prev
            cv = cap["value"] if isinstance(cap, dict) else cap
            if cv is not None and pv is not None and cv != pv:
                self.problems.append(Problem(
                    file, line, "capability", f"actor {akey_text!r} has capability {pv:g} on an earlier row and {cv:g} here"))
            return a
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
    def scenario(self) -> Node:
        """The raw scenario: issues without a scale given span their positions."""
        file = self.file
        scen = Node(origin=(file, 1))
        scen["name"] = self.path.stem
        scen.locs["name"] = (file, 1)
        scen["salience_scale"] = 1 if self.sal_col == "salience_0_1" else 100
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
