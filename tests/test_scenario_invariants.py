"""A scenario cannot be invalid: it is frozen, and every way of building one runs the same rules.

The rules live in the schema (``detente.scenario.schema``); ``detente.load`` of a file or a dict,
``Scenario(...)``, ``Scenario.model_validate``, ``Scenario.with_changes`` and ``load`` of a
Scenario that skipped validation all report the same problems for the same content, and a
valid scenario survives writing and reading back (YAML and CSV) unchanged.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import detente
from detente.errors import ScenarioError
from detente.scenario import Actor, Scenario, Value, dump_csv, dump_yaml

BASE = {
    "name": "t",
    "issues": [{"key": "tax", "scale": [0, 50]}, {"key": "aid", "scale": [0, 100]}],
    "actors": [
        {"key": "a", "capability": 3, "positions": {"tax": 10, "aid": 20}, "salience": {"tax": 80, "aid": 30}},
        {"key": "b", "capability": 1, "positions": {"tax": 40, "aid": 90}, "salience": {"tax": 50, "aid": 60}},
    ],
}

#: The same invalid content as a dict, as YAML text and as a CSV table (file name t.*):
#: a capability below 0, a position off its scale, a salience above 100.
BAD = copy.deepcopy(BASE)
BAD["actors"][0]["capability"] = -5
BAD["actors"][1]["positions"]["aid"] = 120
BAD["actors"][1]["salience"]["tax"] = 150
BAD_YAML = """\
name: t
issues:
  - {key: tax, scale: [0, 50]}
  - {key: aid, scale: [0, 100]}
actors:
  - {key: a, capability: -5, positions: {tax: 10, aid: 20}, salience: {tax: 80, aid: 30}}
  - {key: b, capability: 1, positions: {tax: 40, aid: 120}, salience: {tax: 150, aid: 60}}
