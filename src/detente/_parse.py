"""Reading what users give us: text files and numbers in table cells.

Shared by the scenario readers (YAML/JSON/CSV, KTAB) and the backtest
dataset loaders, so that every file is decoded, and every cell is parsed, the
same way and every mistake is reported the same way.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

from .errors import DetenteError, Problem, ScenarioError


def read_text(path: Path, error: type[DetenteError] = ScenarioError) -> str:
    """A file's text as spreadsheets and editors write it: UTF-8 (with or without a
    byte-order mark, falling back to Windows-1252), any line ends, as ``\\n``.

    Raises ``error`` (a :class:`DetenteError`) naming the file when it cannot be read.
    """
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error([Problem(file, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise error([Problem(file, None, "", "is a folder, not a file")]) from None
    except OSError as e:
        raise error([Problem(file, None, "", f"cannot read: {e.strerror}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise error([Problem(file, None, "", f"not UTF-8 text (byte {e.start})")]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_number(
    text: str | None, file: str | None, line: int | None, field: str, problems: list[Problem],
    *, missing: str | None = "missing value",
) -> float | None:
    """A finite float from a table cell, or None with a problem appended.

    A blank cell appends ``missing`` (no problem when ``missing`` is None). A
    single comma with no point is read as a decimal comma (``3,5``), as
    European spreadsheets export it.
    """
    t = (text or "").strip()
    if t == "":
        if missing is not None:
            problems.append(Problem(file, line, field, missing))
        return None
    try:
        v = float(t.replace(",", ".")) if t.count(",") == 1 and "." not in t else float(t)
    except ValueError:
        problems.append(Problem(file, line, field, f"expected a number, got {t!r}"))
        return None
    if not math.isfinite(v):
        problems.append(Problem(file, line, field, f"must be a finite number, got {t!r}"))
        return None
    return v


def slug(text: str, *, lower: bool = False) -> str:
    """A key made of letters, digits, ``_``, ``.`` and ``-`` from any name (``x`` if none is left)."""
    s = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text.strip()).strip("_.-")
    s = s.lower() if lower else s
    return s or "x"


def format_number(x: Any, digits: int = 1) -> str:
    """A number for a table: ``digits`` decimals, ``-`` for None/NaN/inf, and never ``-0.0``."""
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "-"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def table_rows(text: str, *, delimiter: str = ",", skipinitialspace: bool = False) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a delimited table with their 1-based line numbers.

    Cells are stripped and trailing blank cells dropped (spreadsheets export
    ragged rows); rows left with no cell are skipped.
    """
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=skipinitialspace)
    rows = []
    for row in reader:
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            rows.append((reader.line_num, cells))
    return rows
