"""The Dask backend (issue #16): the same numbers on a real cluster, a worker's death and a cancel.

A real ``dask scheduler`` and two ``dask worker`` processes run on loopback (tests/_dask_cluster.py).
The reference of every comparison is the same analysis run in this process, one chunk at a time, as
before there were executors: a cluster must reproduce it bit for bit, whatever its task size.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from detente import executor
from detente._cancel import Cancelled
from detente.analysis import monte_carlo, sensitivity

SCEN = "korea-2019"


def _same_mc(a, b) -> None:
    assert a.forecasts.shape == b.forecasts.shape
    assert np.array_equal(a.forecasts, b.forecasts)  # bit for bit, not approximately
    assert np.array_equal(a.values, b.values)
    assert np.array_equal(a.happened, b.happened)


def test_in_process_is_the_default_and_imports_no_dask():
    """Without a scheduler or workers an analysis runs in this process (dask is not even imported)."""
    import subprocess
    import sys

    code = ("import sys, detente; detente.monte_carlo('korea-2019', draws=20, point=False); "
            "from detente import executor; assert not executor.current().distributed; "
            "print(any(m == 'distributed' or m.startswith('dask') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("chunk", [None, 1, 37])
def test_monte_carlo_on_the_cluster_is_bit_identical(dask_cluster, chunk):
    local = monte_carlo(SCEN, draws=150, seed=11, point=False, chunk=2000)
    remote = monte_carlo(SCEN, draws=150, seed=11, point=False, chunk=chunk, scheduler=dask_cluster.address)
    _same_mc(local, remote)


def test_exchange_coin_is_the_same_in_one_process_in_forked_players_and_on_the_cluster(dask_cluster, monkeypatch):
    """The exchange model's default flips Decide's tie coin from each draw's own seed: the draws are the same bit for
    bit whether a batch plays in this process, is split over forked players (DETENTE_THREADS, decimal arithmetic
    holds the GIL) or runs as tasks on a cluster (each worker forking its own players, or not)."""
    from pathlib import Path

    from detente.models import _exchange_exact

    scen = str(Path(__file__).parent / "data" / "decide" / "sample_data.txt")  # exact gain ties in every round
    assert _exchange_exact.processes(60, 10, 6) == 2  # one call of 60 draws is split over two processes
    forked = monte_carlo(scen, "exchange", draws=60, seed=3, point=False, chunk=60)
    small = monte_carlo(scen, "exchange", draws=60, seed=3, point=False, chunk=7)  # too little work a call to split
    remote = monte_carlo(scen, "exchange", draws=60, seed=3, point=False, chunk=13, scheduler=dask_cluster.address)
    monkeypatch.setenv("DETENTE_THREADS", "1")
    assert _exchange_exact.processes(60, 10, 6) == 1
    alone = monte_carlo(scen, "exchange", draws=60, seed=3, point=False, chunk=60)
    for other in (small, remote, alone):
        _same_mc(forked, other)
    # the file has no ranges: the draws differ by their coin alone, and they do
    assert len({tuple(row) for row in forked.forecasts.reshape(60, -1).round(9)}) > 5


def test_monte_carlo_by_round_on_the_cluster(dask_cluster):
    """Every round's forecast (the fan chart's data) comes back in the draws' order too."""
    local = monte_carlo(SCEN, "bdm", draws=40, seed=5, point=False, by_round=True)
    with executor.connect(dask_cluster.address) as ex:
        remote = monte_carlo(SCEN, "bdm", draws=40, seed=5, point=False, by_round=True, chunk=6, scheduler=ex)
    _same_mc(local, remote)
    assert np.array_equal(local.by_round, remote.by_round)


def test_sobol_and_oat_on_the_cluster_are_bit_identical(dask_cluster):
    client = dask_cluster.client()
    for method, kw in (("sobol", {"samples": 16, "seed": 3}), ("oat", {})):
        local = sensitivity(SCEN, method=method, **kw)
        remote = sensitivity(SCEN, method=method, scheduler=client, chunk=5, **kw)
        pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
        assert local.runs == remote.runs


