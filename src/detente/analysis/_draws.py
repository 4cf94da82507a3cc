"""Uncertain inputs of a scenario and reproducible draws over them.

Every analysis (Monte Carlo, sensitivity, advice, comparison) sees a
scenario's numbers as a flat list of :class:`Input` objects, one per actor
capability, position and salience, in a fixed order (actors in file order;
capability, then positions, then saliences, issues in file order). An input
maps a uniform number ``u`` in (0, 1) to a value through the inverse
cumulative distribution of its :class:`~detente.scenario.schema.Value`, so
Monte Carlo (independent uniforms) and Sobol analysis (a Sobol sequence of
uniforms) share one transform.

Reproducibility
---------------
Each uncertain input, each event and the stochastic models' seeds get their
own random stream, keyed by ``(seed, name of the input)``, and a draw's
numbers are the draw-th numbers of those streams. A draw therefore depends
only on the seed, its index and what it is a draw of: not on the chunk it
runs in, not on the total number of draws, and not on other inputs or events
being added to or removed from the scenario (common random numbers across
scenario variants).
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._parse import did_you_mean
from ..errors import DetenteError, Problem
from ..models.base import Inputs
from ..scenario.schema import Scenario, Value

#: The smallest capability a draw may take (capability must stay positive).
MIN_CAPABILITY = 1e-9


@dataclass(frozen=True)
class Input:
    """One number of a scenario: an actor's capability, or its position or salience on an issue.

    Attributes
    ----------
    kind : {"capability", "position", "salience"}
    actor : int
        The actor's index in ``scenario.actors``.
    issue : int or None
        The issue's index (None for capability).
    value : Value
        The scenario's value with its range (salience on the file's scale).
    bound : (float, float)
        Hard limits of any value: the issue scale for positions,
        ``[0, salience_scale]`` for saliences, ``(0, inf)`` for capability.
    """

    kind: str
    actor: int
    issue: int | None
    value: Value
    bound: tuple[float, float]

    # -- naming ---------------------------------------------------------------
    def key(self, scenario: Scenario) -> str:
        """A stable dotted name, e.g. ``dprk.salience.deal`` or ``trump.capability``."""
        a = scenario.actors[self.actor].key
        if self.issue is None:
            return f"{a}.{self.kind}"
        return f"{a}.{self.kind}.{scenario.issues[self.issue].key}"

    def label(self, scenario: Scenario) -> str:
        """Plain words with display names, e.g. ``"salience of Kim Jong Un and the… on Nuclear deal"``."""
        a = short_actor(scenario, self.actor)
        if self.issue is None:
            return f"capability of {a}"
        return f"{self.kind} of {a} on {scenario.issues[self.issue].short_name()}"

    # -- the distribution -----------------------------------------------------
    @property
    def ranged(self) -> bool:
        """True when the value is uncertain."""
        return self.value.ranged

    def limits(self) -> tuple[float, float]:
        """The range draws fall in: ``[low, high]`` where given, else the hard bounds."""
        v = self.value
        lo = v.low if v.low is not None else self.bound[0]
        hi = v.high if v.high is not None else self.bound[1]
        return max(lo, self.bound[0]), min(hi, self.bound[1])

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms ``u`` in (0, 1) to values (the inverse CDF).

        Triangular with its mode at ``value`` when a range is given (the
        default), uniform over the range for ``dist: uniform``, and
        ``normal(value, sd)`` clipped to the range (or to the hard bounds)
        for ``dist: normal``. A point value ignores ``u``.
        """
        u = np.asarray(u, dtype=float)
        v = self.value
        if not v.ranged:
            return np.full(u.shape, v.value)
        lo, hi = self.limits()
        if v.dist == "normal":
            assert v.sd is not None
            from scipy.special import ndtri  # imported here: scipy takes 0.15 s to import

            return np.clip(v.value + v.sd * ndtri(u), lo, hi)
        if v.dist == "uniform":
            return lo + u * (hi - lo)
        return triangular_ppf(u, lo, v.value, hi)

    def to_model_scale(self, x: np.ndarray, scenario: Scenario) -> np.ndarray:
        """Values on the file's scale as the model sees them (salience divided by the file's ``salience_scale``)."""
        return x / scenario.salience_scale if self.kind == "salience" else x


def triangular_ppf(u: np.ndarray, a: float, c: float, b: float) -> np.ndarray:
    """Inverse CDF of the triangular distribution on ``[a, b]`` with mode ``c``."""
    u = np.asarray(u, dtype=float)
    if b <= a:
        return np.full(u.shape, float(a))
    fc = (c - a) / (b - a)
    left = a + np.sqrt(u * (b - a) * (c - a))
    right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
    return np.where(u < fc, left, right)


def short_actor(scenario: Scenario, i: int) -> str:
    """An actor's display name, shortened by the one rule (:meth:`Actor.short_name`)."""
    return scenario.actors[i].short_name()


