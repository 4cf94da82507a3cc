"""Variants: a scenario that ``extends:`` a base, merged over it, within a sandbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from .._parse import bounded, path_inside, short
from ..errors import Problem, ScenarioError
from .documents import read_document
from .nodes import Node, NodeList
from .registry import shipped_names
from .schema import default_event_key

#: Where ``extends:`` may reach. ``"files"`` (files given on the command line or
#: to the Python API): a regular file beside the extending file (in its folder or
#: below), or a shipped scenario by name. ``"shipped"`` (anything that arrives
#: over the web, and scenario dicts): a shipped scenario by name, never a path.
Sandbox = Literal["files", "shipped"]

@bounded
def read_raw(path: str | Path, _chain: tuple[Path, ...] = (), *, sandbox: Sandbox = "files",
             salience_scale: int | None = None) -> Any:
    """Read a scenario file into a raw (unvalidated) dict with line locations.

    Resolves ``extends:`` (variants) recursively within ``sandbox`` (see
    :data:`Sandbox`), reporting a base that is not allowed or not found, or a
    cycle of variants. ``salience_scale`` declares the scale of a stakeholder
    table's saliences (see :func:`~detente.scenario.table.read_table`).
    """
    p = Path(path)
    raw = read_document(p, salience_scale=salience_scale)
    return resolve_extends(raw, p, sandbox=sandbox, _chain=_chain + (p.resolve(),), salience_scale=salience_scale)

def resolve_extends(raw: Any, path: Path | None, *, sandbox: Sandbox = "shipped", _chain: tuple[Path, ...] = (),
                    salience_scale: int | None = None) -> Any:
    """``raw`` merged over the base it ``extends:`` (if any), the base found within ``sandbox``.

    ``path`` is the file ``raw`` was read from (None for a dict, which may
    extend only a shipped scenario). A variant's own ``salience_scale:`` declares
    the scale of a stakeholder table it extends.
    """
    if not isinstance(raw, dict) or raw.get("extends") is None:
        return raw
    file = str(path) if path is not None else None
    base_ref = raw["extends"]
    line = raw.locs.get("extends", (file, None))[1] if isinstance(raw, Node) else None
    base_path, base_sandbox = _find_base(base_ref, path, sandbox, file, line)
    if base_path in _chain:
        cycle = " -> ".join(c.name for c in _chain + (base_path,))
        raise ScenarioError([Problem(file, line, "extends", f"variants form a cycle: {cycle}")])
    own = raw.get("salience_scale")
    scale = own if type(own) is int and own in (1, 100) else salience_scale
    try:
        base = read_raw(base_path, _chain, sandbox=base_sandbox, salience_scale=scale)
    except ScenarioError as e:  # the base file itself unreadable: said at this file's `extends:`
        raise ScenarioError([_at_extends(p, base_path, base_ref, file, line) for p in e.problems]) from None
    overrides = Node({k: v for k, v in raw.items() if k != "extends"}, origin=getattr(raw, "origin", (file, None)))
    overrides.locs = {k: v for k, v in getattr(raw, "locs", {}).items() if k != "extends"}
    merged = merge(base, overrides)
    notes = [*getattr(base, "notes", []), *getattr(raw, "notes", [])]
    if notes and isinstance(merged, Node):
        merged.notes = notes  # type: ignore[attr-defined]
    return merged

def _find_base(ref: Any, path: Path | None, sandbox: Sandbox, file: str | None, line: int | None) -> tuple[Path, Sandbox]:
    """The base file a variant extends, and the sandbox its own ``extends:`` is resolved in."""
    ships = shipped_names()
    stems = ", ".join(sorted({p.stem for p in ships.values()}))
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError([Problem(file, line, "extends",
                                     f"must name a base scenario: a shipped one ({stems}) or a file beside this one")])
    if sandbox == "shipped" or path is None:
        if ref in ships:
            return ships[ref], "files"  # a shipped file may extend the files beside it, in the shipped folder
        # The same answer whatever `ref` is: nothing here looks at the server's files.
        raise ScenarioError([Problem(file, line, "extends",
                                     f"{short(ref)} is not a shipped scenario; here a scenario may extend only a "
                                     f"shipped scenario, by name ({stems})")])
    cand, why = path_inside(path.parent, ref)
    if cand is None:
        raise ScenarioError([Problem(file, line, "extends", f"must be a file beside {path.name} (a path relative to "
                                     f"its folder): {why}")])
    if not os.path.lexists(cand):
        if ref in ships:
            return ships[ref], "files"
        raise ScenarioError([Problem(file, line, "extends", f"base scenario {short(ref)} not found (looked in {path.parent})")])
    # read_raw reads only a regular file (its one check, see _parse.read_bytes); _at_extends
    # reports a base it refuses at this file's `extends:`
    return cand.resolve(), "files"


def _at_extends(problem: Problem, base: Path, ref: str, file: str | None, line: int | None) -> Problem:
    """A problem of reading the base file ``base`` as a whole (not found, not a regular file, too
    big, not text: no line, no field) as a problem of the ``extends:`` that names it; any other
    problem (one inside the base) as it is."""
    if problem.file == str(base) and problem.line is None and not problem.field:
        return Problem(file, line, "extends", f"cannot read base scenario {short(ref)}: {problem.reason}")
    return problem

_KEYED_LISTS = ("issues", "actors", "events")


def merge(base: Any, over: Any, _path: tuple = ()) -> Any:
    """Merge a variant's overrides over its base.

    Mappings merge key by key (recursively). The lists ``issues``, ``actors``
    and ``events`` merge item by item on ``key``: an item with a known key
    updates that item, ``remove: true`` deletes it, a new key is appended.
    Any other value (and any other list) is replaced.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = Node(base, origin=getattr(base, "origin", (None, None)))
        out.locs = dict(getattr(base, "locs", {}))
        for k, v in over.items():
            if k in out and _path == () and k in _KEYED_LISTS and isinstance(v, list) and isinstance(out[k], list):
                out[k] = _merge_keyed(out[k], v, events=(k == "events"))
            elif k in out and isinstance(out[k], dict) and isinstance(v, dict) and not _is_value_leaf(k, _path):
                out[k] = merge(out[k], v, _path + (k,))
            else:
                out[k] = v
            out.locs[k] = getattr(over, "locs", {}).get(k, out.locs.get(k, (None, None)))
        return out
    return over


