"""KTAB CSV / XML import: every example file reads, broken files give located ScenarioErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detente.errors import ScenarioError
from detente.models import smp
from detente.scenario.ktab import looks_like_ktab_csv, read_ktab_csv, read_ktab_xml

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ktab"
CSVS = sorted(DATA.glob("*.csv"))


def test_the_shared_ktab_examples_are_there():
    # CI has ../shared beside the clone: without it the parametrised test below would silently run on nothing
    assert len(CSVS) >= 8, f"KTAB's example CSVs are missing from {DATA}"


@pytest.mark.parametrize("path", CSVS, ids=[p.name for p in CSVS])
def test_every_example_csv_reads(path):
    assert looks_like_ktab_csv(path)
    raw = read_ktab_csv(path)
    first = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    n_act, n_dim = int(first[2]), int(first[3])
    assert len(raw["actors"]) == n_act and len(raw["issues"]) == n_dim
    assert raw["salience_scale"] == 100
    keys = [i["key"] for i in raw["issues"]]
    assert len(set(keys)) == n_dim and all(i["scale"] == [0, 100] for i in raw["issues"])
    akeys = [a["key"] for a in raw["actors"]]
    assert len(set(akeys)) == n_act
    for a in raw["actors"]:
        assert a["capability"] > 0
        assert set(a["positions"]) == set(keys) == set(a["salience"])
        assert all(0 <= v <= 100 for v in a["positions"].values())
    assert "model" not in raw


def test_dummy3dim_content():
    raw = read_ktab_csv(DATA / "dummyData_3Dim.csv")
    assert raw["name"] == "DummyData_3Dim"
    assert raw["description"] == "Dummy scenario to test reading format"
    a = raw["actors"][0]
    assert a == {"key": "SActor-00", "name": "SActor-00", "notes": "Random Spatial Actor", "capability": 102.543,
                 "positions": {"pstn1": 75.79, "pstn2": 6.37, "pstn3": 70.45},
                 "salience": {"pstn1": 49.53, "pstn2": 5.91, "pstn3": 28.15}}


def test_example_xml_reads():
    raw = read_ktab_xml(DATA / "smpExample.xml")
    assert [i["name"] for i in raw["issues"]] == ["FirstDim", "SecondDim", "YADN"]
    assert [a["name"] for a in raw["actors"]] == ["Alice", "Bob", "Carol", "David", "Ellie"]
    m = raw["model"]
    assert m["name"] == "smp" and m["seed"] == 3507583219545544127
    A = m["params"].pop("accommodation")
    assert A[1][0] == 0.07 and A[1][1] == 0.75 and A[4][4] == 1.0 and A[0][1] == 0.0
    p = smp.Params(**m["params"], accommodation=A)
    assert p.pce_model == "MarkovIncentive" and p.voting_rule == "PropCbc" and p.state_transitions == "Stochastic"
    # Alice's first coordinate is empty in the file: read as 0 like KTAB, and noted
    alice = raw["actors"][0]
    assert alice["positions"]["firstdim"] == 0.0 and "no position" in alice["notes"]


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = "S, desc, 3, 2,\nActor,Description,Power,P1,S1,P2,S2,\nA, a, 10, 20, 30, 40, 50,\nB, b, 5, 60, 30, 10, 20,\nC, c, 1, 0, 10, 100, 10,\n"


def test_tolerant_csv(tmp_path):
    p = _write(tmp_path, "ok.csv", "\ufeff" + GOOD.replace("\n", " ,,\r\n"))
    assert looks_like_ktab_csv(p)
    raw = read_ktab_csv(p)
    assert [a["key"] for a in raw["actors"]] == ["A", "B", "C"]
    assert raw["actors"][2]["positions"] == {"p1": 0.0, "p2": 100.0}


def test_duplicate_names_get_unique_keys(tmp_path):
    text = "S, d, 3, 2\nActor,Description,Power,X Position,X Salience,X position,X sal\nA b, a, 1, 1, 1, 1, 1\nA-b, a, 1, 1, 1, 1, 1\nA.b, a, 1, 1, 1, 1, 1\n"
    raw = read_ktab_csv(_write(tmp_path, "d.csv", text))
    assert [i["key"] for i in raw["issues"]] == ["x", "x_2"]
    keys = [a["key"] for a in raw["actors"]]
    assert len(set(keys)) == 3 and keys[0] == "A_b"


@pytest.mark.parametrize(
    "text, line, field",
    [
        (GOOD.replace("B, b, 5, 60", "B, b, five, 60"), 4, "actors[B].capability"),
        (GOOD.replace("B, b, 5, 60", "B, b, -5, 60"), 4, "actors[B].capability"),
        (GOOD.replace("C, c, 1, 0, 10", "C, c, 1, 0, 110"), 5, "actors[C].salience[P1]"),
        (GOOD.replace("C, c, 1, 0, 10", "C, c, 1, 120, 10"), 5, "actors[C].positions[P1]"),
        (GOOD.replace("A, a, 10, 20, 30, 40, 50,", "A, a, 10, 20, 30,"), 3, ""),
        (GOOD.replace("S, desc, 3, 2", "S, desc, three, 2"), 1, "number of actors"),
        (GOOD.replace("S, desc, 3, 2", "S, desc, 4, 2"), 1, "number of actors"),
        (GOOD.replace("Actor,Description", "Name,Description"), 2, "header"),
        (GOOD.replace("C, c,", "A, c,"), 5, "Actor"),
        ("just one line\n", 1, ""),
    ],
)
def test_broken_csv(tmp_path, text, line, field):
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(ScenarioError) as e:
        read_ktab_csv(p)
    probs = e.value.problems
    assert any(pr.file == str(p) and pr.line == line and pr.field == field for pr in probs), probs


def test_sniffer_rejects_other_csv(tmp_path):
    assert not looks_like_ktab_csv(_write(tmp_path, "t.csv", "actor,capability,position\nA,1,2\n"))
    assert not looks_like_ktab_csv(tmp_path / "missing.csv")
    assert not looks_like_ktab_csv(_write(tmp_path, "e.csv", ""))


XML = """<?xml version="1.0" encoding="UTF-8"?>
<Scenario>
  <name>T</name><desc>d</desc><prngSeed>42</prngSeed>
  <ModelParameters>
    <VotingRule>Proportional</VotingRule>
    <BigRAdjust>No</BigRAdjust>
  </ModelParameters>
  <Dimensions><dName>One</dName><dName>Two</dName></Dimensions>
  <Actors>
    <Actor><name>A</name><description>x</description><capability>10</capability>
      <Position><dCoord>10</dCoord><dCoord>20</dCoord></Position>
      <Salience><dSal>30</dSal><dSal>40</dSal></Salience></Actor>
    <Actor><name>B</name><description>y</description><capability>20</capability>
      <Position><dCoord>70</dCoord><dCoord>80</dCoord></Position>
      <Salience><dSal>50</dSal><dSal>10</dSal></Salience></Actor>
    <Actor><name>C</name><description>z</description><capability>5</capability>
      <Position><dCoord>40</dCoord><dCoord>50</dCoord></Position>
      <Salience><dSal>20</dSal><dSal>20</dSal></Salience></Actor>
  </Actors>
  <IdealAdjustment>
    <iaPair><adjustingIdeal>A</adjustingIdeal><referencePos>A</referencePos><adjust>0.8</adjust></iaPair>
    <iaPair><adjustingIdeal>A</adjustingIdeal><referencePos>B</referencePos><adjust>0.2</adjust></iaPair>
  </IdealAdjustment>
