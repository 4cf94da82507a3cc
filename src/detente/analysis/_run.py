"""Running a model over many draws: chunks, a progress bar, Ctrl-C, user errors."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..errors import DetenteError, Problem
from ..models.base import Inputs, ModelInputError, ModelParams
from ..scenario.schema import Scenario
from ..simulate import simulate

#: Draws per batched model call unless told otherwise.
DEFAULT_CHUNK = 2000
#: Show a progress bar when a run is expected to take longer than this (seconds).
PROGRESS_AFTER = 1.0


class AnalysisInterrupted(KeyboardInterrupt):
    """Ctrl-C during an analysis: the message says how far it got; no partial result is kept."""


def resolve(scenario: Any, model: str, params: dict[str, Any] | None) -> tuple[Scenario, ModelParams, set[str]]:
    """Load the scenario and validate the model's parameters (user mistakes become DetenteError)."""
    from ..api import load, model_params

    scen = load(scenario)
    p = model_params(model, params)
    return scen, p, set(params or {})


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
        Draws per model call (default :data:`DEFAULT_CHUNK`). The result does
        not depend on it.
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

    Raises
    ------
    AnalysisInterrupted
        On Ctrl-C, saying how many draws were done.
    DetenteError
        When the model cannot run the scenario (e.g. ``nash`` without a status quo).
    """
    B = inputs.shape[0]
    D = inputs.shape[2]
    size = DEFAULT_CHUNK if chunk is None else int(chunk)
    if size < 1:
        raise DetenteError([Problem(None, None, "chunk", f"expected a positive number of draws, got {chunk!r}")])
    out = np.empty((B, D))
    rounds: list[np.ndarray] = []
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
                rounds.append(tr.forecast)
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
    if not by_round:
        return out, None
    T1 = max(r.shape[1] for r in rounds)
    hist = np.concatenate([np.concatenate([r, np.repeat(r[:, -1:], T1 - r.shape[1], axis=1)], axis=1) for r in rounds])
    return out, hist


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