def test_use_sets_the_executor_of_every_analysis_in_its_scope(dask_cluster):
    """What the web app does for its jobs: ``executor.use`` sends work to the cluster without an argument."""
    before = dask_cluster.executed()
    local = monte_carlo(SCEN, draws=60, seed=2, point=False)
    with executor.connect(dask_cluster.address) as ex, executor.use(ex):
        assert executor.current() is ex
        remote = monte_carlo(SCEN, draws=60, seed=2, point=False, chunk=10)
    _same_mc(local, remote)
    assert dask_cluster.executed() - before >= 6  # the six chunks ran on the workers
    assert not executor.current().distributed


def test_progress_follows_the_cluster_tasks(dask_cluster):
    seen: list[tuple[int, int]] = []
    monte_carlo(SCEN, draws=90, seed=1, point=False, chunk=10, scheduler=dask_cluster.address,
                on_chunk=lambda done, total: seen.append((done, total)))
    assert [t for _, t in seen] == [90] * 9
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == 90
    assert sorted(np.diff([0] + [d for d, _ in seen])) == [10] * 9


def test_an_unreachable_scheduler_is_a_clear_problem():
    from detente.errors import DetenteError

    with pytest.raises(DetenteError) as e:
        executor.connect("tcp://127.0.0.1:9", timeout=2)
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in e.value.report()
    with pytest.raises(DetenteError, match="either a scheduler"):
        with executor.resolve("tcp://127.0.0.1:9", 2):
            pass


def test_cancel_stops_the_tasks_running_on_the_workers(dask_cluster, tmp_path):
    """A set cancel flag (the web app's job cancel) cancels the tasks not yet started and stops those running:
    a running task looks at its run's stop event between its pieces of work. The tasks here would each run
    for ten minutes (a loop looking at the cancel flag, as the models do), so the workers free again, and
    every started task saying it was stopped, shows they were interrupted, whatever the machine's load."""
    client = dask_cluster.client()
    marks = _Marks(tmp_path)
    cancel = threading.Event()
    ex = executor.DaskExecutor(client)
    n_tasks = 40
    watcher = threading.Thread(target=lambda: (marks.wait_started(2), cancel.set()), daemon=True)
    watcher.start()  # cancels once both workers are inside a task
    with pytest.raises(Cancelled):
        ex.map(_until_stopped, [(k, str(marks.dir)) for k in range(n_tasks)], shared=None, cancel=cancel)
    started = marks.wait_all_stopped()
    assert 2 <= len(started) <= 6  # both workers were inside a task; the others were never started
    _wait_idle(client)


class _Marks:
    """Files the tasks of :func:`_until_stopped` leave: ``started-K``, then ``stopped-K`` (interrupted) or
    ``finished-K`` (ran to their end)."""

    def __init__(self, tmp_path, timeout: float = 240.0):
        self.dir = tmp_path / "marks"
        self.dir.mkdir()
        self.timeout = timeout

    def names(self, kind: str) -> set[str]:
        return {p.name.split("-", 1)[1] for p in self.dir.glob(kind + "-*")}

    def _until(self, ok) -> None:
        import time

        t0 = time.monotonic()
        while not ok():
            assert time.monotonic() - t0 < self.timeout, f"timed out: {sorted(p.name for p in self.dir.iterdir())}"
            time.sleep(0.05)

    def wait_started(self, n: int) -> None:
        self._until(lambda: len(self.names("started")) >= n)

    def wait_all_stopped(self) -> set[str]:
        """Every started task stopped (none ran to its end); the started tasks."""
        self._until(lambda: self.names("started") == self.names("stopped") | self.names("finished"))
        assert not self.names("finished"), "a running task was not interrupted"
        return self.names("started")


def _until_stopped(task, shared):
    """A long task (ten minutes) that looks at the cancel flag every 20 ms, as a model does between its pieces."""
    import time
    from pathlib import Path

    from detente import _cancel

    k, folder = task
    (Path(folder) / f"started-{k}").touch()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 600:
            _cancel.check()
            time.sleep(0.02)
    except _cancel.Cancelled:
        (Path(folder) / f"stopped-{k}").touch()
        raise
    (Path(folder) / f"finished-{k}").touch()
    return k


def _wait_idle(client, timeout: float = 60.0) -> None:
    import time

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not any(client.processing().values()) and not client.run_on_scheduler(_n_tasks):
            return
        time.sleep(0.1)
    raise AssertionError(f"the cluster still holds tasks after {timeout:.0f} s: {client.processing()}")


