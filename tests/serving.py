"""Helpers for tests that run ``detente serve`` as a real process (or uvicorn in a thread) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Generous bound for anything that must merely "not hang" (the machine is shared).
LIMIT = 60.0

#: A ``detente`` entry point whose report computation is slow when asked for 7777 draws: it sleeps in
#: small steps reporting progress (never checking for cancellation itself), so a test can catch a
#: computation in the middle. Any other request computes as usual.
SLOW_MAIN = textwrap.dedent('''
    import sys, time
    import detente.report.build as build
    real = build.compute
    def compute(scen, model=None, params=None, *, draws=0, progress=None, **kw):
        if draws != 7777:
            return real(scen, model, params, draws=draws, progress=progress, **kw)
        for i in range(100000):
            if progress is not None:
                progress(i / 100000, "step %d" % i)
            time.sleep(0.01)
        raise AssertionError("the slow computation was never stopped")
    build.compute = compute
    from detente.cli import main
    sys.exit(main(sys.argv[1:]))
''')

SLOW = 7777


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A ``detente serve`` subprocess (with the slow computation of :data:`SLOW_MAIN`)."""

    def __init__(self, tmp: Path, store: Path, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        main = tmp / "slow_main.py"
        main.write_text(SLOW_MAIN, encoding="utf-8")
        self.log = open(tmp / f"serve-{self.port}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, str(main), "serve", "--port", str(self.port), "--store", str(store), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"detente serve exited with {self.proc.returncode}: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("detente serve did not start: " + self.output())

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(LIMIT)
        self.log.close()


def call(url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None,
         timeout: float = LIMIT) -> tuple[int, dict, dict]:
    """``(status, headers, json body)`` of one request (urllib: sends the whole body before reading)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    h = {"X-Detente": "1", **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    h = {k: v for k, v in h.items() if v is not None}
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, dict(r.headers), (json.loads(raw) if raw[:1] in (b"{", b"[") else {})
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, dict(e.headers), (json.loads(raw) if raw[:1] in (b"{", b"[") else {})


def wait_for(cond, what: str, limit: float = LIMIT, every: float = 0.1):
    """Poll ``cond()`` until it returns something true; fail after ``limit`` seconds."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {limit:g} s waiting for {what}")


class Threaded:
    """An app served by uvicorn in a thread of the test process (so the test can patch it)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, "uvicorn to start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(LIMIT)
