"""Stakeholder tables as analysts have them: every delimiter, encoding and header dialect reads, or is refused
with a message naming the fix; saliences on 0-1 are never read as 0-100 without a word.

Every file is made here from Bueno de Mesquita's (1994) EC emission data (the shipped table and
../shared/data/bdm), written the way a spreadsheet or the literature's files would write it.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

import detente
from conftest import EMISSION, SHARED
from detente.cli import main
from detente.errors import ScenarioError
from detente.scenario import dump_csv, load

ROWS = list(csv.reader(EMISSION.open(encoding="utf-8")))[1:]  # actor, capability (shares), position, salience (0-100)


def weighted_median(rows: list[list[str]]) -> float:
    """The capability x salience weighted median position (the smallest position with half the weight at or below it)."""
    w = {float(r[2]): Fraction(0) for r in rows}
    for r in rows:
        w[float(r[2])] += Fraction(r[1]) * Fraction(r[3])
    total, acc = sum(w.values()), Fraction(0)
    for x in sorted(w):
        acc += w[x]
        if acc >= total / 2:
            return x
    raise AssertionError


def table(header: list[str], rows: list[list[str]], delimiter: str = ",", decimal: str = ".") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([c.replace(".", decimal) if c[:1].isdigit() else c for c in r])
    return buf.getvalue()


def as_0_1(rows: list[list[str]]) -> list[list[str]]:
    return [[a, c, p, str(int(s) / 100)] for a, c, p, s in rows]


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return p


REFERENCE = load(EMISSION)


def same_table(s) -> None:
    assert [(a.name, a.capability.value, a.positions[s.issues[0].key].value) for a in s.actors] == [
        (a.name, a.capability.value, a.positions[REFERENCE.issues[0].key].value) for a in REFERENCE.actors]
    scale = 100 / s.salience_scale
    assert [a.salience[s.issues[0].key].value * scale for a in s.actors] == pytest.approx(
        [a.salience[REFERENCE.issues[0].key].value for a in REFERENCE.actors])


HEAD = ["actor", "capability", "position", "salience"]


# -- delimiters and encodings ------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, encoding, note", [
    ("comma.csv", table(HEAD, ROWS), "utf-8", None),
    ("bom.csv", "\ufeff" + table(HEAD, ROWS), "utf-8", None),
    ("excel-europe.csv", table(HEAD, ROWS, ";", ","), "utf-8", "semicolon-separated"),
    ("tabs.tsv", table(HEAD, ROWS, "\t"), "utf-8", None),
    ("replication.txt", table(HEAD, ROWS, "\t"), "utf-8", None),
    ("excel-unicode.txt", "\ufeff" + table(HEAD, ROWS, "\t"), "utf-16-le", None),
    ("utf16-no-bom.txt", table(HEAD, ROWS, "\t"), "utf-16-le", None),
    ("utf16-be.csv", "\ufeff" + table(HEAD, ROWS), "utf-16-be", None),
    ("latin1.csv", table(HEAD, [["Élysée", *ROWS[0][1:]], *ROWS[1:]]), "latin-1", "Windows-1252"),
])
def test_every_delimiter_and_encoding_reads(tmp_path, name, text, encoding, note):
    s = load(write(tmp_path, name, text, encoding))
    notes = " ".join(s.reading_notes)
    assert (note in notes) if note else "separated" not in notes and "Windows-1252" not in notes
    if name == "latin1.csv":
        assert s.actors[0].name == "Élysée"
        return
    same_table(s)


# -- headers of the literature -------------------------------------------------------------------------

@pytest.mark.parametrize("header, mapped", [
    (["name", "Power", "Position", "Salience"], "'name' as 'actor', 'Power' as 'capability'"),
    (["Stakeholder", "Resources", "Stance", "Importance"], "'Stakeholder' as 'actor', 'Resources' as 'capability'"),
    (["Player", "Influence", "Position", "Saliency"], "'Influence' as 'capability'"),
    (["ACTOR", "Capability", "POSITION", "Salience"], None),
])
def test_header_synonyms_are_mapped_with_a_note(tmp_path, header, mapped):
    s = load(write(tmp_path, "t.csv", table(header, ROWS)))
    same_table(s)
    notes = " ".join(s.reading_notes)
    assert (mapped in notes) if mapped else "read the column" not in notes


def test_the_new_model_columns_are_ignored_once_with_the_reason(tmp_path):
    rows = [[*r, "0.5", "0", "1"] for r in ROWS]
    s = load(write(tmp_path, "t.txt", table(["Name", "Power", "Position", "Salience", "Flexibility", "Veto", "Fixed"], rows, "\t")))
    same_table(s)
    (note,) = [n for n in s.reading_notes if "ignored" in n]
    for col in ("'Flexibility'", "'Veto'", "'Fixed'"):
        assert note.count(col) == 1
    assert "no veto" in note and "every actor may move" in note


def test_an_unknown_column_is_a_problem_that_suggests_the_fix(tmp_path):
    with pytest.raises(ScenarioError) as e:
        load(write(tmp_path, "t.csv", table(["actor", "capabilty", "position", "salience", "colour_code"], [[*r, "x"] for r in ROWS])))
    text = str(e.value)
    assert "'capabilty' (did you mean 'capability'?)" in text and "'colour_code'" in text and "From your spreadsheet" in text


def test_a_wide_table_reads_like_the_long_one(tmp_path):
    long = load(write(tmp_path, "long.csv", "actor,issue,capability,position,salience\n"
                                          "a,tax,10,20,50\na,trade,10,30,60\nb,tax,5,80,40\nb,trade,5,70,30\n"))
    wide = load(write(tmp_path, "wide.csv", "actor,capability,position:tax,salience:tax,position:trade,salience:trade\n"
                                          "a,10,20,50,30,60\nb,5,80,40,70,30\n"))
    assert wide.model_dump(exclude={"name"}) == long.model_dump(exclude={"name"})


def test_percent_cells_declare_the_0_100_scale(tmp_path):
    rows = [[a, c, p, f"{s}%"] for a, c, p, s in ROWS]
    s = load(write(tmp_path, "t.csv", table(HEAD, rows)))
    same_table(s)
    assert s.salience_scale == 100


# -- the salience scale is never guessed ---------------------------------------------------------------

def test_saliences_on_0_1_without_a_declared_scale_are_refused_naming_both_fixes(tmp_path):
    p = write(tmp_path, "scholz.csv", table(HEAD, as_0_1(ROWS)))
    with pytest.raises(ScenarioError) as e:
        load(p)
    (q,) = e.value.problems
    assert q.line == 1 and q.field == "salience"
    assert "between 0 and 1" in q.reason and "'salience_0_1'" in q.reason and "--salience-scale 1" in q.reason


def test_scholz_emission_file_on_0_1_forecasts_7_once_declared(tmp_path):
    """Scholz, Calbert & Smith (2011) give the saliences on 0-1; declared, bdm forecasts the published 7."""
    rows = as_0_1(ROWS)
    expected = weighted_median(ROWS)
    assert expected == 7
    by_header = load(write(tmp_path, "h.csv", table(["actor", "capability", "position", "salience_0_1"], rows)))
    by_option = load(write(tmp_path, "o.csv", table(HEAD, rows)), salience_scale=1)
    by_variant = load(write(tmp_path, "v.yaml", "extends: o.csv\nsalience_scale: 1\n"))
    by_header_text = load(write(tmp_path, "t.csv", table(["actor", "capability", "position", "Salience (0-1)"], rows)))
    for s in (by_header, by_option, by_variant, by_header_text):
        same_table(s)
        assert s.salience_scale == 1
        assert detente.forecast(s, "bdm").forecast[s.issues[0].key] == expected
    assert detente.forecast(SHARED / "data" / "bdm" / "emission_ec_1994.csv", "bdm").forecast["emission_ec_1994"] == expected


def test_the_cli_declares_the_scale(tmp_path, capsys):
    p = write(tmp_path, "scholz.csv", table(HEAD, as_0_1(ROWS)))
    assert main(["validate", str(p)]) == 2
    assert "salience_0_1" in capsys.readouterr().err
    assert main(["validate", str(p), "--salience-scale", "1"]) == 0
    assert main(["forecast", str(p), "-m", "bdm", "--salience-scale", "1", "-f", "json"]) == 0
    assert '"forecast": 7.0' in capsys.readouterr().out


def test_a_declared_scale_that_disagrees_with_the_file_is_a_problem(tmp_path):
    p = write(tmp_path, "h.csv", table(["actor", "capability", "position", "salience_0_1"], as_0_1(ROWS)))
    with pytest.raises(ScenarioError, match="the column says salience_scale 1, the option says 100"):
        load(p, salience_scale=100)
    with pytest.raises(ScenarioError, match="the file says 100, the option says 1"):
        load("korea-2019", salience_scale=1)
    with pytest.raises(ScenarioError, match="must be 1 or 100"):
        load(p, salience_scale=10)


def test_capability_shares_are_read_with_a_note_not_guessed(tmp_path):
    s = load(write(tmp_path, "t.csv", table(HEAD, ROWS)))
    (note,) = [n for n in s.reading_notes if "capabilit" in n]
    assert "shares" in note and "ratios" in note
    scaled = load(write(tmp_path, "u.csv", table(HEAD, [[a, str(float(c) * 100), p, x] for a, c, p, x in ROWS])))
    assert not [n for n in scaled.reading_notes if "capabilit" in n]
    assert detente.forecast(s, "bdm").forecast == pytest.approx(
        {"t": detente.forecast(scaled, "bdm").forecast["u"]})


def test_every_shipped_table_still_reads_without_a_declaration():
    for p in (EMISSION, SHARED / "data" / "bdm" / "emission_ec_1994.csv"):
        s = load(p)
        assert s.salience_scale == 100 and len(s.actors) == 10


def test_dump_csv_declares_a_0_100_scale_whose_saliences_are_all_small(tmp_path):
    s = load({"name": "x", "issues": [{"key": "i", "scale": [0, 10]}],
              "actors": [{"key": "a", "capability": 1, "positions": {"i": 1}, "salience": {"i": 0.5}},
                         {"key": "b", "capability": 1, "positions": {"i": 9}, "salience": {"i": 1}}]})
    text = dump_csv(s)
    assert "salience_0_100" in text.splitlines()[0]
    assert load(write(tmp_path, "x.csv", text)).salience_scale == 100


# -- what is refused names the fix ------------------------------------------------------------------------

def test_an_empty_or_header_only_table(tmp_path):
    with pytest.raises(ScenarioError, match="empty"):
        load(write(tmp_path, "e.csv", "\n\n"))
    with pytest.raises(ScenarioError, match="a header but no rows"):
        load(write(tmp_path, "h.tsv", "actor\tcapability\tposition\tsalience\n"))


# -- notebooks -----------------------------------------------------------------------------------------

def test_load_accepts_a_dataframe_in_the_table_layout():
    df = pd.DataFrame([[r[0], float(r[1]), float(r[2]), float(r[3])] for r in ROWS], columns=HEAD)
    s = detente.load(df)
    same_table(s)
    assert s.source_file is None
    wide = pd.DataFrame({"Stakeholder": ["a", "b"], "Power": [1, 2], "position:tax": [10, 90], "salience:tax": [50, 60]})
    s = detente.load(wide)
    assert s.actor("b").positions["tax"].value == 90 and "'Power' as 'capability'" in " ".join(s.reading_notes)
    with pytest.raises(ScenarioError) as e:
        detente.load(pd.DataFrame({"actor": ["a", "b"], "capability": [1, None], "position": [1, 2], "salience": [10, 20]}))
    (q,) = e.value.problems
    assert (q.file, q.line, q.field) == ("<DataFrame>", 3, "capability")


def test_scenario_and_result_render_as_escaped_html():
    s = load({"name": "<script>x</script>", "issues": [{"key": "i", "name": "<b>tax</b>", "scale": [0, 10]}],
              "actors": [{"key": "a", "name": "A & <i>", "capability": 1, "positions": {"i": 1}, "salience": {"i": 50}},
                         {"key": "b", "capability": 2, "positions": {"i": 9}, "salience": {"i": 50}}]})
    for html in (s._repr_html_(), detente.forecast(s, "compromise")._repr_html_()):
        assert "<script>" not in html and "<i>" not in html and "<b>tax" not in html
        assert "&lt;script&gt;" in html and "A &amp; &lt;i&gt;" in html and "<table>" in html
    assert "6.333" in detente.forecast(s, "compromise")._repr_html_()  # (1*1*50 + 9*2*50) / (50 + 100)


# -- detente convert ------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["korea-2019", "ktab", "decide", "semicolon", "xlsx"])
@pytest.mark.parametrize("fmt", ["yaml", "json", "csv", "xlsx"])
def test_convert_between_every_format(tmp_path, source, fmt, capsys):
    src = {"korea-2019": "korea-2019",
           "ktab": str(SHARED / "data" / "ktab" / "dummyData_3Dim.csv"),
           "decide": str(write(tmp_path, "toll.txt", "#A\tCouncil\tCity council\n#A\tGreens\tGreen party\n#P\ttoll\tA toll?\n"
                                                     "#D\tCouncil\ttoll\t100\t0.9\t1\n#D\tGreens\ttoll\t0\t0.95\t1\n")),
           "semicolon": str(write(tmp_path, "e.csv", table(HEAD, ROWS, ";", ","))),
           "xlsx": "xlsx"}[source]
    if source == "xlsx":
        assert main(["convert", "korea-2019", str(tmp_path / "k.xlsx")]) == 0
        src = str(tmp_path / "k.xlsx")
    out = tmp_path / f"out.{fmt}"
    assert main(["convert", src, str(out)]) == 0
    before, after = load(src), load(out)
    if fmt == "csv":
        assert [a.model_dump() for a in after.actors] == [a.model_dump() for a in before.actors]
        if before.events:
            assert "left out: events" in capsys.readouterr().err
    else:
        assert after.model_dump(exclude={"name"} if source != "korea-2019" else set()) == \
            before.model_dump(exclude={"name"} if source != "korea-2019" else set())


def test_convert_never_replaces_a_file_without_force(tmp_path, capsys):
    out = write(tmp_path, "mine.yaml", "my own notes\n")
    assert main(["convert", "korea-2019", str(out)]) == 2
    assert "nothing was written (add --force" in capsys.readouterr().err
    assert out.read_text() == "my own notes\n"
    assert main(["convert", "korea-2019", str(out), "--force"]) == 0
    assert load(out).name.startswith("US-North Korea")


def test_convert_refuses_an_unknown_format_and_bad_input_without_writing(tmp_path, capsys):
    assert main(["convert", "korea-2019", str(tmp_path / "x.docx")]) == 2
    assert "suffix (.yaml, .json, .csv, .xlsx) or with --to" in capsys.readouterr().err
    bad = write(tmp_path, "bad.csv", table(HEAD, as_0_1(ROWS)))
    assert main(["convert", str(bad), str(tmp_path / "x.yaml")]) == 2
    assert not (tmp_path / "x.yaml").exists()
    assert main(["convert", str(bad), str(tmp_path / "x.yaml"), "--salience-scale", "1"]) == 0
    assert main(["convert", "korea-2019", "-", "--to", "json"]) == 0
    assert '"name": "US-North Korea' in capsys.readouterr().out


# -- forecast tables ----------------------------------------------------------------------------------

def _csv_tables(text: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for r in csv.DictReader(io.StringIO(text)):
        out.setdefault(r["table"], []).append(r)
    return out


def test_forecast_csv_has_the_summary_beside_the_rounds(capsys):
    assert main(["forecast", str(EMISSION), "-m", "median", "-f", "csv"]) == 0
    t = _csv_tables(capsys.readouterr().out)
    (summary,) = t["summary"]
    assert float(summary["forecast"]) == weighted_median(ROWS)  # the capability x salience weighted median
    assert len(t["positions"]) == 10 and {r["actor"] for r in t["positions"]} == {r[0] for r in ROWS}
    assert any("no bands" in n["note"] for n in t["notes"])


def test_forecast_with_draws_gives_bands_and_outcome_probabilities(tmp_path, capsys):
    out = tmp_path / "k.csv"
    assert main(["forecast", "korea-2019", "-n", "64", "--seed", "3", "-f", "csv", "-o", str(out)]) == 0
    t = _csv_tables(out.read_text(encoding="utf-8"))
    mc = detente.monte_carlo("korea-2019", draws=64, seed=3)
    for row in t["summary"]:
        dist = mc.distribution(row["issue"])
        assert float(row["forecast"]) == dist["median"]  # the headline: the median of the draws, as the table prints
        assert (float(row["lo80"]), float(row["hi80"])) == tuple(dist["intervals"]["80"])
    probs = {(r["issue"], r["outcome"]): float(r["probability"]) for r in t["outcomes"]}
    for r in mc.thresholds().to_dict("records"):
        assert probs[(r["issue"], r["name"])] == r["probability"]
    assert {r["issue"] for r in t["bands"]} == {i.key for i in mc.scenario.issues}
    assert len(t["draws"]) == 64 * len(mc.scenario.issues)


def test_forecast_xlsx_holds_the_same_tables(tmp_path):
    import openpyxl

    out = tmp_path / "f.xlsx"
    assert main(["forecast", str(EMISSION), "-m", "bdm", "-f", "xlsx", "-o", str(out)]) == 0
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["summary", "outcomes", "positions", "moves", "notes"]
    rows = list(wb["summary"].iter_rows(values_only=True))
    assert rows[0][:6] == ("issue", "issue_name", "scale_low", "scale_high", "model", "forecast")
    assert rows[1][5] == detente.forecast(EMISSION, "bdm").forecast["emission-ec-1994"]
    moves = list(wb["moves"].iter_rows(values_only=True))
    assert moves[0][:2] == ("round", "actor") and {m[1] for m in moves[1:] if m[0] == 1} == {"Belgium", "Luxembourg", "Ireland"}
    with pytest.raises(ScenarioError, match="forecast's workbook"):
        load(out)