def _n_tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


def test_a_worker_killed_mid_run_does_not_change_the_result(fresh_dask_cluster):
    """SIGKILL one of the two workers while the run is under way: the scheduler reruns its tasks on the
    other one, and the draws come back exactly as in process."""
    cluster = fresh_dask_cluster
    local = monte_carlo(SCEN, "bdm", draws=240, seed=9, point=False, by_round=True)
    killed: list[int] = []

    def on_chunk(done: int, total: int) -> None:
        if not killed and done >= 40:
            cluster.kill_worker("w1")
            killed.append(done)

    remote = monte_carlo(SCEN, "bdm", draws=240, seed=9, point=False, by_round=True, chunk=8, on_chunk=on_chunk,
                         scheduler=cluster.address)
    assert killed and killed[0] < 240  # the worker died while most of the run was still to do
    assert list(cluster.workers()) == ["w0"]
    _same_mc(local, remote)
    assert np.array_equal(local.by_round, remote.by_round)


def test_the_cli_sends_the_draws_to_the_scheduler(dask_cluster, capsys, monkeypatch):
    """``detente forecast --draws N --scheduler ADDR`` prints the same JSON as without it."""
    from detente.cli import main

    before = dask_cluster.executed()
    args = ["forecast", SCEN, "--model", "bdm", "--draws", "120", "--seed", "4", "--format", "json"]
    assert main(args) == 0
    here = capsys.readouterr().out
    assert main([*args, "--scheduler", dask_cluster.address]) == 0
    captured = capsys.readouterr()
    assert captured.out == here
    assert "running the model runs on the dask scheduler at " + dask_cluster.address in captured.err
    assert dask_cluster.executed() > before
    # an address nobody answers is a clear problem, exit code 2
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 2.0)
    assert main([*args, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the dask scheduler" in capsys.readouterr().err


def _web_client(tmp_path, ex):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    app = create_app(tmp_path / "runs.sqlite3", executor=ex)
    return TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1", headers={"X-Detente": "1"})


def _wait_job(client, job_id):
    from test_web_api import wait

    return wait(client, job_id)


def test_web_jobs_run_on_the_servers_cluster(dask_cluster, tmp_path):
    """``detente serve --scheduler``: a job's draws run on the cluster and its run is the same as in process."""
    req = {"name": SCEN, "model": "compromise", "draws": 600, "seed": 2}
    forecasts = []
    for ex in (None, executor.DaskExecutor(dask_cluster.client())):
        before = dask_cluster.executed()
        with _web_client(tmp_path / ("here" if ex is None else "cluster"), ex) as client:
            j = _wait_job(client, client.post("/api/jobs", json=req).json()["id"])
            assert j["status"] == "done", j
            forecasts.append(client.get(f"/api/runs/{j['run_id']}/json").json()["issues"])
        ran = dask_cluster.executed() - before
        assert (ran == 0) if ex is None else (ran >= 3)  # the report's Monte Carlo: chunks of 250 draws
    assert forecasts[0] == forecasts[1]


def test_a_web_cancel_cancels_the_cluster_tasks(dask_cluster, tmp_path, monkeypatch):
    """DELETE /api/jobs/ID stops a job whose work is on the cluster: its remaining tasks are cancelled and the
    running ones stopped (each would run ten minutes)."""
    from detente.report import build as report_build

    client_ = dask_cluster.client()
    marks = _Marks(tmp_path)
    n_tasks = 40

    def slow(scen, model, params, *, progress=None, cancel=None, **kw):
        executor.current().map(_until_stopped, [(k, str(marks.dir)) for k in range(n_tasks)])
        raise AssertionError("never cancelled")

    monkeypatch.setattr(report_build, "compute", slow)
    with _web_client(tmp_path, executor.DaskExecutor(client_)) as client:
        job = client.post("/api/jobs", json={"name": SCEN}).json()
        marks.wait_started(2)
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 200
        j = _wait_job(client, job["id"])
    assert j["status"] == "cancelled" and j["run_id"] is None
    started = marks.wait_all_stopped()
    assert 2 <= len(started) <= 6
    _wait_idle(client_)


def test_ctrl_c_cancels_the_cluster_tasks(dask_cluster, tmp_path):
    """SIGINT to ``detente forecast --draws N --scheduler ADDR`` while its tasks run: exit 130 with the
    usual message, the cluster drops the run's remaining tasks and the running ones stop. Each task is
    minutes of bdm on 200 actors, so workers that are free again, with no task run to its end, were
    interrupted, however loaded the machine."""
    import json
    import signal
    import subprocess
    import sys
    import time

    rng = np.random.default_rng(5)
    actors = [{"key": f"a{i}", "capability": {"value": 50.0, "low": 40.0, "high": 60.0} if i < 3 else float(rng.uniform(1, 100)),
               "positions": {f"i{d}": float(rng.uniform(0, 100)) for d in range(3)},
               "salience": {f"i{d}": float(rng.uniform(10, 90)) for d in range(3)}} for i in range(200)]
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "big", "issues": [{"key": f"i{d}", "scale": [0, 100]} for d in range(3)],
                               "actors": actors}))
    client = dask_cluster.client()
    before = dask_cluster.executed()
    cmd = [sys.executable, "-m", "detente", "forecast", str(big), "--model", "bdm", "--draws", "400", "--seed", "1",
           "--format", "json", "--max-seconds", "1000000", "--max-memory", "4GB", "--scheduler", dask_cluster.address]
    # The child must get SIGINT's default action whatever this process has: a suite started in the background by a
    # non-interactive shell (`make test &` in a script, as CI wrappers do) ignores SIGINT, an ignored signal stays
    # ignored across exec, and a detente started that way rightly keeps ignoring Ctrl-C (the shell's way of
    # keeping background jobs out of the terminal's Ctrl-C): the run would then finish and exit 0. A handled signal
    # is reset to its default at exec, so Python in the child installs its KeyboardInterrupt handler.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        t0 = time.monotonic()
        while sum(client.run(_executing).values()) < 2:  # wait until its tasks run on both workers
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 300, "the tasks never reached the workers"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "nothing was kept" in err
    assert out == ""
    t0 = time.monotonic()
    while sum(client.run(_executing).values()):  # the running tasks stop (each is minutes of work)
        assert time.monotonic() - t0 < 240, "the running tasks were not interrupted"
        time.sleep(0.1)
    _wait_idle(client)
    assert dask_cluster.executed() - before <= 4  # the tasks that ran were stopped; none was started after


