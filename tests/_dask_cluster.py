"""A real Dask cluster on loopback for the tests: a ``dask scheduler`` and ``dask worker`` processes.

Started with the ``dask`` command line of this environment (the same way docs/scale.md tells a user
to start one), each on a free port of 127.0.0.1, and stopped by the test that started it. Workers run
without a nanny, so a worker that is killed stays dead (its tasks must be rerun on another worker),
with one thread each.

The fixtures (``dask_cluster``: one cluster for the whole session; ``fresh_dask_cluster``: one for a
test that kills a worker) are in ``tests/conftest.py``. CI installs the ``dask`` extra: without it the
tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: How long a scheduler or a worker may take to come up on a loaded 2-core machine.
START_TIMEOUT = 180.0


class DaskCluster:
    """A scheduler and ``workers`` worker processes on loopback (stop it with :meth:`stop`)."""

    def __init__(self, tmp: Path, workers: int = 2):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.file = self.tmp / "scheduler.json"
        self.dask = str(Path(sys.executable).parent / "dask")
        self.procs: dict[str, subprocess.Popen] = {}
        self.address = ""
        self._client: Any = None
        self._logs: list[Any] = []
        try:
            self._start_scheduler()
            for k in range(workers):
                self.add_worker(f"w{k}")
            self.wait_for_workers(workers)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        self._logs.append(log)
        env = dict(os.environ)
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
        # the workers import what the tests send them: detente, and helper functions of the test modules
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), *filter(None, [env.get("PYTHONPATH")])])
        p = subprocess.Popen([self.dask, *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, env=env,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def _start_scheduler(self) -> None:
        self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(self.file)])
        t0 = time.monotonic()
        while time.monotonic() - t0 < START_TIMEOUT:
            if self.procs["scheduler"].poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self.log('scheduler')}")
            if self.file.exists():
                try:
                    self.address = json.loads(self.file.read_text())["address"]
                    return
                except (ValueError, KeyError):
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"dask scheduler did not start within {START_TIMEOUT:.0f} s: {self.log('scheduler')}")

    def add_worker(self, name: str) -> None:
        """Start one more worker (one thread, no nanny) named ``name``."""
        self._spawn(name, ["worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nthreads", "1",
                           "--no-nanny", "--no-dashboard", "--name", name, "--local-directory", str(self.tmp / name)])

    def client(self) -> Any:
        """A client of this cluster (one per cluster, closed by :meth:`stop`)."""
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=START_TIMEOUT, set_as_default=False)
        return self._client

    def wait_for_workers(self, n: int) -> None:
        self.client().wait_for_workers(n, timeout=START_TIMEOUT)

    def workers(self) -> dict[str, str]:
        """Worker name -> its address, as the scheduler sees them."""
        info = self.client().scheduler_info(n_workers=-1) if _takes_n_workers(self.client()) else self.client().scheduler_info()
        return {w["name"]: addr for addr, w in info["workers"].items()}

    def kill_worker(self, name: str) -> None:
        """Kill a worker process at once (SIGKILL: no goodbye to the scheduler)."""
        p = self.procs[name]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=60)

    def executed(self) -> int:
        """Tasks the live workers have executed in their lifetime."""
        counts = self.client().run(_executed_count)
        return sum(counts.values())

    def log(self, name: str) -> str:
        f = self.tmp / f"{name}.log"
        return f.read_text(errors="replace")[-3000:] if f.exists() else ""

    def stop(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None
        for p in reversed(list(self.procs.values())):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except Exception:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=30)
        for log in self._logs:
            log.close()


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _executed_count(dask_worker: Any) -> int:
    return int(dask_worker.state.executed_count)
