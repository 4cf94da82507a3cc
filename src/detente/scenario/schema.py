"""The scenario's typed schema (pydantic v2).

A scenario is one validated, frozen value. Every rule lives here: field-level
rules (types, finiteness, ranges of a single value) on the part models, and
the rules that relate several parts (keys that must exist, positions inside
their issue's scale) in :class:`Scenario`'s validator, through the
``*_relations`` functions below. However a scenario is built
(``Scenario(...)``, ``Scenario.model_validate``, :func:`detente.load`,
:meth:`Scenario.with_changes`) the same rules run. The readers
(:mod:`detente.scenario.validate`) only map each problem's path back to the
file and line it came from, and report every problem of a file at once.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .._parse import check_magnitude, did_you_mean, limit, over_limit, suggest
from ..models import DEFAULT_MODEL
from ..numfmt import decimals, fmt, meaning

KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"


_FROZEN = "a scenario is frozen: build a changed one with Scenario.with_changes(...)"


class FrozenList(list):
    """A list that cannot change in place: the lists of a scenario (its issues, actors, events...)."""

    def _refuse(self, *a: Any, **kw: Any) -> Any:
        raise TypeError(_FROZEN)

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> Any:  # copy, deepcopy, pickle
        return (FrozenList, (list(self),))


class FrozenDict(dict):
    """A dict that cannot change in place: the mappings of a scenario (positions, saliences, labels...)."""

    def _refuse(self, *a: Any, **kw: Any) -> Any:
        raise TypeError(_FROZEN)

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def __reduce__(self) -> Any:  # copy, deepcopy, pickle
        return (FrozenDict, (dict(self),))


_K = TypeVar("_K")
_V = TypeVar("_V")
#: A list and a dict as a scenario holds them: validated like ``list``/``dict``, then frozen.
Frozen = Annotated[list[_V], AfterValidator(FrozenList)]
FrozenMap = Annotated[dict[_K, _V], AfterValidator(FrozenDict)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _finite(v: float | None, what: str = "value") -> float | None:
    """``v`` if it is None or a finite number within ``max_magnitude`` (see docs/scenario-format.md, Limits)."""
    if v is not None:
        cap = limit("max_magnitude")
        if not -cap <= v <= cap:  # also NaN
            check_magnitude(v, what)
    return v


#: The CSS named colours (CSS Color Module Level 4), which a scenario's ``color`` may use besides ``#rgb``/``#rrggbb``.
CSS_COLOR_NAMES = frozenset("""
aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet brown burlywood
cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue darkcyan darkgoldenrod darkgray
darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen
darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue
firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew
hotpink indianred indigo ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue lightslategray
lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon mediumaquamarine mediumblue
mediumorchid mediumpurple mediumseagreen mediumslateblue mediumspringgreen mediumturquoise mediumvioletred
midnightblue mintcream mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum powderblue purple
rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue
slateblue slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white
whitesmoke yellow yellowgreen
""".split())

_HEX_COLOR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")


def is_color(text: Any) -> bool:
    """Whether ``text`` is a colour a scenario may give: ``#rgb``, ``#rrggbb`` or a CSS colour name."""
    return isinstance(text, str) and (_HEX_COLOR.fullmatch(text) is not None or text.lower() in CSS_COLOR_NAMES)


