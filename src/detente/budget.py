"""The compute budget: every analysis states its cost before it starts, and is refused over the limits.

A forecast, a Monte Carlo run, a sensitivity analysis, advice, a comparison, a
backtest or a report asks the models it runs what one run costs (the ``cost``
hook of the model protocol, :mod:`detente.models.base`), multiplies by the
number of runs, adds what the analysis itself keeps (the draws' inputs, the
forecasts, every round's forecast for a fan chart, a forecast's JSON history)
and compares the estimate with a :class:`Budget`:

``seconds``
    Estimated computing time at :data:`OPS_PER_SECOND` (calibrated on one core
    of a laptop; ``benchmarks/bench_budget.py`` prints the ratio of estimated
    to measured time for every model).
``memory``
    Estimated peak memory of the analysis (what it keeps plus one chunk of
    model runs).
``draws``
    Model runs of one analysis (Monte Carlo draws x variants).
``rounds``
    The horizon of one run (a model's ``rounds`` or the scenario's).

An estimate over a limit raises :class:`BudgetError` (a
:class:`~detente.errors.DetenteError`: exit code 2 on the command line, HTTP
422 in the web app) naming the estimate, the limit and how to raise it
(``--max-seconds``, ``--max-memory``, ``--max-draws``, ``--max-rounds`` on the
command line and on ``detente serve``; ``create_app(budget=...)``). Nothing is
computed before the check.

Within the budget, draws run in chunks sized from the model's memory per
draw (:meth:`Budget.chunk`), so a model's working memory never exceeds
:attr:`Budget.chunk_memory`, whatever the number of draws; the chunk size
never changes a result (every draw has its own random streams).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import DetenteError, Problem
from .models.base import CALL_BYTES, F8, MAX_ROUNDS, Cost, model_cost

#: Arithmetic operations per second assumed when turning a cost into time.
OPS_PER_SECOND = 1e8
#: Draws per batched model call unless memory asks for fewer.
DEFAULT_CHUNK = 2000
#: Bytes of one (round, actor, issue) entry of a forecast's JSON history (Python dicts and floats).
HISTORY_ENTRY_BYTES = 240

GiB = 1 << 30
MiB = 1 << 20


def _size(text: Any, what: str) -> int:
    """``"1.5GB"``, ``"512MB"``, ``"2G"``, ``"100000"`` (bytes) -> bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(text))
        if not m:
            raise DetenteError([Problem(None, None, what, f"expected a size such as 2GB or 512MB, got {text!r}")])
        value, unit = float(m.group(1)), m.group(2).upper()
    out = value * {"": 1, "K": 1 << 10, "M": MiB, "G": GiB, "T": 1 << 40}[unit]
    if not math.isfinite(out) or out < MiB:
        raise DetenteError([Problem(None, None, what, f"expected at least 1MB, got {text!r}")])
    return int(out)


def _positive(value: Any, what: str, *, whole: bool) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not math.isfinite(x) or x <= 0 or (whole and x != int(x)):
        kind = "a whole number" if whole else "a number"
        raise DetenteError([Problem(None, None, what, f"expected {kind} > 0, got {value!r}")])
    return int(x) if whole else x


def human_bytes(b: float) -> str:
    """``1.5 GB``, ``240 MB``, ``12 KB``."""
    for unit, size in (("GB", GiB), ("MB", MiB), ("KB", 1 << 10)):
        if b >= size:
            x = b / size
            return f"{x:.3g} {unit}" if x < 100 else f"{x:.0f} {unit}"
    return f"{int(b)} bytes"


def human_seconds(s: float) -> str:
    """``45 s``, ``12 min``, ``3.2 h``."""
    if s < 120:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.3g} h"


