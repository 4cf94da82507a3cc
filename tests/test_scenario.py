"""Scenario files: formats, variants, and every validation error with file, line, field and reason."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import detente
from detente.cli import main as cli_main
from detente.errors import ScenarioError
from detente.scenario import dump_csv, dump_yaml

GOOD = """\
name: test
salience_scale: 100
calendar: {start: 2020-01-01, round: 1 month}
issues:
  - key: tax
    name: Tax rate
    scale: [0, 50]
    labels: {0: none, 50: high}
    status_quo: 20
actors:
  - key: a
    name: Alpha
    capability: {value: 3, low: 2, high: 4, why: "big", source: test}
    positions: {tax: 10}
    salience: {tax: 80}
  - key: b
    capability: 1
    positions: {tax: {value: 40, low: 30, high: 45}}
    salience: {tax: 50}
events:
  - name: b gets serious
    type: change
    actor: b
    date: 2020-03-15
    changes: {salience: {tax: 90}}
    probability: 0.4
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def problems(path_or_dict) -> list:
    with pytest.raises(ScenarioError) as e:
        detente.load(path_or_dict)
    return e.value.problems


def test_good_yaml_loads(tmp_path):
    s = detente.load(write(tmp_path, "s.yaml", GOOD))
    assert s.actor_keys == ["a", "b"] and s.issue_keys == ["tax"]
    assert s.actor("b").name == "b"  # name defaults to key
    assert s.actor("b").positions["tax"].low == 30
    # 2020-03-15 falls in the third monthly round from 2020-01-01 (March), so it
    # changes the bargaining from the fourth (April) on
    assert s.event_round(s.events[0]) == 4
    assert s.calendar.round_of(s.calendar.start) == 1
    assert s.calendar.round_of(s.calendar.date_of(7)) == 7
    inp = s.to_inputs()
    assert inp.salience[0, :, 0].tolist() == [0.8, 0.5]


def test_json_and_dict_load_the_same(tmp_path):
    y = detente.load(write(tmp_path, "s.yaml", GOOD))
    d = json.loads(json.dumps(y.to_dict()))
    p = tmp_path / "s.json"
    p.write_text(json.dumps(d, indent=1))
    assert detente.load(p).model_dump() == y.model_dump()
    assert detente.load(d).model_dump() == y.model_dump()


def test_yaml_round_trip(tmp_path):
    s = detente.load(write(tmp_path, "s.yaml", GOOD))
    back = detente.load(write(tmp_path, "t.yaml", dump_yaml(s)))
    assert back.model_dump() == s.model_dump()


def test_csv_round_trip_through_a_spreadsheet(tmp_path):
    s = detente.load(write(tmp_path, "s.yaml", GOOD))
    text = dump_csv(s)
    # what a spreadsheet exports: BOM, CRLF
    p = tmp_path / "table.csv"
    p.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    t = detente.load(p)
    assert [a.model_dump() for a in t.actors] == [a.model_dump() for a in s.actors]
    assert [i.model_dump(exclude={"labels", "thresholds", "description"}) for i in t.issues] == [
        i.model_dump(exclude={"labels", "thresholds", "description"}) for i in s.issues
    ]