</Scenario>
"""


def test_xml_spellings(tmp_path):
    raw = read_ktab_xml(_write(tmp_path, "s.xml", XML))
    m = raw["model"]
    assert m["seed"] == 42
    assert m["params"]["voting_rule"] == "Prop" and m["params"]["big_r_adjust"] == "None"
    assert m["params"]["accommodation"][0] == [0.8, 0.2, 0.0]  # identity, overridden by the pairs
    assert m["params"]["accommodation"][1] == [0.0, 1.0, 0.0]
    assert raw["actors"][1]["positions"] == {"one": 70.0, "two": 80.0}


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("<VotingRule>Proportional</VotingRule>", "<VotingRule>Majority</VotingRule>", "ModelParameters.VotingRule"),
        ("<BigRAdjust>No</BigRAdjust>", "<BigRAdjust>No</BigRAdjust><Foo>1</Foo>", "ModelParameters.Foo"),
        ("<capability>20</capability>", "<capability>x</capability>", "actors[B].capability"),
        ("<dCoord>70</dCoord><dCoord>80</dCoord>", "<dCoord>70</dCoord>", "actors[B].Position"),
        ("<referencePos>B</referencePos>", "<referencePos>Zed</referencePos>", "IdealAdjustment.referencePos"),
        ("<prngSeed>42</prngSeed>", "<prngSeed>-1</prngSeed>", "prngSeed"),
        ("<adjust>0.2</adjust>", "<adjust>0.9</adjust>", "IdealAdjustment"),
    ],
)
def test_broken_xml(tmp_path, old, new, field):
    assert old in XML
    p = _write(tmp_path, "bad.xml", XML.replace(old, new))
    with pytest.raises(ScenarioError) as e:
        read_ktab_xml(p)
    probs = e.value.problems
    assert any(pr.file == str(p) and pr.field == field and pr.line is not None for pr in probs), probs


def test_malformed_xml_names_line(tmp_path):
    p = _write(tmp_path, "m.xml", XML.replace("</Actors>", "</Actor>"))
    with pytest.raises(ScenarioError) as e:
        read_ktab_xml(p)
    pr = e.value.problems[0]
    assert pr.file == str(p) and pr.line == XML.splitlines().index("  </Actors>") + 1
    with pytest.raises(ScenarioError):
        read_ktab_xml(tmp_path / "nope.xml")
