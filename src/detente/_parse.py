"""Reading what users give us: text files and numbers in table cells, within bounds.

Shared by the scenario readers (YAML/JSON/CSV, KTAB, Decide) and the backtest
dataset loaders, so that every file is decoded, and every cell is parsed, the
same way and every mistake is reported the same way.

Input from other people is hostile until parsed: every reader here works within
the :data:`LIMITS` (file size, rows, field size, nesting, ...). A refusal is a
:class:`~detente.errors.Problem` naming the bound and the environment variable
that raises it (documented in ``docs/scenario-format.md``, "Limits").
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import os
import re
import stat
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import DetenteError, Problem, ScenarioError
from .numfmt import fixed

# ----------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limit:
    """One bound on input: its name, default, the environment variable that sets it, and what it counts."""

    name: str
    default: float
    what: str

    @property
    def env(self) -> str:
        return "DETENTE_" + self.name.upper()


#: Every bound on input, by name. Each can be raised (or lowered) with the
#: environment variable ``DETENTE_<NAME>``, e.g. ``DETENTE_MAX_ACTORS=5000``.
LIMITS: dict[str, Limit] = {
    lim.name: lim
    for lim in (
        Limit("max_file_bytes", 10_000_000, "bytes in one input file or request text"),
        Limit("max_rows", 200_000, "rows in one table (CSV, KTAB, Decide, dataset files)"),
        Limit("max_field_chars", 65_536, "characters in one text value or table cell"),
        Limit("max_depth", 50, "levels of nesting (YAML/JSON mappings and lists, XML elements)"),
        Limit("max_nodes", 250_000, "values in one document (YAML/JSON nodes with aliases expanded, XML elements)"),
        Limit("max_aliases", 50, "YAML aliases (*name) in one document"),
        Limit("max_int_digits", 30, "digits in one whole number"),
        Limit("max_magnitude", 1e15, "for the magnitude |x| of a number"),
        Limit("max_actors", 1_000, "actors in one scenario"),
        Limit("max_issues", 200, "issues in one scenario"),
        Limit("max_events", 1_000, "events in one scenario"),
        Limit("max_rounds", 100_000, "rounds (a scenario's `rounds:` and an event's `round:`)"),
        Limit("max_zip_members", 1_000, "files inside one zip container (an .xlsx workbook)"),
        Limit("max_unzipped_bytes", 50_000_000, "bytes unpacked from one zip container (an .xlsx workbook)"),
        Limit("max_cells", 5_000_000, "cells read from one workbook (empty cells inside a row included)"),
    )
}


_SCOPE: ContextVar[dict[Any, Any] | None] = ContextVar("detente_limits", default=None)


def limit(name: str) -> Any:
    """The current value of a bound: ``DETENTE_<NAME>`` from the environment, else the default.

    Inside :func:`limits_scope` each bound is read from the environment once.
    Raises :class:`DetenteError` when the environment variable is not a positive number.
    """
    scope = _SCOPE.get()
    if scope is None:
        return _read_limit(name)
    v = scope.get(name)
    if v is None:
        v = scope[name] = _read_limit(name)
    return v


@contextmanager
def limits_scope() -> Iterator[None]:
    """Read each bound once for everything done inside (one file, one request), not once per value."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def bounded(fn: Any) -> Any:
    """Decorator: run ``fn`` inside :func:`limits_scope`."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        with limits_scope():
            return fn(*a, **kw)

    return wrapper


def _read_limit(name: str) -> Any:
    lim = LIMITS[name]
    text = os.environ.get(lim.env)
    if text is None or not text.strip():
        return lim.default
    try:
        v = float(text) if isinstance(lim.default, float) else int(text.strip().replace("_", ""))
        if not (v > 0 and math.isfinite(v)):
            raise ValueError
    except ValueError:
        raise DetenteError([Problem(None, None, lim.env, f"must be a positive number, got {text!r}")]) from None
    return v


def _fmt_limit(v: Any) -> str:
    return f"{v:g}".replace("e+", "e") if isinstance(v, float) else str(v)


def over_limit(name: str, detail: str = "") -> str:
    """The reason for a refusal: which bound, its value, and how to raise it."""
    lim = LIMITS[name]
    v = limit(name)
    head = f"{detail}: " if detail else ""
    return (f"{head}over the limit of {_fmt_limit(v)} {lim.what} "
            f"({name}; raise it with the environment variable {lim.env})")


class Refused(Exception):
    """A bound was hit while parsing (internal: readers turn it into a :class:`Problem`)."""

    def __init__(self, line: int | None, field: str, reason: str):
        super().__init__(reason)
        self.line, self.field, self.reason = line, field, reason

    def problem(self, file: str | None) -> Problem:
        return Problem(file, self.line, self.field, self.reason)


def short(text: Any, n: int = 60) -> str:
    """``repr`` of a value cut to about ``n`` characters (messages never echo a whole cell)."""
    r = repr(text)
    return r if len(r) <= n else r[: n - 5] + "...'" + f" ({len(str(text))} characters)"


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_at(text: str) -> int | None:
    """The index of the first lone surrogate in ``text`` (which is not text and cannot be written), or None."""
    m = _SURROGATE.search(text)
    return None if m is None else m.start()


# ----------------------------------------------------------------------------- files


def read_bytes(path: Path, error: type[DetenteError] = ScenarioError) -> bytes:
    """A regular file's bytes, at most ``max_file_bytes`` of them.

    Devices, FIFOs and sockets are refused before they are opened (and the
    opened file is checked again, without blocking), so ``/dev/zero`` or a
    named pipe can neither exhaust memory nor hang the reader.
    """
    file = str(path)
    cap = limit("max_file_bytes")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise error([Problem(file, None, "", "file not found")]) from None
    except OSError as e:
        raise error([Problem(file, None, "", f"cannot read: {e.strerror}")]) from None
    if stat.S_ISDIR(st.st_mode):
        raise error([Problem(file, None, "", "is a folder, not a file")])
    if not stat.S_ISREG(st.st_mode):
        raise error([Problem(file, None, "", "not a regular file (a device, pipe or socket); detente reads only regular files")])
    if st.st_size > cap:
        raise error([Problem(file, None, "", over_limit("max_file_bytes", f"the file has {st.st_size} bytes"))])
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error([Problem(file, None, "", f"cannot read: {e.strerror}")]) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error([Problem(file, None, "", "not a regular file (a device, pipe or socket); detente reads only regular files")])
        chunks, total = [], 0
        while total <= cap:
            b = os.read(fd, min(cap + 1 - total, max(st.st_size + 1, 65536)))
            if not b:
                break
            chunks.append(b)
            total += len(b)
    except OSError as e:
        raise error([Problem(file, None, "", f"cannot read: {e.strerror}")]) from None
    finally:
        os.close(fd)
    data = b"".join(chunks) if len(chunks) != 1 else chunks[0]
    if len(data) > cap:
        raise error([Problem(file, None, "", over_limit("max_file_bytes", "the file grew while read"))])
    return data


def check_zip(data: bytes, file: str | None, what: str = "an .xlsx workbook",
              error: type[DetenteError] = ScenarioError) -> None:
    """Refuse a zip container (an .xlsx workbook) that is not one, or would unpack past the bounds.

    Counted from the zip's central directory before anything is unpacked: members
    (``max_zip_members``) and their declared sizes (``max_unzipped_bytes``). Python's
    zipfile stops every member at its declared size, so a member that lies about its size
    cannot unpack more than that.
    """
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as e:
        # NotImplementedError: a header claiming a zip version or compression Python cannot read
        raise error([Problem(file, None, "", f"not {what}: not a readable zip file ({short(str(e), 80)[1:-1]})")]) from None
    if len(infos) > limit("max_zip_members"):
        raise error([Problem(file, None, "", over_limit("max_zip_members", f"the file holds {len(infos)} files"))])
    total = sum(i.file_size for i in infos)
    if total > limit("max_unzipped_bytes"):
        raise error([Problem(file, None, "", over_limit("max_unzipped_bytes", f"it would unpack to {total} bytes"))])


def path_inside(folder: Path, name: str) -> tuple[Path | None, str]:
    """``(folder / name, "")`` when that path stays inside ``folder``; else ``(None, why not)``.

    Refused: a NUL character (no file system allows one), an absolute path (or
    ``~``), any ``..``, and a path whose symbolic links lead out of the folder.
    """
    if "\x00" in name:
        return None, "a NUL character is not allowed in a file name"
    if os.path.isabs(name) or name.startswith("~"):
        return None, "an absolute path (or ~) is not allowed"
    if ".." in Path(name).parts:
        return None, "'..' may not leave the folder"
    p = folder / name
    try:
        inside = p.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    return (p, "") if inside else (None, "no symbolic link leading out of the folder")


def decode_text(data: bytes, file: str | None, error: type[DetenteError] = ScenarioError) -> str:
    """Bytes as spreadsheets and editors write them (see :func:`decode_noted`), any line ends, as ``\\n``."""
    return decode_noted(data, file, error)[0]


#: What a container format's first bytes say it is, and how to read it instead.
_NOT_TEXT = (
    (b"PK\x03\x04", "a zip file (an Excel .xlsx workbook, or an OpenDocument .ods one?): save a workbook as "
                     "Excel .xlsx and give the file the .xlsx suffix, or save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel 97-2003 (.xls) workbook: save it as Excel Workbook (.xlsx) or as CSV"),
)


def container_kind(data: bytes) -> str | None:
    """Why ``data`` is not a text file but a known container (zip, old Excel), with the fix; else None."""
    for magic, what in _NOT_TEXT:
        if data.startswith(magic):
            return what
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when ``data`` looks like UTF-16 text without a byte-order mark (ASCII every other byte)."""
    head = data[:4096]
    if len(head) < 4 or len(head) % 2:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode_noted(data: bytes, file: str | None, error: type[DetenteError] = ScenarioError) -> tuple[str, str | None]:
    """Bytes as spreadsheets and editors write them, and a note when the encoding was a guess.

    UTF-8 with or without a byte-order mark; UTF-16 (Excel's "Unicode text") with a
    byte-order mark, or without one when every other byte is zero; anything else is read
    as Windows-1252 (Latin-1), with a note saying so. Line ends become ``\\n``. A zip
    container or an old Excel workbook is refused with the way to read it.
    """
    note = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(data):
        enc = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else _utf16_without_bom(data)
        try:
            text = data.decode(enc or "utf-16")
        except UnicodeDecodeError as e:
            raise error([Problem(file, None, "", f"not UTF-16 text although it starts like it (byte {e.start})")]) from None
    else:
        what = container_kind(data)
        if what is not None:
            raise error([Problem(file, None, "", f"not a text file: this is {what}")])
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            note = (f"not UTF-8 (byte {e.start + 1} is not): read as Windows-1252 (Latin-1); if names look wrong, "
                    "save the file as UTF-8")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"), note