def number_or_mapping(data: Any, fields: str) -> Any:
    """A bare number (or a numeric string) as ``{"value": x}``; a mapping as it is; anything else a ValueError."""
    if isinstance(data, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(data, (int, float)):
        return {"value": data}
    if isinstance(data, str):
        try:
            return {"value": float(data)}
        except ValueError:
            pass
    if not isinstance(data, dict):
        raise ValueError(f"expected a number (or a mapping with {fields}), got {data!r}")
    return data


class Value(_Strict):
    """A number with an optional uncertainty range and its rationale.

    In a file a value is either a bare number (``capability: 40``) or a
    mapping (``capability: {value: 40, low: 30, high: 50, why: "...",
    source: "..."}``).

    Attributes
    ----------
    value : float
        The point estimate (the mode of a triangular distribution).
    low, high : float, optional
        The plausible range, used by Monte Carlo and sensitivity analysis.
    dist : {"uniform", "triangular", "normal"}, optional
        How draws spread over the range. Default: triangular with its mode at
        ``value`` when a range is given. ``normal`` uses ``sd`` and is clipped
        to the range (or the scale).
    sd : float, optional
        Standard deviation for ``dist: normal``.
    why : str, optional
        One line: why this value (a short quote or a marked assumption).
    source : str, optional
        Where the rationale comes from.
    """

    value: float
    low: float | None = None
    high: float | None = None
    dist: Literal["uniform", "triangular", "normal"] | None = None
    sd: float | None = Field(default=None, gt=0)
    why: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        return number_or_mapping(data, "value, low, high, why")

    @field_validator("value", "low", "high", "sd")
    @classmethod
    def _check_finite(cls, v: float | None) -> float | None:
        return _finite(v)

    @model_validator(mode="after")
    def _check_range(self) -> "Value":
        if (self.low is None) != (self.high is None) and self.dist != "normal":
            raise ValueError("give both `low` and `high`, or neither")
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
            if not (self.low <= self.value <= self.high):
                raise ValueError(f"value {self.value:g} is outside its range [{self.low:g}, {self.high:g}]")
        if self.dist == "normal" and self.sd is None:
            raise ValueError("`dist: normal` needs `sd`")
        return self

    @property
    def ranged(self) -> bool:
        """True when the value is uncertain (has a range or a spread)."""
        return (self.low is not None and self.high is not None and self.high > self.low) or self.sd is not None

    def compact(self, rationale: bool = True) -> float | dict[str, Any]:
        """The shortest equivalent form (for writing back to a file, or for comparing two values):
        the bare number when only ``value`` is set, else the mapping of the fields set; without
        ``why`` and ``source`` unless ``rationale``."""
        d = self.model_dump(exclude_none=True, exclude=None if rationale else {"why", "source"})
        return d["value"] if list(d) == ["value"] else d


class Threshold(_Strict):
    """A named outcome level whose probability the analyst wants reported.

    Example: ``{name: "at least a Hanoi-type deal", value: 50, direction: above}``.
    """

    name: str
    value: float
    direction: Literal["above", "below"] = "above"

    @field_validator("value")
    @classmethod
    def _check_finite(cls, v: float) -> float:
        return _finite(v)  # type: ignore[return-value]


class _NamedByKey(_Strict):
    """A part whose ``name`` defaults to its ``key``."""

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("key"), str):
            data = {**data, "name": data["key"]}
        return data

    def short_name(self, width: int = 24) -> str:
        """The name as charts and tables show it: :func:`short_name` of ``name`` (the key only when
        there is no name)."""
        return short_name(getattr(self, "name", "") or getattr(self, "key", ""), width)


