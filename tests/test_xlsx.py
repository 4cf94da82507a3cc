"""Excel workbooks: scenario -> xlsx -> scenario is lossless, a user's own workbook reads, hostile ones are refused.

Every workbook here is made by the test itself (openpyxl, or zip files written by hand).
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

import detente
from detente.errors import ScenarioError
from detente.scenario import dump, dump_xlsx, load
from detente.scenario.io import shipped

RICH = {
    "name": "Wage round 2027",
    "description": "A user's own negotiation, with every kind of field.",
    "date": "2027-01-15",
    "sources": ["Interview notes, January 2027", "=not a formula, a source"],
    "calendar": {"start": "2027-01-01", "round": "2 weeks"},
    "rounds": 12,
    "salience_scale": 100,
    "issues": [
        {"key": "wage", "name": "Wage rise (%)", "description": "Yearly rise.", "scale": [0, 8], "status_quo": 1.5,
         "labels": {0: "Freeze", 2.5: "Inflation", 8: "Union demand"},
         "thresholds": [{"name": "above inflation", "value": 2.5, "direction": "above"}]},
        {"key": "hours", "name": "Weekly hours", "scale": [35, 40]},
    ],
    "actors": [
        {"key": "union", "name": "Union – Müller", "group": "labour", "color": "#c0392b", "notes": "=SUM(A1:A9) is text",
         "capability": {"value": 40, "low": 30, "high": 55, "why": "members", "source": "survey", "dist": "uniform"},
         "positions": {"wage": {"value": 7, "low": 6, "high": 8, "dist": "normal", "sd": 0.5}, "hours": 35},
         "salience": {"wage": 90, "hours": {"value": 40, "why": "-secondary"}}},
        {"key": "employers", "capability": 60.123456789012345, "positions": {"wage": 1.0, "hours": 40},
         "salience": {"wage": 80, "hours": 70}},
        {"key": "state", "name": "Mediator", "capability": 0.1, "positions": {"wage": 3.3333333333333335, "hours": 38},
         "salience": {"wage": 20, "hours": 10}},
    ],
    "events": [
        {"key": "strike", "name": "Strike vote", "type": "change", "date": "2027-03-01", "actor": "union",
         "changes": {"positions": {"wage": 8}, "salience": {"wage": 100}, "capability": 50}, "probability": 0.4,
         "why": "ballot", "source": "press"},
        {"key": "deadline", "type": "deadline", "round": 10},
    ],
    "model": {"name": "compromise", "params": {"weights": "capability", "x": [1, 2], "y": {"a": 1.5}, "z": "20", "t": True},
              "seed": 18446744073709551615},
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _book(sheets: dict[str, list[list]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# -- round trips -------------------------------------------------------------------------------------


def test_every_field_survives_xlsx(tmp_path):
    s = load(RICH)
    back = load(_write(tmp_path, "wage.xlsx", dump_xlsx(s)))
    assert back.model_dump() == s.model_dump()
    assert back.reading_notes == []


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.name)
def test_every_shipped_scenario_survives_every_format(tmp_path, path):
    s = load(path)
    for fmt in ("yaml", "json", "xlsx"):
        back = load(_write(tmp_path, f"s.{fmt}", dump(s, fmt)))
        assert back.model_dump() == s.model_dump(), fmt
    t = load(_write(tmp_path, "s.csv", dump(s, "csv")))  # the table holds actors and issues, no events or labels
    assert [a.model_dump() for a in t.actors] == [a.model_dump() for a in s.actors]


def test_the_workbook_is_the_same_bytes_every_time():
    s = load(RICH)
    assert dump_xlsx(s) == dump_xlsx(s)


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path):
    wb = openpyxl.load_workbook(io.BytesIO(dump_xlsx(load(RICH))))
    ws = wb["stakeholders"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_the_workbook_has_the_documented_sheets():
    wb = openpyxl.load_workbook(io.BytesIO(dump_xlsx(load(RICH))))
    assert wb.sheetnames == ["stakeholders", "issues", "labels", "thresholds", "events", "scenario"]
    head = [c.value for c in next(wb["stakeholders"].iter_rows())]
    assert head[:5] == ["actor", "actor_name", "group", "color", "notes"]
    assert [c.value for c in next(wb["events"].iter_rows())][-3:] == ["capability", "position:wage", "salience:wage"]


# -- a user's own workbooks -------------------------------------------------------------------------


def test_a_users_workbook_with_the_literatures_headers(tmp_path):
    data = _book({"My table": [["Stakeholder", "Resources", "Position", "Salience"],
                               ["Netherlands", 8, 4, 80], ["France", 16, 10, 60], ["Belgium", 8, 7, 40]],
                  "Notes": [["anything", "else"]]})
    s = load(_write(tmp_path, "emission.xlsx", data))
    assert [a.key for a in s.actors] == ["Netherlands", "France", "Belgium"]
    assert s.issues[0].key == "emission" and s.issues[0].scale == (4, 10)
    notes = " ".join(s.reading_notes)
    assert "'Stakeholder' as 'actor'" in notes and "'Resources' as 'capability'" in notes
    assert "ignored the sheet 'Notes'" in notes and "from the sheet 'My table'" in notes


def test_a_wide_workbook_with_an_issues_sheet(tmp_path):
    data = _book({"stakeholders": [["actor", "capability", "position:wage", "salience:wage", "position:hours", "salience:hours"],
                                   ["union", 40, 7, 90, 35, 40], ["employers", 60, 1, 80, 40, 70]],
                  "issues": [["key", "name", "scale_low", "scale_high"], ["wage", "Wage rise", 0, 8], ["hours", "Hours", 35, 40]]})
    s = load(_write(tmp_path, "wide.xlsx", data))
    assert s.issue("wage").name == "Wage rise" and s.issue("wage").scale == (0, 8)
    assert s.actor("union").positions["hours"].value == 35 and s.actor("employers").salience["hours"].value == 70
    blank = _book({"stakeholders": [["actor", "capability", "position:wage", "salience:wage", "position:hours", "salience:hours"],
                                    ["union", 40, 7, 90, 35, 40], ["employers", 60, 1, 80, None, None]]})
    with pytest.raises(ScenarioError) as e:  # a blank stance is missing, not guessed
        load(_write(tmp_path, "blank.xlsx", blank))
    assert {(q.line, q.reason) for q in e.value.problems} == {(3, "no position on issue 'hours'"), (3, "no salience on issue 'hours'")}


def test_a_formula_is_never_evaluated(tmp_path):
    # openpyxl writes a formula without a cached value: detente reads the cached value (none), never computes =2*20
    data = _book({"stakeholders": [["actor", "capability", "position", "salience"], ["a", "=2*20", 10, 50], ["b", 5, 20, 60]]})
    with pytest.raises(ScenarioError) as e:
        load(_write(tmp_path, "f.xlsx", data))
    (q,) = e.value.problems
    assert q.file.endswith("f.xlsx[stakeholders]") and q.line == 2 and q.field == "capability" and "missing" in q.reason


def test_problems_name_the_sheet_and_row(tmp_path):
    data = _book({"stakeholders": [["actor", "capability", "position", "salience"], ["a", 1, 10, 50], ["b", "lots", 20, 60]],
                  "labels": [["issue", "point", "label"], ["nope", 1, "x"]]})
    with pytest.raises(ScenarioError) as e:
        load(_write(tmp_path, "p.xlsx", data))
    got = {(Path(q.file).name, q.line, q.field) for q in e.value.problems}
    assert ("p.xlsx[stakeholders]", 3, "capability") in got


def test_saliences_on_0_1_need_a_declaration_in_a_workbook_too(tmp_path):
    rows = [["actor", "capability", "position", "salience"], ["a", 1, 10, 0.5], ["b", 2, 20, 0.8]]
    with pytest.raises(ScenarioError, match="salience_0_1"):
        load(_write(tmp_path, "s.xlsx", _book({"stakeholders": rows})))
    declared = _book({"stakeholders": rows, "scenario": [["field", "value"], ["salience_scale", 1]]})
    assert load(_write(tmp_path, "d.xlsx", declared)).salience_scale == 1
    assert load(_write(tmp_path, "s.xlsx", _book({"stakeholders": rows})), salience_scale=1).salience_scale == 1


# -- refused, each with the fix ------------------------------------------------------------------------


def test_an_old_xls_or_a_zip_under_another_name_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ScenarioError, match=r"Excel 97-2003.*save it as Excel Workbook \(.xlsx\)"):
        load(_write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600))
    book = _book({"stakeholders": [["actor", "capability", "position", "salience"], ["a", 1, 1, 50]]})
    for name in ("wage.yaml", "wage.csv", "wage.xlsx.yaml"):
        with pytest.raises(ScenarioError, match=r"zip file.*\.xlsx suffix"):
            load(_write(tmp_path, name, book))


def test_not_a_workbook(tmp_path):
    with pytest.raises(ScenarioError, match="not an .xlsx workbook: not a readable zip file"):
        load(_write(tmp_path, "x.xlsx", b"actor,capability\n"))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("hello.txt", "not a workbook")
    with pytest.raises(ScenarioError, match="not a readable .xlsx workbook"):
        load(_write(tmp_path, "y.xlsx", z.getvalue()))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("xl/worksheets/sheet1.xml", b"\0" * 60_000_000)
    assert len(z.getvalue()) < 200_000
    t0 = time.monotonic()
    with pytest.raises(ScenarioError, match=r"it would unpack to 60000000 bytes: over the limit.*DETENTE_MAX_UNZIPPED_BYTES"):
        load(_write(tmp_path, "bomb.xlsx", z.getvalue()))
    assert time.monotonic() - t0 < 30


def test_zip_bounds_can_be_lowered_and_raised(tmp_path, monkeypatch):
    p = _write(tmp_path, "w.xlsx", dump_xlsx(load(RICH)))
    monkeypatch.setenv("DETENTE_MAX_ZIP_MEMBERS", "3")
    with pytest.raises(ScenarioError, match=r"over the limit of 3 files inside one zip container.*DETENTE_MAX_ZIP_MEMBERS"):
        load(p)
    monkeypatch.setenv("DETENTE_MAX_ZIP_MEMBERS", "100")
    monkeypatch.setenv("DETENTE_MAX_CELLS", "20")
    with pytest.raises(ScenarioError, match="DETENTE_MAX_CELLS"):
        load(p)
    monkeypatch.setenv("DETENTE_MAX_CELLS", "100000")
    assert load(p).name == RICH["name"]


def _with_sheet_xml(book: bytes, xml: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, xml if info.filename == "xl/worksheets/sheet1.xml" else src.read(info.filename))
    return out.getvalue()


SHEET_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
SHEET_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def test_a_sheet_claiming_a_billionth_row_or_column_xfd_does_not_loop(tmp_path, monkeypatch):
    book = _book({"stakeholders": [["actor"]]})
    far_row = SHEET_HEAD + SHEET_NS + (b'<dimension ref="A1:XFD1048576"/><sheetData><row r="999999999">'
                                       b'<c r="A999999999" t="n"><v>1</v></c></row></sheetData></worksheet>')
    t0 = time.monotonic()
    with pytest.raises(ScenarioError, match="DETENTE_MAX_ROWS"):
        load(_write(tmp_path, "rows.xlsx", _with_sheet_xml(book, far_row)))
    monkeypatch.setenv("DETENTE_MAX_CELLS", "1000000")  # each row padded out to column XFD counts 16,384 cells
    wide = SHEET_HEAD + SHEET_NS + b"<sheetData>" + b"".join(
        b'<row r="%d"><c r="XFD%d" t="n"><v>1</v></c></row>' % (i, i) for i in range(1, 100)) + b"</sheetData></worksheet>"
    with pytest.raises(ScenarioError, match="DETENTE_MAX_CELLS"):
        load(_write(tmp_path, "cols.xlsx", _with_sheet_xml(book, wide)))
    assert time.monotonic() - t0 < 60


def test_an_entity_bomb_inside_a_sheet_is_refused(tmp_path):
    book = _book({"stakeholders": [["actor"]]})
    bomb = (SHEET_HEAD + b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' + SHEET_NS +
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&c;</t></is></c></row></sheetData></worksheet>')
    with pytest.raises(ScenarioError, match="not a readable .xlsx workbook"):
        load(_write(tmp_path, "bomb.xlsx", _with_sheet_xml(book, bomb)))


def test_without_openpyxl_the_reader_names_the_extra(tmp_path, monkeypatch):
    p = _write(tmp_path, "w.xlsx", dump_xlsx(load(RICH)))
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'detente\[xlsx\]'"):
        detente.load(p)
