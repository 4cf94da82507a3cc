"""The ``detente backtest`` command; the main CLI calls :func:`register`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..errors import DetenteError
from ._common import MAX_DRAWS, MAX_MEMORY, MAX_ROUNDS, MAX_SECONDS, SCHEDULER, WORKERS, check_count, cluster, make_budget


class Format(str, Enum):
    """Output formats of ``detente backtest``."""

    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


def backtest(
    dataset: str = typer.Argument("deu", help="'deu' (shipped DEU waves I-II), 'outcomes', or a dataset folder."),
    models: Optional[str] = typer.Option(
        None,
        "--models",
        "-m",
        help="Comma-separated model specs, NAME or NAME(key=value,...); default every model. "
        "'compromise' is always added as the reference.",
    ),
    capability: Optional[str] = typer.Option(
        None,
        "--capability",
        "-c",
        help="equal, votes (default for DEU), population, gdp, shapley, banzhaf; scenario (outcomes format).",
    ),
    data: Optional[Path] = typer.Option(None, "--data", help="Read another copy of the dataset from this folder."),
    fmt: Format = typer.Option(
        Format.table, "--format", "-f", help="table, json, csv, or html (with the reliability chart and PIT histograms)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of stochastic models and of the bootstrap."),
    draws: int = typer.Option(0, "--draws", help="Draws per issue for stochastic models (0: one run)."),
    holdout_wave: Optional[str] = typer.Option(
        None, "--holdout-wave",
        help="Learn the track-record bands (every learned part) from the other waves only and score only this wave.",
    ),
    grid: Optional[list[str]] = typer.Option(
        None, "--grid", "-g",
        help="A parameter grid, repeatable: MODEL.PARAM=v1,v2,... and capability=c1,c2,...; every combination is "
        "scored as one model (a capability grid alone crosses the --models). See docs/backtest.md.",
    ),
    explain: int = typer.Option(0, "--explain", help="Explain the N largest misses of each model given with "
                                "--models (default: of compromise): the smallest change to the inputs that "
                                "reproduces the decision (see `detente explain`)."),
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
    scheduler: Optional[str] = SCHEDULER,
    workers: Optional[int] = WORKERS,
) -> None:
    """Score every model against real decisions: MAE, RMSE, hit rates, breakdowns, bootstrap CIs, and the coverage
    and interval scores of each model's track-record bands."""
    from ..backtest import load_dataset, run_backtest
    from ..backtest.run import parse_grid

    explanations: list = []
    try:
        check_count(draws, "--draws")
        check_count(explain, "--explain")
        budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
        ds = load_dataset(dataset, str(data) if data else None)
        with cluster(scheduler, workers):
            res = run_backtest(ds, models=models, capability=capability, draws=draws, seed=seed, budget=budget,
                               holdout_wave=holdout_wave, grid=parse_grid(grid) if grid else None)
        if explain:
            from .record import explain_misses

            explanations = explain_misses(ds, res, models, explain, seed=seed, budget=budget)
    except DetenteError as exc:
        typer.echo(exc.report(), err=True)
        raise typer.Exit(2) from None
    if fmt is Format.json and explanations:
        import json

        typer.echo(json.dumps({**json.loads(res.to_json()), "explanations": [e.to_dict() for e in explanations]},
                              indent=2, allow_nan=False))
    elif fmt is Format.json:
        typer.echo(res.to_json())
    elif fmt is Format.csv:
        typer.echo(res.to_csv(), nl=False)
    elif fmt is Format.html:
        from ..report.backtest import render_backtest

        typer.echo(render_backtest(res), nl=False)
    else:
        from rich.console import Console

        con = Console()
        con.print(res.table())
        for key in ("wave", "proc", "rule", "type"):
            con.print(res.breakdown_table(key))
        con.print(res.prob_table())
        con.print(res.reliability_table())
        for key in ("wave", "proc", "rule", "type"):
            con.print(res.prob_breakdown_table(key))
        if res.skipped:
            con.print(f"[dim]{len(res.skipped)} issue(s) skipped:[/dim]")
            for s in res.skipped:
                con.print(f"[dim]  {s['issue']}: {s['reason']}[/dim]")
        for label, nr in res.not_run.items():
            con.print(f"[dim]{label}: not run on {nr['n']} issue(s): {nr['reason']}[/dim]")
        for note in res.notes:
            con.print(f"[dim]note: {note}[/dim]")
        if explanations:
            from .record import render_misses

            render_misses(explanations)


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command to ``app``."""
    app.command("backtest")(backtest)