def short_name(text: str, width: int = 24) -> str:
    """``text`` without a parenthetical, cut at a word boundary to ``width`` characters with an
    ellipsis when longer: one rule for every place a person reads a name in little room."""
    t = re.sub(r"\s*\(.*?\)\s*", " ", text).strip() or text.strip()
    t = " ".join(t.split())
    if len(t) <= width:
        return t
    cut = t[: width - 1]
    if t[width - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "\u2026"


class Issue(_NamedByKey):
    """One issue (dimension) under negotiation.

    Attributes
    ----------
    key : str
        Short identifier used everywhere else in the file.
    name : str
        Human-readable name.
    description : str, optional
    scale : (float, float)
        The scale's low and high ends, in any units (years, %, 0-100).
    labels : dict of float -> str
        What positions on the scale mean, e.g. ``{0: "no deal", 100: "full deal"}``.
    status_quo : float, optional
        The reference point / disagreement point (needed by ``nash``).
    thresholds : list of Threshold
        Outcome levels to report probabilities for.
    """

    key: str = Field(pattern=KEY_PATTERN)
    name: str = ""
    description: str | None = None
    scale: tuple[float, float] = (0.0, 100.0)
    labels: FrozenMap[float, str] = Field(default_factory=FrozenDict)
    status_quo: float | None = None
    thresholds: Frozen[Threshold] = Field(default_factory=FrozenList)

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        _finite(lo, "scale low")
        _finite(hi, "scale high")
        if not lo < hi:
            raise ValueError(f"scale low ({lo:g}) must be below scale high ({hi:g})")
        return v

    @field_validator("status_quo")
    @classmethod
    def _check_sq(cls, v: float | None) -> float | None:
        return _finite(v, "status_quo")

    @model_validator(mode="after")
    def _check_inside(self) -> "Issue":
        lo, hi = self.scale
        bad = [k for k in self.labels if not lo <= k <= hi]
        if bad:
            raise ValueError(f"label at {bad[0]:g} is outside the scale [{lo:g}, {hi:g}]")
        if self.status_quo is not None and not lo <= self.status_quo <= hi:
            raise ValueError(f"status_quo {self.status_quo:g} is outside the scale [{lo:g}, {hi:g}]")
        return self

    def label_for(self, x: float) -> str:
        """What ``x`` means: the label of a labelled point within 1 % of the width of ``x``, else
        "between A and B" (or "above"/"below" the outermost label); empty if no labels."""
        return meaning(x, self.labels, self.scale)

    @property
    def decimals(self) -> int:
        """Decimals for a value on this issue's scale (:func:`detente.numfmt.decimals`)."""
        return decimals(self.scale)

    def fmt(self, x: Any, *, sign: bool = False) -> str:
        """``x`` with this scale's decimals (:func:`detente.numfmt.fmt`)."""
        return fmt(x, self.scale, sign=sign)


class Actor(_NamedByKey):
    """A stakeholder: its clout, and where it stands on each issue and how much it cares.

    Attributes
    ----------
    key, name : str
    capability : Value
        Clout (> 0; only ratios between actors matter).
    group, color, notes : str, optional
        Display helpers (``color`` is a CSS colour such as ``"#1f77b4"``).
    positions : dict of issue key -> Value
        Position on each issue, on that issue's scale.
    salience : dict of issue key -> Value
        How much the actor cares, on the file's salience scale (0-100 or 0-1).
    """

    key: str = Field(pattern=KEY_PATTERN)
    name: str = ""
    capability: Value
    group: str | None = None
    color: str | None = None
    notes: str | None = None
    positions: FrozenMap[str, Value] = Field(default_factory=FrozenDict)
    salience: FrozenMap[str, Value] = Field(default_factory=FrozenDict)

    @field_validator("color")
    @classmethod
    def _check_color(cls, v: str | None) -> str | None:
        if v is not None and not is_color(v):
            raise ValueError("a colour is #rgb, #rrggbb or a CSS colour name such as 'teal'")
        return v


class Changes(_Strict):
    """What an event changes (only the fields given change)."""

    capability: float | None = None
    positions: FrozenMap[str, float] = Field(default_factory=FrozenDict)
    salience: FrozenMap[str, float] = Field(default_factory=FrozenDict)

    @field_validator("capability")
    @classmethod
    def _check_cap(cls, v: float | None) -> float | None:
        return _finite(v, "capability")

    @field_validator("positions", "salience")
    @classmethod
    def _check_map(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            _finite(x, k)
        return v


class Event(_Strict):
    """Something that will (or may) happen during the negotiation.

    Attributes
    ----------
    key : str
        Identifier (defaults to a slug of ``name``).
    name : str
    type : {"change", "join", "leave", "deadline"}
        ``join``: the actor takes part only from this round on; ``leave``:
        it stops taking part; ``change``: its capability, positions or
        saliences change (``changes``); ``deadline``: the negotiation ends.
    round : int, optional
        The round before which the event takes effect (1 = the first round).
    date : date, optional
        Alternatively the date, placed on a round through the scenario's calendar.
    actor : str, optional
        The actor concerned (all types but ``deadline``).
    changes : Changes, optional
        For ``change`` (and optionally ``join``: values the actor joins with).
    probability : float
        The share of Monte Carlo draws in which it happens (default 1).
        Deterministic runs take the most likely branch: the event happens
        when it is more likely than not (``probability > 0.5``).
    why, source : str, optional
    """

    key: str = Field(default="", pattern=r"^$|" + KEY_PATTERN)
    name: str = ""
    type: Literal["change", "join", "leave", "deadline"]
    round: int | None = Field(default=None, ge=0)
    date: _dt.date | None = None
    actor: str | None = None
    changes: Changes = Field(default_factory=Changes)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    why: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """``key`` defaults to a slug of the name (or type and actor), ``name`` to the key."""
        if isinstance(data, dict):
            if not data.get("key"):
                data = {**data, "key": default_event_key(data.get("name"), data.get("type"), data.get("actor"))}
            if not data.get("name"):
                data = {**data, "name": data["key"]}
        return data

    @field_validator("round")
    @classmethod
    def _check_round(cls, v: int | None) -> int | None:
        if v is not None and v > limit("max_rounds"):
            raise ValueError(over_limit("max_rounds", f"round {v:g}"))
        return v

    @model_validator(mode="after")
    def _check(self) -> "Event":
        if self.round is None and self.date is None:
            raise ValueError("an event needs a `round` or a `date`")
        if self.type != "deadline" and not self.actor:
            raise ValueError(f"a `{self.type}` event needs an `actor`")
        if self.type == "change" and not (
            self.changes.capability is not None or self.changes.positions or self.changes.salience
        ):
            raise ValueError("a `change` event needs `changes` (capability, positions or salience)")
        return self


class Outcome(_Strict):
    """The recorded outcome of one issue: what was decided, when, and on what evidence.

    In a file an outcome is a number (``deal: 15``) or a mapping (``deal:
    {value: 15, date: 2020-12-31, why: "...", source: "..."}``), like an input.

    Attributes
    ----------
    value : float
        Where the issue ended, on its scale.
    date : date, optional
        When the outcome was observed (the end of the record's period).
    why : str, optional
        One line: what happened, in plain words.
    source : str, optional
        Where that is reported (or "as reported" when no source is at hand).
    """

    value: float
    date: _dt.date | None = None
    why: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        return number_or_mapping(data, "value, date, why, source")

    @field_validator("value")
    @classmethod
    def _check_finite(cls, v: float) -> float:
        return _finite(v)  # type: ignore[return-value]


class EventOutcome(_Strict):
    """Whether an event of the scenario happened, as recorded.

    In a file: ``year-end-deadline: true`` or ``{happened: true, date: ...,
    why: "...", source: "..."}``.
    """

    happened: bool
    date: _dt.date | None = None
    why: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"happened": data}
        if not isinstance(data, dict):
            raise ValueError(f"expected true/false (or a mapping with happened, date, why, source), got {data!r}")
        return data


class Record(_Strict):
    """What actually happened, recorded after the forecast: never an input of any model.

    ``detente score`` measures each model's forecast against it and ``detente
    explain`` asks what the inputs would have had to be to reproduce it.

    Attributes
    ----------
    issues : dict of issue key -> Outcome
        The recorded outcome of each issue that has one (any subset).
    events : dict of event key -> EventOutcome
        Whether each recorded event happened (any subset).
    """

    issues: FrozenMap[str, Outcome] = Field(default_factory=FrozenDict)
    events: FrozenMap[str, EventOutcome] = Field(default_factory=FrozenDict)


def default_event_key(name: Any, type_: Any, actor: Any) -> str:
    """The key an event gets when it has none: a slug of its name (or type and actor)."""
    base = str(name or f"{type_}-{actor or ''}")
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", base).strip("-.").lower() or re.sub(r"[^a-z]", "", str(type_)) or "event"


class Calendar(_Strict):
    """How rounds map to dates.

    Attributes
    ----------
    start : date
        The date round 1 starts.
    round : str
        The length of one round: ``"1 month"``, ``"2 weeks"``, ``"10 days"``, ``"1 year"``.
    """

    start: _dt.date
    round: str = "1 month"

    @field_validator("round")
    @classmethod
    def _check_round(cls, v: str) -> str:
        parse_period(v)
        return v

    def round_of(self, date: _dt.date) -> int:
        """The round an event dated ``date`` takes effect before.

        That is the first round starting on or after ``date``: something that
        happens during round r changes the bargaining from round r + 1 on
        (a date on or before ``start`` gives round 1).
        """
        r = 1
        try:
            while self.date_of(r) < date:
                r += 1
                if r > 100_000:  # pragma: no cover - absurd calendars
                    break
        except (OverflowError, ValueError):  # the calendar runs past year 9999 before reaching `date`
            pass
        return r

    def date_of(self, round_: int) -> _dt.date:
        """The date round ``round_`` starts."""
        n, unit = parse_period(self.round)
        k = (round_ - 1) * n
        if unit == "day":
            return self.start + _dt.timedelta(days=k)
        if unit == "week":
            return self.start + _dt.timedelta(weeks=k)
        months = k * (12 if unit == "year" else 1)
        y, m = divmod(self.start.month - 1 + months, 12)
        year, month = self.start.year + y, m + 1
        day = min(self.start.day, _days_in_month(year, month))
        return _dt.date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    nxt = _dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - _dt.timedelta(days=1)).day


