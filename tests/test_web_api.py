"""The web API through FastAPI's TestClient: every endpoint, every error status, the run store."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from detente.report import build as report_build
from detente.web import RunStore, create_app
from detente.web.services import runs as runs_service

BAD_YAML = """name: broken
issues:
  - key: a
actors:
  - key: b
    capability: -3
    positions: {a: 200}
    salience: {a: 50}
  - key: c
    capability: 3
    positions: {a: 20}
    salience: {a: 50}
"""


@pytest.fixture()
def client(tmp_path):
    app = create_app(tmp_path / "runs.sqlite3")
    # the app answers its loopback names only, and a write needs the header the bundled UI sends
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        yield c


def wait(client, job_id):
    for _ in range(2000):
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["status"] not in ("queued", "running"):
            return j
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def no_trace(resp):
    text = resp.text
    assert "Traceback" not in text and 'File "' not in text


def test_pages_and_reference(client):
    assert client.get("/").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "http" not in docs.text.replace("/openapi.json", "")
    spec = client.get("/openapi.json").json()
    assert "/api/forecast" in spec["paths"] and "/api/jobs/{job_id}" in spec["paths"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/api/health").json()["ok"] is True
    models = client.get("/api/models").json()
    assert {"compromise", "bdm"} <= {m["name"] for m in models}
    scen = client.get("/api/scenarios").json()
    assert any(s["name"] == "korea-2019" and s["flagship"] for s in scen)
    one = client.get("/api/scenarios/korea-2019").json()
    assert one["scenario"]["actors"][0]["key"] == "trump" and "issues:" in one["text"]
    assert client.get("/api/scenarios/nope").status_code == 404


def test_validate_ok_and_field_level_422(client):
    r = client.post("/api/validate", json={"name": "korea-2019"})
    assert r.status_code == 200 and r.json()["actors"] == 8
    r = client.post("/api/validate", json={"text": BAD_YAML, "filename": "bad.yaml"})
    assert r.status_code == 422
    body = r.json()
    no_trace(r)
    p = body["problems"][0]
    assert set(p) == {"file", "line", "field", "reason"}
    assert p["file"] == "bad.yaml" and p["line"] == 6 and "capability" in p["field"]
    assert "actors[b].capability" in body["targets"]
    # a dict with a wrong value names the actor's field
    scen = client.get("/api/scenarios/korea-2019").json()["scenario"]
    scen["actors"][1]["positions"]["deal"] = 500
    r = client.post("/api/validate", json={"scenario": scen})
    assert r.status_code == 422
    assert any(p["field"] == "actors[dprk].positions.deal" for p in r.json()["problems"])
    # malformed request bodies are reported field by field too
    r = client.post("/api/forecast", json={"name": "korea-2019", "draws": -1})
    assert r.status_code == 422 and r.json()["problems"][0]["field"].endswith("draws")
    r = client.post("/api/validate", json={"name": "korea-2019", "text": "x"})
    assert r.status_code == 422


def test_upload(client):
    r = client.post("/api/upload", files={"file": ("bad.yaml", BAD_YAML.encode(), "application/x-yaml")})
    assert r.status_code == 422 and r.json()["problems"][0]["file"] == "bad.yaml"
    text = client.get("/api/scenarios/korea-2019").json()["text"]
    r = client.post("/api/upload", files={"file": ("k.yaml", text.encode(), "application/x-yaml")})
    assert r.status_code == 200 and r.json()["issues"] == 3


def test_413_and_404_and_500(client, monkeypatch):
    big = b'{"text": "' + b"x" * (5 * 1024 * 1024 + 10) + b'"}'
    r = client.post("/api/validate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    for path in ("/api/runs/nope", "/api/runs/nope/report", "/api/runs/nope/json", "/api/runs/nope/csv", "/api/jobs/nope"):
        assert client.get(path).status_code == 404, path
    assert client.delete("/api/runs/nope").status_code == 404
    assert client.delete("/api/jobs/nope").status_code == 404

    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(report_build, "compute", boom)
    r = client.post("/api/forecast", json={"name": "korea-2019"})
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
    assert "secret" not in r.text
    no_trace(r)


def test_forecast_store_round_trip(client):
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "bdm", "seed": 7})
    assert r.status_code == 201
    run = r.json()
    assert run["model"] == "bdm" and run["seed"] == 7 and run["version"] == "0.1.0"
    assert run["scenario"] == {"name": "korea-2019"}
    again = client.get(f"/api/runs/{run['id']}").json()
    assert again == run
    # the forecast answers the forecast, not the report: no chart drawn, no perspective map computed
    res = run["results"]
    assert res["kind"] == "detente-forecast" and res["charts"] == [] and res["perspective"] is None
    assert [r["issue"] for r in res["summary"]] == ["deal", "sanctions", "exercises"]
    assert res["result"]["model"] == "bdm" and len(res["result"]["history"]) > 1 and res["moves"]
    assert any(x["id"] == run["id"] for x in client.get("/api/runs").json())
    # the report is built on demand, from the request the run stored: the same forecast, with its charts
    rep = client.get(f"/api/runs/{run['id']}/report")
    assert rep.status_code == 200 and rep.text.startswith("<!DOCTYPE html>")
    assert "deal: positions by round" in rep.text and "<svg" in rep.text
    report = runs_service.report_of(again, None)
    assert report["kind"] == "detente-report" and report["result"] == res["result"] and report["summary"] == res["summary"]
    assert [c["id"] for c in report["charts"]][:3] == ["trajectory-deal", "trajectory-sanctions", "trajectory-exercises"]
    assert report["perspective"] is not None
    js = client.get(f"/api/runs/{run['id']}/json").json()
    assert js["model"] == "bdm" and "history" in js
    csv = client.get(f"/api/runs/{run['id']}/csv").text.splitlines()
    assert csv[0] == "round,actor,issue,position,forecast" and len(csv) > 10
    assert client.delete(f"/api/runs/{run['id']}").status_code == 200
    assert client.get(f"/api/runs/{run['id']}").status_code == 404


def test_bad_model_and_params(client):
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "nope"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "model"
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "bdm", "params": {"roundz": 3}})
    assert r.status_code == 422 and r.json()["problems"][0]["field"].startswith("params.")
    assert client.get("/api/runs").json() == []


def test_compare_sensitivity_advice(client):
    r = client.post("/api/compare", json={"scenarios": [{"name": "korea-2019"}, {"name": "korea-2019-wait"}],
                                          "model": "compromise"})
    assert r.status_code == 201
    comp = r.json()["results"]["comparison"]
    assert len(comp["rows"]) == 2
    r = client.post("/api/sensitivity", json={"name": "korea-2019", "model": "compromise"})
    assert r.status_code == 201
    assert any(c["id"] == "tornado-deal" for c in r.json()["results"]["charts"])
    r = client.post("/api/advice", json={"name": "korea-2019", "model": "compromise", "actor": "dprk", "draws": 20})
    assert r.status_code == 200
    assert r.json()["advice"]["actor"] == "dprk" and r.json()["advice"]["issues"]["deal"]
    r = client.post("/api/advice", json={"name": "korea-2019", "actor": "nobody"})
    assert r.status_code == 422
    no_trace(r)


def test_background_job_progress(client):
    r = client.post("/api/jobs", json={"name": "korea-2019", "model": "compromise", "draws": 40, "seed": 1})
    assert r.status_code == 202
    j = wait(client, r.json()["id"])
    assert j["status"] == "done" and j["progress"] == 1.0 and j["run_id"]
    run = client.get(f"/api/runs/{j['run_id']}").json()
    assert run["draws"] == 40
    assert any(x["id"] == j["id"] for x in client.get("/api/jobs").json())
    r = client.post("/api/jobs", json={"text": BAD_YAML, "filename": "bad.yaml"})
    assert r.status_code == 422


def test_background_job_cancel(client, monkeypatch):
    started, release = threading.Event(), threading.Event()
    seen = []

    def slow(scen, model, params, *, progress=None, cancel=None, **kw):
        for k in range(1000):
            progress(k / 1000, f"step {k}")
            seen.append(k)
            started.set()
            release.wait(0.01)
        raise AssertionError("never cancelled")

    monkeypatch.setattr(report_build, "compute", slow)
    n_runs = len(client.get("/api/runs").json())
    job = client.post("/api/jobs", json={"name": "korea-2019"}).json()
    assert started.wait(30)
    mid = client.get(f"/api/jobs/{job['id']}").json()
    assert mid["status"] == "running" and mid["message"].startswith("step")
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 200
    j = wait(client, job["id"])
    assert j["status"] == "cancelled" and j["run_id"] is None
    assert len(client.get("/api/runs").json()) == n_runs


def test_store_concurrency_and_atomicity(tmp_path):
    store = RunStore(tmp_path / "s.sqlite3")
    errors = []

    def writer(k):
        try:
            for i in range(10):
                rid = store.add(kind="forecast", name=f"w{k}", scenario={"name": "x"}, model="m", params={"i": i},
                                seed=i, draws=0, version="t", results={"k": k, "i": i})["id"]
                assert store.get(rid)["results"] == {"k": k, "i": i}
                store.list()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and store.count() == 80
    # a write that fails half way leaves nothing behind
    with pytest.raises(TypeError):
        store.add(kind="forecast", name="bad", scenario={}, model="m", params={}, seed=None, draws=0, version="t",
                  results={"x": object()})
    assert store.count() == 80
    # reopening the file sees the same runs
    assert RunStore(tmp_path / "s.sqlite3").count() == 80


def test_concurrent_requests(client):
    results = []

    def go():
        r = client.post("/api/forecast", json={"name": "korea-2019", "model": "compromise"})
        results.append(r.status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4
    assert len(client.get("/api/runs").json()) == 4


def test_layout_services_know_no_http():
    """The web layer's services are plain functions: no FastAPI or Starlette (issue 11, point 3); the
    routers hold every endpoint, and create_app only assembles them."""
    import ast
    import inspect
    from pathlib import Path

    import detente.web as web
    from detente.web import app as app_module

    root = Path(web.__file__).parent
    for f in sorted((root / "services").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not [n for n in names if n.split(".")[0] in ("fastapi", "starlette")], (f.name, node.lineno)
    src = inspect.getsource(app_module)
    assert "@app.get" not in src and "@app.post" not in src and "@app.delete" not in src
    paths = {r.path for r in create_app.__globals__["ROUTERS"][0].routes}
    assert paths == {"/", "/docs"}
