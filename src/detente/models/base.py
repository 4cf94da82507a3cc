"""The one small protocol every detente model follows.

A model is a module of pure functions over numpy arrays. Everything above
``detente.models`` (the simulation runner, Monte Carlo, sensitivity, advice,
comparison, backtests, reports, the CLI and the web app) reaches a model only
through the names documented here, looked up by registry name with
:func:`detente.models.get`; no layer above names a particular model or reads
its ``extras``/``info`` arrays. :func:`detente.models.check_model` checks a
module against this protocol (see ``docs/models/protocol.md``).

Required
--------
``NAME`` : str
    The registry name (``"compromise"``, ``"bdm"``, ...).
``SUMMARY`` : str
    One line for ``detente models``.
``CITATION`` : str
    Where the model comes from.
``Params`` : subclass of :class:`ModelParams`
    Every parameter with its default; frozen, and unknown parameters are
    rejected (``extra="forbid"``), so a typo in ``--param`` is an error, not a
    silently ignored value. ``Params()`` must be valid.
``DYNAMIC`` : bool
    True for a model that plays rounds. Its ``Params`` then has an integer
    field ``rounds``, the most rounds one call of ``run`` plays: the runner
    (:mod:`detente.simulate`) sets it to the scenario's horizon and plays a
    run in segments between events, passing the previous segments'
    positions in ``Inputs.past`` and the starting spread in ``Inputs.span``.
    False for a model that forecasts a scenario as it stands (after the
    events within the horizon); such a model ignores ``span`` and ``past``.
``ROUND_RECORDS`` : dict of str -> scalar, for a ``DYNAMIC`` model
    The ``extras`` that record what happened *during* a round (a challenge,
    a move) rather than the state after it, each with its value for "nothing
    happened" (``{}`` when the model has none). Wherever the runner holds a
    draw still (a run that stopped before the rounds asked for, a draw past
    its deadline) it repeats the state and fills these with that value.
``run(inputs, params) -> Trajectory``
    Runs the B independent draws of :class:`Inputs` at once (the leading
    batch axis). Each draw's result equals running that draw alone (with its
    own ``seed``), and an inactive actor is exactly a removed one. Raises
    :class:`ModelInputError` (and nothing else) when the inputs lack
    something the model needs. The returned :class:`Trajectory` carries
    ``extras["active"]`` (see there).

Optional
--------
``COUPLES_ISSUES`` : bool, default False
    True for a model whose forecast of one issue depends on the other issues
    (e.g. ``exchange``); a backtest then runs each proposal as one
    multi-issue scenario instead of each issue alone.
``ROUNDS_PARAM`` : str, default none
    For a model that is not ``DYNAMIC`` (the runner does not play its
    rounds) but iterates inside one run all the same (``exchange``'s
    ``passes``): the name of the integer parameter that sets how many
    rounds it plays. The stability diagnostics (:mod:`detente.stability`)
    vary it as they vary a dynamic model's ``rounds``.
``ROUNDS_ONLY_STOP`` : bool, default False
    True for a model whose rounds parameter (``rounds``, or ``ROUNDS_PARAM``)
    only stops the play: nothing in a round depends on how many rounds are
    left, and a stochastic model draws its numbers round by round. A run
    given L rounds, cut after round k <= L, then has the positions, forecasts
    and extras of the run given k rounds (checked by the conformance suite,
    ``rounds_only_stop``), so one run to the furthest horizon stands for every
    shorter one: the stability diagnostics (:mod:`detente.stability`) and the
    Monte Carlo median's stability read nearby horizons off one run instead
    of playing each.
``TRUNCATE_INFO`` : dict of str -> value, for a ``ROUNDS_ONLY_STOP`` model
    Declares that the whole trajectory of a run given k rounds, ``info``
    included, reads off a run of the same inputs given more rounds
    (:func:`truncate`): the positions, forecasts and extras of rounds 0..k,
    ``rounds`` capped at k, and every ``info`` array of this dict reset, in
    the rows that played more than k rounds, to what a run stopped by its
    rounds reports: the value given (e.g. ``0`` or ``False``), ``"rounds"``
    (k, the rounds played) or ``"final"`` (the forecast after round k). A
    row is a draw, or a draw and issue for an info array of shape (B, D)
    where the model reports ``info["issue_rounds"]``; info arrays not named
    do not depend on the rounds. The conformance suite checks the result
    bit for bit against the run given k rounds (``truncate``), so one run to
    the stability check's horizon gives the forecast too
    (:func:`detente.simulate.simulate_prefix`).
``run_forecasts(inputs, params, every_round=True) -> Trajectory``
    ``run``'s forecasts, ``rounds`` and ``info``, bit for bit, without the
    rest of its history: ``position`` holds the final state alone (shape
    (B, 1, n, D)) and ``extras`` is empty; with ``every_round=False``,
    ``forecast`` holds only the first and the last state's (B, 2, D), so
    a model need not compute a forecast at the states between. The runner
    calls it instead of ``run`` where only the forecasts are read (Monte
    Carlo, sensitivity: :func:`detente.simulate.simulate_forecasts`; an
    analysis that reads the final forecasts only, as Sobol's, asks for two
    states), so a model need not build round-by-round records nobody reads:
    a ``DYNAMIC`` model's per segment, a static model's once in place of
    ``run``. A dynamic model's then gets no ``Inputs.past`` (a model that
    reads ``past`` does not define this hook). Without the hook the runner
    calls ``run`` and drops the history (checked by the conformance suite,
    ``forecasts_only``).
``notes(traj, b, actors, issues) -> list[str]``
    What a reader must know about draw ``b`` of this run, in sentences:
    above all a fallback and why (``nash`` returns the status quo when no
    point is better than it for every stakeholder, and says which actor
    sits at it). A model that falls back says so here; the forecast's notes
    carry these sentences to every output. Unlike the other hooks, ``actors``
    and ``issues`` are the display names (a note is read by people).
``BACKTEST_VARIANTS`` : sequence of dict, default none
    Parameter sets of named variants a default backtest scores beside the
    model's defaults, each under its own label (e.g. ``exchange``'s
    ``({"variant": "greedy"},)`` is reported as ``exchange(variant=greedy)``),
    so that earlier results stay reproducible when a default changes.
``moves(traj, b, t, actors, issues) -> list[Move]``
    The moves of round ``t`` of draw ``b`` (none for ``t = 0``), one
    :data:`Move` per actor and issue whose position changed, in one shape
    for every model: who moved, on which issue, from where to where, because
    of whom, and why in words. The JSON history lists them under ``moves``
    and the report's "who moved whom" table is built from them.
``render_round(traj, b, t, actors, issues) -> dict``
    Further model-specific fields of round ``t`` of draw ``b`` for the JSON
    history (e.g. BDM's risk exponents, SMP's challenges), JSON-serialisable.
    Never a ``moves`` key: moves come from ``moves``.
``summarize(traj, b, issues) -> dict[str, dict]``
    Diagnostics: extra per-issue fields of draw ``b`` for ``issues[KEY]``
    in the JSON result (e.g. BDM's cycle length and range, SMP's cluster
    distribution), JSON-serialisable. Never renames the contract's fields.
``perspective(inputs, params) -> Perspective``
    How each actor sees each rival at the starting positions (BDM's
    expected-utility quadrants): drawn by the report as one panel per actor.
``warmup() -> bool``
    Compile the model's kernels into their on-disk cache (``detente
    warmup``); True when it compiled something.
``CONFORMANCE_PARAMS`` : sequence of dict, default ``({},)``
    Parameter sets the conformance suite runs the model with (e.g. each
    variant, or stochastic transitions), besides the defaults.
``conformance_exceptions(params) -> dict[str, str]``
    Checks of :mod:`detente.models.conformance` the model is documented not
    to pass with these parameters, each with the reason (e.g. random numbers
    drawn in actor order).
``cost(n, D, params) -> Cost``
    What one run of ``run`` costs for n actors and D issues with these
    ``params`` (for a model with rounds, ``params.rounds`` is the number of
    rounds of the run): :class:`Cost` gives the arithmetic per draw, the
    peak bytes ``run`` holds per draw (its inputs' copies, its working
    arrays and the :class:`Trajectory` it returns) and any bytes held once
    per call whatever the batch size. The estimate is an upper bound of the
    peak traced memory (checked with ``tracemalloc`` in the tests) within a
    small factor. The compute budget (:mod:`detente.budget`) uses it to
    refuse a run before it starts and to size the chunks of draws. A model
    without it gets :func:`default_cost` (from the size of its trajectory).
The rounds cap (:data:`MAX_ROUNDS` of this module, not a model's name)
    Every model's ``rounds`` (or ``passes``) parameter is capped at
    :data:`MAX_ROUNDS`; the budget's ``max_rounds`` (default lower, raised
    with ``--max-rounds``) bounds a run's horizon below that.

Rules for the hooks: ``actors`` and ``issues`` are the scenario's keys in
array order; round ``t`` of a hook's output mentions only the actors taking
part in round ``t`` (``traj.active_at(b, t)``); every value is a plain
Python value (no numpy scalars), so the result serialises to JSON as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict


class ModelParams(BaseModel):
    """Base class of every model's ``Params``: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: The hard cap on any model's rounds (``Params.rounds`` / ``passes``); the compute
