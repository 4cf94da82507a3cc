"""Reading and writing scenario files: YAML, JSON, CSV stakeholder tables, KTAB files.

Every value read from a file remembers the file and line it came from, so that
validation can say exactly where a problem is, also after a variant
(``extends:``) has been merged over its base.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml
import yaml.composer
import yaml.constructor
import yaml.reader
import yaml.resolver

from .._parse import (
    Refused,
    bounded,
    csv_records,
    csv_safe,
    csv_unsafe,
    limit,
    over_limit,
    parse_number,
    path_inside,
    read_text,
    short,
    slug,
    surrogate_at,
)
from ..errors import Problem, ScenarioError

Loc = tuple[str | None, int | None]


class Node(dict):
    """A dict that remembers where each of its keys was written (file, line)."""

    def __init__(self, *a: Any, origin: Loc = (None, None), **kw: Any):
        super().__init__(*a, **kw)
        self.origin: Loc = origin
        self.locs: dict[Any, Loc] = {}


class NodeList(list):
    """A list that remembers where each of its items was written (file, line)."""

    def __init__(self, *a: Any, origin: Loc = (None, None)):
        super().__init__(*a)
        self.origin: Loc = origin
        self.locs: dict[int, Loc] = {}


# ----------------------------------------------------------------------------- YAML / JSON

_INT_TAG = "tag:yaml.org,2002:int"

try:  # libyaml's event parser (shipped in PyYAML's wheels), with PyYAML's own composer on top
    from yaml._yaml import CParser as _CParser

    class _Base(yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """Events from libyaml (fast); nodes composed in Python (so that composing can be bounded)."""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader  # type: ignore[misc,assignment]


class _Loader(_Base):
    """A safe YAML loader without YAML 1.1's yes/no/on/off booleans (``NO`` is Norway), within bounds.

    Composing counts nesting depth (``max_depth``), values (``max_nodes``) and
    aliases (``max_aliases``); building the Python value (:func:`_to_python`)
    counts values again with aliases expanded, so an alias bomb ("billion
    laughs") is refused after a bounded amount of work.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0
        self.nodes = 0
        self.max_depth = limit("max_depth")
        self.max_nodes = limit("max_nodes")
        self.max_aliases = limit("max_aliases")
        self.max_int_digits = limit("max_int_digits")
        self.max_field_chars = limit("max_field_chars")

    def _event_line(self) -> int | None:
        ev = self.peek_event()
        mark = getattr(ev, "start_mark", None)
        return None if mark is None else mark.line + 1

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise Refused(self._event_line(), "", over_limit("max_aliases"))
        else:
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise Refused(self._event_line(), "", over_limit("max_nodes"))
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise Refused(self._event_line(), "", over_limit("max_depth", "nested too deeply"))
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _scalar(node: yaml.ScalarNode, loader: _Loader) -> Any:
    value = node.value
    if len(value) > loader.max_field_chars:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_field_chars", f"a value has {len(value)} characters"))
    if node.tag == _INT_TAG and len(value) > loader.max_int_digits and sum(c.isdigit() for c in value) > loader.max_int_digits:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_int_digits", "a whole number is too long"))
    if node.style == '"' and surrogate_at(value) is not None:
        raise Refused(node.start_mark.line + 1, "", "not text: a lone surrogate (an escape like \\ud800 that is no character)")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except (ValueError, OverflowError, TypeError) as e:  # e.g. a date 2019-02-30
        raise Refused(node.start_mark.line + 1, "", f"not a valid value {short(value)}: {e}") from None


def _to_python(node: yaml.Node, loader: _Loader, file: str | None, depth: int = 1) -> Any:
    loader.nodes += 1  # counted again, now with aliases expanded
    if loader.nodes > loader.max_nodes:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_nodes", "the document expands to too many values (YAML aliases)"))
    if depth > loader.max_depth:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_depth", "nested too deeply (YAML aliases)"))
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, loader)
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Node(origin=(file, line))
        locs = out.locs
        for k_node, v_node in node.value:
            kline = k_node.start_mark.line + 1
            if not isinstance(k_node, yaml.ScalarNode):
                raise Refused(kline, "", "a key must be plain text or a number, not a list or a mapping (a complex YAML key)")
            key = _scalar(k_node, loader)
            if key in out:
                raise Refused(kline, str(key), "duplicate key in the same mapping")
            out[key] = _to_python(v_node, loader, file, depth + 1)
            locs[key] = (file, kline)
        return out
    if isinstance(node, yaml.SequenceNode):
        lst = NodeList(origin=(file, line))
        locs = lst.locs
        for i, item in enumerate(node.value):
            lst.append(_to_python(item, loader, file, depth + 1))
            locs[i] = (file, item.start_mark.line + 1)
        return lst
    return loader.construct_object(node, deep=True)  # pragma: no cover - every node is one of the above


