"""The scenario's typed schema (pydantic v2).

A scenario is one validated value. Field-level rules (types, finiteness,
ranges of a single value) live on these models; rules that relate several
parts of a scenario (keys that must exist, positions inside their issue's
scale) live in :mod:`detente.scenario.validate`, which reports every problem
of a file at once.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._parse import check_magnitude, limit

KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


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
        if isinstance(data, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(data, (int, float)):
            return {"value": data}
        if isinstance(data, str):
            try:
                return {"value": float(data)}
            except ValueError:
                raise ValueError(f"expected a number (or a mapping with value, low, high, why), got {data!r}") from None
        if not isinstance(data, dict):
            raise ValueError(f"expected a number (or a mapping with value, low, high, why), got {data!r}")
        return data

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

    def compact(self) -> float | dict[str, Any]:
        """The shortest equivalent form for writing back to a file."""
        d = self.model_dump(exclude_none=True)
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
    labels: dict[float, str] = Field(default_factory=dict)
    status_quo: float | None = None
    thresholds: list[Threshold] = Field(default_factory=list)

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
        """The label of the scale point nearest to ``x`` (empty if no labels)."""
        if not self.labels:
            return ""
        k = min(self.labels, key=lambda p: abs(p - x))
        return self.labels[k]


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
    positions: dict[str, Value] = Field(default_factory=dict)
    salience: dict[str, Value] = Field(default_factory=dict)

    @field_validator("color")
    @classmethod
    def _check_color(cls, v: str | None) -> str | None:
        if v is not None and not is_color(v):
            raise ValueError("a colour is #rgb, #rrggbb or a CSS colour name such as 'teal'")
        return v


class Changes(_Strict):
    """What an event changes (only the fields given change)."""

    capability: float | None = None
    positions: dict[str, float] = Field(default_factory=dict)
    salience: dict[str, float] = Field(default_factory=dict)

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

    @model_validator(mode="after")
    def _check(self) -> "Event":
        if not self.key:
            self.key = default_event_key(self.name, self.type, self.actor)
        if self.round is None and self.date is None:
            raise ValueError("an event needs a `round` or a `date`")
        if self.type != "deadline" and not self.actor:
            raise ValueError(f"a `{self.type}` event needs an `actor`")
        if self.type == "change" and not (
            self.changes.capability is not None or self.changes.positions or self.changes.salience
        ):
            raise ValueError("a `change` event needs `changes` (capability, positions or salience)")
        if not self.name:
            self.name = self.key
        return self


def default_event_key(name: Any, type_: Any, actor: Any) -> str:
    """The key an event gets when it has none: a slug of its name (or type and actor)."""
    base = str(name or f"{type_}-{actor or ''}")
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", base).strip("-").lower() or str(type_)


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


class ModelChoice(_Strict):
    """The model a scenario recommends, with its parameters and seed."""

    name: str = "compromise"
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(default=None, ge=0, lt=2**64)


class Scenario(_Strict):
    """A negotiation, fully described and validated.

    Build one with :func:`detente.load` (from a file or a dict). Salience
    values are kept on the file's scale (``salience_scale``: 100 or 1) and
    divided at :meth:`to_inputs`.
    """

    name: str
    description: str = ""
    date: _dt.date | None = None
    sources: list[str] = Field(default_factory=list)
    calendar: Calendar | None = None
    rounds: int | None = Field(default=None, ge=1, description="Horizon: how many rounds to simulate.")
    salience_scale: Literal[1, 100] = 100
    issues: list[Issue]
    actors: list[Actor]
    events: list[Event] = Field(default_factory=list)
    model: ModelChoice | None = None
    source_file: str | None = Field(default=None, exclude=True)

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

    # -- conversions ---------------------------------------------------------
    def to_inputs(self, **kw: Any):
        """The scenario's point values as model :class:`~detente.models.base.Inputs` (B = 1).

        Actors that only ``join`` later start inactive.
        """
        from .arrays import to_inputs

        return to_inputs(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that :func:`detente.load` reads back to an equal scenario."""
        from .io import scenario_to_dict

        return scenario_to_dict(self)
