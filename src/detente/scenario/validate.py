"""Validate a raw scenario, reporting every problem at once.

The rules are the schema's (:mod:`detente.scenario.schema`): this module adds
none. Each issue, actor and event is validated on its own, so one broken actor
does not hide the problems of the next; then the schema's rules across parts
run over everything that validated, and the whole is built as a
:class:`Scenario` (which runs them once more). Each problem's path is mapped
back to the file and line it came from (the readers' located nodes), so that it
names the file, the line (when the input came from a file), the field and the
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .._parse import bounded, limit, over_limit, suggest
from ..errors import Problem, ScenarioError
from .nodes import Node, NodeList
from .schema import (
    Actor,
    Calendar,
    Changes,
    Event,
    Issue,
    ModelChoice,
    Scenario,
    Threshold,
    Value,
    actor_count_relations,
    actor_relations,
    event_relations,
    issue_relations,
    stance_relations,
)

_TOP_FIELDS = set(Scenario.model_fields) - {"source_file", "reading_notes"}
_PART_FIELDS = {"issues": set(Issue.model_fields), "actors": set(Actor.model_fields), "events": set(Event.model_fields)}
#: every field name of the schema's nested parts: what an unknown nested field is matched against
_NESTED_FIELDS = set().union(*(m.model_fields for m in (Value, Threshold, Changes, Calendar, ModelChoice)))


def unknown_field(word: Any, known: Any) -> str:
    """The reason for an unknown field: the nearest known name, else the list of known names."""
    near = suggest(word, known)
    if near is not None:
        return f"unknown field; did you mean `{near}`?"
    return f"unknown field (known: {', '.join(sorted(known))})"


def _loc_of(raw: Any, path: tuple) -> tuple[str | None, int | None]:
    """The (file, line) of the deepest located node along ``path``."""
    file, line = getattr(raw, "origin", (None, None))
    node = raw
    for key in path:
        locs = getattr(node, "locs", None)
        if locs is not None and key in locs:
            file, line = locs[key][0] or file, locs[key][1] or line
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return file, line


def _label(path: tuple, raw: Any) -> str:
    """A readable field path: ``actors[trump].positions.scope``."""
    out = ""
    node = raw
    for key in path:
        if isinstance(key, int):
            tag = key
            try:
                item = node[key]
                if isinstance(item, dict) and isinstance(item.get("key"), str):
                    tag = item["key"]
                elif isinstance(item, dict) and isinstance(item.get("name"), str):
                    tag = item["name"]
            except (KeyError, IndexError, TypeError):
                pass
            out += f"[{tag}]"
        else:
            out += f".{key}" if out else str(key)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _reason(err: Mapping[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        near = suggest(err["loc"][-1], _NESTED_FIELDS)
        msg = "unknown field" + (f"; did you mean `{near}`?" if near is not None else "")
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "string_pattern_mismatch" and str(err["loc"][-1]) == "key":
        msg = "a key may hold letters, digits, '_', '-' and '.', and must not start with '-' or '.'"
    inp = err.get("input")
    if err["type"] in ("float_parsing", "int_parsing", "float_type", "int_type", "bool_type", "string_type",
                       "date_parsing", "date_from_datetime_parsing", "literal_error", "dict_type", "list_type",
                       "model_type", "tuple_type") and not isinstance(inp, (dict, list)):
        msg = f"{msg} (got {inp!r})"
    return msg


class _Collector:
    def __init__(self, raw: Any, file: str | None):
        self.raw, self.file = raw, file
        self.problems: list[Problem] = []
        self.broken: dict[str, set[str]] = {}  # keys of issues and events that failed validation

    def add(self, path: tuple, reason: str) -> None:
        file, line = _loc_of(self.raw, path)
        self.problems.append(Problem(file or self.file, line, _label(path, self.raw), reason))

    def errors(self, path: tuple, e: ValidationError) -> None:
        """Each error of ``e``, located below ``path``."""
        for err in e.errors():
            loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
            self.add(path + loc, _reason(err))

    def model(self, cls: type[BaseModel], data: Any, path: tuple) -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            self.errors(path, e)
            return None


_ADAPTERS: dict[str, TypeAdapter] = {}


def _adapter(name: str, annotation: Any) -> TypeAdapter:
    """One TypeAdapter per field, built once (building one costs more than validating a scenario)."""
    a = _ADAPTERS.get(name)
    if a is None:
        a = _ADAPTERS[name] = TypeAdapter(annotation)
    return a


_COUNTS = (("issues", "max_issues"), ("actors", "max_actors"), ("events", "max_events"))
_PARTS = ("issues", "actors", "events")
_HEADER = ("name", "description", "date", "sources", "calendar", "rounds", "salience_scale", "model")


@bounded
def validate(raw: Any, file: str | None, **fixed: Any) -> Scenario:
    """Validate a raw scenario mapping into a :class:`Scenario`, or raise :class:`ScenarioError`.

    The rules are the schema's (:mod:`detente.scenario.schema`); this only
    validates part by part, so that every problem is reported at once, and
    names each problem's file and line. ``fixed`` sets fields that do not come
    from ``raw`` (``source_file``, a ``name`` given by the caller).
    """
    c = _Collector(raw, file)
    _check_shape(c, raw, file)
    raw = c.raw = _respelled(c, raw)
    header = _header(c, raw, file)
    issues = _parts(c, raw, "issues", Issue)
    actors = _parts(c, raw, "actors", Actor)
    events = _parts(c, raw, "events", Event)
    _relations(c, raw, header, issues, actors, events)
    if c.problems:
        raise ScenarioError(c.problems)
    return _build(c, {**header, **fixed}, issues, actors, events)


def _check_shape(c: _Collector, raw: Any, file: str | None) -> None:
    """A non-empty mapping within the count bounds, with only known fields, issues and actors."""
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError([Problem(file, None, "", "the scenario is empty")])
    for name, lim in _COUNTS:
        if isinstance(raw.get(name), list) and len(raw[name]) > limit(lim):
            c.add((name,), over_limit(lim, f"{len(raw[name])} {name}"))
    if c.problems:
        raise ScenarioError(c.problems)


def _respelled(c: _Collector, raw: dict) -> Any:
    """``raw`` with every unknown field reported once, by its nearest valid name.

    An unknown field whose nearest valid name is not given is read as that
    field (``salince`` as ``salience``), so that the typo is the one problem
    reported: no "no salience on issue" for the field it meant, no "unknown
    actor" for the actor it made invalid. Other unknown fields are dropped
    (reported here, not again by the schema). The top level and each issue,
    actor and event are respelled; ``raw`` itself is not changed.
    """
    out = _respell(c, raw, (), _TOP_FIELDS)
    for name, known in _PART_FIELDS.items():
        items = out.get(name)
        if isinstance(items, list):
            new = NodeList([_respell(c, it, (name, i), known) for i, it in enumerate(items)],
                           origin=getattr(items, "origin", (None, None)))
            new.locs = dict(getattr(items, "locs", {}))
            out[name] = new
    return out


def _respell(c: _Collector, node: Any, path: tuple, known: set[str]) -> Any:
    """A copy of one mapping with its unknown fields reported and renamed (or dropped); see :func:`_respelled`."""
    if not isinstance(node, dict):
        return node
    locs = getattr(node, "locs", {})
    out = Node(origin=getattr(node, "origin", (None, None)))
    renamed: dict[Any, Any] = {}
    for k in node:
        if k in known:
            continue
        c.add(path + (k,), unknown_field(k, known))
        near = suggest(k, known)
        if near is not None and near not in node and near not in renamed.values():
            renamed[k] = near
    for k, v in node.items():
        if k in known or k in renamed:
            new = renamed.get(k, k)
            out[new] = v
            if k in locs:
                out.locs[new] = locs[k]
    return out


def _header(c: _Collector, raw: dict, file: str | None) -> dict[str, Any]:
    """The scenario's own fields (all but its parts), each validated on its own; the name defaults to the file's."""
    head = {k: v for k, v in raw.items() if k in _HEADER}
    if "name" not in head:
        head["name"] = (file or "scenario").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    header: dict[str, Any] = {}
    for k, v in head.items():
        field = Scenario.model_fields[k]
        try:
            header[k] = _adapter(k, Any if field.annotation is None else field.annotation).validate_python(v)
        except ValidationError as e:
            c.errors((k,), e)
    for name in ("issues", "actors"):
        if name not in raw:
            c.add((name,), "required field is missing")
    return header


def _items(c: _Collector, raw: dict, name: str) -> list[tuple[int, Any]]:
    v = raw.get(name)
    if v is None:
        return []
    if not isinstance(v, list):
        c.add((name,), "must be a list")
        return []
    return list(enumerate(v))


def _parts(c: _Collector, raw: dict, name: str, cls: type[BaseModel]) -> list[tuple[int, Any]]:
    """Each item of one list of parts validated on its own: the valid ones, by their index.

    An actor that fails keeps its valid positions and saliences (an invalid one
    as None, given but reported), so that the checks across parts still see them.
    """
    out = []
    for i, item in _items(c, raw, name):
        if name == "issues" and isinstance(item, dict) and isinstance(item.get("scale"), dict):
            sc = item["scale"]  # scale: {low:, high:}
            item = Node({**item, "scale": [sc.get("low"), sc.get("high")]}, origin=getattr(item, "origin", (None, None)))
        part = c.model(cls, item, (name, i))
        if part is not None:
            out.append((i, part))
        elif name == "actors" and isinstance(item, dict):
            out.append((i, _Partial(item.get("key"), item.get("positions"), item.get("salience"))))
        elif isinstance(item, dict) and isinstance(item.get("key"), str):
            c.broken.setdefault(name, set()).add(item["key"])
    return out


class _Partial:
    """What is valid of an actor that failed validation: its key and stances."""

    def __init__(self, key: Any, positions: Any, salience: Any):
        self.key = key if isinstance(key, str) else None
        self.positions = _valid_values(positions)
        self.salience = _valid_values(salience)


def _valid_values(given: Any) -> dict[str, Value | None]:
    """The values of a ``positions``/``salience`` mapping, an invalid one as None (given, reported)."""
    try:
        return _adapter("values", dict[str, Value]).validate_python(given or {})
    except ValidationError:
        out: dict[str, Value | None] = {}
        for k, v in (given.items() if isinstance(given, dict) else ()):
            try:
                out[k] = Value.model_validate(v)
            except ValidationError:
                out[k] = None
        return out


def _relations(c: _Collector, raw: dict, header: dict, issues: list, actors: list, events: list) -> None:
    """The schema's rules across parts, over everything that validated on its own."""
    n_issues = len(raw["issues"]) if isinstance(raw.get("issues"), list) else None
    by_key, found = issue_relations(issues, n_issues)
    scale = header.get("salience_scale", 100)
    issues_known = bool(issues) or not raw.get("issues")
    whole = [(i, a) for i, a in actors if isinstance(a, Actor)]
    akeys, more = actor_relations(whole, by_key, scale, issues_known)
    found += more
    for i, a in actors:
        if isinstance(a, _Partial):
            found += stance_relations(i, a.positions, a.salience, by_key, scale, issues_known)
    found += actor_count_relations(len(raw["actors"]) if isinstance(raw.get("actors"), list) else None)
    partial = {a.key: a for _, a in actors if isinstance(a, _Partial) and a.key is not None}
    known_actors = {**partial, **akeys} if whole or not raw.get("actors") else None
    found += event_relations(events, by_key, known_actors, scale, "calendar" in raw)
    # an issue that failed validation is reported once, not again as "unknown issue" wherever it is used
    broken = {f"unknown issue {k!r}" for k in c.broken.get("issues", ())}
    for path, reason in found:
        if reason.split(";")[0] not in broken:
            c.add(path, reason)


def _build(c: _Collector, header: dict, issues: list, actors: list, events: list) -> Scenario:
    try:
        return Scenario.model_validate(
            {**header, "issues": [x for _, x in issues], "actors": [x for _, x in actors], "events": [x for _, x in events]}
        )
    except ValidationError as e:  # pragma: no cover - every rule already ran part by part above
        c.errors((), e)
        raise ScenarioError(c.problems) from None
