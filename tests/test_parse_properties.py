"""Property tests over every reader: arbitrary bytes, text, and mutations of valid files give a
problem list (a DetenteError naming the file), or a scenario/dataset; never another exception.

Readers: YAML, JSON, stakeholder tables (comma, semicolon, tab; UTF-8 and UTF-16), Excel
workbooks (random bytes, byte edits of a real workbook, and workbooks of random cells), pandas
DataFrames, KTAB CSV and XML, Decide files (each both through ``detente.load`` and directly),
scenario dicts, and the backtest datasets (DEU layout and outcomes folders). Example counts are kept small so that the suite stays fast;
the strategies mix random bytes with small edits of real files, which reach deep into
each reader.
"""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detente
from detente.backtest.data import deu_path, load_deu, load_outcomes
from detente.errors import DatasetError, DetenteError, ScenarioError
from detente.scenario import dump_xlsx
from detente.scenario.decide import read_decide
from detente.scenario.io import read_csv_table, shipped_dir
from detente.scenario.ktab import read_ktab_csv, read_ktab_xml

EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

XML = """<?xml version="1.0" encoding="UTF-8"?>
<Scenario>
  <name>Toy</name><desc>two actors</desc><prngSeed>7</prngSeed>
  <ModelParameters><VictoryProbModel>Linear</VictoryProbModel><VotingRule>Proportional</VotingRule></ModelParameters>
  <Dimensions><dName>Tax</dName><dName>Trade</dName></Dimensions>
  <Actors>
    <Actor><name>A</name><description>first</description><capability>10</capability>
      <Position><dCoord>20</dCoord><dCoord>30</dCoord></Position><Salience><dSal>50</dSal><dSal>60</dSal></Salience></Actor>
    <Actor><name>B</name><description>second</description><capability>5</capability>
      <Position><dCoord>80</dCoord><dCoord>70</dCoord></Position><Salience><dSal>40</dSal><dSal>30</dSal></Salience></Actor>
  </Actors>
  <IdealAdjustment><iaPair><adjustingIdeal>A</adjustingIdeal><referencePos>B</referencePos><adjust>0.2</adjust></iaPair></IdealAdjustment>
</Scenario>
"""

DECIDE = ("#O\tToll\n#A\tCouncil\tCity council\n#A\tGreens\tGreen party\tsmall\n#P\ttoll\tShould there be a toll?\n"
          "#M\ttoll\t0\tNo\n#M\ttoll\t100\tYes\n#D\tCouncil\ttoll\t100\t0.9\t1\n#D\tGreens\ttoll\t0\t0.95\t1\n")

JSON = ('{"name": "x", "issues": [{"key": "i", "scale": [0, 10], "labels": {"0": "a"}, "status_quo": 2}], '
        '"actors": [{"key": "a", "color": "#abc", "capability": {"value": 1, "low": 0.5, "high": 2}, "positions": {"i": 1}, '
        '"salience": {"i": 50}}, {"key": "b", "capability": 2, "positions": {"i": 3}, "salience": {"i": 5}}], '
        '"events": [{"type": "change", "actor": "a", "date": "2020-03-01", "changes": {"positions": {"i": 2}}}], '
        '"calendar": {"start": "2020-01-01", "round": "1 month"}, "model": {"name": "smp", "seed": 3, "params": {"x": 1}}}')

SAMPLES = {
    "yaml": (".yaml", (shipped_dir() / "korea-2019-wait.yaml").read_text(encoding="utf-8")),
    "json": (".json", JSON),
    "csv": (".csv", (shipped_dir() / "emission-ec-1994.csv").read_text(encoding="utf-8")),
    "ktab-csv": (".csv", (shipped_dir() / "ktab-dummy-3dim.csv").read_text(encoding="utf-8")),
    "ktab-xml": (".xml", XML),
    "decide": (".txt", DECIDE),
    "tsv": (".tsv", (shipped_dir() / "emission-ec-1994.csv").read_text(encoding="utf-8").replace(",", "\t")),
    "semicolon": (".csv", "Stakeholder;Resources;Position;Salience (0-1);Veto\nNL;0,08;4;0,8;0\nFR;0,16;10;0,6;1\nUK;0,16;10;0,9;0\n"),
}

