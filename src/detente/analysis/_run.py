"""Running a model over many draws: chunks (in process or on a cluster), a progress bar, Ctrl-C, user errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import models
from ..budget import DEFAULT_CHUNK, OPS_PER_SECOND, Budget, horizon_of, resolve_budget, run_cost
from ..errors import DetenteError, Problem
from ..executor import Executor, Ticker, chunks, run_all
from ..executor import current as current_executor
from ..models.base import Inputs, ModelInputError, ModelParams
from ..scenario.schema import Scenario
from ..simulate import simulate_forecasts
from ._draws import LazyInputs

__all__ = ["DEFAULT_CHUNK", "AnalysisInterrupted", "resolve", "run_draws", "run_tasks", "task_size",
           "run_chunk", "DrawJob"]


class AnalysisInterrupted(KeyboardInterrupt):
    """Ctrl-C during an analysis: the message says how far it got; no partial result is kept."""


def resolve(scenario: Any, model: str | None,
            params: dict[str, Any] | None) -> tuple[Scenario, str, ModelParams, set[str]]:
    """Load the scenario, choose its model (:func:`detente.engine.resolve_model`: the caller's, else
    the scenario's own choice) and validate the model's parameters (user mistakes become DetenteError)."""
    from ..engine import load, model_params, resolve_model

    scen = load(scenario)
    model, params = resolve_model(scen, model, params)
    p = model_params(model, params)
    return scen, model, p, set(params)


def task_size(scenario: Scenario, model: str, params: ModelParams, B: int, n: int, D: int, explicit: set[str] | None,
              chunk: int | None, budget: Budget | None, ex: Executor) -> int:
    """Draws per task: in process, ``chunk`` (default :data:`DEFAULT_CHUNK`), fewer when one chunk of runs
    would hold more than the budget's chunk memory (:meth:`detente.budget.Budget.chunk`); on a cluster, as
    :meth:`Executor.task_size` cuts
    ``B`` draws (the caller's ``chunk``, when given, is kept: a task is then one model call of that size)."""
    m = models.get(model)
    cost = run_cost(m, n, D, params, horizon_of(scenario, m, params, explicit))
    cap = resolve_budget(budget).chunk(cost, chunk)
    if chunk is not None:
        return cap
    return ex.task_size(B, cost.flops_per_draw / OPS_PER_SECOND, cap)


@dataclass(frozen=True)
class DrawJob:
    """What every chunk of draws of one :func:`run_draws` reads (scattered once to every worker of a cluster).

    ``template`` builds a chunk's inputs from its rows of drawn values (:class:`LazyInputs`), or is None
    when each chunk brings its inputs whole.
    """

    scenario: Scenario
    model: str
    params: ModelParams
    explicit: frozenset[str] | None
    by_round: bool
    template: LazyInputs | None


def run_chunk(task: tuple[int, Any, np.ndarray], job: DrawJob) -> tuple[np.ndarray, np.ndarray | None]:
    """One chunk of draws: ``task`` is ``(start, rows, happened)``, ``rows`` the chunk's
    :class:`Inputs`, or its rows of drawn values for ``job.template``. Returns the final forecasts
    (k, D) and, with ``by_round``, the forecast after every round (k, T + 1, D): only what the result
    keeps travels back from a worker."""
    start, rows, happened = task
    inputs = rows if isinstance(rows, Inputs) else job.template.build(start, rows)  # type: ignore[union-attr]
    explicit = None if job.explicit is None else set(job.explicit)
    final, forecast = simulate_forecasts(job.scenario, job.model, job.params, inputs=inputs, happened=happened,
                                         explicit=explicit, every_round=job.by_round)
    return final, forecast


class _Chunks(Sequence):
    """The tasks of :func:`run_draws`, each built when it is sent (in process: just before it runs)."""

    def __init__(self, bounds: list[tuple[int, int]], inputs: Any, happened: np.ndarray, rows_only: bool):
        self.bounds, self.inputs, self.happened, self.rows_only = bounds, inputs, happened, rows_only

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, i: Any) -> Any:
        a, b = self.bounds[i]
        rows = self.inputs.values[a:b] if self.rows_only else self.inputs.take(slice(a, b))
        return a, rows, self.happened[a:b]


def run_draws(
    scenario: Scenario,
    model: str,
    params: ModelParams,
    inputs: Inputs | LazyInputs,
    happened: np.ndarray,
    *,
    explicit: set[str] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    what: str = "analysis",
    by_round: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
    budget: Budget | None = None,
    executor: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Forecasts of every draw, running ``simulate`` (its forecasts only) in chunks, in process or on a cluster.

    Returns the final forecasts, shape (B, D), and with ``by_round`` the
    forecast after every round, shape (B, T + 1, D) (a draw that stopped early
    repeats its last forecast), else None.

    Parameters
    ----------
    scenario, model, params
        What to run.
    inputs : Inputs or LazyInputs
        B draws.
    happened : ndarray of bool, shape (B, E)
        Event outcomes per draw.
    explicit : set of str, optional
        Parameters the user set (passed to :func:`detente.simulate.simulate`).
    chunk : int, optional
        Draws per model call (default :data:`DEFAULT_CHUNK`; on a cluster, sized to keep every worker
        busy), lowered to what fits the budget's chunk memory. The result does not depend on it.
    progress : bool, optional
        Force the progress bar on or off; default: shown once the run looks
        like it will take more than :data:`detente.executor.PROGRESS_AFTER` seconds.
    what : str
        What is running, for the progress bar and the interruption message.
    by_round : bool
        Also keep the forecast of every round (for fan charts).
    on_chunk : callable, optional
        Called as ``on_chunk(done, total)`` after each chunk (progress for the
        web app; raising from it stops the run).
    budget : Budget, optional
        Sizes the chunks (the caller checked the whole run against it).
    executor : Executor, optional
        Where the chunks run (default :func:`detente.executor.current`: in process unless set).

    Raises
    ------
    AnalysisInterrupted
        On Ctrl-C, saying how many draws were done.
    DetenteError
        When the model cannot run the scenario (e.g. ``nash`` without a status quo).
    """
    B, n, D = inputs.shape
    if chunk is not None and int(chunk) < 1:
        raise DetenteError([Problem(None, None, "chunk", f"expected a positive number of draws, got {chunk!r}")])
    ex = executor if executor is not None else current_executor()
    size = task_size(scenario, model, params, B, n, D, explicit, chunk, budget, ex)
    # on a cluster a worker builds a chunk's inputs from its rows of drawn values (the template is sent once)
    template = inputs.template() if isinstance(inputs, LazyInputs) and ex.distributed else None
    rows_only = template is not None
    job = DrawJob(scenario, model, params, None if explicit is None else frozenset(explicit), by_round, template)
    bounds = chunks(B, size)
    tasks = _Chunks(bounds, inputs, happened, rows_only)
    out = np.empty((B, D))
    hist: np.ndarray | None = None
    T1 = 0  # the longest run's rounds + 1 so far (a draw that stopped early repeats its last forecast)
    tick = Ticker(what, progress, on_chunk)
    try:
        for i, (final, f) in ex.run(run_chunk, tasks, shared=job, weights=[b - a for a, b in bounds], progress=tick,
                                    name=f"detente-{what.split(' ')[0].lower()}"):
            sl = slice(*bounds[i])
            out[sl] = final
            if by_round:
                if hist is None:
                    H = horizon_of(scenario, models.get(model), params, explicit)
                    hist = np.empty((B, max(H + 1, f.shape[1]), D))
                hist[sl, : f.shape[1]] = f
                hist[sl, f.shape[1] :] = f[:, -1:]
                T1 = max(T1, f.shape[1])
    except ModelInputError as e:
        raise DetenteError([Problem(scenario.source_file, None, f"model {model}", str(e))]) from None
    except KeyboardInterrupt:
        raise AnalysisInterrupted(f"{what} interrupted after {tick.done:,} of {B:,} model runs; "
                                  "nothing was kept") from None
    finally:
        tick.stop()
    if not by_round or hist is None:
        return out, None
    return out, hist[:, :T1]


def run_tasks(fn: Callable[[Any, Any], Any], tasks: Sequence[Any], *, shared: Any, executor: Executor | None = None,
              runs: list[int] | None = None, progress: bool | None = None, what: str = "analysis",
              on_chunk: Callable[[int, int], None] | None = None) -> list[Any]:
    """``fn(task, shared)`` for every task of a plan, in process or on a cluster; the results in task order.

    A plan's tasks are independent and pure (a task's result depends only on it and ``shared``), so
    they may run in any order and anywhere (``executor``, default :func:`detente.executor.current`);
    ``runs`` (model runs per task) drives the progress bar and ``on_chunk(done, total)``, as in
    :func:`run_draws`. A task's exception is raised here (a model's :class:`ModelInputError` as itself:
    the caller names the scenario).

    Raises
    ------
    AnalysisInterrupted
        On Ctrl-C, saying how many runs were done (the cluster's tasks are cancelled).
    """
    return run_all(fn, tasks, shared=shared, executor=executor, weights=runs, progress=progress, what=what,
                   on_chunk=on_chunk, interrupted=AnalysisInterrupted)