def _is_value_leaf(key: Any, path: tuple) -> bool:
    # A Value mapping given in an override replaces the base value whole
    # (so that `value: 30` does not keep the base's range by accident).
    return len(path) >= 1 and path[-1] in ("positions", "salience") or key == "capability"


def _item_key(item: Any, events: bool) -> Any:
    if not isinstance(item, dict):
        return None
    if item.get("key"):
        return item["key"]
    if events:
        return default_event_key(item.get("name"), item.get("type"), item.get("actor"))
    return None


def _merge_keyed(base: list, over: list, events: bool = False) -> NodeList:
    out = NodeList(origin=getattr(base, "origin", (None, None)))
    locs = dict(getattr(base, "locs", {}))
    index: dict[Any, int] = {}
    for i, item in enumerate(base):
        out.append(item)
        out.locs[i] = locs.get(i, (None, None))
        key = _item_key(item, events)
        if key is not None:
            index[key] = i
    removed: set[int] = set()
    for j, item in enumerate(over):
        oloc = getattr(over, "locs", {}).get(j, (None, None))
        key = _item_key(item, events)
        if key is not None and key in index:
            i = index[key]
            if item.get("remove") is True:
                removed.add(i)
                continue
            patch = Node({k: v for k, v in item.items() if k != "remove"}, origin=getattr(item, "origin", oloc))
            patch.locs = {k: v for k, v in getattr(item, "locs", {}).items() if k != "remove"}
            out[i] = merge(out[i], patch, ("item",))
            out.locs[i] = oloc
        else:
            out.locs[len(out)] = oloc
            out.append(item)
    if removed:
        kept = NodeList([x for i, x in enumerate(out) if i not in removed], origin=out.origin)
        kept.locs = {n: out.locs.get(i, (None, None)) for n, i in enumerate(i for i in range(len(out)) if i not in removed)}
        return kept
    return out
