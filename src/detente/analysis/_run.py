"""Running a model over many draws: chunks, a progress bar, Ctrl-C, user errors."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .. import models
from ..budget import DEFAULT_CHUNK, Budget, horizon_of, resolve_budget, run_cost
from ..errors import DetenteError, Problem
from ..models.base import Inputs, ModelInputError, ModelParams
from ..scenario.schema import Scenario
from ..simulate import simulate

__all__ = ["DEFAULT_CHUNK", "AnalysisInterrupted", "resolve", "run_draws", "run_tasks", "chunk_size"]
#: Show a progress bar when a run is expected to take longer than this (seconds).
PROGRESS_AFTER = 1.0


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


def chunk_size(scenario: Scenario, model: str, params: ModelParams, n: int, D: int, explicit: set[str] | None,
               chunk: int | None, budget: Budget | None) -> int:
    """Draws per model call: ``chunk`` (default :data:`DEFAULT_CHUNK`), fewer when one chunk of
    runs would hold more than the budget's chunk memory (see :meth:`detente.budget.Budget.chunk`)."""
    m = models.get(model)
    cost = run_cost(m, n, D, params, horizon_of(scenario, m, params, explicit))
    return resolve_budget(budget).chunk(cost, chunk)


def run_draws(
    scenario: Scenario,
    model: str,
    params: ModelParams,
    inputs: Inputs,
    happened: np.ndarray,
    *,
    explicit: set[str] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    what: str = "analysis",
    by_round: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
    budget: Budget | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Forecasts of every draw, running ``simulate`` in chunks.

    Returns the final forecasts, shape (B, D), and with ``by_round`` the
    forecast after every round, shape (B, T + 1, D) (a draw that stopped early
    repeats its last forecast), else None.

    Parameters
    ----------
    scenario, model, params
        What to run.
    inputs : Inputs
        B draws.
    happened : ndarray of bool, shape (B, E)
        Event outcomes per draw.
    explicit : set of str, optional
        Parameters the user set (passed to :func:`detente.simulate.simulate`).
    chunk : int, optional
        Draws per model call (default :data:`DEFAULT_CHUNK`), lowered to what
        fits the budget's chunk memory. The result does not depend on it.
    progress : bool, optional
        Force the progress bar on or off; default: shown once the run looks
        like it will take more than :data:`PROGRESS_AFTER` seconds.
    what : str
        What is running, for the progress bar and the interruption message.
    by_round : bool
        Also keep the forecast of every round (for fan charts).
    on_chunk : callable, optional
        Called as ``on_chunk(done, total)`` after each chunk (progress for the
        web app; raising from it stops the run).
    budget : Budget, optional
        Sizes the chunks (the caller checked the whole run against it).

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
    size = chunk_size(scenario, model, params, n, D, explicit, chunk, budget)
    out = np.empty((B, D))
    hist: np.ndarray | None = None
    T1 = 0  # the longest run's rounds + 1 so far (a draw that stopped early repeats its last forecast)
    bar = None
    task = None
    done = 0
    t0 = time.perf_counter()
    try:
        for start in range(0, B, size):
            stop = min(B, start + size)
            sl = slice(start, stop)
            try:
                tr = simulate(scenario, model, params, inputs=inputs.take(sl), happened=happened[sl], explicit=explicit)
            except ModelInputError as e:
                raise DetenteError([Problem(scenario.source_file, None, f"model {model}", str(e))]) from None
            out[sl] = tr.final
            if by_round:
                f = tr.forecast
                if hist is None:
                    H = horizon_of(scenario, models.get(model), params, explicit)
                    hist = np.empty((B, max(H + 1, f.shape[1]), D))
                hist[sl, : f.shape[1]] = f
                hist[sl, f.shape[1] :] = f[:, -1:]
                T1 = max(T1, f.shape[1])
            done = stop
            if on_chunk is not None:
                on_chunk(done, B)
            if bar is None and progress is not False and done < B:
                elapsed = time.perf_counter() - t0
                if progress or elapsed * B / done > PROGRESS_AFTER:
                    bar, task = _start_bar(what, B)
            if bar is not None:
                bar.update(task, completed=done)
    except KeyboardInterrupt:
        raise AnalysisInterrupted(f"{what} interrupted after {done:,} of {B:,} model runs; nothing was kept") from None
    finally:
        if bar is not None:
            bar.stop()
    if not by_round or hist is None:
        return out, None
    return out, hist[:, :T1]


def run_tasks(fn: Callable[[Any, Any], Any], job: Any, tasks: list[Any], *, runs: list[int] | None = None,
              progress: bool | None = None, what: str = "analysis",
              on_chunk: Callable[[int, int], None] | None = None) -> list[Any]:
    """``fn(job, task)`` for every task of a plan, results in task order.

    A plan's tasks are independent and pure (``fn`` depends only on ``job`` and the task), so
    they may run in any order and anywhere; ``runs`` (model runs per task) drives the progress
    bar and ``on_chunk(done, total)``, as in :func:`run_draws`.

    Raises
    ------
    AnalysisInterrupted
        On Ctrl-C, saying how many runs were done.
    """
    runs = list(runs) if runs is not None else [1] * len(tasks)
    total = sum(runs)
    out: list[Any] = []
    bar = None
    task_id = None
    done = 0
    t0 = time.perf_counter()
    try:
        for t, r in zip(tasks, runs):
            out.append(fn(job, t))
            done += r
            if on_chunk is not None:
                on_chunk(done, total)
            if bar is None and progress is not False and done < total:
                elapsed = time.perf_counter() - t0
                if progress or elapsed * total / max(done, 1) > PROGRESS_AFTER:
                    bar, task_id = _start_bar(what, total)
            if bar is not None:
                bar.update(task_id, completed=done)
    except KeyboardInterrupt:
        raise AnalysisInterrupted(f"{what} interrupted after {done:,} of {total:,} model runs; nothing was kept") from None
    finally:
        if bar is not None:
            bar.stop()
    return out


def _start_bar(what: str, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    bar.start()
    task = bar.add_task(what, total=total)
    return bar, task