def parse_period(text: str) -> tuple[int, str]:
    """Parse ``"1 month"`` / ``"2 weeks"`` / ``"10 days"`` / ``"1 year"`` into (n, unit)."""
    m = re.fullmatch(r"\s*(\d+)?\s*(day|week|month|year)s?\s*", str(text).lower())
    if not m or (m.group(1) is not None and int(m.group(1)) < 1):
        raise ValueError(f"round length {text!r} is not like '1 month', '2 weeks', '10 days' or '1 year'")
    return int(m.group(1) or 1), m.group(2)


# -- relations between parts -------------------------------------------------------
# The rules that relate several parts of a scenario. :class:`Scenario` checks them
# on every construction; :func:`detente.scenario.validate.validate` calls the same
# functions on the parts of a file that validated on their own, so that one broken
# actor does not hide the problems of the next. A found problem is a (path, reason)
# pair, the path in pydantic's location form (``("actors", 2, "positions", "scope")``).

Found = list[tuple[tuple[Any, ...], str]]


def issue_relations(issues: Sequence[tuple[int, Issue]], n_given: int | None) -> tuple[dict[str, Issue], Found]:
    """The issues by key, and duplicate keys or an empty list of issues."""
    found: Found = []
    by_key: dict[str, Issue] = {}
    for i, iss in issues:
        if iss.key in by_key:
            found.append((("issues", i, "key"), f"duplicate issue key {iss.key!r}"))
        else:
            by_key[iss.key] = iss
    if n_given == 0:
        found.append((("issues",), "a scenario needs at least one issue"))
    return by_key, found


