"""Reading and writing scenario files: YAML, JSON, CSV stakeholder tables, KTAB files.

Every value read from a file remembers the file and line it came from, so that
validation can say exactly where a problem is, also after a variant
(``extends:``) has been merged over its base.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Iterable, cast

import yaml

from .._parse import parse_number, read_text, slug
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


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans (``NO`` is Norway)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _to_python(node: yaml.Node, loader: _Loader, file: str | None) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Node(origin=(file, line))
        for k_node, v_node in node.value:
            key = loader.construct_object(k_node, deep=True)
            if isinstance(key, float) and key.is_integer():
                key = key
            if key in out:
                raise ScenarioError(
                    [Problem(file, k_node.start_mark.line + 1, str(key), "duplicate key in the same mapping")]
                )
            out[key] = _to_python(v_node, loader, file)
            out.locs[key] = (file, k_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        lst = NodeList(origin=(file, line))
        for i, item in enumerate(node.value):
            lst.append(_to_python(item, loader, file))
            lst.locs[i] = (file, item.start_mark.line + 1)
        return lst
    return loader.construct_object(node, deep=True)


def _parse_yaml(text: str, file: str | None) -> Any:
    if "\x00" in text:
        raise ScenarioError([Problem(file, None, "", "not a text file (it contains NUL bytes)")])
    try:
        loader = _Loader(text)
    except yaml.YAMLError as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return _to_python(root, loader, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {e.problem or e}")]) from None
    except yaml.YAMLError as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    finally:
        loader.dispose()


def _parse_json(text: str, file: str | None) -> Any:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError([Problem(file, e.lineno, "", f"not valid JSON: {e.msg} (column {e.colno})")]) from None
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
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = [(i + 1, r) for i, r in enumerate(reader)]
    rows = [(ln, r) for ln, r in rows if any(c.strip() for c in r)]
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
        row = {c: (raw[i] if i < len(raw) else "") for i, c in enumerate(cols) if c}
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


def read_raw(path: str | Path, _chain: tuple[Path, ...] = ()) -> Any:
    """Read a scenario file into a raw (unvalidated) dict with line locations.

    Resolves ``extends:`` (variants) recursively, reporting a missing base
    file or a cycle of variants.
    """
    p = Path(path)
    file = str(p)
    text = read_text(p)
    if not text.strip():
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    suffix = p.suffix.lower()
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
    raw = _parse_json(text, file) if suffix == ".json" else _parse_yaml(text, file)
    if raw is None:
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    if not isinstance(raw, dict):
        raise ScenarioError([Problem(file, 1, "", "a scenario file must be a mapping (name:, issues:, actors:, ...)")])
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw
    line = raw.locs.get("extends", (file, None))[1] if isinstance(raw, Node) else None
    if not isinstance(base_ref, str):
        raise ScenarioError([Problem(file, line, "extends", "must be a file name")])
    base_path = (p.parent / base_ref).resolve()
    chain = _chain + (p.resolve(),)
    if base_path in chain:
        cycle = " -> ".join(c.name for c in chain + (base_path,))
        raise ScenarioError([Problem(file, line, "extends", f"variants form a cycle: {cycle}")])
    if not base_path.exists():
        raise ScenarioError([Problem(file, line, "extends", f"base scenario {base_ref!r} not found (looked in {p.parent})")])
    base = read_raw(base_path, chain)
    node = cast(Node, raw)
    overrides = Node({k: v for k, v in node.items() if k != "extends"}, origin=node.origin)
    overrides.locs = {k: v for k, v in node.locs.items() if k != "extends"}
    return merge(base, overrides)


def _as_node(obj: Any, file: str | None) -> Any:
    """Wrap plain dicts/lists (e.g. from the KTAB reader) as located nodes."""
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


def load(source: Any, *, name: str | None = None):
    """Load and validate a scenario.

    Parameters
    ----------
    source : str, Path, dict or Scenario
        A file (``.yaml``/``.yml``, ``.json``, ``.csv`` stakeholder table or
        KTAB ``.csv``/``.xml``), the name of a shipped example scenario (see
        ``detente scenarios``), or a dict in the scenario schema.

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
        return validate(_as_node(source, None) if not isinstance(source, Node) else source, None)
    path = resolve_path(source)
    raw = read_raw(path)
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
    labels and metadata live only in YAML/JSON.
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
        w.writerow({k: (f"{v:.15g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()
