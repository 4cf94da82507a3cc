"""Jobs and runs survive a crash; a full disk and a read-only store are clear answers (issue 10, point 5).

The crash is real: ``detente serve`` in a subprocess killed with SIGKILL in the middle of a job, then
started again on the same store. A full disk is SQLite's own SQLITE_FULL, made by capping the store's
pages (``PRAGMA max_page_count``); a read-only store is the file opened read-only (the tests may run as
root, for whom file permissions do not bind); a full device for the CLI is ``/dev/full``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from detente.web import RunStore, create_app
from detente.web.store import StoreFull, StoreUnavailable
from serving import LIMIT, SLOW, Served, call, wait_for


@pytest.fixture()
def app_client(tmp_path):
    path = tmp_path / "runs.sqlite3"
    with TestClient(create_app(path), raise_server_exceptions=False, base_url="http://127.0.0.1",
                    headers={"X-Detente": "1"}) as c:
        yield c, path


def wait_job(client, job_id):
    def done():
        j = client.get(f"/api/jobs/{job_id}").json()
        return j if j["status"] not in ("queued", "running") else None

    return wait_for(done, f"job {job_id} to finish")


def test_kill_9_mid_job_then_restart(tmp_path):
    store = tmp_path / "runs.sqlite3"
    srv = Served(tmp_path, store)
    try:
        st, _, run = call(srv.url + "/api/forecast", "POST", {"name": "korea-2019", "model": "bdm", "seed": 3})
        assert st == 201
        st, _, done_job = call(srv.url + "/api/jobs", "POST", {"name": "korea-2019", "model": "compromise", "draws": 20})
        assert st == 202
        done_job = wait_for(lambda: (j := call(f"{srv.url}/api/jobs/{done_job['id']}")[2])["status"] == "done" and j,
                            "the first job")
        st, _, job = call(srv.url + "/api/jobs", "POST", {"name": "korea-2019", "draws": SLOW})
        assert st == 202 and job["status"] in ("queued", "running")
        wait_for(lambda: call(f"{srv.url}/api/jobs/{job['id']}")[2]["progress"] > 0, "the job to make progress")
        # its state is in the store while it runs
        with closing(sqlite3.connect(store)) as con:
            assert con.execute("SELECT status FROM jobs WHERE id = ?", (job["id"],)).fetchone()[0] == "running"
        srv.proc.kill()  # SIGKILL: no shutdown handler runs
        srv.proc.wait(LIMIT)
    finally:
        srv.stop()

    again = Served(tmp_path, store)
    try:
        st, _, j = call(f"{again.url}/api/jobs/{job['id']}")
        assert st == 200 and j["status"] == "interrupted" and j["run_id"] is None
        assert "start it again" in j["message"]
        assert "interrupted" in again.output()
        # what was finished before the crash is intact
        st, _, j1 = call(f"{again.url}/api/jobs/{done_job['id']}")
        assert st == 200 and j1["status"] == "done" and j1["run_id"] == done_job["run_id"]
        st, _, r = call(f"{again.url}/api/runs/{run['id']}")
        assert st == 200 and r == run
        assert call(f"{again.url}/api/runs/{done_job['run_id']}")[0] == 200
        listed = {j["id"]: j["status"] for j in call(again.url + "/api/jobs")[2]}
        assert listed == {job["id"]: "interrupted", done_job["id"]: "done"}
        # and the restarted server works
        assert call(again.url + "/api/forecast", "POST", {"name": "korea-2019"})[0] == 201
    finally:
        again.stop()


def _cap_pages(monkeypatch, extra: int = 0):
    """Every new connection of a RunStore may not grow the file: SQLite's own SQLITE_FULL."""
    real = RunStore._connect

    def connect(self):
        con = real(self)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages + extra}")
        return con

    monkeypatch.setattr(RunStore, "_connect", connect)


def test_disk_full_is_507_and_nothing_is_lost(app_client, monkeypatch):
    client, path = app_client
    first = client.post("/api/forecast", json={"name": "korea-2019", "model": "bdm"}).json()
    job = client.post("/api/jobs", json={"name": "korea-2019", "draws": 10}).json()
    assert wait_job(client, job["id"])["status"] == "done"
    _cap_pages(monkeypatch)
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "compromise"})
    assert r.status_code == 507
    assert "full" in r.json()["detail"] and str(path) in r.json()["detail"]
    assert "rollback" not in r.json()["detail"]
    # a job: refused at once when even its row does not fit, else it fails saying why
    r = client.post("/api/jobs", json={"name": "korea-2019"})
    assert r.status_code in (202, 507)
    if r.status_code == 202:
        j = wait_job(client, r.json()["id"])
        assert j["status"] == "failed" and "full" in j["error"]
    # reading still works, and everything stored before is there
    assert client.get(f"/api/runs/{first['id']}").json() == first
    assert [x["id"] for x in client.get("/api/runs").json()] == [job_run(client, job), first["id"]]
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "done"
    monkeypatch.undo()
    assert client.post("/api/forecast", json={"name": "korea-2019"}).status_code == 201