def actor_relations(
    actors: Sequence[tuple[int, Actor]], issues: Mapping[str, Issue], scale: int, issues_known: bool
) -> tuple[dict[str, Actor], Found]:
    """The actors by key, and duplicate keys, capabilities that are not > 0, stances off their issue."""
    found: Found = []
    by_key: dict[str, Actor] = {}
    for i, a in actors:
        if a.key in by_key:
            found.append((("actors", i, "key"), f"duplicate actor key {a.key!r}"))
        by_key[a.key] = a
        found += capability_relations(("actors", i, "capability"), a.capability)
        found += stance_relations(i, a.positions, a.salience, issues, scale, issues_known)
    return by_key, found


def capability_relations(path: tuple[Any, ...], cap: Value) -> Found:
    """A capability (and its range) must be > 0."""
    if cap.value <= 0:
        return [(path, f"capability must be > 0, got {cap.value:g}")]
    if cap.low is not None and cap.low <= 0:
        return [(path, f"capability range must stay > 0, low is {cap.low:g}")]
    return []


def stance_relations(
    i: int, positions: Mapping[str, Value | None], salience: Mapping[str, Value | None],
    issues: Mapping[str, Issue], scale: int, issues_known: bool,
) -> Found:
    """Positions inside their issue's scale, saliences inside 0-scale, every issue covered.

    A value given as None was given but is invalid (and reported elsewhere).
    ``issues_known`` is False when every issue failed to validate (then an
    unknown issue is not reported: it may be one of them).
    """
    found: Found = []
    meant: dict[str, set[str]] = {"positions": set(), "salience": set()}  # issues a misspelt key stands for
    for what, given in (("positions", positions), ("salience", salience)):
        for k, v in given.items():
            if k not in issues:
                if issues_known:
                    near = suggest(k, [q for q in issues if q not in given])
                    if near is not None:
                        meant[what].add(near)
                    found.append((("actors", i, what, k), f"unknown issue {k!r}" + (f"; did you mean `{near}`?" if near else "")))
            elif v is not None and what == "positions":
                lo, hi = issues[k].scale
                bad = _first_outside(v, lo, hi)
                if bad is not None:
                    found.append((("actors", i, what, k),
                                  f"position {bad[0]} {bad[1]:g} is outside the scale [{lo:g}, {hi:g}] of issue {k!r}"))
            elif v is not None:
                bad = _first_outside(v, 0, scale)
                if bad is not None:
                    found.append((("actors", i, what, k),
                                  f"salience {bad[0]} {bad[1]:g} is outside 0-{scale} (salience_scale: {scale})"))
    for k in issues:
        if k not in positions and k not in meant["positions"]:
            found.append((("actors", i, "positions"), f"no position on issue {k!r}"))
        if k not in salience and k not in meant["salience"]:
            found.append((("actors", i, "salience"), f"no salience on issue {k!r}"))
    return found


