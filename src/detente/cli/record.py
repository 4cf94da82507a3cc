"""``detente score`` and ``detente explain``: forecasts against what actually happened.

The main CLI calls :func:`register`. User mistakes (a bad ``--outcome``, an
unknown model) print their problems and exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from ..numfmt import fixed as _fmt
from ._common import FORMAT, MAX_DRAWS, MAX_MEMORY, MAX_ROUNDS, MAX_SECONDS, MODEL, PARAM, SCENARIO, make_budget
from .analysis import _check_format, _consoles, _emit, _guarded

#: ``-o`` is ``--output`` here, as on forecast and report (it once meant ``--outcome`` on these two commands).
OUTPUT = typer.Option(None, "--output", "-o", help="Write the JSON or CSV to this file.")
OUTCOME = typer.Option(None, "--outcome",
                       help="The outcome, e.g. deal=15,sanctions=0 (default: the scenario's recorded outcome).")


def _scenario_seed(scenario: str, seed: Optional[int]) -> tuple[Any, int]:
    """The scenario, and the seed: the one given, else the scenario's own, else 0."""
    from ..engine import load, scenario_seed

    scen = load(scenario)
    return scen, scenario_seed(scen, seed)


def _show(res: Any, fmt: str, output: Optional[Path], table: Any) -> None:
    """A result as JSON, CSV (its frame) or a table."""
    if fmt == "json":
        _emit(res.to_json(), output)
    elif fmt == "csv":
        _emit(res.to_frame().to_csv(index=False), output)
    else:
        table(res)


# -- score ------------------------------------------------------------------------------------------------
def render_score_table(res: Any) -> None:
    """Print every model's error per issue, the probability it gave the outcome's neighbourhood, and its band."""
    out, _ = _consoles()
    s = res.scenario
    what = f"{res.draws:,} draws, seed {res.seed}" if res.draws else "point forecasts only"
    out.print(f"[bold]{s.name}[/bold]  [dim]scored against the record; {what}[/dim]")
    given = "forecast_given_record" in res.table.columns
    for key, y in res.outcome.items():
        r = res.radius(key)
        o = s.record.issues.get(key) if s.record is not None else None
        title = f"{s.issue(key).name}: recorded {y:g}" + (f" ({s.issue(key).label_for(y)})" if s.issue(key).labels else "")
        t = Table(title=title, title_justify="left", header_style="bold")
        cols = [("model", "left"), ("forecast (median)" if res.draws else "forecast", "right"), ("error", "right")]
        if res.draws:
            cols.append(("most likely branch", "right"))
        if given:
            cols.append(("given the record's events", "right"))
        if res.draws:
            cols += [(f"P(±{r:g})", "right"), ("80% band", "right"), ("outcome vs band", "left")]
        for c, j in cols:
            t.add_column(c, justify=j, style="bold cyan" if c == "error" else None)  # type: ignore[arg-type]
        sub = res.table[res.table["issue"] == key]
        for row in sub.to_dict("records"):
            cells = [row["model"], _fmt(row["forecast"]), f"{row['error']:+.1f}"]
            if res.draws:
                cells.append(f"{_fmt(row['most_likely'])} ({row['error_most_likely']:+.1f})")
            if given:
                cells.append(f"{_fmt(row['forecast_given_record'])} ({row['error_given_record']:+.1f})")
            if res.draws:
                cells += [f"{100 * row['p_near']:.0f}%", f"{_fmt(row['band_low'])}-{_fmt(row['band_high'])}",
                          row["where"]]
            t.add_row(*cells)
        out.print(t)
        if o is not None and o.value == y and o.why:
            out.print(f"[dim]record: {o.why}[/dim]")
        if o is not None and o.value == y and o.source:
            out.print(f"[dim]source: {o.source}[/dim]")
    summ = res.summary()
    t = Table(title="By model", title_justify="left", header_style="bold")
    t.add_column("model")
    t.add_column("mean abs. error", justify="right", style="bold cyan")
    if res.draws:
        t.add_column("mean P(neighbourhood)", justify="right")
        t.add_column("outcomes inside the band", justify="right")
    for row in summ.to_dict("records"):
        cells = [row["model"], f"{row['mae']:.1f}"]
        if res.draws:
            cells += [f"{100 * row['mean_p_near']:.0f}%", f"{row['inside_band']} of {row['scored']}"]
        t.add_row(*cells)
    out.print(t)
    for m, why in res.not_run.items():
        out.print(f"[dim]{m}: not run: {why}[/dim]")
    for note in res.notes:
        out.print(f"[dim]note: {note}[/dim]")