def all_inputs(scenario: Scenario) -> list[Input]:
    """Every capability, position and salience of the scenario, in the fixed order."""
    out: list[Input] = []
    sscale = float(scenario.salience_scale)
    for i, a in enumerate(scenario.actors):
        out.append(Input("capability", i, None, a.capability, (MIN_CAPABILITY, np.inf)))
        for d, iss in enumerate(scenario.issues):
            out.append(Input("position", i, d, a.positions[iss.key], (float(iss.scale[0]), float(iss.scale[1]))))
        for d, iss in enumerate(scenario.issues):
            out.append(Input("salience", i, d, a.salience[iss.key], (0.0, sscale)))
    return out


def uncertain_inputs(scenario: Scenario) -> list[Input]:
    """The inputs that have a range (or a spread), in the fixed order."""
    return [x for x in all_inputs(scenario) if x.ranged]


def set_input(inputs: Inputs, scenario: Scenario, inp: Input, x: np.ndarray, rows: Any = slice(None)) -> None:
    """Write values ``x`` (file scale) of one input into ``inputs`` in place, for ``rows``."""
    xm = inp.to_model_scale(np.asarray(x, dtype=float), scenario)
    if inp.kind == "capability":
        inputs.capability[rows, inp.actor] = xm
    elif inp.kind == "position":
        inputs.position[rows, inp.actor, inp.issue] = xm
    else:
        inputs.salience[rows, inp.actor, inp.issue] = xm


def _stream(seed: int, name: str) -> np.random.PCG64:
    """The bit generator keyed by the seed and a name (stable across runs and platforms)."""
    return np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def _raw(seed: int, name: str, n: int, start: int = 0) -> np.ndarray:
    """Words ``start .. start + n`` of the stream ``name`` (``advance`` skips the first ``start``)."""
    bg = _stream(seed, name)
    if start:
        bg.advance(start)
    return bg.random_raw(n)