def read_text(path: Path, error: type[DetenteError] = ScenarioError) -> str:
    """A file's text (see :func:`read_bytes` for the bounds, :func:`decode_text` for the decoding).

    Raises ``error`` (a :class:`DetenteError`) naming the file when it cannot be read.
    """
    path = Path(path)
    scope = _SCOPE.get()
    key = None
    if scope is not None:  # within one load, a file sniffed by several readers is read once
        try:
            st = os.stat(path)
            key = ("text", str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key is not None and key in scope:
            return scope[key]
    text = decode_text(read_bytes(path, error), str(path), error)
    if key is not None and scope is not None:
        scope[key] = text
    return text


def check_text(text: str, file: str | None, error: type[DetenteError] = ScenarioError) -> None:
    """Refuse text given directly (not from a file) that is over ``max_file_bytes`` or is not text."""
    if len(text) > limit("max_file_bytes") or len(text.encode("utf-8", "surrogatepass")) > limit("max_file_bytes"):
        raise error([Problem(file, None, "", over_limit("max_file_bytes", "the text is too long"))])
    at = surrogate_at(text)
    if at is not None:
        line = text.count("\n", 0, at) + 1
        raise error([Problem(file, line, "", f"not text: a lone surrogate (U+{ord(text[at]):04X}) at character {at + 1}")])


# ----------------------------------------------------------------------------- numbers


def parse_number(
    text: str | None, file: str | None, line: int | None, field: str, problems: list[Problem],
    *, missing: str | None = "missing value",
) -> float | None:
    """A finite float of sane magnitude from a table cell, or None with a problem appended.

    A blank cell appends ``missing`` (no problem when ``missing`` is None). A
    single comma with no point is read as a decimal comma (``3,5``), as
    European spreadsheets export it. ``nan``, ``inf`` and numbers beyond
    ``max_magnitude`` are problems of the cell.
    """
    t = (text or "").strip()
    if t == "":
        if missing is not None:
            problems.append(Problem(file, line, field, missing))
        return None
    try:
        v = float(t.replace(",", ".")) if t.count(",") == 1 and "." not in t else float(t)
    except ValueError:
        problems.append(Problem(file, line, field, f"expected a number, got {short(t)}"))
        return None
    if not math.isfinite(v):
        problems.append(Problem(file, line, field, f"must be a finite number, got {short(t)}"))
        return None
    if abs(v) > limit("max_magnitude"):
        problems.append(Problem(file, line, field, over_limit("max_magnitude", f"{v:g}")))
        return None
    return v


def check_magnitude(v: float, what: str = "value") -> float:
    """``v`` when finite and within ``max_magnitude``; else ValueError naming the bound.

    1e15 keeps whole numbers exact in a float and leaves room for the models'
    products and sums (capability x salience x distance^2 over many actors) to
    stay finite, so no result turns into ``inf``/``NaN`` (``null`` in JSON).
    """
    if not math.isfinite(v):
        raise ValueError(f"{what} must be a finite number, got {v}")
    if abs(v) > limit("max_magnitude"):
        raise ValueError(over_limit("max_magnitude", f"{what} {v:g}"))
    return v


def slug(text: str, *, lower: bool = False) -> str:
    """A key made of letters, digits, ``_``, ``.`` and ``-`` from any name (``x`` if none is left)."""
    s = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text.strip()).strip("_.-")
    s = s.lower() if lower else s
    return s or "x"