PIECES = ["\n", "\t", ",", ";", ":", "-", "[", "]", "{", "}", "&a", "*a", "'", '"', ".nan", ".inf", "1e308", "1.0e308",
          "9" * 40, "<", ">", "&", "&#0;", "<!ENTITY x 'y'>", "#D", "#A", "#M", "? ", "!!binary", "\\ud800", "\x00", "\ufeff",
          "extends: /etc/passwd\n", "extends: ../x.yaml\n"]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for pos, cut, ins in edits:
        pos = min(pos, len(text))
        text = text[:pos] + ins + text[pos + cut:]
    return text


def mutated(text: str) -> st.SearchStrategy[str]:
    edit = st.tuples(st.integers(0, len(text)), st.integers(0, 12), st.text(max_size=8) | st.sampled_from(PIECES))
    return st.lists(edit, min_size=1, max_size=6).map(lambda e: _apply(text, e))


def content(kind: str) -> st.SearchStrategy[bytes]:
    text = SAMPLES[kind][1]
    as_bytes = st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    return st.one_of(st.binary(max_size=300), as_bytes,
                     mutated(text).map(lambda t: t.encode("utf-8", "surrogatepass")))


def _in_file(suffix: str, data: bytes, fn) -> None:
    with tempfile.TemporaryDirectory(prefix="detente-prop-") as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        try:
            fn(p)
        except DetenteError as e:
            assert e.problems, "a DetenteError lists its problems"
            assert all(isinstance(q.reason, str) and q.reason for q in e.problems)


def _load(p: Path) -> None:
    try:
        detente.load(p)
    except ScenarioError as e:
        assert any(q.file is not None for q in e.problems)  # a file's problems name a file
        raise


@SETTINGS
@given(content("yaml"))
def test_yaml_reader(data):
    _in_file(".yaml", data, _load)


@SETTINGS
@given(content("json"))
def test_json_reader(data):
    _in_file(".json", data, _load)


@SETTINGS
@given(content("csv"))
def test_csv_stakeholder_reader(data):
    _in_file(".csv", data, _load)
    _in_file(".csv", data, lambda p: read_csv_table(p, p.read_text(encoding="utf-8", errors="replace")))


@SETTINGS
@given(content("tsv"))
def test_tab_separated_table_reader(data):
    _in_file(".tsv", data, _load)
    _in_file(".txt", data, _load)
    _in_file(".txt", data.decode("utf-8", "replace").encode("utf-16"), _load)


@SETTINGS
@given(content("semicolon"))
def test_semicolon_table_reader(data):
    _in_file(".csv", data, _load)
    _in_file(".csv", data, lambda p: read_csv_table(p, salience_scale=1))


WORKBOOK = dump_xlsx(detente.load("korea-2019-wait"))
CELLS = st.one_of(st.none(), st.integers(-10**20, 10**20), st.floats(), st.booleans(), st.text(max_size=12),
                  st.sampled_from(["actor", "capability", "position", "salience", "salience_0_1", "issue", "key", "type",
                                   "field", "value", "point", "label", "name", "=1+1", "position:i", "Power", "Veto",
                                   "salience_scale", "param:x", "{a: *b}", "2020-02-30", "change", "i", "a"]))
SHEET_NAMES = st.sampled_from(["stakeholders", "issues", "labels", "thresholds", "events", "scenario", "Sheet1", "x"])