def _parse_yaml(text: str, file: str | None) -> Any:
    if "\x00" in text:
        raise ScenarioError([Problem(file, None, "", "not a text file (it contains NUL bytes)")])
    try:
        loader = _Loader(text)
    except (yaml.YAMLError, UnicodeError) as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        loader.nodes = 0
        return _to_python(root, loader, file)
    except Refused as r:
        raise ScenarioError([r.problem(file)]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        if "nesting depth" in str(e.problem):  # libyaml's own bound (1000 levels) met before ours
            raise ScenarioError([Problem(file, line, "", over_limit("max_depth", "nested too deeply"))]) from None
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {e.problem or e}")]) from None
    except yaml.reader.ReaderError as e:
        pos = e.position if isinstance(e.position, int) else 0
        line = text.encode("utf-8", "surrogatepass")[:pos].count(b"\n") + 1
        what = f"character {e.character!r}" if isinstance(e.character, str) else f"character #x{e.character:04x}"
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {what} is not allowed ({e.reason})")]) from None
    except (yaml.YAMLError, UnicodeError) as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    except RecursionError:  # pragma: no cover - max_depth stops nesting long before
        raise ScenarioError([Problem(file, None, "", over_limit("max_depth", "nested too deeply"))]) from None
    finally:
        loader.dispose()


def _json_int(text: str) -> int:
    if len(text) > limit("max_int_digits") and sum(c.isdigit() for c in text) > limit("max_int_digits"):
        raise Refused(None, "", over_limit("max_int_digits", "a whole number is too long"))
    return int(text)


def _parse_json(text: str, file: str | None) -> Any:
    try:
        json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise ScenarioError([Problem(file, e.lineno, "", f"not valid JSON: {e.msg} (column {e.colno})")]) from None
    except (Refused, RecursionError):
        pass  # a bound: the YAML reader below finds the same bound and names its line
    # JSON is YAML: parse again to learn the line of every value.
    return _parse_yaml(text, file)


# ----------------------------------------------------------------------------- CSV tables

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


# ----------------------------------------------------------------------------- files and variants


#: Where ``extends:`` may reach. ``"files"`` (files given on the command line or
#: to the Python API): a regular file beside the extending file (in its folder or
#: below), or a shipped scenario by name. ``"shipped"`` (anything that arrives
#: over the web, and scenario dicts): a shipped scenario by name, never a path.
Sandbox = Literal["files", "shipped"]


def read_document(path: str | Path) -> Any:
    """One scenario file read into a raw (unvalidated) value with line locations, ``extends:`` not resolved."""
    p = Path(path)
    file = str(p)
    text = read_text(p)
    if not text.strip():
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            from . import decide

            if decide.looks_like_decide(p):
                return _as_node(decide.read_decide(p), file)
        if suffix == ".csv":
            from . import ktab

            if ktab.looks_like_ktab_csv(p):
                return _as_node(ktab.read_ktab_csv(p), file)
            return read_csv_table(p, text)
        if suffix == ".xml":
            from . import ktab

            return _as_node(ktab.read_ktab_xml(p), file)
    except ScenarioError as e:  # every problem names the file, also those a table reader raised without it
        if any(q.file is None for q in e.problems):
            raise ScenarioError([q if q.file else Problem(file, q.line, q.field, q.reason) for q in e.problems]) from None
        raise
    raw = _parse_json(text, file) if suffix == ".json" else _parse_yaml(text, file)
    if raw is None:
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    if not isinstance(raw, dict):
        raise ScenarioError([Problem(file, 1, "", "a scenario file must be a mapping (name:, issues:, actors:, ...)")])
    return raw


@bounded
def read_raw(path: str | Path, _chain: tuple[Path, ...] = (), *, sandbox: Sandbox = "files") -> Any:
    """Read a scenario file into a raw (unvalidated) dict with line locations.

    Resolves ``extends:`` (variants) recursively within ``sandbox`` (see
    :data:`Sandbox`), reporting a base that is not allowed or not found, or a
    cycle of variants.
    """
    p = Path(path)
    raw = read_document(p)
    return resolve_extends(raw, p, sandbox=sandbox, _chain=_chain + (p.resolve(),))


def resolve_extends(raw: Any, path: Path | None, *, sandbox: Sandbox = "shipped", _chain: tuple[Path, ...] = ()) -> Any:
    """``raw`` merged over the base it ``extends:`` (if any), the base found within ``sandbox``.

    ``path`` is the file ``raw`` was read from (None for a dict, which may
    extend only a shipped scenario).
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
    base = read_raw(base_path, _chain, sandbox=base_sandbox)
    overrides = Node({k: v for k, v in raw.items() if k != "extends"}, origin=getattr(raw, "origin", (file, None)))
    overrides.locs = {k: v for k, v in getattr(raw, "locs", {}).items() if k != "extends"}
    return merge(base, overrides)


def _shipped_names() -> dict[str, Path]:
    names: dict[str, Path] = {}
    for cand in shipped():
        names.setdefault(cand.stem, cand.resolve())
        names.setdefault(cand.name, cand.resolve())
    return names


def _find_base(ref: Any, path: Path | None, sandbox: Sandbox, file: str | None, line: int | None) -> tuple[Path, Sandbox]:
    """The base file a variant extends, and the sandbox its own ``extends:`` is resolved in."""
    ships = _shipped_names()
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
    real = cand.resolve()
    try:
        st = os.stat(real)
    except OSError as e:
        raise ScenarioError([Problem(file, line, "extends", f"cannot read base scenario {short(ref)}: {e.strerror}")]) from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError([Problem(file, line, "extends", f"{short(ref)} is not a regular file (a folder, device, pipe "
                                     "or socket); a variant may extend only a file")])
    return real, "files"


def _as_node(obj: Any, file: str | None) -> Any:
    """Wrap what the KTAB/Decide readers give (plain dicts and lists, already bounded) as located nodes."""
    if isinstance(obj, Node | NodeList):
        return obj
    if isinstance(obj, dict):
        n = Node({k: _as_node(v, file) for k, v in obj.items()}, origin=(file, None))
        n.locs = {k: (file, None) for k in obj}
        return n
    if isinstance(obj, list):
        lst = NodeList([_as_node(v, file) for v in obj], origin=(file, None))
        lst.locs = {i: (file, None) for i in range(len(obj))}
        return lst
    return obj


def _checked_node(obj: Any, file: str | None, _path: tuple = (), _count: list | None = None) -> Any:
    """Wrap a scenario dict given directly (from a web request or the Python API) as located nodes.

    Bounded like a YAML document (``max_depth``, ``max_nodes``, ``max_field_chars``,
    ``max_int_digits``); text that is not text (lone surrogates) is refused.
    """
    if _count is None:
        _count = [0, limit("max_nodes"), limit("max_depth"), limit("max_field_chars"), limit("max_int_digits")]
    _count[0] += 1
    if _count[0] > _count[1]:
        raise ScenarioError([Problem(file, None, _label(_path), over_limit("max_nodes"))])
    if len(_path) >= _count[2]:
        raise ScenarioError([Problem(file, None, _label(_path), over_limit("max_depth", "nested too deeply"))])
    if isinstance(obj, Node | NodeList):
        return obj
    if isinstance(obj, dict):
        n = Node(origin=(file, None))
        for k, v in obj.items():
            _check_atom(k, file, _path + (k,), _count)
            n[k] = _checked_node(v, file, _path + (k,), _count)
            n.locs[k] = (file, None)
        return n
    if isinstance(obj, list | tuple):
        lst = NodeList([_checked_node(v, file, _path + (i,), _count) for i, v in enumerate(obj)], origin=(file, None))
        lst.locs = {i: (file, None) for i in range(len(obj))}
        return lst
    _check_atom(obj, file, _path, _count)
    return obj


def _check_atom(x: Any, file: str | None, path: tuple, count: list) -> None:
    if isinstance(x, str):
        if len(x) > count[3]:
            raise ScenarioError([Problem(file, None, _label(path), over_limit("max_field_chars", f"a value has {len(x)} characters"))])
        if surrogate_at(x) is not None:
            raise ScenarioError([Problem(file, None, _label(path), "not text: it holds a lone surrogate (no character)")])
    elif isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 3.33 * count[4]:
        raise ScenarioError([Problem(file, None, _label(path), over_limit("max_int_digits", "a whole number is too long"))])


def _label(path: tuple) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    if surrogate_at(out) is not None:
        out = out.encode("utf-8", "backslashreplace").decode("utf-8")
    return short(out, 80)[1:-1] if len(out) > 80 else out


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
        from .schema import default_event_key

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


@bounded
def load(source: Any, *, name: str | None = None, sandbox: Sandbox = "files"):
    """Load and validate a scenario.

    Parameters
    ----------
    source : str, Path, dict or Scenario
        A file (``.yaml``/``.yml``, ``.json``, ``.csv`` stakeholder table or
        KTAB ``.csv``/``.xml``), the name of a shipped example scenario (see
        ``detente scenarios``), or a dict in the scenario schema (which may
        ``extends:`` only a shipped scenario).
    sandbox : {"files", "shipped"}
        Where a file's ``extends:`` may reach (see :data:`Sandbox`).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, line, field and reason.
    """
    from .schema import Scenario
    from .validate import validate

    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        raw = source if isinstance(source, Node) else _checked_node(source, None)
        return validate(resolve_extends(raw, None, sandbox="shipped"), None)
    path = resolve_path(source)
    raw = read_raw(path, sandbox=sandbox)
    scen = validate(raw, str(path))
    scen.source_file = str(path)
    if name:
        scen.name = name
    return scen


def shipped_dir() -> Path:
    """The folder of example scenarios shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def shipped() -> list[Path]:
    """The shipped example scenario files."""
    d = shipped_dir()
    return sorted(p for p in d.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json", ".csv"))


def resolve_path(source: str | Path) -> Path:
    """A path as given, or the shipped scenario of that name (``korea-2019``)."""
    p = Path(source)
    if p.exists():
        return p
    for cand in shipped():
        if str(source) in (cand.name, cand.stem):
            return cand
    return p  # read_raw reports it as not found


# ----------------------------------------------------------------------------- writing


def scenario_to_dict(s) -> dict[str, Any]:
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


def dump_yaml(s) -> str:
    """The scenario as YAML text."""
    return yaml.safe_dump(scenario_to_dict(s), sort_keys=False, allow_unicode=True, width=100)


def _csv_rows(s) -> Iterable[dict[str, Any]]:
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


def dump_csv(s) -> str:
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
        w.writerow({k: (f"{v:.15g}" if isinstance(v, float) else csv_safe(v)) for k, v in row.items()})
    return buf.getvalue()
