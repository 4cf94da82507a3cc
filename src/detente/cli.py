"""The ``detente`` command line (typer + rich).

Bad input never shows a traceback: every user mistake is a
:class:`~detente.errors.DetenteError`, printed as a list of problems (file,
line, field, reason) with exit code 2.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._extras import missing_extra
from ._parse import format_number
from ._version import __version__
from .errors import DetenteError, Problem

app = typer.Typer(
    name="detente",
    help="Forecast negotiations and collective decisions with the field's bargaining models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FLAGSHIP = "korea-2019"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _version(value: bool) -> None:
    if value:
        out.print(f"detente {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Forecast negotiations and collective decisions."""


# -- the compute budget (see detente.budget): the same four flags on every command that computes --------
_BUDGET = "Compute budget"
MAX_SECONDS = typer.Option(None, "--max-seconds", rich_help_panel=_BUDGET, show_default=False,
                           help="Refuse a run estimated to compute longer than this many seconds (default 600).")
MAX_MEMORY = typer.Option(None, "--max-memory", rich_help_panel=_BUDGET, show_default=False,
                          help="Refuse a run estimated to need more memory than this, e.g. 2GB (default 1GB).")
MAX_DRAWS = typer.Option(None, "--max-draws", rich_help_panel=_BUDGET, show_default=False,
                         help="Refuse more model runs than this in one analysis (default 1,000,000).")
MAX_ROUNDS = typer.Option(None, "--max-rounds", rich_help_panel=_BUDGET, show_default=False,
                          help="Refuse runs of more rounds than this (default 10,000).")


def make_budget(max_seconds: Any = None, max_memory: Any = None, max_draws: Any = None, max_rounds: Any = None) -> Any:
    """The :class:`~detente.budget.Budget` of the command's flags (a bad flag is a problem, exit 2)."""
    from .budget import Budget

    return Budget.of(seconds=max_seconds, memory=max_memory, draws=max_draws, rounds=max_rounds)


