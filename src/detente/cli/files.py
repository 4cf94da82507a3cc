"""``detente convert`` (a scenario from any format detente reads into any it writes), and the forecast's tables as files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from ..errors import DetenteError, Problem
from ._common import SALIENCE_SCALE, err, write_failure

#: Output suffix -> format.
_FORMAT_OF = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".csv": "csv", ".xlsx": "xlsx"}


def write_bytes(data: bytes, output: Path | None, *, force: bool = True, what: str = "--output") -> None:
    """Write ``data`` to ``output`` (standard output when None) whole, or not at all.

    Without ``force`` an existing file is left as it is (a problem says so). A file is written
    beside its target and then moved over it, so a failed write leaves the old file untouched.
    Binary data (a workbook) is not sent to a terminal.
    """
    if output is None or str(output) == "-":
        if data[:2] == b"PK" and sys.stdout.isatty():
            raise DetenteError([Problem(None, None, what, "a workbook is not text: give a file to write it to "
                                        "(--output FILE.xlsx)")])
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    if output.exists() and not output.is_file():  # a device or a pipe (/dev/stdout): write into it
        try:
            with open(output, "wb") as f:
                f.write(data)
        except OSError as e:
            raise DetenteError([Problem(str(output), None, what, write_failure(e))]) from None
        return
    if output.exists() and not force:
        raise DetenteError([Problem(str(output), None, what, "the file exists; nothing was written (add --force to "
                                    "replace it)")])
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, output)
    except OSError as e:
        raise DetenteError([Problem(str(output), None, what, write_failure(e))]) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    err.print(f"wrote {escape(str(output))}")


def _format_of(out: str, to: Optional[str]) -> str:
    from ..scenario import FORMATS

    if to is not None:
        if to.lower() not in FORMATS:
            raise DetenteError([Problem(None, None, "--to", f"expected one of {', '.join(FORMATS)}, got {to!r}")])
        return to.lower()
    fmt = _FORMAT_OF.get(Path(out).suffix.lower())
    if fmt is None:
        raise DetenteError([Problem(out, None, "OUT", "say the format by the suffix (.yaml, .json, .csv, .xlsx) "
                                    "or with --to")])
    return fmt


def _left_out(s: Any) -> list[str]:
    """What a CSV stakeholder table cannot hold of ``s``."""
    parts = [("events", bool(s.events)), ("issue labels", any(i.labels for i in s.issues)),
             ("thresholds", any(i.thresholds for i in s.issues)), ("issue descriptions", any(i.description for i in s.issues)),
             ("the description", bool(s.description)), ("sources", bool(s.sources)), ("the date", s.date is not None),
             ("the calendar", s.calendar is not None), ("rounds", s.rounds is not None), ("the model choice", s.model is not None)]
    return [name for name, there in parts if there]


def convert(
    source: str = typer.Argument(..., help="Scenario to read: YAML, JSON, CSV/TSV table, .xlsx, KTAB, Decide, or a shipped name."),
    out: str = typer.Argument(..., help="File to write; its suffix says the format (.yaml, .json, .csv, .xlsx); - for standard output."),
    to: Optional[str] = typer.Option(None, "--to", help="Format to write (yaml, json, csv, xlsx), whatever the suffix."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    salience_scale: Optional[int] = SALIENCE_SCALE,
) -> None:
    """Convert a scenario between formats: YAML, JSON, CSV, xlsx (KTAB and Decide files read).

    An existing OUT is never replaced without --force. A CSV table holds actors and issues
    only; what it leaves out is listed.
    """
    from ..engine import load
    from ..scenario import dump

    fmt = _format_of(out, to)
    target = None if out == "-" else Path(out)
    if target is not None and target.exists() and target.is_file() and not force:
        raise DetenteError([Problem(out, None, "OUT", "the file exists; nothing was written (add --force to replace it)")])
    s = load(source, salience_scale=salience_scale)
    data = dump(s, fmt)
    write_bytes(data, target, force=force, what="OUT")
    for note in s.reading_notes:
        err.print(f"[dim]note: {escape(note)}[/dim]")
    lost = _left_out(s) if fmt == "csv" else []
    if lost:
        err.print(f"[yellow]note:[/yellow] a CSV table holds actors and issues only; left out: {escape(', '.join(lost))} "
                  "(write .yaml or .xlsx to keep them)")


def emit_forecast_tables(result: Any, mc: Any, fmt: str, output: Path | None) -> None:
    """A forecast (and its Monte Carlo draws, if any) as CSV or a workbook (see :mod:`detente.report.tables`)."""
    from ..report.tables import forecast_tables, tables_csv, tables_xlsx

    tables = forecast_tables(result, mc)
    if mc is not None:
        df = mc.to_frame()
        tables["draws"] = [list(df.columns), *(list(r) for r in df.itertuples(index=False, name=None))]
    data = tables_xlsx(tables) if fmt == "xlsx" else tables_csv(tables).encode("utf-8")
    write_bytes(data, output)


def register(app: typer.Typer) -> None:
    """Add ``convert`` to the ``detente`` app."""
    app.command()(convert)
