"""Scenario files in and out of the web API (issue 14, point 5): an upload of any format the scenario
layer reads is routed by its suffix, with every bound and the sandbox; a valid scenario downloads as
YAML, JSON or CSV and reads back to the same scenario."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import detente
from detente.scenario.io import shipped_dir
from detente.web import create_app
from test_ktab_import import XML as KTAB_XML

DATA = Path(__file__).parent / "data"


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(tmp_path / "runs.sqlite3"), raise_server_exceptions=False,
                    base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        yield c


def upload(client, name, data):
    return client.post("/api/upload", files={"file": (name, data, "application/octet-stream")})


@pytest.mark.parametrize("name, path, actors, issues", [
    ("korea.yaml", shipped_dir() / "korea-2019.yaml", 8, 3),
    ("dummy.csv", shipped_dir() / "ktab-dummy-3dim.csv", 7, 3),  # a KTAB CSV, recognised by its content
    ("sample_data.txt", DATA / "decide" / "sample_data.txt", None, None),  # a Decide file
])
def test_upload_reads_each_format_as_the_scenario_layer_does(client, name, path, actors, issues):
    r = upload(client, name, path.read_bytes())
    assert r.status_code == 200, r.text[:500]
    ref = detente.load(path)
    body = r.json()
    assert (body["actors"], body["issues"]) == (len(ref.actors), len(ref.issues))
    if actors is not None:
        assert (body["actors"], body["issues"]) == (actors, issues)
    assert [a["key"] for a in body["scenario"]["actors"]] == [a.key for a in ref.actors]


def test_upload_workbook_and_tab_separated_table(client):
    from detente.scenario.writers import dump_csv, dump_xlsx

    ref = detente.load("korea-2019")
    r = upload(client, "korea.xlsx", dump_xlsx(ref))  # binary: the upload is not decoded as text
    assert r.status_code == 200, r.text[:500]
    back = detente.load(r.json()["scenario"])
    assert back.model_dump(exclude={"source_file"}) == ref.model_dump(exclude={"source_file"})
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", lineterminator="\n").writerows(csv.reader(io.StringIO(dump_csv(ref))))
    tsv = buf.getvalue()
    r = upload(client, "korea.tsv", tsv.encode())
    assert r.status_code == 200, r.text[:500]
    assert [a["key"] for a in r.json()["scenario"]["actors"]] == [a.key for a in ref.actors]
    # a workbook that is no workbook: a problem naming the file
    r = upload(client, "fake.xlsx", b"PK\x03\x04 not a zip at all")
    assert r.status_code == 422 and r.json()["problems"][0]["file"] == "fake.xlsx"


def test_upload_ktab_xml_is_read_as_ktab_not_yaml(client):
    r = upload(client, "smp.xml", KTAB_XML.encode())
    assert r.status_code == 200, r.text[:500]
    scen = r.json()["scenario"]
    # three actors, two dimensions, the capabilities of the file
    assert [a["name"] for a in scen["actors"]] == ["A", "B", "C"] and len(scen["issues"]) == 2
    assert sorted(a["capability"] if isinstance(a["capability"], float) else a["capability"]["value"]
                  for a in scen["actors"]) == [5, 10, 20]
    # a broken XML file is a 422 naming the file and the line, not a YAML error
    r = upload(client, "smp.xml", KTAB_XML.replace("</Actors>", "</Actor>").encode())
    assert r.status_code == 422
    p = r.json()["problems"][0]
    assert p["file"] == "smp.xml" and p["line"] == KTAB_XML.splitlines().index("  </Actors>") + 1
    assert "YAML" not in p["reason"]


def test_upload_keeps_the_sandbox_and_names_only_the_users_file(client, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: secret\n", encoding="utf-8")
    r = upload(client, "v.yaml", f"name: v\nextends: {secret}\n".encode())
    # refused, and nothing of the other file was read (the raw content sent back is the user's own)
    assert r.status_code == 422 and "extends" in r.json()["problems"][0]["field"]
    assert r.json()["raw"]["name"] == "v" and "secret" not in str(r.json()["problems"])
    # a path in the file name is only a name
    r = upload(client, "../../etc/passwd.xml", b"<Scenario>")
    assert r.status_code == 422 and r.json()["problems"][0]["file"] == "passwd.xml"
    # binary that is no scenario: a problem, not a 500
    r = upload(client, "x.yaml", b"\x00\x01\x02" * 100)
    assert r.status_code == 422 and r.json()["problems"][0]["file"] == "x.yaml"


@pytest.mark.parametrize("fmt, suffix", [("yaml", ".yaml"), ("json", ".json"), ("csv", ".csv"), ("xlsx", ".xlsx")])
def test_export_reads_back_to_the_same_scenario(client, tmp_path, fmt, suffix):
    scen = client.get("/api/scenarios/korea-2019").json()["scenario"]
    scen["actors"][0]["positions"]["deal"] = {"value": 70.0, "low": 50.0, "high": 85.0}
    r = client.post(f"/api/export?format={fmt}", json={"scenario": scen})
    assert r.status_code == 200, r.text[:300]
    name = r.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name.endswith(suffix)
    f = tmp_path / name
    f.write_bytes(r.content)
    back = detente.load(f)
    want = detente.load(scen)
    assert [a.key for a in back.actors] == [a.key for a in want.actors]
    assert [(i.key, i.scale, i.status_quo) for i in back.issues] == [(i.key, i.scale, i.status_quo) for i in want.issues]
    for a, b in zip(back.actors, want.actors):
        assert a.capability == b.capability and dict(a.positions) == dict(b.positions) and dict(a.salience) == dict(b.salience)
    assert back.actors[0].positions["deal"].value == 70.0 and back.actors[0].positions["deal"].low == 50.0
    if fmt != "csv":  # a stakeholder table holds no events, labels or metadata (docs/scenario-format.md)
        assert back.model_dump(exclude={"source_file"}) == want.model_dump(exclude={"source_file"})


def test_export_refuses_an_invalid_scenario_and_an_unknown_format(client):
    scen = client.get("/api/scenarios/korea-2019").json()["scenario"]
    scen["actors"][0]["capability"] = -3
    r = client.post("/api/export?format=yaml", json={"scenario": scen})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "actors[trump].capability"
    r = client.post("/api/export?format=docx", json={"name": "korea-2019"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "format"
