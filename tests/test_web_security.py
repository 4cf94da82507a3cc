"""A hostile client against the web app (issue 10, points 4 and 6): host names, cross-site writes,
oversized bodies, query parameters, a full work queue, clients that go away, SIGTERM, the access token.

Requests go over real sockets to uvicorn on 127.0.0.1 (a ``detente serve`` process, or uvicorn in a
thread when the test patches the computation). Every probe has a generous time limit (``LIMIT``):
its point is that the server answers, not how fast.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from fastapi.testclient import TestClient

from detente import _cancel
from detente.report import build as report_build
from detente.web import RunStore, create_app
from serving import LIMIT, SLOW, Served, Threaded, call, wait_for

HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(tmp_path / "runs.sqlite3"), raise_server_exceptions=False,
                    base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        yield c


@pytest.fixture()
def threaded(tmp_path):
    servers = []

    def start(**kw):
        s = Threaded(create_app(tmp_path / f"runs{len(servers)}.sqlite3", **kw))
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def raw(port: int, request: bytes, timeout: float = LIMIT) -> bytes:
    """Send raw bytes, read the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# ----------------------------------------------------------------------------- headers


def test_security_headers_on_every_answer(client):
    answers = {
        "page": client.get("/"), "docs": client.get("/docs"), "script": client.get("/static/app.js"),
        "api": client.get("/api/health"), "404": client.get("/api/runs/nope"),
        "422": client.get("/api/runs?limit=-1"), "403": client.post("/api/validate", json={}, headers={"X-Detente": ""}),
        "421": client.get("/api/health", headers={"Host": "evil.example"}),
        "413": client.post("/api/validate", content=b"x" * (6 * 1024 * 1024), headers={"content-type": "application/json"}),
    }
    for what, r in answers.items():
        for h in HEADERS:
            assert h in r.headers, (what, h)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
        assert r.headers["x-content-type-options"] == "nosniff"
    assert [answers[k].status_code for k in ("404", "422", "403", "421", "413")] == [404, 422, 403, 421, 413]


def test_pages_use_no_inline_script_or_style(client):
    """The CSP forbids inline script and style: the bundled pages must not need them."""
    import re

    for page in ("/", "/docs"):
        html = client.get(page).text
        assert "<style" not in html and not re.search(r"\sstyle=", html), page
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), page  # every script is a file
        assert not re.search(r"\son[a-z]+=", html), page  # no inline event handlers


def test_stored_report_is_sandboxed(client):
    run = client.post("/api/forecast", json={"name": "korea-2019"}).json()
    r = client.get(f"/api/runs/{run['id']}/report?download=false")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp


# ----------------------------------------------------------------------------- who may ask