def score_cmd(
    scenario: str = SCENARIO,
    models: Optional[str] = typer.Option(None, "--models", "-m", help="Comma-separated model names (default: every model)."),
    outcome: Optional[str] = OUTCOME,
    draws: int = typer.Option(500, "--draws", "-n", help="Monte Carlo draws per model (0: point forecasts only)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the draws and of stochastic models."),
    neighbourhood: float = typer.Option(0.05, "--neighbourhood", help="Half-width of the outcome's neighbourhood, "
                                        "as a share of each issue's scale (0.05: +/-5 points on 0-100)."),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
) -> None:
    """Score every model's forecast against what actually happened (the scenario's record)."""
    from ..analysis import score
    from ._common import check_count

    fmt = _check_format(fmt)
    check_count(draws, "--draws")
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    scen, seed = _scenario_seed(scenario, seed)
    res = score(scen, models, outcome=outcome, draws=draws, seed=seed, neighbourhood=neighbourhood, budget=budget)
    _show(res, fmt, output, render_score_table)


# -- explain ----------------------------------------------------------------------------------------------
def render_explanation(ex: Any) -> None:
    """Print the smallest change found: ranked inputs, from -> to, in units, inside the ranges or not."""
    out, _ = _consoles()
    s = ex.scenario
    out.print(f"[bold]{s.name}[/bold]  [dim]explain with {ex.model}; {ex.evaluations:,} model runs, seed {ex.seed}[/dim]")
    t = Table(title="Forecast and outcome", title_justify="left", header_style="bold")
    for c in ("issue", "outcome", "forecast", "after the change"):
        t.add_column(c, justify="left" if c == "issue" else "right")
    for key, y in ex.outcome.items():
        t.add_row(s.issue(key).short_name(), f"{y:g} ± {ex.tolerance * (s.issue(key).scale[1] - s.issue(key).scale[0]):g}",
                  _fmt(ex.base[key]), _fmt(ex.forecast[key]) if ex.status() != "already" else "-")
    out.print(t)
    if len(ex.changes):
        title = "The smallest change found" if ex.reached else "The closest the search came"
        t = Table(title=title, title_justify="left", header_style="bold")
        for c, j in [("#", "right"), ("input", "left"), ("from -> to", "right"), ("units", "right"),
                     ("unit", "left"), ("inside the range", "left")]:
            t.add_column(c, justify=j, style="bold cyan" if c == "units" else None)  # type: ignore[arg-type]
        for r in ex.changes.to_dict("records"):
            rng = ("-" if r["range_low"] is None or r["range_high"] != r["range_high"] else
                   f"{r['range_low']:g}-{r['range_high']:g}")
            unit = f"{r['unit']:g} ({r['unit_basis']})"
            inside = "yes" if r["inside_range"] else (f"no (range {rng})" if rng != "-" else "no (no range given)")
            t.add_row(str(r["rank"]), r["label"], f"{_fmt(r['from'])} -> {_fmt(r['to'])}", f"{r['units']:+.2f}", unit, inside)
        out.print(t)
    out.print("[bold]In short[/bold]")
    for line in ex.headline():
        out.print(f"  {line}")
    for note in ex.notes:
        out.print(f"[dim]note: {note}[/dim]")