def suggest(word: Any, options: Any, cutoff: float = 0.6) -> str | None:
    """The option nearest to ``word`` (:func:`difflib.get_close_matches`, case-blind), or None."""
    opts = sorted({str(o) for o in options})
    folded = {o.lower(): o for o in opts}
    hit = difflib.get_close_matches(str(word).lower(), list(folded), n=1, cutoff=cutoff)
    return folded[hit[0]] if hit else None


def did_you_mean(word: Any, options: Any) -> str:
    """``"; did you mean `x`?"`` for the nearest option, or "" when none is near."""
    s = suggest(word, options)
    return f"; did you mean `{s}`?" if s is not None else ""


#: A number for a table with a fixed count of decimals (the old name of :func:`detente.numfmt.fixed`;
#: a value on an issue's scale takes :func:`detente.numfmt.fmt`, whose decimals follow the scale).
format_number = fixed


# ----------------------------------------------------------------------------- tables


def csv_records(
    text: str, file: str | None, *, delimiter: str = ",", skipinitialspace: bool = False,
    error: type[DetenteError] = ScenarioError,
) -> Iterator[tuple[int, list[str]]]:
    """Every record of a delimited table with the line it ends on, within ``max_rows`` and ``max_field_chars``.

    Raises ``error`` naming the file and line for a malformed record or a bound hit.
    """
    cap_field = limit("max_field_chars")
    cap_rows = limit("max_rows")
    if csv.field_size_limit() < cap_field + 1:
        csv.field_size_limit(cap_field + 1)  # the csv module's own bound must not be the lower one
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=skipinitialspace)
    n = 0
    try:
        for row in reader:
            n += 1
            if n > cap_rows:
                raise error([Problem(file, reader.line_num, "", over_limit("max_rows"))])
            if row and max(map(len, row)) > cap_field:
                size = max(map(len, row))
                raise error([Problem(file, reader.line_num, "", over_limit("max_field_chars", f"a cell has {size} characters"))])
            yield reader.line_num, row
    except csv.Error as e:
        reason = str(e)
        if "field larger than field limit" in reason:
            reason = over_limit("max_field_chars", "a cell is too long")
        raise error([Problem(file, reader.line_num, "", f"not a readable table: {reason}")]) from None


