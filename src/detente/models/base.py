"""The one small protocol every detente model follows.

A model is a module of pure functions over numpy arrays. It exposes:

``NAME``
    The registry name (``"compromise"``, ``"bdm"``, ...).
``SUMMARY``
    One line for ``detente models``.
``CITATION``
    Where the model comes from.
``Params``
    A frozen pydantic model holding every parameter with its default. Unknown
    parameters are rejected (``extra="forbid"``), so a typo in ``--param`` is an
    error, not a silently ignored value.
``run(inputs, params) -> Trajectory``
    Runs B independent scenarios of the same shape at once (the leading batch
    axis of every array in :class:`Inputs`). Per-draw results equal running each
    draw alone.
``render_round(traj, b, t, actors, issues) -> dict`` (optional)
    Model-specific fields of round ``t`` of draw ``b`` for the JSON history
    (e.g. BDM's risk exponents and moves). Analysis, reports and the CLI never
    look at a model's extras in any other way.
``COUPLES_ISSUES`` (optional, default False)
    True for a model whose forecast of one issue depends on the other issues
    (e.g. ``exchange``); a backtest then runs each proposal as one
    multi-issue scenario instead of each issue alone.
``BACKTEST_VARIANTS`` (optional, default none)
    Parameter sets of named variants a default backtest scores beside the
    model's defaults, each under its own label (e.g. ``exchange``'s
    ``({"variant": "greedy"},)`` is reported as ``exchange(variant=greedy)``),
    so that earlier results stay reproducible when a default changes.
``summarize(traj, b, issues) -> dict[str, dict]`` (optional)
    Extra per-issue fields of draw ``b`` for ``issues[KEY]`` in the JSON
    result (e.g. BDM's final weighted mean, SMP's cluster distribution, a
    cycle's length and forecast range). Never renames the contract's fields.
``cost(n, D, params) -> Cost`` (optional)
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
``MAX_ROUNDS``
    Every model's ``rounds`` (or ``passes``) parameter is capped at
    :data:`MAX_ROUNDS`; the budget's ``max_rounds`` (default lower, raised
    with ``--max-rounds``) bounds a run's horizon below that.

Everything above the models (Monte Carlo, sensitivity, advice, comparison,
backtests, reports, the CLI and the web app) talks to models only through this
protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

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
        Model-specific arrays with a leading (B, T + 1) shape, rendered by the
        model's own ``render_round``.
    info : dict
        Model-specific scalars or small per-draw summaries (e.g. cycle length),
        each a numpy array with leading axis B.
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

    @classmethod
    def static(cls, inputs: Inputs, forecast: np.ndarray, **info: np.ndarray) -> "Trajectory":
        """A one-state trajectory for a model without rounds."""
        B = inputs.shape[0]
        return cls(
            position=inputs.position[:, None].copy(),
            forecast=np.asarray(forecast, dtype=float)[:, None],
            rounds=np.zeros(B, dtype=int),
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


@runtime_checkable
class Model(Protocol):
    """What ``detente.models.get(name)`` returns: a model module."""

    NAME: str
    SUMMARY: str
    CITATION: str
    Params: type[ModelParams]

    def run(self, inputs: Inputs, params: ModelParams) -> Trajectory: ...


RenderRound = Callable[[Trajectory, int, int, list[str], list[str]], dict[str, Any]]


class ModelInputError(ValueError):
    """The scenario lacks something a model needs (e.g. a status quo for ``nash``).

    Raised before any computation, with a message meant for the user.
    """
