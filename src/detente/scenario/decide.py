"""Import input files of Decide, the software of Stokman's exchange model, as raw detente scenario dicts.

A Decide input file is a table (tab-, semicolon- or comma-separated; cells may
be quoted with ``'`` or ``"``) whose first cell says what a row holds:

``#A key name [comment]``
    an actor;
``#P key name [comment]``
    an issue;
``#M issue position [description]``
    a point of an issue's scale and what it means (the scale runs from the
    lowest to the highest ``#M`` point; 0-100 when an issue has none);
``#D actor issue position salience power``
    an actor's position on an issue, its salience (0-1) and its power (0-1);
``#O text``
    a title (the scenario's name); ``#0``, ``#/`` and other ``#`` rows are
    comments.

Decide's ids may hold spaces and punctuation (its copenhagen example has
``EU (incl Norway)``). Each id becomes a detente key made of letters, digits,
``_``, ``.`` and ``-`` (``EU_incl_Norway``), and the id itself is kept as the
name when the row gives none; two ids that would become the same key are
reported, with both lines. ``#M`` and ``#D`` rows refer to the ids as written.

They become the raw scenario dict a YAML scenario file parses to:
``salience_scale: 1``, an actor's power as its capability, each ``#M``
description as a scale label. detente gives every actor one capability, so
an actor whose power differs between issues is reported as a problem. An
actor without a ``#D`` row for an issue takes no part in it: it gets
salience 0 there (and the issue's midpoint as a position, which then carries
no weight), with a note saying so.

Every problem is reported as a :class:`~detente.errors.ScenarioError` with the
file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._parse import parse_number, read_text, slug, table_rows
from ..errors import Problem, ScenarioError

__all__ = ["looks_like_decide", "read_decide"]


def _delimiter(text: str) -> str:
    head = "\n".join(text.split("\n")[:20])
    return "\t" if "\t" in head else (";" if ";" in head else ",")


def _clean(cell: str) -> str:
    c = cell.strip()
    if len(c) >= 2 and c[0] == c[-1] and c[0] in "'\"":
        c = c[1:-1].strip()
    return c


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows with their 1-based line numbers, cells unquoted and stripped."""
    rows = [(line, [_clean(c) for c in cells]) for line, cells in table_rows(text, delimiter=_delimiter(text))]
    for _, cells in rows:  # a quoted blank ('') at the end of a row is blank too
        while cells and cells[-1] == "":
            cells.pop()
    return [(line, cells) for line, cells in rows if cells]


def looks_like_decide(path: str | Path) -> bool:
    """Whether ``path`` is a Decide input file: its first row is led by a ``#`` identifier, and it has ``#A`` and ``#D`` rows."""
    try:
        text = read_text(Path(path))
    except ScenarioError:
        return False
    if not text.lstrip().lstrip("'\"").startswith("#"):  # the first row is led by a # identifier (checked before parsing it all)
        return False
    rows = _rows(text)
    if not rows:
        return False
    firsts = {cells[0].upper() for _, cells in rows}
    return rows[0][1][0].startswith("#") and {"#A", "#D"} <= firsts


def read_decide(path: str | Path) -> dict[str, Any]:
    """Read a Decide input file into a raw scenario dict.

    Raises
    ------
    ScenarioError
        Listing every problem (file, line, field, reason), sorted by line.
    """
    p = Path(path)
    t = _Tables(str(p))
    for line, cells in _rows(read_text(p)):
        t.read_row(line, cells)
    t.check_defined()
    scales = t.scales()
    choices = t.choices(scales)
    if t.problems:
        t.problems.sort(key=lambda pr: (pr.line is None, pr.line or 0))
        raise ScenarioError(t.problems)
    return {
        "name": t.title or p.stem,
        "description": f"Imported from the Decide input file {p.name}.",
        "salience_scale": 1,
        "issues": t.issue_entries(scales),
        "actors": t.actor_entries(scales, choices),
    }


#: One valid #D row: line, actor id, issue id, position, salience, power.
_Datum = tuple[int, str, str, float, float, float]


@dataclass
class _Choices:
    """The #D rows kept after the cross-row checks: position and salience per actor and issue
    id, and each actor's one power with the line that first gave it."""

    positions: dict[str, dict[str, float]]
    saliences: dict[str, dict[str, float]]
    power: dict[str, tuple[float, int]]


