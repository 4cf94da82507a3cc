"""Validate a raw scenario, reporting every problem at once.

Each issue, actor and event is validated on its own, so one broken actor does
not hide the problems of the next; then the checks that relate parts of the
scenario run over everything that validated. Each problem names the file, the
line (when the input came from a file), the field and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .._parse import bounded, limit, over_limit
from ..errors import Problem, ScenarioError
from .io import Node
from .schema import Actor, Event, Issue, Scenario, Value

_TOP_FIELDS = set(Scenario.model_fields) - {"source_file"}


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
        msg = "unknown field"
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
        self.paths: list[tuple] = []

    def covered(self, path: tuple) -> bool:
        """Whether a problem was reported for ``path``, a field inside it or (below an item) around it."""
        return any(q[: len(path)] == path or (len(q) >= 3 and path[: len(q)] == q) for q in self.paths)

    def add(self, path: tuple, reason: str) -> None:
        self.paths.append(path)
        file, line = _loc_of(self.raw, path)
        self.problems.append(Problem(file or self.file, line, _label(path, self.raw), reason))

    def model(self, cls: type[BaseModel], data: Any, path: tuple) -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            for err in e.errors():
                loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
                self.add(path + loc, _reason(err))
            return None


def _bad_numbers(raw: Any) -> list[tuple[tuple, str]]:
    """Every float in ``raw`` that is not finite or is beyond ``max_magnitude``, with its path.

    Such a number is a problem of the field that holds it, reported before it
    can turn into ``inf``/``NaN`` in a result.
    """
    cap = limit("max_magnitude")
    out = []
    stack: list[tuple[tuple, Any]] = [((), raw)]
    while stack:
        path, x = stack.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(k, float) and not (math.isfinite(k) and abs(k) <= cap):
                    out.append((path + (k,), _number_reason(k, cap)))
                stack.append((path + (k,), v))
        elif isinstance(x, list):
            stack.extend((path + (i,), v) for i, v in enumerate(x))
        elif isinstance(x, float) and not (math.isfinite(x) and abs(x) <= cap):
            out.append((path, _number_reason(x, cap)))
    return sorted(out, key=lambda t: str(t[0]))


def _number_reason(x: float, cap: float) -> str:
    if not math.isfinite(x):
        return f"must be a finite number, got {x}"
    return over_limit("max_magnitude", f"{x:g}")


_ADAPTERS: dict[str, TypeAdapter] = {}


def _adapter(name: str, annotation: Any) -> TypeAdapter:
    """One TypeAdapter per field, built once (building one costs more than validating a scenario)."""
    a = _ADAPTERS.get(name)
    if a is None:
        a = _ADAPTERS[name] = TypeAdapter(annotation)
    return a


_COUNTS = (("issues", "max_issues"), ("actors", "max_actors"), ("events", "max_events"))


@bounded
def validate(raw: Any, file: str | None) -> Scenario:
    """Validate a raw scenario mapping into a :class:`Scenario`, or raise :class:`ScenarioError`."""
    c = _Collector(raw, file)
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError([Problem(file, None, "", "the scenario is empty")])
    for name, lim in _COUNTS:
        if isinstance(raw.get(name), list) and len(raw[name]) > limit(lim):
            c.add((name,), over_limit(lim, f"{len(raw[name])} {name}"))
    if c.problems:
        raise ScenarioError(c.problems)

    for k in raw:
        if k not in _TOP_FIELDS:
            c.add((k,), f"unknown field (known: {', '.join(sorted(_TOP_FIELDS))})")

    # -- header fields ---------------------------------------------------------------
    head = {k: v for k, v in raw.items() if k in _TOP_FIELDS and k not in ("issues", "actors", "events")}
    if "name" not in head:
        head["name"] = (file or "scenario").rsplit("/", 1)[-1].rsplit(".", 1)[0]

    header: dict[str, Any] = {}
    for k in ("name", "description", "date", "sources", "calendar", "rounds", "salience_scale", "model"):
        if k not in head:
            continue
        field = Scenario.model_fields[k]
        try:
            header[k] = _adapter(k, Any if field.annotation is None else field.annotation).validate_python(head[k])
        except ValidationError as e:
            for err in e.errors():
                c.add((k, *err["loc"]), _reason(err))
        else:
            if k == "rounds" and header[k] is not None and header[k] < 1:
                c.add((k,), "must be at least 1")
            elif k == "rounds" and header[k] is not None and header[k] > limit("max_rounds"):
                c.add((k,), over_limit("max_rounds", f"{header[k]:g} rounds"))
    scale = header.get("salience_scale", 100)

    # -- parts -------------------------------------------------------------------------
    def items(name: str) -> list[tuple[int, Any]]:
        v = raw.get(name)
        if v is None:
            return []
        if not isinstance(v, list):
            c.add((name,), "must be a list")
            return []
        return list(enumerate(v))

    if "issues" not in raw:
        c.add(("issues",), "required field is missing")
    if "actors" not in raw:
        c.add(("actors",), "required field is missing")

    issues: list[Issue] = []
    for i, item in items("issues"):
        if isinstance(item, dict) and item.get("scale") is not None and isinstance(item["scale"], dict):
            sc = item["scale"]
            item = Node({**item, "scale": [sc.get("low"), sc.get("high")]}, origin=getattr(item, "origin", (None, None)))
        iss = c.model(Issue, item, ("issues", i))
        if iss is not None:
            issues.append(iss)
    actors: list[tuple[int, Actor]] = []
    partial: list[tuple[int, str, dict, dict]] = []  # actors that failed, for the cross checks
    values = _adapter("values", dict[str, Value])
    for i, item in items("actors"):
        a = c.model(Actor, item, ("actors", i))
        if a is not None:
            actors.append((i, a))
        elif isinstance(item, dict):
            parts = []
            for name in ("positions", "salience"):
                given = item.get(name) or {}
                try:
                    parts.append(values.validate_python(given))
                except ValidationError:  # keep the valid values; an invalid one still counts as given
                    part: dict = {}
                    for k, v in (given.items() if isinstance(given, dict) else ()):
                        try:
                            part[k] = Value.model_validate(v)
                        except ValidationError:
                            part[k] = None
                    parts.append(part)
            partial.append((i, str(item.get("key")), parts[0], parts[1]))
    events: list[tuple[int, Event]] = []
    for i, item in items("events"):
        ev = c.model(Event, item, ("events", i))
        if ev is not None:
            events.append((i, ev))

    # -- relations ---------------------------------------------------------------------
    ikeys: dict[str, Issue] = {}
    for n, iss in enumerate(issues):
        if iss.key in ikeys:
            c.add(("issues", n, "key"), f"duplicate issue key {iss.key!r}")
        else:
            ikeys[iss.key] = iss
    if raw.get("issues") is not None and isinstance(raw.get("issues"), list) and not raw["issues"]:
        c.add(("issues",), "a scenario needs at least one issue")
    akeys: dict[str, Actor] = {}
    for i, a in actors:
        if a.key in akeys:
            c.add(("actors", i, "key"), f"duplicate actor key {a.key!r}")
        akeys[a.key] = a
        if a.capability.value <= 0:
            c.add(("actors", i, "capability"), f"capability must be > 0, got {a.capability.value:g}")
        elif a.capability.low is not None and a.capability.low <= 0:
            c.add(("actors", i, "capability"), f"capability range must stay > 0, low is {a.capability.low:g}")
        _check_stances(c, i, a.positions, a.salience, ikeys, scale, bool(issues) or not raw.get("issues"))
    for i, _key, pos, sal in partial:
        _check_stances(c, i, pos, sal, ikeys, scale, bool(issues) or not raw.get("issues"))
    if isinstance(raw.get("actors"), list) and len(raw["actors"]) < 2:
        c.add(("actors",), f"a negotiation needs at least 2 actors, found {len(raw['actors'])}")

    ekeys: set[str] = set()
    cal = header.get("calendar")
    for i, ev in events:
        if ev.key in ekeys:
            c.add(("events", i, "key"), f"duplicate event key {ev.key!r}")
        ekeys.add(ev.key)
        if ev.actor is not None and ev.actor not in akeys and (actors or not raw.get("actors")):
            c.add(("events", i, "actor"), f"unknown actor {ev.actor!r}")
        for k, x in ev.changes.positions.items():
            if k not in ikeys:
                c.add(("events", i, "changes", "positions", k), f"unknown issue {k!r}")
            elif not ikeys[k].scale[0] <= x <= ikeys[k].scale[1]:
                lo, hi = ikeys[k].scale
                c.add(("events", i, "changes", "positions", k), f"position {x:g} is outside the scale [{lo:g}, {hi:g}]")
        for k, x in ev.changes.salience.items():
            if k not in ikeys:
                c.add(("events", i, "changes", "salience", k), f"unknown issue {k!r}")
            elif not 0 <= x <= scale:
                c.add(("events", i, "changes", "salience", k), f"salience {x:g} is outside 0-{scale}")
        if ev.changes.capability is not None and ev.changes.capability <= 0:
            c.add(("events", i, "changes", "capability"), f"capability must be > 0, got {ev.changes.capability:g}")
        if ev.round is not None and ev.round > limit("max_rounds"):
            c.add(("events", i, "round"), over_limit("max_rounds", f"round {ev.round:g}"))
        if ev.date is not None and ev.round is None and cal is None and "calendar" not in raw:
            c.add(("events", i, "date"), "an event placed on a date needs the scenario's `calendar` (start and round length)")

    # Every number field of the schema checks finiteness and magnitude itself; model parameters are free-form.
    model = raw.get("model")
    params = model.get("params") if isinstance(model, dict) else None
    for path, reason in _bad_numbers(params):
        if not c.covered(("model", "params") + path):
            c.add(("model", "params") + path, reason)
    if c.problems:
        raise ScenarioError(c.problems)
    return Scenario.model_validate(
        {**header, "issues": issues, "actors": [a for _, a in actors], "events": [e for _, e in events]}
    )


def _check_stances(c: _Collector, i: int, positions: dict, salience: dict, ikeys: dict, scale: int, known: bool) -> None:
    """Positions inside their issue's scale, saliences inside 0-scale, every issue covered."""
    for k, v in positions.items():
        if k not in ikeys:
            if known:
                c.add(("actors", i, "positions", k), f"unknown issue {k!r}")
            continue
        if v is None:  # invalid, and reported
            continue
        lo, hi = ikeys[k].scale
        for what, x in (("value", v.value), ("low", v.low), ("high", v.high)):
            if x is not None and not lo <= x <= hi:
                c.add(("actors", i, "positions", k), f"position {what} {x:g} is outside the scale [{lo:g}, {hi:g}] of issue {k!r}")
                break
    for k, v in salience.items():
        if k not in ikeys:
            if known:
                c.add(("actors", i, "salience", k), f"unknown issue {k!r}")
            continue
        if v is None:
            continue
        for what, x in (("value", v.value), ("low", v.low), ("high", v.high)):
            if x is not None and not 0 <= x <= scale:
                c.add(("actors", i, "salience", k), f"salience {what} {x:g} is outside 0-{scale} (salience_scale: {scale})")
                break
    for k in ikeys:
        if k not in positions:
            c.add(("actors", i, "positions"), f"no position on issue {k!r}")
        if k not in salience:
            c.add(("actors", i, "salience"), f"no salience on issue {k!r}")