"""
BAD_CSV = """\
actor,issue,scale_low,scale_high,capability,position,salience
a,tax,0,50,-5,10,80
a,aid,0,100,-5,20,30
b,tax,0,50,1,40,150
b,aid,0,100,1,120,60
"""
BAD_EXPECTED = {
    ("actors[a].capability", "capability must be > 0, got -5"),
    ("actors[b].positions.aid", "position value 120 is outside the scale [0, 100] of issue 'aid'"),
    ("actors[b].salience.tax", "salience value 150 is outside 0-100 (salience_scale: 100)"),
}


def problems_of(source) -> set[tuple[str, str]]:
    with pytest.raises(ScenarioError) as e:
        detente.load(source)
    return {(p.field, p.reason) for p in e.value.problems}


def reasons_of(exc: ValidationError) -> set[str]:
    return {err["msg"] for err in exc.errors()}


def test_frozen_everywhere():
    s = detente.load(BASE)
    with pytest.raises(ValidationError, match="frozen"):
        s.name = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.actors[0].capability = Value(value=-5)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.actors[0].capability.value = -5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.issues[0].scale = (0, 1)  # type: ignore[misc]
    # the lists and mappings it holds do not change in place either
    for change in (lambda: s.actors.append(s.actors[0]), lambda: s.issues.pop(), lambda: s.actors.sort(key=str),
                   lambda: s.actors[0].positions.__setitem__("tax", Value(value=99)),
                   lambda: s.actors[0].salience.update({"tax": Value(value=500)}), lambda: s.events.clear()):
        with pytest.raises(TypeError, match="frozen"):
            change()
    assert s.actors[0].capability.value == 3 and s.actors[0].positions["tax"].value == 10
    assert len(s.actors) == 2 and len(s.issues) == 2
    assert copy.deepcopy(s) == s and s.model_copy(deep=True) == s


def test_same_problems_from_dict_yaml_and_csv(tmp_path):
    y = tmp_path / "t.yaml"
    y.write_text(BAD_YAML, encoding="utf-8")
    c = tmp_path / "t.csv"
    c.write_text(BAD_CSV, encoding="utf-8")
    assert problems_of(BAD) == BAD_EXPECTED
    assert problems_of(y) == BAD_EXPECTED
    assert problems_of(c) == BAD_EXPECTED


def test_file_problems_keep_their_line(tmp_path):
    y = tmp_path / "t.yaml"
    y.write_text(BAD_YAML, encoding="utf-8")
    c = tmp_path / "t.csv"
    c.write_text(BAD_CSV, encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        detente.load(y)
    assert {(p.field, p.line) for p in e.value.problems} == {
        ("actors[a].capability", 6), ("actors[b].positions.aid", 7), ("actors[b].salience.tax", 7)}
    with pytest.raises(ScenarioError) as e:
        detente.load(c)
    # the actor's first row holds its capability; each stance is on its own row
    assert {(p.field, p.line) for p in e.value.problems} == {
        ("actors[a].capability", 2), ("actors[b].positions.aid", 5), ("actors[b].salience.tax", 4)}


def test_model_validate_and_constructor_run_the_same_rules():
    want = {reason for _, reason in BAD_EXPECTED}
    with pytest.raises(ValidationError) as e:
        Scenario.model_validate(BAD)
    assert reasons_of(e.value) == want
    assert {err["loc"] for err in e.value.errors()} == {
        ("actors", 0, "capability"), ("actors", 1, "positions", "aid"), ("actors", 1, "salience", "tax")}
    with pytest.raises(ValidationError) as e:
        Scenario(**BAD)
    assert reasons_of(e.value) == want


def test_missing_position_is_a_problem_with_its_path():
    d = copy.deepcopy(BASE)
    del d["actors"][1]["positions"]["aid"]
    with pytest.raises(ValidationError) as e:
        Scenario.model_validate(d)
    assert [(err["loc"], err["msg"]) for err in e.value.errors()] == [
        (("actors", 1, "positions"), "no position on issue 'aid'")]
    assert problems_of(d) == {("actors[b].positions", "no position on issue 'aid'")}


@pytest.mark.parametrize("change", ["capability", "position", "unknown-issue", "duplicate"])
def test_changed_scenarios_are_validated(change):
    s = detente.load(BASE)
    a = s.actors[0]
    if change == "capability":
        bad = a.model_copy(update={"capability": Value(value=-5)})
    elif change == "position":
        bad = a.model_copy(update={"positions": {**a.positions, "tax": Value(value=99)}})
    elif change == "unknown-issue":
        bad = a.model_copy(update={"salience": {**a.salience, "nope": Value(value=5)}})
    else:
        bad = s.actors[1]
    actors = [bad, s.actors[1]]
    with pytest.raises(ValidationError):
        s.with_changes(actors=actors)
    copied = s.model_copy(update={"actors": actors})  # pydantic's escape hatch skips validation...
    assert not copied.validated
    with pytest.raises(ValidationError):  # ...validating it again finds the problem
        Scenario.model_validate(copied)
    with pytest.raises(ScenarioError):  # and load never passes it through
        detente.load(copied)


def test_with_changes_gives_a_new_valid_scenario():
    s = detente.load(BASE)
    ally = Actor(key="c", capability=Value(value=2), positions={"tax": Value(value=5), "aid": Value(value=5)},
                 salience={"tax": Value(value=5), "aid": Value(value=5)})
    t = s.with_changes(actors=[*s.actors, ally])
    assert t.validated and t.actor_keys == ["a", "b", "c"] and s.actor_keys == ["a", "b"]
    with pytest.raises(TypeError, match="no field"):
        s.with_changes(nonsense=1)


def test_load_of_a_valid_scenario_is_identity(tmp_path):
    for source in (BASE, "korea-2019"):
        s = detente.load(source)
        assert detente.load(s) is s
    # a valid value that skipped validation comes back equal (validated now)
    s = detente.load("korea-2019")
    c = s.model_copy()
    assert not c.validated
    back = detente.load(c)
    assert back.validated and back == s


# -- round trips ------------------------------------------------------------------------------

_num = st.integers(-10**6, 10**6).map(lambda n: n / 8) | st.floats(-1e6, 1e6, allow_nan=False, width=64)


@st.composite
def scenarios(draw, csv: bool = False) -> Scenario:
    """Any valid scenario of 1-3 issues and 2-4 actors (what a CSV table holds, when ``csv``)."""
    n_issues = draw(st.integers(1, 3))
    n_actors = draw(st.integers(2, 4))
    sscale = draw(st.sampled_from([1, 100]))
    issues, scales = [], []
    for d in range(n_issues):
        lo = draw(_num)
        hi = lo + draw(st.floats(0.5, 1e4, allow_nan=False))
        scales.append((lo, hi))
        issue = {"key": f"i{d}", "name": draw(st.sampled_from([f"i{d}", f"Issue {d}", "Tax, rate"])), "scale": [lo, hi]}
        if draw(st.booleans()):
            issue["status_quo"] = draw(st.floats(lo, hi))
        issues.append(issue)

    def value(lo: float, hi: float) -> float | dict:
        x = draw(st.floats(lo, hi))
        if not draw(st.booleans()):
            return x
        out: dict = {"value": x, "low": draw(st.floats(lo, x)), "high": draw(st.floats(x, hi))}
        if draw(st.booleans()):
            # a CSV cell is read stripped, and an empty one is no `why`: CSV text has no surrounding spaces
            why = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
            out["why"] = draw(why.map(str.strip).filter(bool) if csv else why)
        return out

    actors = []
    for k in range(n_actors):
        actors.append({
            "key": f"a{k}",
            "name": draw(st.sampled_from([f"a{k}", f"Actor {k}", "=SUM(A1)"])),
            "capability": value(1e-3, 1e3),
            "positions": {f"i{d}": value(*scales[d]) for d in range(n_issues)},
            "salience": {f"i{d}": value(0, sscale) for d in range(n_issues)},
        })
    d = {"name": "t", "salience_scale": sscale, "issues": issues, "actors": actors}
    if not csv:
        d["description"] = draw(st.text(max_size=20).filter(lambda t: "\x00" not in t))
        d["rounds"] = draw(st.integers(1, 50))
        if draw(st.booleans()):
            d["events"] = [{"type": "change", "actor": "a0", "round": 2, "changes": {"capability": 2.5}}]
    return Scenario.model_validate(d)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def reloaded(text: str, name: str) -> Scenario:
    """``text`` written to a file ``name`` and loaded back."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / name
        p.write_text(text, encoding="utf-8")
        return detente.load(p)