def test_host_header_allow_list(tmp_path):
    srv = Served(tmp_path, tmp_path / "runs.sqlite3")
    try:
        p = srv.port
        for host, want in [(b"evil.example", 421), (b"evil.example:%d" % p, 421), (b"127.0.0.1.nip.io", 421),
                           (b"localhost:%d" % p, 200), (b"127.0.0.1:%d" % p, 200), (b"[::1]:%d" % p, 200),
                           (b"LOCALHOST.", 200)]:
            ans = raw(p, b"GET /api/health HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
            assert status_of(ans) == want, host
        # HTTP/1.0 without a Host header
        assert status_of(raw(p, b"GET /api/health HTTP/1.0\r\n\r\n")) == 421
        # a refused write with a body: the answer is readable
        ans = raw(p, b"POST /api/validate HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 21\r\nX-Detente: 1\r\n\r\n{\"name\": \"korea-2019\"}")
        assert status_of(ans) == 421 and b"--allow-host" in ans
    finally:
        srv.stop()


def test_cross_site_writes_refused(threaded):
    s = threaded()
    u = s.url + "/api/validate"
    ok = {"name": "korea-2019"}
    evil = "http://evil.example"
    # a page on another site: JSON, form or multipart (a `no-cors` fetch sends no custom header)
    assert call(u, "POST", ok, {"X-Detente": None, "Origin": evil})[0] == 403
    assert call(u, "POST", ok, {"X-Detente": None, "Origin": evil, "Sec-Fetch-Site": "cross-site"})[0] == 403
    assert call(u, "POST", ok, {"X-Detente": None, "Sec-Fetch-Site": "same-site"})[0] == 403
    assert call(u, "POST", ok, {"X-Detente": None, "Origin": "null"})[0] == 403
    # another server on this machine (same host name, another port) is another origin
    other_port = s.url.rsplit(":", 1)[0] + ":" + str(int(s.url.rsplit(":", 1)[1]) + 1)
    assert call(u, "POST", ok, {"X-Detente": None, "Origin": other_port})[0] == 403
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.yaml\"\r\n"
                 b"Content-Type: application/x-yaml\r\n\r\nname: x\n--b--\r\n")
    st, _, body = call(s.url + "/api/upload", "POST", multipart,
                       {"X-Detente": None, "Origin": evil, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
                        "Content-Type": "multipart/form-data; boundary=b"})
    assert st == 403 and "X-Detente" in body["detail"]
    # a client that says nothing about where it comes from is refused too (the header is documented)
    assert call(u, "POST", ok, {"X-Detente": None})[0] == 403
    # the app's own pages and clients that send the header are served
    assert call(u, "POST", ok, {"X-Detente": None, "Origin": s.url})[0] == 200
    assert call(u, "POST", ok, {"X-Detente": None, "Sec-Fetch-Site": "same-origin"})[0] == 200
    assert call(u, "POST", ok)[0] == 200
    st, _, body = call(s.url + "/api/upload", "POST", multipart.replace(b"name: x\n", b""),
                       {"Origin": s.url, "X-Detente": None, "Content-Type": "multipart/form-data; boundary=b"})
    assert st == 422  # reached the app: an empty file is a problem of the input
    # deleting a run from another site is refused and the run stays
    run = call(s.url + "/api/forecast", "POST", ok)[2]
    assert call(f"{s.url}/api/runs/{run['id']}", "DELETE", headers={"X-Detente": None, "Origin": evil})[0] == 403
    assert call(f"{s.url}/api/runs/{run['id']}")[0] == 200
    # reading is not a write: GET needs no header
    assert call(s.url + "/api/runs", headers={"X-Detente": None})[0] == 200


# ----------------------------------------------------------------------------- how much