def check_count(value: int, flag: str, minimum: int = 0) -> int:
    """A count flag such as ``--draws``: a whole number >= ``minimum``, else a problem (exit 2)."""
    if value < minimum:
        raise DetenteError([Problem(None, None, flag, f"expected a whole number >= {minimum}, got {value}")])
    return value


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["rounds=20", "variant=paper"]`` -> ``{"rounds": 20, "variant": "paper"}``."""
    import yaml

    params: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise DetenteError([Problem(None, None, "--param", f"expected key=value, got {item!r}")])
        key, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        params[key.strip()] = value
    return params


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        if output.exists() and not output.is_file():  # a device or a pipe (/dev/stdout): write into it
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        else:  # a file: write beside it, then replace it whole (a failed write leaves the old file as it was)
            tmp = output.with_name(output.name + ".tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, output)
            finally:
                if tmp.exists():
                    tmp.unlink()
    except OSError as e:
        raise DetenteError([Problem(str(output), None, "--output", write_failure(e))]) from None
    err.print(f"wrote {output}")


def write_failure(e: OSError) -> str:
    """Why a file could not be written, in plain words (disk full, read-only, no permission...)."""
    import errno

    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.ENOENT: "its folder does not exist",
           errno.EISDIR: "it is a folder"}.get(e.errno or 0)
    return f"cannot write: {why or e.strerror or e}" + ("; nothing was written" if why else "")


_fmt = format_number


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
    t.add_column("meaning")
    for iss in s.issues:
        f = result.issues[iss.key]["forecast"]
        t.add_row(escape(iss.name), f"{iss.scale[0]:g}-{iss.scale[1]:g}", _fmt(f), escape(iss.label_for(f)) if f is not None else "")
    out.print(t)

    last = result.history[-1]
    title = "Positions as stated -> at the end (salience)"
    p = Table(title=title, title_justify="left", header_style="bold")
    p.add_column("actor", max_width=24, no_wrap=True, overflow="ellipsis")
    p.add_column("capability", justify="right")
    for iss in s.issues:
        p.add_column(escape(iss.key), justify="right")
    for a in s.actors:
        cells = [escape(a.name), f"{a.capability.value:g}"]
        for iss in s.issues:
            x0 = a.positions[iss.key].value
            x1 = last["positions"].get(a.key, {}).get(iss.key)
            sal = f"({a.salience[iss.key].value:g})"
            if x1 is None:
                cells.append(f"{_fmt(x0)} -> [dim]absent[/dim]")
            elif abs(x1 - x0) > 0.05:
                cells.append(f"{_fmt(x0)} -> {_fmt(x1)} {sal}")
            else:
                cells.append(f"{_fmt(x0)} {sal}")
        p.add_row(*cells)
    out.print(p)
    for note in result.notes:
        out.print(f"[dim]note: {escape(note)}[/dim]")


@app.command()
def forecast(
    scenario: str = typer.Argument(FLAGSHIP, help="Scenario file (YAML, JSON, CSV, KTAB) or a shipped example's name."),
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
) -> None:
    """Forecast a scenario (default: the flagship, the 2019 US-North Korea talks)."""
    from .api import forecast as run_forecast

    check_count(draws, "--draws")
    budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
    if draws > 0:
        from .cli_analysis import forecast_draws

        return forecast_draws(scenario, model, parse_params(param), draws, seed, format, output, budget=budget)
    result = run_forecast(scenario, model, seed=seed, budget=budget, **parse_params(param))
    if format == Format.json:
        _write(result.to_json(), output)
    elif format == Format.csv:
        _write(result.to_frame().to_csv(index=False), output)
    else:
        render_forecast_table(result)


@app.command()
def validate(files: list[str] = typer.Argument(..., help="Scenario files to check.")) -> None:
    """Check scenario files and report every problem (exit code 2 if any)."""
    from .api import load

    problems: list[Problem] = []
    for f in files:
        try:
            s = load(f)
        except DetenteError as e:
            problems.extend(e.problems)
        else:
            out.print(f"[green]ok[/green] {escape(f)}: {escape(s.name)} "
                      f"({len(s.actors)} actors, {len(s.issues)} issues, {len(s.events)} events)")
    if problems:
        raise DetenteError(problems)


@app.command("models")
def list_models() -> None:
    """List the available models with a line and a citation each."""
    from . import models

    t = Table(header_style="bold")
    t.add_column("name", style="bold")
    t.add_column("what it does")
    t.add_column("citation", style="dim")
    for name in models.names():
        m = models.get(name)
        t.add_row(name, escape(m.SUMMARY), escape(m.CITATION))
    out.print(t)


@app.command()
def scenarios() -> None:
    """List the example scenarios shipped with detente."""
    from .api import load
    from .scenario.io import shipped

    t = Table(header_style="bold")
    t.add_column("name", style="bold")
    t.add_column("actors", justify="right")
    t.add_column("issues", justify="right")
    t.add_column("description")
    for p in shipped():
        s = load(p)
        t.add_row(escape(p.stem), str(len(s.actors)), str(len(s.issues)), escape(_first_sentence(s.description or "", 110)))
    out.print(t)


@app.command()
def warmup() -> None:
    """Compile the models' numba kernels into numba's cache (run once after installing)."""
    import time

    from . import models
    from .models._jit import DISABLE_ENV, numba_available

    if not numba_available():
        why = f"{DISABLE_ENV} is set" if os.environ.get(DISABLE_ENV, "") not in ("", "0") else "numba is not installed (the 'fast' extra)"
        out.print(f"{why}: nothing to compile; the kernels run as plain Python")
        return
    t0 = time.perf_counter()
    done = models.warmup()
    out.print(f"compiled the kernels of {', '.join(done) or 'no model'} into numba's cache "
              f"in {time.perf_counter() - t0:.1f} s")


def _register_extensions() -> None:
    """Commands contributed by other modules of detente."""
    import importlib

    for mod in _EXTENSIONS:
        importlib.import_module(mod).register(app)


_EXTENSIONS: list[str] = ["detente.cli_backtest", "detente.cli_analysis", "detente.cli_report"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``detente`` console script."""
    _register_extensions()
    try:
        app(args=argv, prog_name="detente")
    except SystemExit as e:  # click's own exits: --help, usage errors (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except DetenteError as e:
        err.print(f"[bold red]error:[/bold red] {escape(e.report())}", highlight=False)
        return 2
    except KeyError as e:
        from .models import UnknownModelError

        if not isinstance(e, UnknownModelError):
            return _internal_error(e)
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except ImportError as e:
        message = missing_extra(e)
        if message is None:
            return _internal_error(e)
        err.print(f"[bold red]error:[/bold red] {escape(message)}")
        return 1
    except Exception as e:  # a genuine bug
        return _internal_error(e)
    return 0


def _internal_error(e: BaseException) -> int:
    if os.environ.get("DETENTE_DEBUG"):
        raise e
    err.print(f"[bold red]internal error:[/bold red] {type(e).__name__}: {escape(str(e))}\n"
              "(set DETENTE_DEBUG=1 for a traceback, and please report it)")
    return 1


def run() -> None:  # pragma: no cover - the console script goes through detente.__main__
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