def _child_sigint(handler) -> int:
    """SIGINT's ignore bit in a child started while this process has ``handler`` for SIGINT (the kernel's view)."""
    import signal
    import subprocess
    import sys

    old = signal.signal(signal.SIGINT, handler)
    try:
        out = subprocess.run([sys.executable, "-c", "print(open('/proc/self/status').read())"], capture_output=True,
                             text=True, check=True).stdout
    finally:
        signal.signal(signal.SIGINT, old)
    return int(next(line for line in out.splitlines() if line.startswith("SigIgn:")).split()[1], 16)


def _sigint_ignored(mask: int) -> bool:
    import signal

    return bool(mask & (1 << (signal.SIGINT - 1)))


def test_a_child_started_while_sigint_is_ignored_ignores_it_and_the_ctrl_c_test_resets_it():
    """Why the Ctrl-C test resets SIGINT around its Popen: a child of a process that ignores SIGINT ignores it too
    (so the Ctrl-C test failed whenever the suite itself was started in the background by a script), while a
    child of a process that handles it starts with the default action."""
    import signal

    assert _sigint_ignored(_child_sigint(signal.SIG_IGN))
    assert not _sigint_ignored(_child_sigint(signal.default_int_handler))


def _executing(dask_worker) -> int:
    return len(dask_worker.state.executing)


def test_sobol_is_reproducible_at_seed_0():
    """The default seed 0 fixes the bootstrap confidence intervals too (SALib leaves a falsy seed unseeded),
    so that two runs, and a run on a cluster, can be the same bit for bit."""
    a = sensitivity(SCEN, method="sobol", samples=8, seed=0)
    b = sensitivity(SCEN, method="sobol", samples=8, seed=0, chunk=3)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.table["S1_conf"].gt(0).any()  # the intervals are there, not zeros