def test_oversized_bodies_answer_413_to_every_client(tmp_path):
    srv = Served(tmp_path, tmp_path / "runs.sqlite3")
    try:
        u = srv.url + "/api/validate"
        # urllib sends the whole 12 MB before it reads: it must read the 413, not a reset connection
        t0 = time.monotonic()
        st, _, body = call(u, "POST", b"x" * (12 * 1024 * 1024))
        assert st == 413 and "5 MB" in body["detail"] and "--max-body" in body["detail"]
        assert time.monotonic() - t0 < LIMIT
        # chunked, no length: counted while read, stopped at the bound, answered 413 (not 400)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=LIMIT)
        c.request("POST", "/api/validate", body=iter([b"y" * (1024 * 1024)] * 12),
                  headers={"Content-Type": "application/json", "X-Detente": "1"}, encode_chunked=True)
        r = c.getresponse()
        assert r.status == 413 and b"5 MB" in r.read()
        c.close()
        # a declared length far beyond the bound is refused at once, before anything is read
        ans = raw(srv.port, b"POST /api/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            b"X-Detente: 1\r\nContent-Length: 1000000000000\r\n\r\n{")
        assert status_of(ans) == 413
        assert status_of(raw(srv.port, b"POST /api/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Detente: 1\r\n"
                                       b"Content-Length: -3\r\n\r\n")) == 400
        # and the server is still there
        assert call(srv.url + "/api/health")[0] == 200
        assert call(u, "POST", {"name": "korea-2019"})[0] == 200
    finally:
        srv.stop()


@pytest.mark.parametrize("query", ["limit=1e20", "limit=-1", "limit=0", "limit=abc", "limit=100000000000000000000000"])
def test_query_parameters_validated(client, query):
    for path in ("/api/runs", "/api/jobs"):
        r = client.get(f"{path}?{query}")
        assert r.status_code == 422, (path, query)
        assert r.json()["problems"][0]["field"] == "query.limit"


def test_limit_bounds_the_list(client):
    for _ in range(3):
        assert client.post("/api/forecast", json={"name": "korea-2019"}).status_code == 201
    assert len(client.get("/api/runs?limit=2").json()) == 2
    assert len(client.get("/api/runs").json()) == 3


@pytest.mark.parametrize("seed", [-5, 1e20, 2**64, "x", 1.5])
def test_bad_seed_is_422(client, seed):
    for path in ("/api/forecast", "/api/jobs", "/api/advice"):
        body = {"name": "korea-2019", "seed": seed, **({"actor": "dprk"} if path == "/api/advice" else {})}
        r = client.post(path, json=body)
        assert r.status_code == 422, (path, seed, r.text)
        assert any(p["field"].endswith("seed") for p in r.json()["problems"])
    r = client.post("/api/compare", json={"scenarios": [{"name": "korea-2019"}] * 2, "seed": seed})
    assert r.status_code == 422


def _blocking_compute(monkeypatch, release: threading.Event, started: list, stopped: list):
    def compute(scen, model=None, params=None, **kw):
        started.append(1)
        try:
            while not release.wait(0.01):
                _cancel.check()
        except _cancel.Cancelled:
            stopped.append(1)
            raise
        return {"meta": {"model": "compromise", "params": {}}}

    monkeypatch.setattr(report_build, "compute", compute)
    monkeypatch.setattr(RunStore, "add", lambda self, **kw: {"id": "x"})
    monkeypatch.setattr(RunStore, "get", lambda self, rid: {"id": rid})


def test_full_work_queue_answers_429(threaded, monkeypatch):
    release, started, stopped = threading.Event(), [], []
    _blocking_compute(monkeypatch, release, started, stopped)
    s = threaded(workers=1, queue=1)
    body = {"name": "korea-2019"}
    answers = []
    ts = [threading.Thread(target=lambda: answers.append(call(s.url + "/api/forecast", "POST", body)[0])) for _ in range(2)]
    ts[0].start()
    wait_for(lambda: started, "the first computation")
    ts[1].start()
    wait_for(lambda: call(s.url + "/api/health")[2]["load"]["busy"] == 2, "the second request to queue")
    # the worker is busy and the queue is full: every further computation is refused at once
    for path, b in [("/api/forecast", body), ("/api/validate", body), ("/api/jobs", body),
                    ("/api/advice", {**body, "actor": "dprk"}), ("/api/sensitivity", body),
                    ("/api/compare", {"scenarios": [body, body]})]:
        st, head, out = call(s.url + path, "POST", b)
        assert st == 429, path
        assert int(head["retry-after"]) > 0 and "--workers" in out["detail"]
    # 200 jobs at once: none is accepted while the queue is full, and none is kept
    assert {call(s.url + "/api/jobs", "POST", body)[0] for _ in range(200)} == {429}
    assert call(s.url + "/api/jobs")[2] == []
    release.set()
    for t in ts:
        t.join(LIMIT)
    assert answers == [201, 201]
    assert call(s.url + "/api/validate", "POST", body)[0] == 200


def test_client_that_goes_away_stops_its_computation(threaded, monkeypatch):
    release, started, stopped = threading.Event(), [], []
    _blocking_compute(monkeypatch, release, started, stopped)
    s = threaded(workers=1, queue=0)
    body = b'{"name": "korea-2019"}'
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=LIMIT)
    sock.sendall(b"POST /api/forecast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Detente: 1\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    wait_for(lambda: started, "the computation to start")
    sock.close()
    wait_for(lambda: stopped, "the computation to be cancelled")
    wait_for(lambda: call(s.url + "/api/health")[2]["load"]["busy"] == 0, "the worker to be free")
    assert not release.is_set()
    # the freed worker serves the next request
    monkeypatch.undo()
    assert call(s.url + "/api/validate", "POST", {"name": "korea-2019"})[0] == 200


def test_sigterm_stops_a_server_inside_a_long_request(tmp_path):
    srv = Served(tmp_path, tmp_path / "runs.sqlite3")
    answers = []
    try:
        def ask():
            try:
                answers.append(call(srv.url + "/api/forecast", "POST", {"name": "korea-2019", "draws": SLOW})[0])
            except (OSError, http.client.HTTPException) as e:  # a closed connection (URLError is an OSError)
                answers.append(type(e).__name__)

        t = threading.Thread(target=ask, daemon=True)
        t.start()
        wait_for(lambda: call(srv.url + "/api/health")[2]["load"]["busy"] == 1, "the long request to start")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(LIMIT)  # raises TimeoutExpired when SIGTERM does not stop it
        assert time.monotonic() - t0 < LIMIT
        t.join(LIMIT)
        # the request was not completed: a 503 ("shutting down") or a closed connection
        assert answers and (answers[0] == 503 or isinstance(answers[0], str)), answers
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- sharing beyond one machine


def _serve(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "detente.cli", "serve", *args], capture_output=True, text=True,
                          timeout=LIMIT, env={**os.environ, **(env or {})})


def test_non_loopback_needs_a_token(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "DETENTE_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "detente.cli", "serve", "--host", "0.0.0.0", "--port", "0",
                        "--store", str(tmp_path / "s.sqlite3")], capture_output=True, text=True, timeout=LIMIT, env=env)
    assert r.returncode == 2
    assert "--token" in r.stderr and "DETENTE_TOKEN" in r.stderr and "Traceback" not in r.stderr
    r = _serve("--host", "0.0.0.0", "--port", "0", "--store", str(tmp_path / "s.sqlite3"), "--token", "short")
    assert r.returncode == 2 and "16 characters" in r.stderr


