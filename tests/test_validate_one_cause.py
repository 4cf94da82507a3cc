"""Validation tells the one cause (issue #12 point 7).

A typo is reported once, with the nearest valid name, and does not cascade into follow-on problems
(a missing field it meant, an actor it made invalid); an unknown shipped name gets a suggestion.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import detente
from detente.errors import ScenarioError


def _wage(**actor_fields):
    union = {"key": "union", "name": "Union", "capability": 1, "positions": {"wage": 6}, "salience": {"wage": 80}}
    union.update(actor_fields)
    return {
        "name": "wage talk",
        "issues": [{"key": "wage", "scale": [0, 10]}],
        "actors": [union, {"key": "employers", "capability": 2, "positions": {"wage": 2}, "salience": {"wage": 70}}],
        "events": [{"name": "strike", "type": "change", "actor": "union", "round": 3, "probability": 0.5,
                    "changes": {"positions": {"wage": 8}}}],
    }


def _problems(raw):
    with pytest.raises(ScenarioError) as e:
        detente.load(raw)
    return e.value.problems


def test_a_misspelt_field_is_one_problem_with_the_valid_name():
    raw = _wage()
    raw["actors"][0]["salince"] = raw["actors"][0].pop("salience")
    (p,) = _problems(raw)  # not also "no salience on issue 'wage'" nor "unknown actor 'union'"
    assert p.field == "actors[union].salince"
    assert p.reason == "unknown field; did you mean `salience`?"


def test_the_typo_is_read_as_the_field_it_meant():
    # the misspelt salience is checked as salience: its own problem is found too, and only it
    raw = _wage()
    raw["actors"][0].pop("salience")
    raw["actors"][0]["salince"] = {"wage": 180}
    reasons = sorted(p.reason for p in _problems(raw))
    assert reasons == ["salience value 180 is outside 0-100 (salience_scale: 100)", "unknown field; did you mean `salience`?"]


def test_a_far_unknown_field_lists_the_known_ones():
    raw = _wage(zzz=1)
    (p,) = _problems(raw)
    assert p.field == "actors[union].zzz" and p.reason.startswith("unknown field (known: ")
    assert "salience" in p.reason


def test_top_level_and_nested_typos():
    raw = _wage()
    raw["actor"] = raw.pop("actors")
    (p,) = _problems(raw)  # not also "actors: required field is missing"
    assert (p.field, p.reason) == ("actor", "unknown field; did you mean `actors`?")
    raw = _wage(positions={"wage": {"value": 6, "low": 5, "hihg": 7}})
    reasons = [p.reason for p in _problems(raw)]
    assert "unknown field; did you mean `high`?" in reasons


def test_an_out_of_range_position_is_one_problem():
    (p,) = _problems(_wage(positions={"wage": 16}))
    assert p.field == "actors[union].positions.wage" and "outside the scale [0, 10]" in p.reason


def test_a_misspelt_issue_key_does_not_also_miss_the_issue():
    (p,) = _problems(_wage(positions={"wgae": 6}))  # not also "no position on issue 'wage'"
    assert p.reason == "unknown issue 'wgae'; did you mean `wage`?"


def test_an_invalid_actor_is_still_known_to_its_events():
    (p,) = _problems(_wage(capability="abc"))  # not also "unknown actor 'union'" for the strike
    assert p.field == "actors[union].capability"


def test_a_misspelt_actor_in_an_event():
    raw = _wage()
    raw["events"][0]["actor"] = "unoin"
    (p,) = _problems(raw)
    assert p.reason == "unknown actor 'unoin'; did you mean `union`?"


def test_the_file_path_reports_the_line_of_the_typo(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("name: w\nissues: [{key: wage, scale: [0, 10]}]\nactors:\n"
                 "  - {key: union, capability: 1, positions: {wage: 6}, salince: {wage: 80}}\n"
                 "  - {key: employers, capability: 2, positions: {wage: 2}, salience: {wage: 70}}\n")
    (p,) = _problems(str(f))
    assert (p.line, p.field) == (4, "actors[union].salince")


def test_cli_suggests_a_shipped_name():
    proc = subprocess.run([sys.executable, "-m", "detente.cli", "forecast", "korea2019"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "did you mean `korea-2019`?" in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr


def test_web_suggests_a_shipped_name(tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    with TestClient(create_app(tmp_path / "runs.sqlite3"), base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as client:
        r = client.post("/api/validate", json={"name": "korea2019"})
    assert r.status_code == 422
    assert "did you mean `korea-2019`?" in r.text