def test_workers_starts_a_local_cluster_and_closes_it():
    """``workers=2`` (``--workers 2``): a LocalCluster of two processes runs the draws, the same numbers,
    and is gone afterwards."""
    import distributed

    local = monte_carlo(SCEN, "compromise", draws=80, seed=7, point=False)
    opened = []
    real = distributed.LocalCluster

    def spy(*a, **kw):
        opened.append(real(*a, **kw))
        return opened[-1]

    distributed.LocalCluster = spy
    try:
        remote = monte_carlo(SCEN, "compromise", draws=80, seed=7, point=False, chunk=9, workers=2)
    finally:
        distributed.LocalCluster = real
    _same_mc(local, remote)
    assert len(opened) == 1 and len(opened[0].workers) == 0 and opened[0].status.name == "closed"


def _dask_setting(key):
    import dask

    return dask.config.get(key)


def test_workers_share_the_cores_out(monkeypatch):
    """``--workers N``: each worker process gets cores // N kernel threads (DETENTE_THREADS), or the value
    set here; a bad value is a clear problem before any worker starts."""
    import os

    from detente.errors import DetenteError

    monkeypatch.delenv("DETENTE_THREADS", raising=False)
    key = "distributed.nanny.pre-spawn-environ.DETENTE_THREADS"
    cores = os.cpu_count() or 1
    assert executor.worker_environment(2)[key] == str(max(1, cores // 2))
    assert executor.worker_environment(1)[key] == str(cores)
    assert executor.worker_environment(2, 3)[key] == "3"
    with executor.local(2) as ex:
        assert set(ex.client.run(os.environ.get, "DETENTE_THREADS").values()) == {str(max(1, cores // 2))}
        # the cluster's housekeeping is made rarer in the workers (no 10 ms stack sampling of their tasks)
        assert set(ex.client.run(_dask_setting, "distributed.worker.profile.enabled").values()) == {False}
        assert set(ex.client.run(_dask_setting, "distributed.admin.tick.interval").values()) == {"1s"}
    monkeypatch.setenv("DETENTE_THREADS", "1")
    assert executor.worker_environment(1)[key] == "1"
    monkeypatch.setenv("DETENTE_THREADS", "many")
    with pytest.raises(DetenteError, match="DETENTE_THREADS"):
        executor.worker_environment(2)
    with pytest.raises(DetenteError, match="kernel threads per worker"):
        executor.local(2, threads=0)



def test_tasks_come_in_whole_waves():
    """Memory-capped tasks are evened out to a multiple of the worker threads (3 tasks on 2 workers would
    leave one worker the last task alone), unless that makes them shorter than MIN_TASK_SECONDS."""

    class TwoThreads(executor.Executor):
        distributed = True
        parallelism = 2

    ex = TwoThreads()
    assert ex.task_size(48, 1.0, 16) == 12  # 4 tasks of 12, not 3 of 16
    assert ex.task_size(100, 0.1, 40) == 25  # 4 of 25, not 3 of 40
    assert ex.task_size(192, 1.0, 16) == 16  # 12 tasks already
    assert ex.task_size(7, 1.0, 100) == 4  # one task per thread
    assert ex.task_size(30, 0.02, 10) == 10  # 4 tasks of 8 would each compute under 0.25 s: 3 of 10
    assert executor.Executor().task_size(48, 1.0, 16) == 16  # in process: the memory chunk


def _slow(task, shared):
    import time

    time.sleep(0.3)
    return task * 10


def test_dropped_tasks_are_cancelled_on_the_cluster():
    """``drop``: once a result names them, the tasks not yet finished are cancelled (their results never read, the
    progress counting them as done), the others come back."""
    import time

    from distributed import get_task_stream

    seen = []
    with executor.local(1, threads=1) as ex, get_task_stream(client=ex.client) as stream:
        out = ex.map(_slow, list(range(8)), drop=lambda i, r: range(i + 1, 8) if i == 0 else (),
                     progress=lambda done, total: seen.append((done, total)))
        time.sleep(1.5)  # time for 5 more tasks, had they not been cancelled
    # one worker thread: task 1 (at most 2-3 on a busy machine) ran before the cancel reached it
    assert out[0] == 0 and out[4:] == [None] * 4 and all(r in (None, 10 * i) for i, r in enumerate(out))
    assert len(stream.data) <= 4
    assert seen[-1] == (8, 8)
