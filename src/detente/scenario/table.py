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
    problems: list[Problem] = []
    rows = [(ln, r) for ln, r in csv_records(text, file) if any(c.strip() for c in r)]
    if not rows:
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    hline, header = rows[0]
    cols = [c.strip().lower() for c in header]
    unknown = [c for c in cols if c and c not in _TRUE_COLS]
    if unknown:
        problems.append(Problem(file, hline, unknown[0], f"unknown column {unknown[0]!r}; known: {', '.join(sorted(_TRUE_COLS))}"))
    sal_col = "salience_0_1" if "salience_0_1" in cols else "salience"
    for need in ("actor", "capability", "position", sal_col):
        if need not in cols:
            problems.append(Problem(file, hline, need, f"missing column {need!r}"))
    if problems:
        raise ScenarioError(problems)
    one_issue = "issue" not in cols
    data_rows = rows[1:]
    if not data_rows:
        raise ScenarioError([Problem(file, hline, "", "the table has a header but no rows")])

    scen = Node(origin=(file, 1))
    scen["name"] = path.stem
    scen.locs["name"] = (file, 1)
    scen["salience_scale"] = 1 if sal_col == "salience_0_1" else 100
    issues: dict[str, Node] = {}
    actors: dict[str, Node] = {}
    issue_positions: dict[str, list[float]] = {}
    explicit_scale: set[str] = set()

    for line, raw in data_rows:
        if len(raw) > len(cols) and any(c.strip() for c in raw[len(cols):]):
            problems.append(Problem(file, line, "", f"row has {len(raw)} fields, the header has {len(cols)}"))
            continue
        row = {c: (csv_unsafe(raw[i]) if i < len(raw) else "") for i, c in enumerate(cols) if c}
        akey_text = row.get("actor", "").strip()
        if not akey_text:
            problems.append(Problem(file, line, "actor", "empty actor"))
            continue
        akey = slug(akey_text)
        ikey_text = path.stem if one_issue else row.get("issue", "").strip()
        if not ikey_text:
            problems.append(Problem(file, line, "issue", "empty issue"))
            continue
        ikey = slug(ikey_text)

        def val(name: str, base_field: str) -> Any:
            v = parse_number(row.get(name), file, line, name, problems)
            lo = parse_number(row.get(f"{base_field}_low"), file, line, f"{base_field}_low", problems, missing=None)
            hi = parse_number(row.get(f"{base_field}_high"), file, line, f"{base_field}_high", problems, missing=None)
            why = row.get(f"{base_field}_why", "").strip()
            src = row.get(f"{base_field}_source", "").strip()
            if v is None:
                return None
            if lo is None and hi is None and not why and not src:
                return v
            out = Node({"value": v}, origin=(file, line))
            if lo is not None:
                out["low"] = lo
            if hi is not None:
                out["high"] = hi
            if why:
                out["why"] = why
            if src:
                out["source"] = src
            for k in out:
                out.locs[k] = (file, line)
            return out

        if ikey not in issues:
            node = Node({"key": ikey, "name": row.get("issue_name", "").strip() or ikey_text}, origin=(file, line))
            node.locs.update({"key": (file, line), "name": (file, line)})
            issues[ikey] = node
            issue_positions[ikey] = []
        inode = issues[ikey]
        lo = parse_number(row.get("scale_low", ""), file, line, "scale_low", problems, missing=None)
        hi = parse_number(row.get("scale_high", ""), file, line, "scale_high", problems, missing=None)
        if lo is not None and hi is not None:
            if ikey in explicit_scale and list(inode["scale"]) != [lo, hi]:
                problems.append(Problem(file, line, "scale_low", f"issue {ikey_text!r} has a different scale on an earlier row"))
            inode["scale"] = [lo, hi]
            inode.locs["scale"] = (file, line)
            explicit_scale.add(ikey)
        sq = parse_number(row.get("status_quo", ""), file, line, "status_quo", problems, missing=None)
        if sq is not None:
            inode["status_quo"] = sq
            inode.locs["status_quo"] = (file, line)

        cap = val("capability", "capability")
        if akey not in actors:
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
            actors[akey] = a
        else:
            a = actors[akey]
            prev = a["capability"]
            pv = prev["value"] if isinstance(prev, dict) else prev
            cv = cap["value"] if isinstance(cap, dict) else cap
            if cv is not None and pv is not None and cv != pv:
                problems.append(
                    Problem(file, line, "capability", f"actor {akey_text!r} has capability {pv:g} on an earlier row and {cv:g} here")
                )
        if ikey in a["positions"]:
            problems.append(Problem(file, line, "actor", f"duplicate row for actor {akey_text!r} on issue {ikey_text!r}"))
            continue
        pos = val("position", "position")
        sal = val(sal_col, "salience")
        a["positions"][ikey] = pos
        a["positions"].locs[ikey] = (file, line)
        a["salience"][ikey] = sal
        a["salience"].locs[ikey] = (file, line)
        if pos is not None:
            issue_positions[ikey].append(pos["value"] if isinstance(pos, dict) else pos)

    if problems:
        raise ScenarioError(problems)
    for ikey, inode in issues.items():
        if "scale" not in inode:
            xs = issue_positions[ikey]
            lo, hi = (min(xs), max(xs)) if xs else (0.0, 100.0)
            if lo == hi:
                lo, hi = (0.0, 100.0) if 0 <= lo <= 100 else (lo - 1, hi + 1)
            inode["scale"] = [lo, hi]
            inode.locs["scale"] = inode.origin
    scen["issues"] = NodeList(issues.values(), origin=(file, 1))
    scen["issues"].locs = {i: n.origin for i, n in enumerate(issues.values())}
    scen["actors"] = NodeList(actors.values(), origin=(file, 1))
    scen["actors"].locs = {i: n.origin for i, n in enumerate(actors.values())}
    return scen