def job_run(client, job):
    return client.get(f"/api/jobs/{job['id']}").json()["run_id"]


def test_job_whose_run_cannot_be_stored_fails_with_the_reason(app_client, monkeypatch):
    client, path = app_client
    real = RunStore.add

    def full(self, **kw):
        raise StoreFull(self.path, "is full: the disk has no space left", "database or disk is full")

    monkeypatch.setattr(RunStore, "add", full)
    job = client.post("/api/jobs", json={"name": "korea-2019"}).json()
    j = wait_job(client, job["id"])
    assert j["status"] == "failed" and "full" in j["error"] and j["run_id"] is None
    monkeypatch.setattr(RunStore, "add", real)


def test_read_only_store_is_503_and_reads_still_work(app_client, monkeypatch):
    client, path = app_client
    first = client.post("/api/forecast", json={"name": "korea-2019"}).json()

    def read_only(self):
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    monkeypatch.setattr(RunStore, "_connect", read_only)
    r = client.post("/api/forecast", json={"name": "korea-2019"})
    assert r.status_code == 503 and "cannot be written" in r.json()["detail"] and "readonly" in r.json()["detail"]
    assert client.delete(f"/api/runs/{first['id']}").status_code == 503
    assert client.post("/api/jobs", json={"name": "korea-2019"}).status_code == 503
    assert client.get(f"/api/runs/{first['id']}").json() == first
    assert client.get("/api/jobs").status_code == 200
    # a server starting on it refuses (detente serve turns this into a message and exit 2)
    with pytest.raises(StoreUnavailable, match="cannot be written"):
        create_app(path)


def test_store_errors_are_classified(tmp_path):
    from detente.web.store import store_error

    p = tmp_path / "x.sqlite3"
    store = RunStore(p)
    with closing(sqlite3.connect(f"file:{p}?mode=ro", uri=True)) as con:
        with pytest.raises(sqlite3.OperationalError) as e:
            con.execute("INSERT INTO jobs (id, created, kind, status) VALUES ('a', 'b', 'c', 'd')")
    assert isinstance(store_error(p, e.value), StoreUnavailable)
    with closing(sqlite3.connect(p)) as con:
        con.execute(f"PRAGMA max_page_count = {con.execute('PRAGMA page_count').fetchone()[0]}")
        with pytest.raises(sqlite3.Error) as e:
            con.execute("INSERT INTO runs VALUES ('a','b','c','d',?,'m','{}',1,0,'v','{}')", ("x" * 100_000,))
    err = store_error(p, e.value)
    assert isinstance(err, StoreFull) and err.status == 507
    import errno

    assert isinstance(store_error(p, OSError(errno.ENOSPC, "No space left on device")), StoreFull)
    assert isinstance(store_error(p, OSError(errno.EROFS, "Read-only file system")), StoreUnavailable)
    assert store.count() == 0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "detente.cli", *args], capture_output=True, text=True, timeout=LIMIT)


def test_serve_says_plainly_when_the_store_cannot_be_used(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    r = _cli("serve", "--port", "0", "--store", str(folder))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(folder) in r.stderr and "--store" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = _cli("serve", "--port", "0", "--store", str(blocker / "runs.sqlite3"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--store" in r.stderr


def test_cli_output_on_a_full_disk_says_so(tmp_path):
    if not Path("/dev/full").exists():  # pragma: no cover - Linux has it
        pytest.fail("/dev/full is needed")
    r = _cli("forecast", "korea-2019", "--format", "json", "--output", "/dev/full")
    assert r.returncode == 2 and "disk is full" in r.stderr and "Traceback" not in r.stderr
    out = tmp_path / "old.json"
    out.write_text("kept")
    r = _cli("forecast", "korea-2019", "--format", "json", "--output", str(tmp_path / "missing" / "x.json"))
    assert r.returncode == 2 and "folder does not exist" in r.stderr
    assert out.read_text() == "kept" and not list(tmp_path.glob("*.tmp"))