def test_csv_quoted_fields_and_non_ascii_names(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(
        'actor,issue,capability,position,salience\r\n"Côte d\'Ivoire, Rep.",trade,2,30,50\r\nMünchen,trade,1,60,100\r\n',
        encoding="utf-8",
    )
    s = detente.load(p)
    assert [a.name for a in s.actors] == ["Côte d'Ivoire, Rep.", "München"]
    assert s.issues[0].scale == (30.0, 60.0)


def test_csv_salience_0_1_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("actor,capability,position,salience_0_1\nA,1,0,0.5\nB,1,10,1\n")
    s = detente.load(p)
    assert s.salience_scale == 1
    assert s.to_inputs().salience[0, :, 0].tolist() == [0.5, 1.0]


def test_one_issue_literature_table(emission_csv):
    s = detente.load(emission_csv)
    assert len(s.actors) == 10 and len(s.issues) == 1
    assert s.issues[0].scale == (4.0, 10.0)


def test_variant_overrides_its_base(tmp_path):
    write(tmp_path, "base.yaml", GOOD)
    v = write(
        tmp_path,
        "v.yaml",
        """\
        extends: base.yaml
        name: variant
        actors:
          - key: b
            salience: {tax: 10}
          - key: c
            capability: 2
            positions: {tax: 5}
            salience: {tax: 5}
        events:
          - key: b-gets-serious
            remove: true
        """,
    )
    s = detente.load(v)
    assert s.name == "variant"
    assert s.actor_keys == ["a", "b", "c"]
    assert s.actor("b").salience["tax"].value == 10
    assert s.actor("b").positions["tax"].value == 40  # kept from the base
    assert s.events == []


def test_every_problem_is_reported_at_once_with_lines(tmp_path):
    bad = write(
        tmp_path,
        "bad.yaml",
        """\
        name: bad
        issues:
          - key: tax
            scale: [0, 50]
          - key: tax
            scale: [0, 10]
        actors:
          - key: a
            capability: -1
            positions: {tax: 60}
            salience: {tax: 120}
          - key: b
            capability: .nan
            positions: {tax: 10, nope: 3}
            salience: {tax: 50}
          - key: a
            capability: "lots"
            positions: {tax: 10}
            salience: {tax: 50}
        events:
          - name: ghost
            type: leave
            actor: zed
            round: 2
          - name: undated
            type: deadline
        """,
    )
    probs = problems(bad)
    text = "\n".join(str(p) for p in probs)
    expect = [
        ("issues[tax].key", "duplicate issue key", 5),
        ("actors[a].capability", "capability must be > 0", 9),
        ("actors[a].positions.tax", "outside the scale", 10),
        ("actors[a].salience.tax", "outside 0-100", 11),
        ("actors[b].capability.value", "finite", 13),
        ("actors[b].positions.nope", "unknown issue", 14),
        ("actors[a].capability", "expected a number (or a mapping", 17),
        ("events[ghost].actor", "unknown actor 'zed'", 23),
        ("events[undated]", "needs a `round` or a `date`", 25),
    ]
    for field, reason, line in expect:
        hit = [p for p in probs if p.field.startswith(field) and reason in p.reason]
        assert hit, f"missing {field}: {reason}\n{text}"
        assert hit[0].line == line, f"{field}: line {hit[0].line} != {line}\n{text}"
        assert hit[0].file == str(bad)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("name: x\nissues: [{key: i}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n", "at least 2 actors"),
        ("name: x\nissues: [{key: i}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 0, positions: {i: 1}, salience: {i: 1}}\n", "capability must be > 0"),
        ("name: x\nissues: [{key: i}]\nactors: 3\n", "must be a list"),
        ("name: [unclosed\n", "not valid YAML"),
        ("name: x\nissues: [{key: i, scale: [5, 1]}]\nactors: []\n", "scale low"),
        ("name: x\nwhatever: 1\nissues: [{key: i}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 1, positions: {i: 1}, salience: {i: 1}}\n", "unknown field"),
        ("name: x\nissues: [{key: i}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 1, positions: {i: 1}}\n", "no salience on issue 'i'"),
        ("name: x\nissues: [{key: i}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 1, positions: {i: .inf}, salience: {i: 1}}\n", "finite"),
        ("name: x\nissues: [{key: i}]\nevents: [{type: join, actor: a, date: 2020-01-01}]\nactors:\n  - {key: a, capability: 1, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 1, positions: {i: 1}, salience: {i: 1}}\n", "needs the scenario's `calendar`"),
    ],
)
def test_single_problems(tmp_path, text, reason, capsys):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    probs = problems(p)
    assert any(reason in pr.reason for pr in probs), [str(x) for x in probs]
    # the same problem through the CLI: exit code 2, the reason, no traceback
    assert cli_main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert reason in err and str(p) in err and "Traceback" not in err


def test_each_problem_is_reported_once():
    probs = problems({"name": "x", "issues": [{"key": "i"}], "actors": 3})
    assert [(p.field, p.reason) for p in probs] == [("actors", "must be a list")]


def test_wrong_types_in_a_dict_are_reported_without_a_file():
    probs = problems({"name": "x", "issues": [{"key": "i"}], "actors": [{"key": "a", "capability": "x"}]})
    assert any(p.field.startswith("actors[a].capability") and "number" in p.reason for p in probs)
    assert all(p.file is None for p in probs)


def test_variant_of_a_missing_file(tmp_path):
    v = write(tmp_path, "v.yaml", "extends: nowhere.yaml\nname: v\n")
    (p,) = problems(v)
    assert p.field == "extends" and "not found" in p.reason and p.line == 1


@pytest.mark.parametrize("kind, reason", [
    ("folder", "is a folder, not a file"),
    ("fifo", "not a regular file (a device, pipe or socket)"),
    ("binary", "not a text file"),  # a zip (any non-UTF-8 text is now read as Windows-1252 with a note)
    ("dangling", "file not found"),
    ("huge", "DETENTE_MAX_FILE_BYTES"),
])
def test_an_unreadable_base_is_reported_at_the_extends_line(tmp_path, monkeypatch, kind, reason):
    import os

    base = tmp_path / "base.yaml"
    if kind == "folder":
        base.mkdir()
    elif kind == "fifo":
        os.mkfifo(base)
    elif kind == "binary":
        base.write_bytes(b"PK\x03\x04" + bytes(60))
    elif kind == "dangling":
        base.symlink_to(tmp_path / "gone.yaml")
    else:
        base.write_text("name: b\n" + "#" * 2000 + "\n")
        monkeypatch.setenv("DETENTE_MAX_FILE_BYTES", "1000")
    v = write(tmp_path, "v.yaml", "name: v\n\nextends: base.yaml\n")
    (p,) = problems(v)
    assert (p.file, p.line, p.field) == (str(v), 3, "extends")
    assert p.reason.startswith("cannot read base scenario 'base.yaml': ") and reason in p.reason, p.reason