def uniforms(seed: int, name: str, n: int, start: int = 0) -> np.ndarray:
    """Uniforms ``start .. start + n`` in the open interval (0, 1) of the stream ``name``.

    Built from raw 64-bit words, one per draw, so draw ``k``'s number is the
    same whatever ``n`` is.
    """
    raw = _raw(seed, name, n, start)
    return ((raw >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53


def draw_seeds(seed: int, n: int, start: int = 0) -> np.ndarray:
    """One uint64 seed per draw for stochastic models (draws ``start .. start + n``)."""
    return np.asarray(_raw(seed, "model-seed", n, start), dtype=np.uint64)


def check_seed(seed: Any) -> int:
    """A seed as a non-negative int, or a :class:`DetenteError`."""
    try:
        s = int(seed)
    except (TypeError, ValueError):
        raise DetenteError([Problem(None, None, "seed", f"expected a whole number, got {seed!r}")]) from None
    if s < 0 or s != seed:
        raise DetenteError([Problem(None, None, "seed", f"expected a whole number >= 0, got {seed!r}")])
    return s


@dataclass
class Draws:
    """A batch of Monte Carlo draws of a scenario.

    Attributes
    ----------
    inputs : Inputs or LazyInputs
        Per-draw starting values, shape (B, n, D) (built per chunk when lazy).
    happened : ndarray of bool, shape (B, E)
        Which events happen in which draw.
    values : ndarray, shape (B, K)
        The drawn value of each uncertain input (file scale), columns in the
        order of ``uncertain``.
    uncertain : list of Input
    event_u : ndarray, shape (B, E)
        The uniforms that decided the events (``happened = event_u < p``).
    """

    inputs: Any
    happened: np.ndarray
    values: np.ndarray
    uncertain: list[Input]
    event_u: np.ndarray


class LazyInputs:
    """The inputs of Monte Carlo draws, built chunk by chunk when a model runs them.

    It has what :func:`detente.analysis._run.run_draws` needs of an
    :class:`~detente.models.base.Inputs`: ``shape`` (B, n, D) and ``take``
    (a slice of draws, as full ``Inputs``). Only the drawn values of the
    uncertain inputs are held for every draw, so the memory of a run's inputs
    does not grow with n x D x draws; ``take`` gives exactly the arrays that
    building every draw up front would have.
    """

    def __init__(self, scenario: Scenario, seed: int, values: np.ndarray, uncertain: list[Input], first: int = 0, *,
                 same_seed: bool = False):
        self.scenario, self.seed, self.values, self.uncertain = scenario, seed, values, uncertain
        self.first = first  # the number of this batch's first draw in the run
        #: every draw gets ``seed`` itself as its stochastic models' seed (Sobol: the same randomness in every
        #: run), instead of the draw's own word of the ``model-seed`` stream
        self.same_seed = same_seed
        self.base = scenario.to_inputs(batch=1)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(B, n, D)``."""
        return (self.values.shape[0],) + self.base.shape[1:]

    def take(self, idx: slice) -> Inputs:
        """Draws ``idx`` (a slice) as :class:`Inputs`."""
        start, stop, step = idx.indices(self.values.shape[0])
        assert step == 1, "draws are taken in contiguous chunks"
        return self.build(start, self.values[start:stop])

    def build(self, start: int, values: np.ndarray) -> Inputs:
        """The inputs of draws ``start .. start + len(values)`` (of this batch) whose uncertain inputs took ``values``
        (rows of :attr:`values`): what a worker of a cluster builds from a :meth:`template` and its task's rows."""
        k = values.shape[0]
        b = self.base
        seeds = np.full(k, self.seed, dtype=np.uint64) if self.same_seed else draw_seeds(self.seed, k, self.first + start)
        inputs = Inputs(np.repeat(b.position, k, axis=0), np.repeat(b.salience, k, axis=0),
                        np.repeat(b.capability, k, axis=0), np.repeat(b.active, k, axis=0),
                        b.low, b.high, b.status_quo, seeds)
        for j, inp in enumerate(self.uncertain):
            set_input(inputs, self.scenario, inp, values[:, j])
        return inputs

    def template(self) -> "LazyInputs":
        """This without the drawn values (what is sent to every worker once; each task brings its rows)."""
        t = copy.copy(self)
        t.values = self.values[:0]
        return t

    def full(self) -> Inputs:
        """Every draw's inputs at once."""
        return self.take(slice(None))


def monte_carlo_draws(scenario: Scenario, draws: int, seed: int, *, lazy: bool = False, first: int = 0) -> Draws:
    """Draw ``draws`` versions of the scenario: ranged inputs and probabilistic events.

    Every uncertain input and every event has its own stream (see the module
    docstring), so draw ``k`` depends only on ``(seed, k)``. With ``lazy``,
    ``inputs`` is a :class:`LazyInputs` that builds each chunk of draws when
    it runs (the same numbers). With ``first``, the batch holds draws
    ``first .. first + draws`` of the run (a task's share of a larger run: the
    same numbers as those rows of the whole run's draws).
    """
    unc = uncertain_inputs(scenario)
    values = np.empty((draws, len(unc)))
    for k, inp in enumerate(unc):
        values[:, k] = inp.ppf(uniforms(seed, "input:" + inp.key(scenario), draws, first))
    lazy_inputs = LazyInputs(scenario, seed, values, unc, first)
    inputs: Any = lazy_inputs if lazy else lazy_inputs.full()
    E = len(scenario.events)
    eu = np.empty((draws, E))
    p = np.array([e.probability for e in scenario.events], dtype=float)
    for j, ev in enumerate(scenario.events):
        eu[:, j] = uniforms(seed, "event:" + ev.key, draws, first)
    happened = eu < p[None, :]
    return Draws(inputs, happened, values, unc, eu)


def tile(inputs: Inputs, k: int) -> Inputs:
    """``k`` copies of a batch stacked along the batch axis (copy-major: copy 0's draws first)."""
    return Inputs(
        np.tile(inputs.position, (k, 1, 1)),
        np.tile(inputs.salience, (k, 1, 1)),
        np.tile(inputs.capability, (k, 1)),
        np.tile(inputs.active, (k, 1)),
        inputs.low,
        inputs.high,
        inputs.status_quo,
        np.tile(inputs.seed, k),
    )


def event_index(scenario: Scenario, key: str) -> int:
    """The index of the event ``key``, or a :class:`DetenteError` naming the field."""
    for j, e in enumerate(scenario.events):
        if e.key == key:
            return j
    known = ", ".join(e.key for e in scenario.events) or "none"
    raise DetenteError([Problem(scenario.source_file, None, "event", f"unknown event {key!r}; events: {known}")])


def actor_index(scenario: Scenario, key: str, field: str = "actor") -> int:
    """The index of the actor ``key``, or a :class:`DetenteError` naming the field."""
    try:
        return scenario.actor_keys.index(key)
    except ValueError:
        raise DetenteError(
            [Problem(scenario.source_file, None, field, f"unknown actor {key!r}{did_you_mean(key, scenario.actor_keys)}; "
                                                      f"actors: {', '.join(scenario.actor_keys)}")]
        ) from None


def issue_index(scenario: Scenario, key: str, field: str = "issue") -> int:
    """The index of the issue ``key``, or a :class:`DetenteError` naming the field."""
    try:
        return scenario.issue_keys.index(key)
    except ValueError:
        raise DetenteError(
            [Problem(scenario.source_file, None, field, f"unknown issue {key!r}{did_you_mean(key, scenario.issue_keys)}; "
                                                      f"issues: {', '.join(scenario.issue_keys)}")]
        ) from None
