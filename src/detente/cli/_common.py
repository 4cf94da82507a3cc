"""What the ``detente`` commands share: the consoles, the output writer, the budget flags, ``--param``."""

from __future__ import annotations

import contextlib
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

import typer
from rich.console import Console

from ..errors import DetenteError, Problem
from ..numfmt import fixed as format_number

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FLAGSHIP = "korea-2019"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


SALIENCE_SCALE = typer.Option(None, "--salience-scale", show_default=False,
                              help="1 or 100: the scale of a table's saliences, for a table whose header does not say "
                                   "(a column named salience_0_1 says 1).")


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


# -- where the model runs run: in this process, or on a Dask cluster (detente.executor, docs/scale.md) ----
_CLUSTER = "Cluster (Dask)"
SCHEDULER = typer.Option(None, "--scheduler", rich_help_panel=_CLUSTER, show_default=False,
                         help="Run the model runs on a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (see "
                              "docs/scale.md); the numbers are the same as in this process.")
WORKERS = typer.Option(None, "--workers", rich_help_panel=_CLUSTER, show_default=False,
                       help="Run the model runs on a local Dask cluster of this many worker processes.")


@contextlib.contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """The command's ``--scheduler`` / ``--workers``: every analysis in the body runs there (the executor is
    closed after it); neither: in this process, and dask is not imported."""
    if scheduler is None and workers is None:
        yield None
        return
    from ..executor import resolve, use

    if workers is not None:
        check_count(workers, "--workers", 1)
    with resolve(scheduler, workers) as ex, use(ex):
        err.print(f"[dim]running the model runs {ex.describe()}[/dim]")
        for note in getattr(ex, "notes", []):
            err.print(f"[yellow]note:[/yellow] {note}")
        yield ex


# -- the options the analysis commands share ---------------------------------------------------------
SCENARIO = typer.Argument(FLAGSHIP, help="Scenario file or a shipped example's name.")
MODEL = typer.Option(None, "--model", "-m", help="Model name (default: the scenario's own choice).")
FORMAT = typer.Option("table", "--format", "-f", help="table, json or csv.")
PARAM = typer.Option(None, "--param", "-p", help="Model parameter key=value (repeatable).")


def make_budget(max_seconds: Any = None, max_memory: Any = None, max_draws: Any = None, max_rounds: Any = None) -> Any:
    """The :class:`~detente.budget.Budget` of the command's flags (a bad flag is a problem, exit 2)."""
    from ..budget import Budget

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


def stability_cell(st: Any, scale: Any = None) -> str:
    """A table cell of an issue's stability diagnostics (unstable ones in bold yellow), numbers with the
    digits of the issue's ``scale``."""
    from rich.markup import escape

    from ..numfmt import fmt
    from ..stability import short

    if not st:
        return ""
    text = escape(short(st, format_number if scale is None else (lambda x: fmt(x, scale))))
    return f"[bold yellow]{text}[/bold yellow]" if st["unstable"] else f"[dim]{text}[/dim]"


_fmt = format_number