def _random_book(sheets: dict) -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:  # text a worksheet cannot hold (control characters) is left out: openpyxl refuses to write it
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@SETTINGS
@given(st.one_of(st.binary(max_size=400),
                 st.lists(st.tuples(st.integers(0, len(WORKBOOK) - 1), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4)
                 .map(lambda edits: functools.reduce(lambda b, e: b[:e[0]] + e[1] + b[e[0] + len(e[1]):], edits, WORKBOOK))))
def test_workbook_reader_bytes(data):
    _in_file(".xlsx", data, _load)


@SETTINGS
@given(st.dictionaries(SHEET_NAMES, st.lists(st.lists(CELLS, max_size=6), max_size=6), min_size=1, max_size=3))
def test_workbook_reader_cells(sheets):
    _in_file(".xlsx", _random_book(sheets), _load)


@SETTINGS
@given(st.lists(st.sampled_from(["actor", "capability", "position", "salience", "Power", "position:i", "salience:i", "x",
                                 "issue", "salience_0_1"]), min_size=1, max_size=5, unique=True)
       .flatmap(lambda cols: st.tuples(st.just(cols), st.lists(st.lists(CELLS, min_size=len(cols), max_size=len(cols)), max_size=5))))
def test_dataframe_reader(frame):
    import pandas as pd

    cols, rows = frame
    try:
        detente.load(pd.DataFrame(rows, columns=cols, dtype=object))
    except ScenarioError as e:
        assert e.problems and all(q.reason for q in e.problems)


@SETTINGS
@given(content("ktab-csv"))
def test_ktab_csv_reader(data):
    _in_file(".csv", data, _load)
    _in_file(".csv", data, read_ktab_csv)


@SETTINGS
@given(content("ktab-xml"))
def test_ktab_xml_reader(data):
    _in_file(".xml", data, _load)
    _in_file(".xml", data, read_ktab_xml)


@SETTINGS
@given(content("decide"))
def test_decide_reader(data):
    _in_file(".txt", data, _load)
    _in_file(".txt", data, read_decide)


KEYS = ["name", "issues", "actors", "events", "key", "scale", "labels", "status_quo", "thresholds", "value", "low",
        "high", "dist", "sd", "why", "capability", "positions", "salience", "color", "type", "round", "date", "actor",
        "changes", "probability", "calendar", "start", "rounds", "salience_scale", "model", "params", "seed", "extends",
        "i", "a", "b", "direction", "remove"]
ATOMS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                  st.sampled_from(["i", "a", "b", "korea-2019", "/etc/passwd", "change", "join", "leave", "deadline",
                                   "#fff", "2020-01-01", "1 month", "smp", "normal", "\ud800"]))
TREES = st.recursive(ATOMS, lambda ch: st.lists(ch, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), ch,
                                                                                    max_size=6), max_leaves=40)


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), TREES, max_size=8))
def test_scenario_dict_reader(d):
    try:
        detente.load(d)
    except ScenarioError as e:
        assert e.problems


DEU = {n: (deu_path() / n).read_text(encoding="utf-8")[:3000].rsplit("\n", 1)[0] + "\n"
       for n in ("issues.csv", "positions.csv", "council_weights.csv", "gdp_capability.csv")}


@SETTINGS
@given(st.sampled_from(sorted(DEU)), st.one_of(st.binary(max_size=200), st.sampled_from(sorted(DEU)).flatmap(lambda n: mutated(DEU[n]))))
def test_deu_dataset_reader(which, data):
    with tempfile.TemporaryDirectory(prefix="detente-prop-") as d:
        for n, text in DEU.items():
            (Path(d) / n).write_text(text, encoding="utf-8")
        (Path(d) / which).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        try:
            load_deu(d)
        except DatasetError as e:
            assert e.problems


OUTCOMES = "scenario,issue,outcome,wave\ns.yaml,i,5,1\ns.yaml,1,3,2\n"
SCENARIO = ("name: s\nissues: [{key: i, scale: [0, 10]}]\nactors:\n - {key: a, capability: 1, positions: {i: 1}, salience: {i: 50}}\n"
            " - {key: b, capability: 2, positions: {i: 3}, salience: {i: 5}}\n - {key: c, capability: 2, positions: {i: 7}, salience: {i: 5}}\n")


@SETTINGS
@given(st.one_of(st.binary(max_size=200), mutated(OUTCOMES)), st.one_of(st.just(SCENARIO), mutated(SCENARIO)))
def test_outcomes_dataset_reader(outcomes, scenario):
    with tempfile.TemporaryDirectory(prefix="detente-prop-") as d:
        (Path(d) / "s.yaml").write_text(scenario, encoding="utf-8", errors="surrogatepass")
        (Path(d) / "outcomes.csv").write_bytes(outcomes if isinstance(outcomes, bytes) else outcomes.encode("utf-8", "surrogatepass"))
        try:
            load_outcomes(d)
        except DatasetError as e:
            assert e.problems


@SETTINGS
@given(st.text(max_size=30))
def test_csv_formula_guard_round_trips(text):
    from detente._parse import csv_safe, csv_unsafe

    cell = csv_safe(text)
    assert csv_unsafe(cell) == text
    if text[:1] in ("=", "+", "-", "@"):  # a formula, unless it is a plain number such as -3
        try:
            float(text)
        except ValueError:
            assert cell.startswith("'")