def _first_outside(v: Value, lo: float, hi: float) -> tuple[str, float] | None:
    for what, x in (("value", v.value), ("low", v.low), ("high", v.high)):
        if x is not None and not lo <= x <= hi:
            return what, x
    return None


def actor_count_relations(n_given: int | None) -> Found:
    """A negotiation needs at least two actors."""
    if n_given is not None and n_given < 2:
        return [(("actors",), f"a negotiation needs at least 2 actors, found {n_given}")]
    return []


def event_relations(
    events: Sequence[tuple[int, Event]], issues: Mapping[str, Issue], actors: Mapping[str, Any] | None,
    scale: int, has_calendar: bool,
) -> Found:
    """Duplicate keys, unknown actors and issues, changes off their scale, dates without a calendar.

    ``actors`` is None when every actor failed to validate (then an unknown
    actor is not reported: it may be one of them).
    """
    found: Found = []
    seen: set[str] = set()
    for i, ev in events:
        at = ("events", i)
        if ev.key in seen:
            found.append(((*at, "key"), f"duplicate event key {ev.key!r}"))
        seen.add(ev.key)
        if ev.actor is not None and actors is not None and ev.actor not in actors:
            found.append(((*at, "actor"), f"unknown actor {ev.actor!r}" + did_you_mean(ev.actor, actors)))
        for k, x in ev.changes.positions.items():
            if k not in issues:
                found.append(((*at, "changes", "positions", k), f"unknown issue {k!r}" + did_you_mean(k, issues)))
            elif not issues[k].scale[0] <= x <= issues[k].scale[1]:
                lo, hi = issues[k].scale
                found.append(((*at, "changes", "positions", k), f"position {x:g} is outside the scale [{lo:g}, {hi:g}]"))
        for k, x in ev.changes.salience.items():
            if k not in issues:
                found.append(((*at, "changes", "salience", k), f"unknown issue {k!r}" + did_you_mean(k, issues)))
            elif not 0 <= x <= scale:
                found.append(((*at, "changes", "salience", k), f"salience {x:g} is outside 0-{scale}"))
        if ev.changes.capability is not None and ev.changes.capability <= 0:
            found.append(((*at, "changes", "capability"), f"capability must be > 0, got {ev.changes.capability:g}"))
        if ev.date is not None and ev.round is None and not has_calendar:
            found.append(((*at, "date"),
                          "an event placed on a date needs the scenario's `calendar` (start and round length)"))
    return found