def test_a_problem_inside_a_base_stays_where_it_is(tmp_path):
    base = write(tmp_path, "base.yaml", "name: b\nrounds: many\n")
    v = write(tmp_path, "v.yaml", "name: v\nextends: base.yaml\n")
    probs = problems(v)
    assert any(p.file == str(base) and p.line == 2 and p.field == "rounds" for p in probs), probs
    base.write_bytes(b"name: b\nrounds: \x81\xff\xfe\n")  # bytes that are no text: a problem of their line in the base
    (p,) = problems(v)
    assert (p.file, p.line) == (str(base), 2), p


def test_cycle_of_variants(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    (p,) = problems(tmp_path / "a.yaml")
    assert "cycle" in p.reason and "a.yaml -> b.yaml -> a.yaml" in p.reason


def test_csv_problems_name_the_row(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("actor,issue,capability,position,salience\nA,x,1,10,50\nB,x,zero,20,50\nA,x,1,30,50\nC,x,1,nan,50\n")
    probs = problems(p)
    assert any(pr.line == 3 and pr.field == "capability" and "number" in pr.reason for pr in probs)
    assert any(pr.line == 4 and "duplicate row" in pr.reason for pr in probs)
    assert any(pr.line == 5 and pr.field == "position" and "finite" in pr.reason for pr in probs)


def test_csv_missing_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("actor,capability,position\nA,1,2\n")
    (pr,) = problems(p)
    assert pr.field == "salience" and "missing column" in pr.reason and pr.line == 1


# --------------------------------------------------------------------------- through the CLI


def test_cli_validate_reports_problems_with_exit_code_2(tmp_path, capsys):
    bad = write(tmp_path, "bad.yaml", "name: x\nissues: [{key: i}]\nactors:\n  - {key: a, capability: -2, positions: {i: 1}, salience: {i: 1}}\n  - {key: b, capability: 1, positions: {i: 1}, salience: {i: 1}}\n")
    assert cli_main(["validate", str(bad)]) == 2
    errtext = capsys.readouterr().err
    assert f"{bad}:4: actors[a].capability: capability must be > 0, got -2" in errtext
    assert "Traceback" not in errtext


@pytest.mark.parametrize(
    "content",
    ["", "name: [oops\n", "actor,capability\nA,1\n", "\x00\x01binary", "name: x\nissues: 5\nactors: 7\n"],
)
def test_cli_never_shows_a_traceback(tmp_path, content):
    p = tmp_path / ("bad.csv" if content.startswith("actor") else "bad.yaml")
    p.write_bytes(content.encode("utf-8"))
    proc = subprocess.run(
        [sys.executable, "-m", "detente.cli", "forecast", str(p)], capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert str(p) in proc.stderr.replace("\n", "")


def test_format_number_never_prints_negative_zero():
    from detente._parse import format_number

    assert format_number(-0.04) == "0.0" and format_number(-1e-12, 3) == "0.000"
    assert format_number(-0.05) == "-0.1" and format_number(2.345, 2) == "2.35"
    assert format_number(None) == "-" and format_number(float("nan")) == "-" and format_number(float("inf")) == "-"


def test_value_compact_form_with_and_without_its_rationale():
    from detente.scenario.schema import Value

    bare = Value(value=40, why="a guess", source="me")
    assert bare.compact() == {"value": 40.0, "why": "a guess", "source": "me"}
    assert bare.compact(rationale=False) == 40.0  # only the number is left
    ranged = Value(value=40, low=30, high=50, dist="uniform", why="w")
    assert ranged.compact(rationale=False) == {"value": 40.0, "low": 30.0, "high": 50.0, "dist": "uniform"}
    assert Value(value=3).compact() == 3.0


def test_compare_lists_a_changed_range_but_not_a_changed_rationale():
    base = {
        "name": "t", "issues": [{"key": "x", "scale": [0, 100]}],
        "actors": [{"key": "a", "capability": {"value": 40, "why": "old"}, "positions": {"x": 20}, "salience": {"x": 50}},
                   {"key": "b", "capability": 10, "positions": {"x": 80}, "salience": {"x": 50}}],
    }
    other = json.loads(json.dumps(base))
    other["actors"][0]["capability"] = {"value": 40, "why": "new reason"}
    other["actors"][1]["capability"] = {"value": 10, "low": 5, "high": 20}
    from detente.analysis import diff_scenarios

    diff = diff_scenarios(detente.load(base), detente.load(other))
    rows = diff
    assert [(r["actor"], r["field"]) for r in rows] == [("b", "capability")]
    assert rows[0]["a"] == 10.0 and rows[0]["b"] == {"value": 10.0, "low": 5.0, "high": 20.0}