@dataclass(frozen=True)
class Budget:
    """The limits of one analysis (defaults suit a 2-core laptop and a shared server).

    Attributes
    ----------
    seconds : float
        Estimated computing time (default 600 s).
    memory : int
        Estimated peak memory in bytes (default 1 GB).
    draws : int
        Model runs of one analysis (default 1,000,000).
    rounds : int
        Rounds of one run (default 10,000; never above
        :data:`detente.models.base.MAX_ROUNDS`).
    """

    seconds: float = 600.0
    memory: int = GiB
    draws: int = 1_000_000
    rounds: int = 10_000

    @classmethod
    def of(cls, *, seconds: Any = None, memory: Any = None, draws: Any = None, rounds: Any = None) -> "Budget":
        """A budget from user-given limits (None keeps the default); a bad limit is a :class:`DetenteError`."""
        b = cls()
        if seconds is not None:
            b = replace(b, seconds=_positive(seconds, "--max-seconds", whole=False))
        if memory is not None:
            b = replace(b, memory=_size(memory, "--max-memory"))
        if draws is not None:
            b = replace(b, draws=int(_positive(draws, "--max-draws", whole=True)))
        if rounds is not None:
            r = int(_positive(rounds, "--max-rounds", whole=True))
            if r > MAX_ROUNDS:
                raise DetenteError([Problem(None, None, "--max-rounds", f"at most {MAX_ROUNDS:,} (the models' hard cap), got {rounds!r}")])
            b = replace(b, rounds=r)
        return b

    @property
    def chunk_memory(self) -> float:
        """Working memory of one chunk of model runs: a quarter of :attr:`memory`."""
        return self.memory / 4

    def chunk(self, cost: Cost, requested: int | None = None) -> int:
        """Draws per model call: ``requested`` (default :data:`DEFAULT_CHUNK`), fewer if a chunk would not fit :attr:`chunk_memory`."""
        want = DEFAULT_CHUNK if requested is None else int(requested)
        room = (self.chunk_memory - CALL_BYTES - cost.bytes_fixed) / max(cost.bytes_per_draw, 1.0)
        return max(1, min(want, int(room)))


def resolve_budget(budget: Budget | None) -> Budget:
    """``budget`` or the default one."""
    return Budget() if budget is None else budget


@dataclass
class Estimate:
    """The forecast cost of one analysis (what :func:`plan` checked).

    Attributes
    ----------
    what : str
        The analysis, e.g. ``"Monte Carlo (bdm)"``.
    runs : int
        Model runs.
    n, D, rounds : int
        Actors, issues, rounds of one run.
    seconds : float
        Estimated computing time.
    memory : float
        Estimated peak bytes.
    chunk : int
        Draws per model call.
    cost : Cost
        One run's cost (model plus the timeline runner).
    """

    what: str
    runs: int
    n: int
    D: int
    rounds: int
    seconds: float
    memory: float
    chunk: int
    cost: Cost = field(repr=False)

    def describe(self) -> str:
        """What runs: the analysis, its model runs and their sizes."""
        return (f"{self.what}: {self.runs:,} model run{'s' if self.runs != 1 else ''} of {self.n} actors x {self.D} issues"
                + (f" x {self.rounds:,} rounds" if self.rounds else ""))

    def __str__(self) -> str:
        return f"{self.describe()}: about {human_seconds(self.seconds)} of computing and {human_bytes(self.memory)} of memory"


class BudgetError(DetenteError):
    """An analysis refused before it started: its estimate exceeds the budget."""


def how_to_raise(flag: str) -> str:
    """How to raise one limit: the command's option, or the web app's."""
    return f"raise the limit with {flag} (an option of the command, and of `detente serve` for the web app)"


def _refuse(field_: str, reason: str) -> BudgetError:
    return BudgetError([Problem(None, None, field_, reason)])


def check_total(what: str, seconds: float, budget: Budget | None, fewer: str = "fewer draws") -> None:
    """Refuse several runs checked one by one whose computing times add up to more than the budget."""
    b = resolve_budget(budget)
    if seconds > b.seconds:
        raise _refuse("seconds", f"{what} needs about {human_seconds(seconds)} of computing, over the budget of "
                                 f"{human_seconds(b.seconds)}; use {fewer}, or " + how_to_raise("--max-seconds"))


def horizon_of(scenario: Any, model: Any, params: Any, explicit: set[str] | None) -> int:
    """Rounds of one run: 0 for a static model, else as :func:`detente.simulate.horizon`."""
    from .simulate import horizon, is_dynamic

    return horizon(scenario, model, params, explicit) if is_dynamic(model) else 0


def run_cost(model: Any, n: int, D: int, params: Any, rounds: int) -> Cost:
    """One run's cost: the model's own (for ``rounds`` rounds) plus the timeline runner's copies.

    :func:`detente.simulate.simulate` plays a run in segments between events
    and joins them (a second copy of what the model returns), and keeps the
    states seen so far (``past``, copied as it grows), the active flags of
    every round and a trimmed copy of the trajectory: three more arrays of
    the trajectory's size. A static model's inputs are copied once when
    events apply.
    """
    if "rounds" in model.Params.model_fields:
        params = params.model_copy(update={"rounds": int(rounds)})
        c = model_cost(model, n, D, params)
        extra = c.bytes_per_draw + (rounds + 1) * (3 * n * D * F8 + n)
    else:
        c = model_cost(model, n, D, params)
        extra = 2 * n * D * F8 + 2 * n
    return Cost(c.flops_per_draw + 10.0 * (rounds + 1) * n * D, c.bytes_per_draw + extra, c.bytes_fixed)