@dataclass
class _Tables:
    """What the rows of one Decide file define, and the problems found so far."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    title: str | None = None
    #: Decide id -> {"line", "key" (detente key), "name", "comment"}, for #A and #P rows.
    actors: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: issue id -> {position: description} of its #M rows.
    points: dict[str, dict[float, str]] = field(default_factory=dict)
    data: list[_Datum] = field(default_factory=list)
    #: Actors with a #D row, valid or not.
    mentioned: set[str] = field(default_factory=set)
    #: Per row kind (#A, #P): detente key -> the Decide id that took it.
    keyed: dict[str, dict[str, str]] = field(default_factory=lambda: {"#A": {}, "#P": {}})

    def _need(self, line: int, cells: list[str], n: int, what: str) -> bool:
        if len(cells) < n:
            self.problems.append(Problem(self.file, line, cells[0], f"expected {what}, got {len(cells) - 1} cell(s)"))
            return False
        return True

    def read_row(self, line: int, cells: list[str]) -> None:
        """One row of the file, by the kind its first cell names."""
        kind = cells[0].upper()
        if not kind.startswith("#"):
            self.problems.append(Problem(self.file, line, "",
                                         f"unknown row {cells[0]!r}: a row starts with #A, #P, #M, #D or a # comment"))
        elif kind == "#O":
            self.title = self.title or (cells[1] if len(cells) > 1 else None)
        elif kind in ("#A", "#P") and self._need(line, cells, 2, "a key and a name"):
            self._define(kind, line, cells)
        elif kind == "#M" and self._need(line, cells, 3, "an issue and a position"):
            self._point(line, cells)
        elif kind == "#D" and self._need(line, cells, 6, "actor, issue, position, salience and power"):
            self._datum(line, cells)
        # else: #0, #/ and other comments, or a short row already reported

    def _define(self, kind: str, line: int, cells: list[str]) -> None:
        """An #A (actor) or #P (issue) row: its id, detente key, name and comment."""
        table = self.actors if kind == "#A" else self.issues
        key = cells[1]
        if key in table:
            self.problems.append(Problem(self.file, line, f"{kind} {key}", f"defined twice (first on line {table[key]['line']})"))
            return
        detente_key = slug(key)
        clash = self.keyed[kind].get(detente_key)  # a dict, not a scan: files run to max_rows rows
        if clash is not None:
            self.problems.append(Problem(self.file, line, f"{kind} {key}",
                                         f"becomes the key {detente_key!r}, as does {clash!r} on line {table[clash]['line']}: "
                                         "give one of them another id"))
            return
        self.keyed[kind][detente_key] = key
        table[key] = {"line": line, "key": detente_key, "name": cells[2] if len(cells) > 2 and cells[2] else key,
                      "comment": cells[3] if len(cells) > 3 and cells[3] else None}

    def _point(self, line: int, cells: list[str]) -> None:
        """An #M row: a point of an issue's scale and its description."""
        x = parse_number(cells[2], self.file, line, f"#M {cells[1]}: position", self.problems)
        if x is not None:
            self.points.setdefault(cells[1], {})[x] = cells[3] if len(cells) > 3 else ""
        if cells[1] not in self.issues:
            self.problems.append(Problem(self.file, line, f"#M {cells[1]}",
                                         f"unknown issue {cells[1]!r} (define it with a #P row first)"))

    def _datum(self, line: int, cells: list[str]) -> None:
        """A #D row: an actor's position, salience and power on an issue (kept when valid on its own)."""
        file, problems = self.file, self.problems
        a, i = cells[1], cells[2]
        self.mentioned.add(a)
        where = f"#D {a} {i}"
        ok = True
        if a not in self.actors:
            problems.append(Problem(file, line, where, f"unknown actor {a!r} (define it with an #A row)"))
            ok = False
        if i not in self.issues:
            problems.append(Problem(file, line, where, f"unknown issue {i!r} (define it with a #P row)"))
            ok = False
        x = parse_number(cells[3], file, line, f"{where}: position", problems)
        s = parse_number(cells[4], file, line, f"{where}: salience", problems)
        c = parse_number(cells[5], file, line, f"{where}: power", problems)
        if s is not None and not 0 <= s <= 1:
            problems.append(Problem(file, line, f"{where}: salience", f"must be between 0 and 1, got {s:g}"))
            ok = False
        if c is not None and not 0 < c:
            problems.append(Problem(file, line, f"{where}: power", f"must be > 0, got {c:g}"))
            ok = False
        if ok and x is not None and s is not None and c is not None:
            self.data.append((line, a, i, x, s, c))

    def check_defined(self) -> None:
        """A file needs at least one actor and one issue."""
        if not self.actors:
            self.problems.append(Problem(self.file, None, "#A", "no actor defined (#A rows)"))
        if not self.issues:
            self.problems.append(Problem(self.file, None, "#P", "no issue defined (#P rows)"))

    def scales(self) -> dict[str, tuple[float, float]]:
        """Each issue's scale: its lowest to its highest #M point, 0-100 without two of them."""
        out = {}
        for key in self.issues:
            pts = self.points.get(key, {})
            out[key] = (min(pts), max(pts)) if len(pts) >= 2 else (0.0, 100.0)
        return out

    def choices(self, scales: dict[str, tuple[float, float]]) -> _Choices:
        """The #D rows checked against each other: one row per actor and issue, positions on the
        issue's scale, one power per actor; and every actor with a #D row."""
        file, problems = self.file, self.problems
        seen: dict[tuple[str, str], int] = {}
        out = _Choices({a: {} for a in self.actors}, {a: {} for a in self.actors}, {})
        for line, a, i, x, s, c in self.data:
            if (a, i) in seen:
                problems.append(Problem(file, line, f"#D {a} {i}", f"a second row for this actor and issue (first on line {seen[a, i]})"))
                continue
            seen[a, i] = line
            lo, hi = scales[i]
            if not lo <= x <= hi:
                problems.append(Problem(file, line, f"#D {a} {i}: position",
                                        f"{x:g} is outside the scale [{lo:g}, {hi:g}] of issue {i!r} (its #M points)"))
                continue
            if a in out.power and out.power[a][0] != c:
                problems.append(Problem(file, line, f"#D {a} {i}: power",
                                        f"{c:g} differs from {out.power[a][0]:g} on line {out.power[a][1]}: detente gives each "
                                        "actor one capability, so give the actor the same power on every issue"))
                continue
            out.power.setdefault(a, (c, line))
            out.positions[a][i] = x
            out.saliences[a][i] = s
        for a, info in self.actors.items():
            if a not in out.power and a not in self.mentioned:
                problems.append(Problem(file, info["line"], f"#A {a}", "no #D row for this actor"))
        return out

    def issue_entries(self, scales: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
        """The scenario's ``issues``: key, name, scale, description, the #M descriptions as labels."""
        out = []
        for key, info in self.issues.items():
            entry: dict[str, Any] = {"key": info["key"], "name": info["name"], "scale": list(scales[key])}
            if info["comment"]:
                entry["description"] = info["comment"]
            labels = {x: d for x, d in self.points.get(key, {}).items() if d}
            if labels:
                entry["labels"] = labels
            out.append(entry)
        return out

    def actor_entries(self, scales: dict[str, tuple[float, float]], choices: _Choices) -> list[dict[str, Any]]:
        """The scenario's ``actors``; an issue without a #D row gets salience 0 at the scale's midpoint."""
        out = []
        for key, info in self.actors.items():
            pos: dict[str, Any] = {}
            sal: dict[str, Any] = {}
            for i, iss in self.issues.items():
                k = iss["key"]
                if i in choices.positions[key]:
                    pos[k] = choices.positions[key][i]
                    sal[k] = choices.saliences[key][i]
                else:
                    lo, hi = scales[i]
                    why = "not in the Decide file: takes no part in this issue (salience 0)"
                    pos[k] = {"value": (lo + hi) / 2, "why": why}
                    sal[k] = {"value": 0, "why": why}
            entry = {"key": info["key"], "name": info["name"], "capability": choices.power[key][0], "positions": pos,
                     "salience": sal}
            if info["comment"]:
                entry["notes"] = info["comment"]
            out.append(entry)
        return out
