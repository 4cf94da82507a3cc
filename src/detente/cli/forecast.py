"""``detente forecast``, ``validate``, ``models``, ``scenarios`` and ``warmup``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import DetenteError, Problem
from ._common import (
    FLAGSHIP,
    MAX_DRAWS,
    MAX_MEMORY,
    MAX_ROUNDS,
    MAX_SECONDS,
    SALIENCE_SCALE,
    SCHEDULER,
    WORKERS,
    Format,
    _write,
    check_count,
    cluster,
    make_budget,
    out,
    parse_params,
    stability_cell,
)


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    cut = text.find(". ")
    text = text if cut < 0 else text[: cut + 1]
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def render_forecast_table(result: Any) -> None:
    """Print a forecast as readable rich tables."""
    s = result.scenario
    out.print(f"[bold]{escape(s.name)}[/bold]  [dim]model: {escape(result.model)}[/dim]")
    if s.description:
        out.print(f"[dim]{escape(_first_sentence(s.description))}[/dim]")
    t = Table(title="Forecast", title_justify="left", header_style="bold")
    t.add_column("issue", max_width=30)
    t.add_column("scale", justify="right")
    t.add_column("forecast", justify="right", style="bold cyan")
    t.add_column("track\nrecord 80%", justify="right")
    t.add_column("meaning")
    stab = result.stability
    if stab is not None:
        t.add_column("stability")
    from ..calibrate import band_note, band_text

    bands = result.track_record_bands()
    for iss, band in zip(s.issues, bands):
        f = result.issues[iss.key]["forecast"]
        cells = [escape(iss.name), f"{iss.scale[0]:g}-{iss.scale[1]:g}", iss.fmt(f), band_text(band, iss.fmt),
                 escape(iss.label_for(f)) if f is not None else ""]
        if stab is not None:
            cells.append(stability_cell(stab.get(iss.key), iss.scale))
        t.add_row(*cells)
    out.print(t)
    out.print(f"[dim]{escape(band_note(bands))} (Run with --draws N for it.)[/dim]")

    last = result.history[-1]
    title = "Positions as stated -> at the end (salience)"
    p = Table(title=title, title_justify="left", header_style="bold")
    p.add_column("actor", max_width=24, no_wrap=True, overflow="ellipsis")
    p.add_column("capability", justify="right")
    for iss in s.issues:
        p.add_column(escape(iss.short_name()), justify="right")
    for a in s.actors:
        cells = [escape(a.short_name()), f"{a.capability.value:g}"]
        for iss in s.issues:
            x0 = a.positions[iss.key].value
            x1 = last["positions"].get(a.key, {}).get(iss.key)
            sal = f"({a.salience[iss.key].value:g})"
            if x1 is None:
                cells.append(f"{iss.fmt(x0)} -> [dim]absent[/dim]")
            elif iss.fmt(x1) != iss.fmt(x0):
                cells.append(f"{iss.fmt(x0)} -> {iss.fmt(x1)} {sal}")
            else:
                cells.append(f"{iss.fmt(x0)} {sal}")
        p.add_row(*cells)
    out.print(p)
    for note in result.all_notes:
        out.print(f"[dim]note: {escape(note)}[/dim]")


def forecast(
    scenario: str = typer.Argument(FLAGSHIP, help="Scenario file (YAML, JSON, CSV/TSV, xlsx, KTAB, Decide) or a shipped example's name."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name (see `detente models`)."),
    param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Model parameter key=value (repeatable)."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for stochastic models."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
    draws: int = typer.Option(0, "--draws", "-n", help="Monte Carlo draws over ranges and events (0: one run)."),
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
    salience_scale: Optional[int] = SALIENCE_SCALE,
    scheduler: Optional[str] = SCHEDULER,
    workers: Optional[int] = WORKERS,
) -> None:
    """Forecast a scenario (default: the flagship, the 2019 US-North Korea talks).

    csv and xlsx hold a per-issue summary (forecast, bands, outcome probabilities with
    --draws) beside the positions by round and the moves.
    """
    from ..api import forecast as run_forecast

    check_count(draws, "--draws")
    if salience_scale is not None:
        from ..engine import load

        scenario = load(scenario, salience_scale=salience_scale)  # type: ignore[assignment]
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    if draws > 0:
        from .analysis import forecast_draws

        with cluster(scheduler, workers):  # the draws run there (one run stays in this process)
            return forecast_draws(scenario, model, parse_params(param), draws, seed, format, output, budget=budget)
    result = run_forecast(scenario, model, seed=seed, budget=budget, **parse_params(param))
    if format == Format.json:
        _write(result.to_json(), output)
    elif format in (Format.csv, Format.xlsx):
        from .files import emit_forecast_tables

        emit_forecast_tables(result, None, format.value, output)
    else:
        render_forecast_table(result)


def validate(files: list[str] = typer.Argument(..., help="Scenario files to check."),
             salience_scale: Optional[int] = SALIENCE_SCALE) -> None:
    """Check scenario files and report every problem (exit code 2 if any)."""
    from ..engine import load

    problems: list[Problem] = []
    for f in files:
        try:
            s = load(f, salience_scale=salience_scale)
        except DetenteError as e:
            problems.extend(e.problems)
        else:
            out.print(f"[green]ok[/green] {escape(f)}: {escape(s.name)} "
                      f"({len(s.actors)} actors, {len(s.issues)} issues, {len(s.events)} events)")
            for note in s.reading_notes:
                out.print(f"   [dim]note: {escape(note)}[/dim]")
            for w in s.warnings():
                out.print(f"[yellow]warning:[/yellow] {escape(str(w))}")
    if problems:
        raise DetenteError(problems)


def list_models() -> None:
    """List the available models with a line and a citation each."""
    from .. import models

    t = Table(header_style="bold")
    t.add_column("name", style="bold")
    t.add_column("what it does")
    t.add_column("citation", style="dim")
    for name in models.names():
        m = models.get(name)
        t.add_row(name, escape(m.SUMMARY), escape(m.CITATION))
    out.print(t)


def scenarios() -> None:
    """List the example scenarios shipped with detente."""
    from ..api import load
    from ..scenario.io import shipped

    t = Table(header_style="bold")
    t.add_column("name", style="bold")
    t.add_column("actors", justify="right")
    t.add_column("issues", justify="right")
    t.add_column("description")
    for p in shipped():
        s = load(p)
        t.add_row(escape(p.stem), str(len(s.actors)), str(len(s.issues)), escape(_first_sentence(s.description or "", 110)))
    out.print(t)


def warmup() -> None:
    """Compile the models' numba kernels into numba's cache (run once after installing)."""
    import time

    from .. import models
    from ..models._jit import DISABLE_ENV, numba_available

    if not numba_available():
        why = f"{DISABLE_ENV} is set" if os.environ.get(DISABLE_ENV, "") not in ("", "0") else "numba is not installed (the 'fast' extra)"
        out.print(f"{why}: nothing to compile; the kernels run as plain Python")
        return
    t0 = time.perf_counter()
    done = models.warmup()
    out.print(f"compiled the kernels of {', '.join(done) or 'no model'} into numba's cache "
              f"in {time.perf_counter() - t0:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``forecast``, ``validate``, ``models``, ``scenarios`` and ``warmup`` to the ``detente`` app."""
    app.command()(forecast)
    app.command()(validate)
    app.command("models")(list_models)
    app.command()(scenarios)
    app.command()(warmup)