def test_token_guards_every_api_request(tmp_path):
    token = "a-test-token-of-enough-length"
    srv = Served(tmp_path, tmp_path / "runs.sqlite3", "--host", "0.0.0.0", env={"DETENTE_TOKEN": token})
    try:
        u = srv.url
        st, head, body = call(u + "/api/runs")
        assert st == 401 and head["www-authenticate"].startswith("Bearer") and "Authorization" in body["detail"]
        assert call(u + "/api/runs", headers={"Authorization": "Bearer wrong-token-of-enough-length"})[0] == 401
        assert call(u + "/api/runs", headers={"Authorization": token})[0] == 401
        assert call(u + "/openapi.json")[0] == 401
        assert call(u + "/api/forecast", "POST", {"name": "korea-2019"})[0] == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert call(u + "/api/runs", headers=auth)[0] == 200
        assert call(u + "/api/forecast", "POST", {"name": "korea-2019"}, auth)[0] == 201
        # the page and its scripts load without the token (they hold no data); the page asks for it
        for page in ("/", "/static/app.js", "/docs"):
            assert call(u + page, headers={"X-Detente": None})[0] == 200, page
        # still only the allowed host names
        assert status_of(raw(srv.port, b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")) == 421
    finally:
        srv.stop()


def test_generated_token_is_printed(tmp_path):
    srv = Served(tmp_path, tmp_path / "runs.sqlite3", "--host", "0.0.0.0", "--token", "generate")
    try:
        import re

        out = wait_for(lambda: re.search(r"access token: (\S+)", srv.output()), "the token to be printed")
        token = out.group(1)
        assert len(token) >= 16
        assert call(srv.url + "/api/health", headers={"Authorization": f"Bearer {token}"})[0] == 200
        assert call(srv.url + "/api/health")[0] == 401
    finally:
        srv.stop()