_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAME = {",": "comma", ";": "semicolon", "\t": "tab"}


def sniff_delimiter(text: str, lines: int = 30) -> str:
    """The delimiter of a table (comma, semicolon or tab) that splits its first lines most consistently.

    Each candidate splits the first ``lines`` non-blank lines (quotes respected); the one whose
    rows most often have as many cells as the header, with the most cells, wins (a comma when
    nothing splits). A semicolon table with decimal commas (``0,08``) splits on semicolons.
    """
    head = [ln for ln in text.split("\n", 200)[:200] if ln.strip()][:lines]
    best, best_score = ",", (0.0, 1)
    for d in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO("\n".join(head)), delimiter=d))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        same = sum(1 for r in rows if len(r) == width)
        score = (same / len(rows), width)
        if score > best_score:
            best, best_score = d, score
    return best


def delimiter_name(d: str) -> str:
    """``comma``, ``semicolon`` or ``tab``."""
    return _DELIMITER_NAME.get(d, repr(d))


def table_rows(text: str, *, delimiter: str = ",", skipinitialspace: bool = False,
               file: str | None = None) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a delimited table with their 1-based line numbers.

    Cells are stripped and trailing blank cells dropped (spreadsheets export
    ragged rows); rows left with no cell are skipped. Bounded like
    :func:`csv_records`.
    """
    rows = []
    for line, row in csv_records(text, file, delimiter=delimiter, skipinitialspace=skipinitialspace):
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            rows.append((line, cells))
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: Any) -> Any:
    """A cell for a CSV file that a spreadsheet must not run as a formula.

    Text starting with ``= + - @`` (or a tab/CR) gets a leading ``'``, as
    spreadsheets themselves mark literal text; :func:`csv_unsafe` takes it off
    again on read. Numbers are written as they are (``-3`` is a number, not a
    formula). Text that already starts with ``'`` gets a second one, so the
    round trip is exact.
    """
    if not isinstance(cell, str) or not cell:
        return cell
    if cell[0] == "'" or (cell.startswith(_FORMULA_START) and not _is_number(cell)):
        return "'" + cell
    return cell


def csv_unsafe(cell: str) -> str:
    """The text :func:`csv_safe` was given (one leading ``'`` taken off when it guarded a cell)."""
    if cell.startswith("'") and (cell[1:2] == "'" or cell[1:].startswith(_FORMULA_START)):
        return cell[1:]
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