def inputs_bytes(n: int, D: int, E: int = 0) -> int:
    """Bytes of one draw's inputs (positions, saliences, capability, active flag, seed) and event outcomes."""
    return 2 * n * D * F8 + n * (F8 + 1) + F8 + E


def plan(
    what: str,
    model_name: str,
    n: int,
    D: int,
    params: Any,
    rounds: int,
    runs: int,
    *,
    budget: Budget | None = None,
    held: float = 0.0,
    chunk: int | None = None,
    by_round: bool = False,
) -> Estimate:
    """Estimate an analysis and refuse it (:class:`BudgetError`) when it exceeds ``budget``.

    Parameters
    ----------
    what : str
        The analysis, for messages.
    model_name : str
    n, D : int
        Actors and issues of one run.
    params : ModelParams
    rounds : int
        Rounds of one run (0 for a static model).
    runs : int
        Model runs.
    budget : Budget, optional
    held : float
        Bytes the analysis keeps besides one chunk of runs (inputs of every
        draw, results).
    chunk : int, optional
        The caller's requested draws per model call.
    by_round : bool
        The analysis keeps every run's forecast after every round.
    """
    from . import models

    b = resolve_budget(budget)
    model = models.get(model_name)
    if rounds > b.rounds:
        raise _refuse("rounds", f"{what}: {rounds:,} rounds exceed the budget of {b.rounds:,} rounds per run; "
                                f"lower `rounds`, or " + how_to_raise("--max-rounds") + f" (up to {MAX_ROUNDS:,})")
    if runs > b.draws:
        raise _refuse("draws", f"{what}: {runs:,} model runs exceed the budget of {b.draws:,}; "
                               "use fewer draws, or " + how_to_raise("--max-draws"))
    c = run_cost(model, n, D, params, rounds)
    size = min(b.chunk(c, chunk), max(runs, 1))
    keep = held + (runs * (rounds + 1) * D * F8 * (1 if by_round else 0))
    memory = keep + c.bytes(size)
    seconds = runs * c.flops_per_draw / OPS_PER_SECOND
    est = Estimate(what, runs, n, D, rounds, seconds, memory, size, c)
    over = []
    if c.bytes(1) > b.chunk_memory:
        over.append(Problem(None, None, "memory", f"{what}: one run of {model_name} with {n} actors x {D} issues"
                            + (f" x {rounds:,} rounds" if rounds else "")
                            + f" needs about {human_bytes(c.bytes(1))}, more than a chunk may use "
                            f"({human_bytes(b.chunk_memory)}, a quarter of the {human_bytes(b.memory)} budget); "
                            "make the scenario smaller, or " + how_to_raise("--max-memory")))
    elif memory > b.memory:
        over.append(Problem(None, None, "memory", f"{est.describe()} need about {human_bytes(memory)} of memory, over the "
                            f"budget of {human_bytes(b.memory)}; use fewer draws or a smaller scenario, or "
                            + how_to_raise("--max-memory")))
    if seconds > b.seconds:
        over.append(Problem(None, None, "seconds", f"{est.describe()} need about {human_seconds(seconds)} of computing, "
                            f"over the budget of {human_seconds(b.seconds)}; use fewer draws or a smaller scenario, or "
                            + how_to_raise("--max-seconds")))
    if over:
        raise BudgetError(over)
    return est


def plan_scenario(
    what: str,
    scenario: Any,
    model_name: str,
    params: Any,
    explicit: set[str] | None,
    runs: int,
    *,
    budget: Budget | None = None,
    held_per_run: float = 0.0,
    held: float = 0.0,
    chunk: int | None = None,
    by_round: bool = False,
    history: bool = False,
) -> Estimate:
    """:func:`plan` for runs of a scenario (sizes and horizon taken from it).

    ``held_per_run`` bytes are kept per run besides ``held``; ``history``
    adds a forecast's JSON history (one entry per round, actor and issue).
    """
    from . import models

    model = models.get(model_name)
    n, D = len(scenario.actors), len(scenario.issues)
    T = horizon_of(scenario, model, params, explicit)
    extra = held + runs * held_per_run
    if history:
        extra += (T + 1) * (n * D + D) * HISTORY_ENTRY_BYTES
    return plan(what, model_name, n, D, params, T, runs, budget=budget, held=extra, chunk=chunk, by_round=by_round)
