"""Excel workbooks (.xlsx) in and out, within bounds, with openpyxl (the ``xlsx`` extra).

Reading (:func:`read_sheets`): an .xlsx file is a zip of XML files, so it is hostile twice
over. Before openpyxl sees it, the zip's directory is checked against ``max_zip_members`` and
``max_unzipped_bytes`` (:func:`detente._parse.check_zip`); openpyxl then reads it in read-only
mode with the cached values of formulas (no formula is ever evaluated), without external
links or macros, its XML parsed by defusedxml (entity declarations refused). Every row and
cell the reader walks counts against ``max_rows`` and ``max_cells``, blank ones included, so
a sheet that claims a millionth row or a column XFD cannot make it loop; text cells are
bounded by ``max_field_chars``.

Writing (:func:`workbook_bytes`): sheets of plain rows. Text is always written as text (a
cell starting with ``=`` is not a formula), and the file is the same bytes for the same
rows (fixed timestamps), so that a seed fixes a forecast's workbook bit for bit.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
import zipfile
from typing import Any

from ._extras import MissingExtraError, import_optional
from ._parse import check_zip, limit, over_limit, short
from .errors import DetenteError, Problem, ScenarioError

Sheet = list[tuple[int, list[Any]]]  # (row number, cells) for every non-blank row

#: Excel's limit on the characters of one cell.
MAX_CELL_CHARS = 32_767


def read_sheets(data: bytes, file: str | None, error: type[DetenteError] = ScenarioError) -> dict[str, Sheet]:
    """Every worksheet of a workbook, by name: its non-blank rows (row number, cell values), trailing blanks cut.

    Cell values are what openpyxl gives: ``str``, ``int``, ``float``, ``bool``,
    ``datetime`` or None. Raises ``error`` naming the file (and the bound) when the
    workbook cannot be read or is over a bound; :class:`MissingExtraError` when
    openpyxl is not installed.
    """
    check_zip(data, file, error=error)
    openpyxl = import_optional("openpyxl")
    cap_rows, cap_cells, cap_chars = limit("max_rows"), limit("max_cells"), limit("max_field_chars")
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False, keep_vba=False)
    except MissingExtraError:
        raise
    except Exception as e:  # openpyxl raises many kinds for a broken workbook; each is a problem of the file
        raise error([Problem(file, None, "", f"not a readable .xlsx workbook ({_why(e)})")]) from None
    sheets: dict[str, Sheet] = {}
    cells = 0
    try:
        for ws in wb.worksheets:
            name = str(ws.title)
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # the sheet's own claim of its size is not trusted
            rows: Sheet = []
            for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if n > cap_rows:
                    raise error([Problem(_where(file, name), n, "", over_limit("max_rows"))])
                cells += len(row)
                if cells > cap_cells:
                    raise error([Problem(_where(file, name), n, "", over_limit("max_cells"))])
                values = list(row)
                for v in values:
                    if isinstance(v, str) and len(v) > cap_chars:
                        raise error([Problem(_where(file, name), n, "",
                                             over_limit("max_field_chars", f"a cell has {len(v)} characters"))])
                while values and _blank(values[-1]):
                    values.pop()
                if values:
                    rows.append((n, values))
            sheets[name] = rows
    except DetenteError:
        raise
    except Exception as e:
        raise error([Problem(file, None, "", f"not a readable .xlsx workbook ({_why(e)})")]) from None
    finally:
        wb.close()
    return sheets


def _why(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {short(text, 100)[1:-1]}" if text else type(e).__name__


def _where(file: str | None, sheet: str) -> str:
    """How a problem names a sheet: ``file[sheet]``."""
    return f"{file or '<workbook>'}[{sheet}]"


def sheet_file(file: str | None, sheet: str) -> str:
    """The ``file`` of a problem found in ``sheet``: ``wage.xlsx[stakeholders]`` (the line is the row)."""
    return _where(file, sheet)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def cell_text(v: Any) -> str:
    """A cell as the text a CSV file would hold: numbers in full (``0.1``, ``40``), dates as ``YYYY-MM-DD``."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat()
    if isinstance(v, _dt.date | _dt.time):
        return v.isoformat()
    return str(v)


# ----------------------------------------------------------------------------- writing

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EPOCH = (1980, 1, 1, 0, 0, 0)
_CORE_TIME = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def workbook_bytes(sheets: dict[str, list[list[Any]]], widths: dict[str, dict[int, float]] | None = None,
                   *, exact: bool = False) -> bytes:
    """An .xlsx workbook of ``sheets`` (name -> rows; the first row is bold, a header), as bytes.

    Text is always a text cell (``=1+1`` stays text), numbers are numbers, None is blank.
    openpyxl writes a number with 16 significant digits; with ``exact``, a number that needs
    17 to read back the same (``1/3``) is written as its exact text instead, so that reading
    the workbook gives the very same floats.
    Raises :class:`DetenteError` for text a workbook cannot hold (control characters, more
    than 32,767 characters in a cell). The same rows give the same bytes.
    """
    openpyxl = import_optional("openpyxl")
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    for name, rows in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        for col, w in (widths or {}).get(name, {}).items():
            ws.column_dimensions[openpyxl.utils.get_column_letter(col + 1)].width = w
        for r, row in enumerate(rows):
            out = []
            for c, v in enumerate(row):
                v = _checked(v, name, r + 1, c)
                if exact and isinstance(v, float) and float("%.16g" % v) != v:
                    v = repr(v)
                cell = WriteOnlyCell(ws, value=v)
                if isinstance(v, str):
                    cell.data_type = "s"  # never a formula
                if r == 0:
                    cell.font = bold
                out.append(cell)
            ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return _stable(buf.getvalue())


def _checked(v: Any, sheet: str, row: int, col: int) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if not isinstance(v, str):
        return v
    where = f"sheet {sheet!r}, row {row}, column {col + 1}"
    if len(v) > MAX_CELL_CHARS:
        raise DetenteError([Problem(None, None, where, f"a workbook cell holds at most {MAX_CELL_CHARS} characters, "
                                                       f"this text has {len(v)}: write YAML or CSV instead")])
    m = _ILLEGAL.search(v)
    if m:
        raise DetenteError([Problem(None, None, where, f"a workbook cannot hold the control character "
                                                       f"U+{ord(m.group()):04X}: write YAML or CSV instead")])
    return v


def _stable(data: bytes) -> bytes:
    """The workbook with fixed timestamps (zip entries and document properties): same rows, same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIME.sub(rb"\g<1>2000-01-01T00:00:00Z\g<3>", body)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=_EPOCH), body, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()