def explain_cmd(
    scenario: str = SCENARIO,
    outcome: Optional[str] = OUTCOME,
    model: Optional[str] = MODEL,
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the search and of stochastic models."),
    tolerance: float = typer.Option(0.05, "--tolerance", help="How close counts as reproducing the outcome, as a "
                                    "share of each issue's scale (0.05: +/-5 points on 0-100)."),
    within_ranges: bool = typer.Option(False, "--within-ranges", help="Search only inside the analyst's ranges."),
    vary: Optional[str] = typer.Option(None, "--vary", help="Kinds of input that may change: capability, position, "
                                       "salience (comma-separated; default all)."),
    evaluations: Optional[int] = typer.Option(None, "--evaluations", help="Model runs the search may make "
                                              "(default: about 10 s of computing, 4,000-40,000)."),
    param: Optional[list[str]] = PARAM,
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
) -> None:
    """The smallest change to the inputs that makes a model reproduce an outcome (default: the recorded one)."""
    from ..analysis import explain
    from ._common import parse_params

    fmt = _check_format(fmt)
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    scen, seed = _scenario_seed(scenario, seed)
    ex = explain(scen, outcome, model, seed=seed, tolerance=tolerance, within_ranges=within_ranges, vary=vary,
                 evaluations=evaluations, params=parse_params(param), budget=budget)
    _show(ex, fmt, output, render_explanation)


# -- backtest --explain -----------------------------------------------------------------------------------
def explain_misses(ds: Any, res: Any, models: Optional[str], n: int, *, seed: int = 0, budget: Any = None) -> list:
    """Explain the ``n`` largest misses of each model given (``--models``; default the reference) on ``ds``."""
    from .. import models as registry
    from ..analysis import explain
    from ..backtest import REFERENCE, capabilities
    from ..backtest.run import _specs
    from ..backtest.scenarios import issue_scenario, largest_misses
    from ..errors import DetenteError, Problem

    specs = [sp for sp in _specs(models) if models is not None and sp.label != REFERENCE or models is None
             and sp.label == REFERENCE] or [sp for sp in _specs(models) if sp.label == REFERENCE]
    out = []
    cache: dict[str, Any] = {}
    for sp in specs:
        if sp.label not in res.forecasts:
            continue
        kind = sp.capability or res.capability
        if kind not in cache:
            try:
                cache[kind] = capabilities(ds, kind)[0]
            except ValueError as e:
                raise DetenteError([Problem(None, None, "capability", str(e))]) from None
        coupled = bool(getattr(registry.get(sp.name), "COUPLES_ISSUES", False))
        where = {iss.key: j for j, iss in enumerate(ds.issues)}  # the scored issues may be a subset (a held-out wave)
        for i in largest_misses(res.outcome, res.forecasts[sp.label], n):
            scen = issue_scenario(ds, where[res.issues[i]["issue"]], cache[kind], couples_issues=coupled)
            ex = explain(scen, model=sp.name, params=dict(sp.params), seed=seed, budget=budget)
            ex.notes.insert(0, f"backtest {sp.label}: forecast {res.forecasts[sp.label][i]:.4g}, decision "
                               f"{res.outcome[i]:.4g} (capability: {kind})")
            out.append(ex)
    return out


def render_misses(explanations: list) -> None:
    """One short table per explained miss: the issue, the decision, the forecast, the top changes."""
    out, _ = _consoles()
    out.print("[bold]The largest misses, explained[/bold]")
    for ex in explanations:
        key, y = next(iter(ex.outcome.items()))
        head = f"{ex.model} on {key}: decision {y:g}, forecast {_fmt(ex.base[key])} -> {ex.status()}"
        t = Table(title=head, title_justify="left", header_style="bold")
        for c, j in [("#", "right"), ("input", "left"), ("from -> to", "right"), ("units of scale", "right")]:
            t.add_column(c, justify=j)  # type: ignore[arg-type]
        for r in ex.changes.head(5).to_dict("records"):
            t.add_row(str(r["rank"]), r["label"], f"{r['from']:.3g} -> {r['to']:.3g}", f"{r['units']:+.2f}")
        out.print(t)
        if len(ex.changes) > 5:
            out.print(f"[dim]  and {len(ex.changes) - 5} smaller changes[/dim]")
        if not ex.reached:
            out.print(f"[dim]  {ex.headline()[-1]}[/dim]")


def register(app: typer.Typer) -> None:
    """Add ``score`` and ``explain`` to the ``detente`` app."""
    app.command("score")(_guarded(score_cmd))
    app.command("explain")(_guarded(explain_cmd))
