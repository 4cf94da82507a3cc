"""The analysis commands (``sensitivity``, ``advise``, ``compare``) and ``forecast --draws``.

The main CLI calls :func:`register`; ``detente forecast --draws N`` calls
:func:`forecast_draws`. User mistakes print their problems and exit with
code 2; Ctrl-C stops with a message and exit code 130.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table

from ..errors import DetenteError, Problem
from ..numfmt import fmt, fmt_percent, fmt_range
from ._common import (
    FORMAT,
    MAX_DRAWS,
    MAX_MEMORY,
    MAX_ROUNDS,
    MAX_SECONDS,
    MODEL,
    PARAM,
    SCENARIO,
    SCHEDULER,
    WORKERS,
    check_count,
    cluster,
    make_budget,
)


def _consoles():
    from ._common import err, out

    return out, err


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors and Ctrl-C into clean messages and exit codes (2, 130)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _, err = _consoles()
        try:
            return fn(*args, **kwargs)
        except DetenteError as e:
            err.print(f"[bold red]error:[/bold red] {e.report()}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as e:
            msg = str(e) or "interrupted"
            err.print(f"[yellow]stopped:[/yellow] {msg}")
            raise typer.Exit(130) from None

    return wrapper


def _emit(text: str, output: Path | None = None) -> None:
    from ._common import _write

    _write(text, output)


def _check_format(fmt: str) -> str:
    if fmt not in ("table", "json", "csv"):
        raise DetenteError([Problem(None, None, "--format", f"expected table, json or csv, got {fmt!r}")])
    return fmt


# -- Monte Carlo (forecast --draws) -----------------------------------------------------------------
def render_monte_carlo_table(mc: Any) -> None:
    """Print a Monte Carlo forecast: distribution per issue, thresholds, events."""
    out, _ = _consoles()
    s = mc.scenario
    out.print(f"[bold]{s.name}[/bold]  [dim]model: {mc.model}, {mc.draws:,} draws, seed {mc.seed}[/dim]")
    from ..calibrate import band_note, band_text
    from ._common import stability_cell

    t = Table(title="Forecast (median of the draws), its bands and the most likely branch", title_justify="left",
              header_style="bold")
    point = mc.point
    # the mean and the 50% band are in the JSON and CSV; the table keeps what fits a terminal
    # headers on two lines, so that the numbers, not the headers, set the widths
    cols = [("issue", "left"), ("forecast\n(median)", "right"), ("input\n80%", "right"), ("input\n95%", "right"),
            ("track\nrecord 80%", "right")]
    if point is not None:
        cols.append(("most likely\nbranch", "right"))
    if mc.stability is not None:
        cols.append(("stability\n(median)", "left"))
    cols.append(("meaning (median)", "left"))
    wrapped = {"issue": 24, "meaning (median)": 30, "stability\n(median)": 24}
    for c, j in cols:
        t.add_column(c, justify=j, style="bold cyan" if c.startswith("forecast") else None,  # type: ignore[arg-type]
                     no_wrap=c not in wrapped, max_width=wrapped.get(c))
    bands = mc.track_record_bands()
    for r, band in zip(mc.summary().to_dict("records"), bands):
        sc = s.issue(r["issue"]).scale
        cells = [s.issue(r["issue"]).short_name(), fmt(r["median"], sc), fmt_range(r["lo80"], r["hi80"], sc),
                 fmt_range(r["lo95"], r["hi95"], sc), band_text(band, lambda v, sc=sc: fmt(v, sc))]
        if point is not None:
            cells.append(fmt(r["most_likely"], sc))
        if mc.stability is not None:
            cells.append(stability_cell(mc.stability.get(r["issue"]), sc))
        cells.append(r["label"])
        t.add_row(*cells)
    out.print(t)
    out.print(f"[dim]{band_note(bands)}[/dim]")
    th = mc.thresholds()
    if len(th):
        t = Table(title="Thresholds", title_justify="left", header_style="bold")
        t.add_column("issue")
        t.add_column("threshold")
        t.add_column("level", justify="right")
        t.add_column("probability", justify="right", style="bold")
        for r in th.to_dict("records"):
            sign = ">=" if r["direction"] == "above" else "<="
            t.add_row(s.issue(r["issue"]).short_name(), r["name"], f"{sign} {r['value']:g}", fmt_percent(r["probability"]))
        out.print(t)
    if s.events:
        t = Table(title="Events", title_justify="left", header_style="bold")
        t.add_column("event")
        t.add_column("probability", justify="right")
        t.add_column("happened in", justify="right")
        shares = mc.event_shares
        for e in s.events:
            late = s.rounds is not None and s.event_round(e) > s.rounds
            t.add_row(e.name or e.key, f"{e.probability:g}",
                      "none: after the last round" if late else f"{fmt_percent(shares[e.key])} of draws")
        out.print(t)
    for note in mc.notes:
        out.print(f"[dim]note: {note}[/dim]")


@_guarded
def forecast_draws(scenario: str, model: Optional[str], params: dict[str, Any], draws: int, seed: Optional[int], fmt: Any,
                   output: Optional[Path] = None, budget: Any = None) -> None:
    """``detente forecast --draws N``: Monte Carlo, printed as a table, JSON or CSV."""
    from ..analysis import monte_carlo
    from ..engine import load, resolve_model

    scen = load(scenario)
    model, params = resolve_model(scen, model, params)
    if seed is None:
        seed = scen.model.seed if scen.model is not None and scen.model.seed is not None else 0
    fmt = getattr(fmt, "value", fmt)
    fmt = fmt if fmt == "xlsx" else _check_format(fmt)
    mc = monte_carlo(scen, model, draws=draws, seed=seed, params=params, budget=budget, by_round=fmt in ("csv", "xlsx"))
    if fmt == "json":
        _emit(mc.to_json(), output)
    elif fmt in ("csv", "xlsx"):  # the summary beside one run's positions by round and moves (see report.tables)
        from ..api import forecast as run_forecast
        from .files import emit_forecast_tables

        point = mc.point if mc.point is not None else run_forecast(scen, model, seed=seed, budget=budget, **params)
        emit_forecast_tables(point, mc, fmt, output)
    else:
        render_monte_carlo_table(mc)


# -- sensitivity ----------------------------------------------------------------------------------------
def render_sensitivity_table(res: Any, top: int = 10) -> None:
    """Print the strongest drivers of each issue (a tornado chart's data, or Sobol indices)."""
    out, _ = _consoles()
    s = res.scenario
    what = "one at a time" if res.method == "oat" else f"Sobol, {res.samples} base samples, {res.runs:,} runs"
    out.print(f"[bold]{s.name}[/bold]  [dim]model: {res.model}; sensitivity {what}[/dim]")
    df = res.table
    for iss in s.issues:
        sub = df[df["issue"] == iss.key].head(top)
        if res.method == "oat":
            base = sub["base"].iloc[0] if len(sub) else float("nan")
            t = Table(title=f"{iss.name} (forecast {iss.fmt(base)})", title_justify="left", header_style="bold")
            for c, j in [("input", "left"), ("range", "right"), ("forecast low -> high", "right"), ("swing", "right"), ("", "left")]:
                t.add_column(c, justify=j, no_wrap=c != "input")  # type: ignore[arg-type]
            width = max(float(sub["abs_swing"].max()) if len(sub) else 0.0, 1e-12)
            for r in sub.to_dict("records"):
                rng = "off -> on" if r["field"] == "event" else f"{r['low']:g} -> {r['high']:g}"
                bar = "#" * int(round(20 * r["abs_swing"] / width))
                t.add_row(r["label"], rng, f"{iss.fmt(r['forecast_low'])} -> {iss.fmt(r['forecast_high'])}",
                          iss.fmt(r["swing"], sign=True), bar)
        else:
            t = Table(title=iss.name, title_justify="left", header_style="bold")
            for c, j in [("input", "left"), ("first-order S1", "right"), ("total ST", "right"), ("", "left")]:
                t.add_column(c, justify=j, no_wrap=c != "input")  # type: ignore[arg-type]
            for r in sub.to_dict("records"):
                bar = "#" * int(round(20 * max(0.0, min(1.0, r["ST"]))))
                t.add_row(r["label"], f"{r['S1']:.2f} +/- {r['S1_conf']:.2f}", f"{r['ST']:.2f} +/- {r['ST_conf']:.2f}", bar)
        out.print(t)
    out.print("[bold]Top drivers[/bold]")
    for line in res.top_drivers(5):
        out.print(f"  {line}")
    for note in res.notes:
        out.print(f"[dim]note: {note}[/dim]")


def sensitivity_cmd(
    scenario: str = SCENARIO,
    model: Optional[str] = MODEL,
    method: str = typer.Option("oat", "--method", help="oat (one at a time, a tornado) or sobol (global indices)."),
    samples: int = typer.Option(1024, "--samples", "-n", help="Sobol base samples (a power of two)."),
    fmt: str = FORMAT,
    seed: int = typer.Option(0, "--seed", help="Seed of the Sobol sequence, its bootstrap and stochastic models."),
    param: Optional[list[str]] = PARAM,
    top: int = typer.Option(10, "--top", help="Rows per issue in the table."),
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
    scheduler: Optional[str] = SCHEDULER,
    workers: Optional[int] = WORKERS,
) -> None:
    """Which inputs drive each issue's forecast: one at a time (tornado) or Sobol indices."""
    from ..analysis import sensitivity
    from ._common import parse_params

    fmt = _check_format(fmt)
    if method not in ("oat", "sobol"):
        raise DetenteError([Problem(None, None, "--method", f"expected oat or sobol, got {method!r}")])
    from ..analysis.sensitivity import check_samples

    check_samples(samples, "--samples")
    check_count(top, "--top", 1)
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    with cluster(scheduler, workers):
        res = sensitivity(scenario, model, method, samples=samples, seed=seed, params=parse_params(param), budget=budget)
    if fmt == "json":
        _emit(res.to_json())
    elif fmt == "csv":
        _emit(res.to_frame().to_csv(index=False))
    else:
        render_sensitivity_table(res, top)


# -- advice ---------------------------------------------------------------------------------------------
_PULLED_BY = {"itself": "itself", "persuasion": "persuasion", "others": "others"}


def render_advice_table(adv: Any, top: int = 8) -> None:
    """Print each issue's levers, best first: the ones the actor can pull, then the what-ifs only others decide.

    Forecast, position, gain and "of the way" are medians over the draws (as in the headline; gain and
    "of the way" worked out from the printed forecasts, so they add up as read); the 10-90% range and
    "helps in" describe the per-draw gains."""
    from ..analysis.advice import shown_arithmetic

    out, _ = _consoles()
    s = adv.scenario
    me = s.actor(adv.actor).short_name()
    out.print(f"[bold]{s.name}[/bold]  [dim]advice for {me}; model: {adv.model}, {adv.draws} draws, seed {adv.seed}; "
              "medians over the draws[/dim]")
    for b in adv.base.to_dict("records"):
        iss = s.issue(b["issue"])
        f = iss.fmt
        sub = adv.table[adv.table["issue"] == b["issue"]]
        apart = shown_arithmetic(f, b["forecast"], b["forecast"], b["ideal"])["distance"]
        for pullable, title in ((True, f"{iss.name}: forecast {f(b['forecast'])}, {me} wants {f(b['ideal'])} "
                                       f"({apart} points apart)"),
                                (False, f"{iss.name}: what-ifs that only others decide")):
            part = sub[sub["pullable"] == pullable].head(top)
            if part.empty:
                continue
            t = Table(title=title, title_justify="left", header_style="bold")
            for c, j in [("lever", "left"), ("pulled by", "left"), ("forecast", "right"), ("gain", "right"),
                         ("of the way", "right"), ("10-90% of draws", "right"), ("helps in", "right")]:
                t.add_column(c, justify=j, style="bold cyan" if c == "gain" else None)  # type: ignore[arg-type]
            for r in part.to_dict("records"):  # gain and share from the printed forecasts: they add up as read
                a = shown_arithmetic(f, b["forecast"], r["forecast"], b["ideal"], r["share_of_distance"])
                t.add_row(r["lever"], _PULLED_BY[r["control"]], a["to"], a["signed_gain"], a["share"],
                          fmt_range(r["gain_p10"], r["gain_p90"], iss.scale, sep=" to "), fmt_percent(r["p_helps"]))
            out.print(t)
        tgt = adv.best_persuasion_target(b["issue"])
        if tgt:
            out.print(f"[dim]most gain per point of persuasion on {iss.name}: {s.actor(tgt).short_name()}[/dim]")
    out.print("[bold]In short[/bold]")
    for line in adv.headline():
        out.print(f"  {line}")
    for note in adv.notes:
        out.print(f"[dim]note: {note}[/dim]")


def advise_cmd(
    scenario: str = SCENARIO,
    actor: str = typer.Option(..., "--actor", "-a", help="The actor to advise (its key)."),
    issue: Optional[str] = typer.Option(None, "--issue", "-i", help="One issue (default: every issue)."),
    model: Optional[str] = MODEL,
    draws: int = typer.Option(200, "--draws", "-n", help="Monte Carlo draws shared by every lever."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws."),
    fmt: str = FORMAT,
    param: Optional[list[str]] = PARAM,
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
    scheduler: Optional[str] = SCHEDULER,
    workers: Optional[int] = WORKERS,
) -> None:
    """Which single lever moves the forecast most toward an actor's own position, and what it costs."""
    from ..analysis import advise
    from ._common import parse_params

    fmt = _check_format(fmt)
    check_count(draws, "--draws", 1)
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    with cluster(scheduler, workers):
        adv = advise(scenario, actor, issue, model=model, draws=draws, seed=seed, params=parse_params(param), budget=budget)
    if fmt == "json":
        _emit(adv.to_json())
    elif fmt == "csv":
        _emit(adv.to_frame().to_csv(index=False))
    else:
        render_advice_table(adv)


def _issue_name(cmp: Any, key: str) -> str:
    """The display name of issue ``key`` in the first compared scenario that has it."""
    for s in cmp.scenarios:
        if key in s.issue_keys:
            return str(s.issue(key).short_name())
    return key


def _scale_of(cmp: Any, key: str) -> tuple[float, float]:
    """The scale of issue ``key`` in the first compared scenario that has it."""
    for s in cmp.scenarios:
        if key in s.issue_keys:
            return s.issue(key).scale
    return (0.0, 100.0)


# -- compare --------------------------------------------------------------------------------------------
def render_compare_table(cmp: Any) -> None:
    """Print forecasts side by side, then the input differences."""
    out, _ = _consoles()
    interval = cmp.draws > 0
    t = Table(title="Forecasts" + (f" (median of {cmp.draws:,} draws, 80% interval)" if interval else ""),
              title_justify="left", header_style="bold")
    t.add_column("issue")
    t.add_column("scenario")
    for m in cmp.models:
        t.add_column(m, justify="right", style="bold cyan")
    if len(cmp.labels) > 1:
        t.add_column(f"vs {cmp.labels[0]}" + (f" ({cmp.models[0]})" if len(cmp.models) > 1 else ""), justify="right")
    df = cmp.table.set_index(["scenario", "model", "issue"])
    issues: list[str] = []
    for s in cmp.scenarios:
        issues += [k for k in s.issue_keys if k not in issues]
    for iss in issues:
        for lab in cmp.labels:
            cells = [_issue_name(cmp, iss), lab]
            for m in cmp.models:
                if (lab, m, iss) in df.index:
                    r = df.loc[(lab, m, iss)]
                    sc = _scale_of(cmp, iss)
                    cells.append(fmt(r["forecast"], sc) + (f" ({fmt_range(r['lo80'], r['hi80'], sc)})" if interval else ""))
                else:
                    cells.append("-")
            if len(cmp.labels) > 1:
                key = (lab, cmp.models[0], iss)
                shown = key in df.index and math.isfinite(df.loc[key]["diff_scenario"])
                cells.append(fmt(df.loc[key]["diff_scenario"], _scale_of(cmp, iss), sign=True) if shown else "-")
            t.add_row(*cells)
    out.print(t)
    if len(cmp.labels) > 1:
        if cmp.identical:
            out.print(f"[green]no input differences[/green] between the scenarios and {cmp.labels[0]}")
        else:
            d = Table(title=f"Inputs that differ from {cmp.labels[0]}", title_justify="left", header_style="bold")
            for c in ("scenario", "actor", "issue", "field", cmp.labels[0], "this scenario"):
                d.add_column(c, no_wrap=c not in ("actor", "issue", "field"))
            for r in cmp.shown_differences():
                d.add_row(r["scenario"], r["actor"], r["issue"], r["field"], _show(r["a"]), _show(r["b"]))
            out.print(d)
    for note in cmp.notes:
        out.print(f"[dim]note: {note}[/dim]")


def _show(text: str) -> str:
    from rich.markup import escape

    return "[dim]absent[/dim]" if text == "absent" else escape(text)


def compare_cmd(
    scenarios: list[str] = typer.Argument(..., help="Two or more scenario files or shipped examples' names."),
    models: Optional[str] = typer.Option(None, "--models", "-m",
                                         help="Comma-separated model names (default: each scenario's own choice)."),
    draws: int = typer.Option(0, "--draws", "-n", help="Monte Carlo draws (0: one deterministic run each)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws."),
    fmt: str = FORMAT,
    max_seconds: Optional[float] = MAX_SECONDS,
    max_memory: Optional[str] = MAX_MEMORY,
    max_draws: Optional[int] = MAX_DRAWS,
    max_rounds: Optional[int] = MAX_ROUNDS,
    scheduler: Optional[str] = SCHEDULER,
    workers: Optional[int] = WORKERS,
) -> None:
    """Forecast scenarios with models side by side, and list the inputs that differ."""
    from ..analysis import compare

    fmt = _check_format(fmt)
    names = [m.strip() for m in models.split(",") if m.strip()] if models is not None else None
    check_count(draws, "--draws")
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    with cluster(scheduler, workers):
        cmp = compare(scenarios, names, draws=draws, seed=seed, budget=budget)
    if fmt == "json":
        _emit(cmp.to_json())
    elif fmt == "csv":
        _emit(cmp.to_frame().to_csv(index=False))
    else:
        render_compare_table(cmp)


def register(app: typer.Typer) -> None:
    """Add ``sensitivity``, ``advise`` and ``compare`` to the ``detente`` app."""
    app.command("sensitivity")(_guarded(sensitivity_cmd))
    app.command("advise")(_guarded(advise_cmd))
    app.command("compare")(_guarded(compare_cmd))