@SETTINGS
@given(scenarios())
def test_any_valid_scenario_survives_yaml(s):
    assert reloaded(dump_yaml(s), "t.yaml").model_dump() == s.model_dump()


@pytest.mark.parametrize("text", ["\x85", "a\u2028b", "x\u2029 y"])
def test_yaml_keeps_the_characters_yaml_reads_as_line_breaks(text):
    """NEL, LS and PS in a text survive the YAML round trip (hypothesis found NEL folded to a space)."""
    s = Scenario.model_validate({"name": "t", "description": text, "issues": [{"key": "i0", "scale": [0, 1]}],
                                 "actors": [{"key": f"a{i}", "capability": 1, "positions": {"i0": 0},
                                             "salience": {"i0": 0}} for i in range(2)]})
    assert reloaded(dump_yaml(s), "t.yaml").description == text


@SETTINGS
@given(scenarios(csv=True))
def test_any_valid_scenario_survives_csv(s):
    assert reloaded(dump_csv(s), "t.csv").model_dump() == s.model_dump()


@SETTINGS
@given(scenarios())
def test_any_valid_scenario_survives_dict(s):
    assert detente.load(s.to_dict()).model_dump() == s.model_dump()
    assert Scenario.model_validate(s.model_dump()) == s


def test_input_scale_goes_from_file_to_model():
    from detente.analysis._draws import all_inputs, set_input

    s = detente.load(BASE)  # salience_scale 100: a salience of 80 in the file is 0.8 for a model
    sal = next(x for x in all_inputs(s) if x.kind == "salience")
    cap = next(x for x in all_inputs(s) if x.kind == "capability")
    assert sal.to_model_scale(np.array([80.0]), s).tolist() == [0.8]
    assert cap.to_model_scale(np.array([3.0]), s).tolist() == [3.0]
    inputs = s.to_inputs()
    set_input(inputs, s, sal, np.array([40.0]))
    assert inputs.salience[0, sal.actor, sal.issue] == 0.4


def test_scenario_modules_import_without_cycles():
    """The schema imports no reader; no cycle among the scenario modules' imports."""
    import ast

    def relative_imports(nodes) -> set[str]:
        return {n.module or "" for n in nodes if isinstance(n, ast.ImportFrom) and n.level == 1}

    folder = Path(detente.__file__).parent / "scenario"
    trees = {f.stem: ast.parse(f.read_text(encoding="utf-8")) for f in folder.glob("*.py")}
    # anywhere in the schema, even inside a method: only the array conversion, the writers and the HTML view
    assert relative_imports(ast.walk(trees["schema"])) <= {"arrays", "writers", "html"}
    assert "io" not in relative_imports(ast.walk(trees["validate"]))
    graph = {m: relative_imports(t.body) for m, t in trees.items()}  # at import time

    def reaches(a: str, b: str, seen: frozenset = frozenset()) -> bool:
        return any(d == b or (d not in seen and reaches(d, b, seen | {d})) for d in graph.get(a, ()))

    assert [m for m in graph if reaches(m, m)] == []