def record_relations(record: Record | None, issues: Mapping[str, Issue], event_keys: set[str] | None,
                     date: _dt.date | None, issues_known: bool = True) -> Found:
    """A record names known issues and events, each outcome inside its issue's scale, dated after the scenario.

    ``event_keys`` is None when some event failed to validate, and
    ``issues_known`` False when some issue did (then an unknown event or issue
    is not reported: it may be one of them).
    """
    found: Found = []
    if record is None:
        return found
    for k, out in record.issues.items():
        at = ("record", "issues", k)
        if k not in issues:
            if issues_known:
                found.append((at, f"unknown issue {k!r}; issues: {', '.join(issues) or 'none'}"))
            continue
        lo, hi = issues[k].scale
        if not lo <= out.value <= hi:
            found.append(((*at, "value"), f"outcome {out.value:g} is outside the scale [{lo:g}, {hi:g}] of issue {k!r}"))
    for k in record.events:
        if event_keys is not None and k not in event_keys:
            known = ", ".join(sorted(event_keys)) or "none"
            found.append((("record", "events", k), f"unknown event {k!r}; events: {known}"))
    if date is not None:
        dated = [(("record", "issues", k, "date"), o.date) for k, o in record.issues.items()]
        dated += [(("record", "events", k, "date"), e.date) for k, e in record.events.items()]
        for path, d in dated:
            if d is not None and d < date:
                found.append((path, f"recorded on {d.isoformat()}, before the scenario's date {date.isoformat()}: "
                                    "a record is what happened after the forecast"))
    return found


def relation_error(title: str, found: Found) -> ValidationError:
    """The found problems as one pydantic error, each at its path."""
    return ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("relation", "{reason}", {"reason": reason}), loc=path, input=None)
        for path, reason in found
    ])


def bad_numbers(x: Any) -> Found:
    """Every float in ``x`` (nested dicts and lists) that is not finite or is beyond ``max_magnitude``, with its path."""
    cap = limit("max_magnitude")
    out: Found = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), x)]
    while stack:
        path, y = stack.pop()
        if isinstance(y, dict):
            stack.extend((path + (k,), v) for k, v in y.items())
        elif isinstance(y, list):
            stack.extend((path + (i,), v) for i, v in enumerate(y))
        elif isinstance(y, float) and not (math.isfinite(y) and abs(y) <= cap):
            out.append((path, f"must be a finite number, got {y}" if not math.isfinite(y) else over_limit("max_magnitude", f"{y:g}")))
    return sorted(out, key=lambda t: str(t[0]))


def _check_rounds(v: int) -> int:
    if v < 1:
        raise ValueError("must be at least 1")
    if v > limit("max_rounds"):
        raise ValueError(over_limit("max_rounds", f"{v:g} rounds"))
    return v


#: A horizon: at least one round, at most ``max_rounds``.
Rounds = Annotated[int, AfterValidator(_check_rounds)]


class ModelChoice(_Strict):
    """The model a scenario recommends, with its parameters and seed."""

    name: str = DEFAULT_MODEL  # the documented fallback (detente.engine.resolve_model)
    params: FrozenMap[str, Any] = Field(default_factory=FrozenDict)
    seed: int | None = Field(default=None, ge=0, lt=2**64)

    @field_validator("params")
    @classmethod
    def _check_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        # Every number field of the schema checks finiteness and magnitude itself; parameters are free-form.
        found = bad_numbers(v)
        if found:
            raise relation_error("ModelChoice.params", found)
        return v


#: Every Scenario that went through validation, by id (a value built by ``model_copy`` or
#: ``model_construct`` skipped it, and :func:`detente.load` validates such a value again).
_VALIDATED: weakref.WeakValueDictionary[int, "Scenario"] = weakref.WeakValueDictionary()