#: budget's ``max_rounds`` (see :mod:`detente.budget`) is a lower, adjustable bound.
MAX_ROUNDS = 100_000

#: Bytes of one float64.
F8 = 8
#: Small temporaries of any model call (index arrays, per-issue scalars), whatever its size.
CALL_BYTES = 32 * 1024


@dataclass(frozen=True)
class Cost:
    """What one model run costs, from its sizes (see the ``cost`` hook of the protocol).

    Attributes
    ----------
    flops_per_draw : float
        Arithmetic operations per draw (an order of magnitude: the budget
        turns it into seconds at :data:`detente.budget.OPS_PER_SECOND`).
    bytes_per_draw : float
        Peak bytes held per draw while ``run`` works, including the
        trajectory it returns.
    bytes_fixed : float
        Peak bytes held once per call (per-thread workspaces), whatever the
        batch size.
    """

    flops_per_draw: float
    bytes_per_draw: float
    bytes_fixed: float = 0.0

    def bytes(self, draws: int) -> float:
        """Peak bytes of one call over ``draws`` draws (with :data:`CALL_BYTES` of small temporaries)."""
        return CALL_BYTES + self.bytes_fixed + draws * self.bytes_per_draw


def trajectory_bytes(n: int, D: int, rounds: int = 0) -> float:
    """Bytes of a :class:`Trajectory`'s ``position`` and ``forecast`` per draw for ``rounds`` rounds."""
    return (rounds + 1) * (n * D + D) * F8