class Scenario(_Strict):
    """A negotiation, fully described and validated.

    Build one with :func:`detente.load` (from a file or a dict). Salience
    values are kept on the file's scale (``salience_scale``: 100 or 1) and
    divided at :meth:`to_inputs`.

    Frozen, and validated whole on every construction: ``Scenario(...)``,
    ``Scenario.model_validate`` (also of a Scenario, which is validated again),
    :func:`detente.load` and :meth:`with_changes` run the same rules.
    """

    model_config = ConfigDict(revalidate_instances="always")

    name: str
    description: str = ""
    date: _dt.date | None = None
    sources: Frozen[str] = Field(default_factory=FrozenList)
    calendar: Calendar | None = None
    rounds: Rounds | None = Field(default=None, description="Horizon: how many rounds to simulate.")
    salience_scale: Literal[1, 100] = 100
    issues: Frozen[Issue]
    actors: Frozen[Actor]
    events: Frozen[Event] = Field(default_factory=FrozenList)
    model: ModelChoice | None = None
    record: Record | None = None
    source_file: str | None = Field(default=None, exclude=True)
    reading_notes: Frozen[str] = Field(default_factory=FrozenList, exclude=True,
                                       description="What the reader noted: a guessed encoding, a column mapped or ignored.")

    @field_validator("issues", "actors", "events")
    @classmethod
    def _check_count(cls, v: list[Any], info: Any) -> list[Any]:
        name = f"max_{info.field_name}"
        if len(v) > limit(name):
            raise ValueError(over_limit(name, f"{len(v)} {info.field_name}"))
        return v

    @model_validator(mode="after")
    def _check_relations(self) -> "Scenario":
        issues, found = issue_relations(list(enumerate(self.issues)), len(self.issues))
        actors, more = actor_relations(list(enumerate(self.actors)), issues, self.salience_scale, True)
        found += more + actor_count_relations(len(self.actors))
        found += event_relations(list(enumerate(self.events)), issues, actors, self.salience_scale, self.calendar is not None)
        found += record_relations(self.record, issues, {e.key for e in self.events}, self.date)
        if found:
            raise relation_error("Scenario", found)
        _VALIDATED[id(self)] = self
        return self

    @property
    def validated(self) -> bool:
        """Whether this very value went through validation (not built by ``model_copy`` or ``model_construct``)."""
        return _VALIDATED.get(id(self)) is self

    def with_changes(self, **update: Any) -> "Scenario":
        """A new scenario with the given fields replaced, validated like any other.

        The way to build a changed scenario (``model_copy(update=...)`` would skip
        validation). Raises :class:`pydantic.ValidationError` when the result is invalid.
        """
        unknown = set(update) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"Scenario has no field {sorted(unknown)[0]!r}")
        return type(self).model_validate({**dict(self), **update})

    # -- lookups -----------------------------------------------------------
    @property
    def actor_keys(self) -> list[str]:
        return [a.key for a in self.actors]

    @property
    def issue_keys(self) -> list[str]:
        return [i.key for i in self.issues]

    def actor(self, key: str) -> Actor:
        for a in self.actors:
            if a.key == key:
                return a
        raise KeyError(key)

    def issue(self, key: str) -> Issue:
        for i in self.issues:
            if i.key == key:
                return i
        raise KeyError(key)

    def event_round(self, ev: Event) -> int:
        """The round an event takes effect before (dates placed via the calendar)."""
        if ev.round is not None:
            return ev.round
        assert ev.date is not None and self.calendar is not None
        return self.calendar.round_of(ev.date)

    def warnings(self) -> list[Any]:
        """What is valid but probably not meant, as :class:`~detente.errors.Problem` rows (never an error):
        an event after the scenario's last round, which no run plays."""
        from ..errors import Problem

        out = []
        if self.rounds is not None:
            for ev in self.events:
                r = self.event_round(ev)
                if r > self.rounds:
                    out.append(Problem(self.source_file, None, f"events[{ev.key}].round",
                                       f"round {r} is after the scenario's last round ({self.rounds}): the event is "
                                       "never part of a run; move it inside the horizon or raise `rounds`"))
        return out

    # -- conversions ---------------------------------------------------------
    def to_inputs(self, **kw: Any):
        """The scenario's point values as model :class:`~detente.models.base.Inputs` (B = 1).

        Actors that only ``join`` later start inactive.
        """
        from .arrays import to_inputs

        return to_inputs(self, **kw)

    def _repr_html_(self) -> str:
        """The scenario as HTML tables (Jupyter shows it so); every text is escaped."""
        from .html import scenario_html

        return scenario_html(self)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that :func:`detente.load` reads back to an equal scenario."""
        from .writers import scenario_to_dict

        return scenario_to_dict(self)