def default_cost(n: int, D: int, params: Any = None) -> Cost:
    """The cost of a model that does not state its own.

    A static model (no ``rounds``) holds its inputs, a handful of (n, D)
    temporaries and a one-state trajectory: counted as 16 arrays of n x D
    floats per draw (the shipped static models measure between 2 and 11).
    A model with rounds keeps 4 arrays of its trajectory's size (position,
    and extras of the same shape) plus that.
    """
    rounds = int(getattr(params, "rounds", 0) or 0)
    per = 16 * n * D * F8 + 4 * trajectory_bytes(n, D, rounds)
    return Cost(flops_per_draw=50.0 * n * D * (rounds + 1), bytes_per_draw=per)


def model_cost(model: Any, n: int, D: int, params: Any) -> Cost:
    """``model.cost(n, D, params)`` where the model states it, else :func:`default_cost`."""
    fn = getattr(model, "cost", None)
    return fn(n, D, params) if fn is not None else default_cost(n, D, params)


@dataclass(frozen=True)
class Inputs:
    """A batch of B scenarios of the same shape, as plain arrays.

    Shapes: B draws, n actors, D issues (dimensions).

    Attributes
    ----------
    position : ndarray, shape (B, n, D)
        Positions on each issue's own scale (not normalised).
    salience : ndarray, shape (B, n, D)
        Saliences on the 0-1 scale.
    capability : ndarray, shape (B, n)
        Capabilities (> 0 for active actors; only ratios matter).
    active : ndarray of bool, shape (B, n)
        False for an actor that is absent in that draw (has not joined yet, or
        has left). A model must give exactly the result it would give with the
        inactive actors removed.
    low, high : ndarray, shape (D,)
        Each issue's scale.
    status_quo : ndarray, shape (D,)
        Each issue's status quo / reference point, NaN where none is given.
    seed : ndarray of uint64, shape (B,)
        One seed per draw for stochastic models, so that a draw's result does
        not depend on which chunk it ran in.
    span : ndarray, shape (B, D), optional
        The reference span of each issue for models that normalise distances
        by the initial spread; None = compute from these positions.
    past : ndarray, shape (B, P, n, D), optional
        The positions of the P rounds before these inputs in the same run,
        oldest first (set by the runner when it plays a run in segments
        between events; NaN where an event has changed the draw since). A
        model that stops on a repeated state compares against these too, so
        a segment boundary does not hide a cycle.
    """

    position: np.ndarray
    salience: np.ndarray
    capability: np.ndarray
    active: np.ndarray
    low: np.ndarray
    high: np.ndarray
    status_quo: np.ndarray
    seed: np.ndarray
    span: np.ndarray | None = None
    past: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(B, n, D)``."""
        return self.position.shape

    @classmethod
    def build(
        cls,
        position: Any,
        salience: Any,
        capability: Any,
        *,
        active: Any = None,
        low: Any = None,
        high: Any = None,
        status_quo: Any = None,
        seed: Any = None,
    ) -> "Inputs":
        """Build inputs from array-likes, adding missing axes.

        ``position`` and ``salience`` may be given as (n,), (n, D) or
        (B, n, D); ``capability`` as (n,) or (B, n). Missing scales default to
        the range of the positions.
        """
        pos = np.asarray(position, dtype=float)
        if pos.ndim == 1:
            pos = pos[:, None]
        if pos.ndim == 2:
            pos = pos[None]
        B, n, D = pos.shape
        sal = np.broadcast_to(_expand(np.asarray(salience, dtype=float), 3), (B, n, D)).copy()
        cap = np.broadcast_to(_expand(np.asarray(capability, dtype=float), 2), (B, n)).copy()
        act = (
            np.ones((B, n), dtype=bool)
            if active is None
            else np.broadcast_to(_expand(np.asarray(active, dtype=bool), 2), (B, n)).copy()
        )
        lo = pos.min(axis=(0, 1)) if low is None else np.broadcast_to(np.asarray(low, float), (D,)).copy()
        hi = pos.max(axis=(0, 1)) if high is None else np.broadcast_to(np.asarray(high, float), (D,)).copy()
        sq = (
            np.full(D, np.nan)
            if status_quo is None
            else np.broadcast_to(np.asarray(status_quo, float), (D,)).copy()
        )
        sd = np.arange(B, dtype=np.uint64) if seed is None else np.asarray(seed, dtype=np.uint64).reshape(B)
        return cls(pos, sal, cap, act, lo, hi, sq, sd)

    def take(self, idx: Any) -> "Inputs":
        """The sub-batch ``idx`` (an index array or slice over the batch axis)."""
        return Inputs(
            self.position[idx],
            self.salience[idx],
            self.capability[idx],
            self.active[idx],
            self.low,
            self.high,
            self.status_quo,
            self.seed[idx],
            None if self.span is None else self.span[idx],
            None if self.past is None else self.past[idx],
        )

    def weights(self) -> np.ndarray:
        """Capability x salience, zero for inactive actors, shape (B, n, D)."""
        return self.capability[:, :, None] * self.salience * self.active[:, :, None]


def _expand(a: np.ndarray, ndim: int) -> np.ndarray:
    """Prepend a batch axis (and append an issue axis for 3-d) as needed."""
    if ndim == 3:
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim == 2:
            a = a[None]
    elif ndim == 2 and a.ndim == 1:
        a = a[None]
    return a


@dataclass
class Trajectory:
    """What every model returns, for a batch of B draws.

    Attributes
    ----------
    position : ndarray, shape (B, T + 1, n, D)
        Every actor's position on every issue at rounds 0..T (round 0 is the
        input). A draw that stopped early repeats its final state.
    forecast : ndarray, shape (B, T + 1, D)
        The model's forecast of each issue after each round. The final
        forecast is ``forecast[:, -1]``.
    rounds : ndarray of int, shape (B,)
        The number of rounds each draw actually ran (0 for static models).
    extras : dict of str -> ndarray
        Arrays with a leading (B, T + 1) shape, one value per round. One key
        is part of the protocol, the rest are the model's own, read only by
        its hooks:

        ``active`` : ndarray of bool, shape (B, T + 1, n)
            Who takes part in each round. A model copies ``inputs.active``
            to every round; the runner, which plays a run in segments between
            events, concatenates the segments' (an actor that joins at round
            3 is inactive in rounds 0-2). Hooks read it through
            :meth:`active_at`.
    info : dict of str -> ndarray
        Per-draw summaries, each with leading axis B, describing the end of
        the run (the runner keeps the last segment's). One key is part of
        the protocol:

        ``issue_rounds`` : ndarray of int, shape (B, D), optional
            For a model whose issues stop independently (each converges or
            cycles on its own): the rounds each issue played. The runner
            then holds each stopped issue where it stopped until an event
            changes the draw, and sums the counts over segments.
    """

    position: np.ndarray
    forecast: np.ndarray
    rounds: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def final(self) -> np.ndarray:
        """The final forecast, shape (B, D)."""
        return self.forecast[:, -1]

    def active_at(self, b: int, t: int) -> np.ndarray:
        """Who takes part in round ``t`` of draw ``b``, shape (n,) of bool."""
        act = self.extras.get("active")
        if act is None:  # a trajectory built by hand, outside a model's run
            return np.ones(self.position.shape[2], dtype=bool)
        return act[b, t]

    @staticmethod
    def active_rounds(inputs: Inputs, T: int) -> np.ndarray:
        """``inputs.active`` for each of rounds 0..T, shape (B, T + 1, n): a model's ``extras["active"]``."""
        return np.repeat(np.asarray(inputs.active, dtype=bool)[:, None], T + 1, axis=1)

    @classmethod
    def static(cls, inputs: Inputs, forecast: np.ndarray, **info: np.ndarray) -> "Trajectory":
        """A one-state trajectory for a model without rounds."""
        B = inputs.shape[0]
        return cls(
            position=inputs.position[:, None].copy(),
            forecast=np.asarray(forecast, dtype=float)[:, None],
            rounds=np.zeros(B, dtype=int),
            extras={"active": cls.active_rounds(inputs, 0)},
            info=dict(info),
        )

    def take(self, idx: Any) -> "Trajectory":
        """The sub-batch ``idx``."""
        return Trajectory(
            self.position[idx],
            self.forecast[idx],
            self.rounds[idx],
            {k: v[idx] for k, v in self.extras.items()},
            {k: v[idx] for k, v in self.info.items()},
        )


def truncate(model: Any, traj: Trajectory, k: int) -> Trajectory:
    """The trajectory ``model.run`` returns given ``k`` rounds, read off ``traj``, a run of the same inputs
    given more (a model that declares ``TRUNCATE_INFO``; see the module docstring). New arrays throughout.

    Raises
    ------
    ValueError
        For a model that does not declare ``TRUNCATE_INFO`` (and ``ROUNDS_ONLY_STOP``).
    """
    spec = getattr(model, "TRUNCATE_INFO", None)
    if spec is None or not getattr(model, "ROUNDS_ONLY_STOP", False):
        raise ValueError(f"{getattr(model, 'NAME', model)} does not declare TRUNCATE_INFO and ROUNDS_ONLY_STOP")
    k = int(k)
    T = min(traj.position.shape[1] - 1, k)  # a run stopped by itself before k rounds may be shorter
    rounds = np.minimum(traj.rounds, k)
    per_issue = traj.info.get("issue_rounds")
    B = traj.position.shape[0]
    info: dict[str, np.ndarray] = {}
    for name, value in traj.info.items():
        a = np.array(value, copy=True)
        if name in spec:
            by_issue = per_issue is not None and a.shape == np.shape(per_issue)
            played = np.asarray(per_issue) if by_issue else traj.rounds.reshape((B,) + (1,) * (a.ndim - 1))
            over = np.broadcast_to(played > k, a.shape)
            how = spec[name]
            if isinstance(how, str) and how == "rounds":
                fill: Any = k
            elif isinstance(how, str) and how == "final":
                fill = traj.forecast[:, T] if by_issue else traj.forecast[:, T].reshape(a.shape)
            else:
                fill = how
            a = np.where(over, fill, a).astype(a.dtype, copy=False)
        info[name] = a
    return Trajectory(
        traj.position[:, : T + 1].copy(),
        traj.forecast[:, : T + 1].copy(),
        rounds.astype(traj.rounds.dtype, copy=False),
        {name: v[:, : T + 1].copy() for name, v in traj.extras.items()},
        info,
    )


#: One move of one actor on one issue in one round, the same shape for every model
#: (``moves`` hook). Keys: ``actor`` and ``issue`` (keys), ``from`` and ``to`` (positions
#: before and after the round, on the issue's scale), ``counterpart`` (the actor whose
#: offer, trade or bargain made the move, or None), ``kind`` (the model's word for the
#: move, e.g. ``"compromise"`` or ``"trade"``) and ``why`` (one line for people, e.g.
#: ``"compromise with France"``). A model may add keys of its own.
Move = TypedDict(
    "Move",
    {"actor": str, "issue": str, "from": float, "to": float, "counterpart": "str | None", "kind": str, "why": str},
)


@dataclass(frozen=True)
class Perspective:
    """How each actor sees each rival at the starting positions (``perspective`` hook).

    The report draws one panel per actor i, with each rival j a point at
    ``(x[b, i, j, d], y[b, i, j, d])`` of issue d.

    Attributes
    ----------
    title : str
        What the map is, for a chart title after the issue's name (e.g.
        ``"expected-utility quadrants"``).
    description : str
        One or two sentences for the report's section.
    x, y : ndarray, shape (B, n, n, D)
        ``x[b, i, j, d]``: actor i's own stake against rival j; ``y``: i's
        view of j's stake against i. NaN on the diagonal and for every pair
        with an actor not taking part; finite elsewhere.
    x_label, y_label : str
        Axis labels; ``{actor}`` is replaced by the panel's actor key.
    quadrants : tuple of 4 str
        What the quadrants mean: (x > 0, y > 0), (x > 0, y < 0),
        (x < 0, y > 0), (x < 0, y < 0).
    """

    title: str
    description: str
    x: np.ndarray
    y: np.ndarray
    x_label: str
    y_label: str
    quadrants: tuple[str, str, str, str]


@runtime_checkable
class Model(Protocol):
    """The required part of a model module (see the module docstring for the optional hooks).

    ``isinstance(module, Model)`` checks only that the names exist;
    :func:`detente.models.check_model` checks what they do.
    """

    NAME: str
    SUMMARY: str
    CITATION: str
    DYNAMIC: bool
    Params: type[ModelParams]

    def run(self, inputs: Inputs, params: ModelParams) -> Trajectory: ...


class ModelInputError(ValueError):
    """The scenario lacks something a model needs (e.g. a status quo for ``nash``).

    Raised before any computation, with a message meant for the user.
    """
