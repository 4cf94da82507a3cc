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


def test_cancel_stops_the_tasks(dask_cluster):
    """A set cancel flag (the web app's job cancel) cancels what has not run; the workers go idle."""
    client = dask_cluster.client()
    before = dask_cluster.executed()
    cancel = threading.Event()
    ex = executor.DaskExecutor(client)
    n_tasks = 200  # 20 s of work for the two workers

    def progress(done: int, total: int) -> None:
        if done >= 2:
            cancel.set()

    tasks = [(k, 0.2) for k in range(n_tasks)]
    with pytest.raises(Cancelled):
        ex.map(_sleepy, tasks, shared=None, progress=progress, cancel=cancel)
    # the scheduler forgets the cancelled tasks and the workers stop taking them
    _wait_idle(client)
    ran = dask_cluster.executed() - before
    assert 2 <= ran < n_tasks / 2


def _sleepy(task, shared):
    import time

    time.sleep(task[1])
    return task[0]


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
    import time

    for _ in range(4000):
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["status"] not in ("queued", "running"):
            return j
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


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
    """DELETE /api/jobs/ID stops a job whose work is on the cluster: its remaining tasks are cancelled."""
    from detente.report import build as report_build

    client_ = dask_cluster.client()
    n_tasks, started = 200, threading.Event()  # 20 s of work for the two workers

    def slow(scen, model, params, *, progress=None, cancel=None, **kw):
        def tick(done, total):
            progress(done / total, f"{done} of {total}")
            started.set()

        executor.current().map(_sleepy, [(k, 0.2) for k in range(n_tasks)], progress=tick)
        raise AssertionError("never cancelled")

    monkeypatch.setattr(report_build, "compute", slow)
    before = dask_cluster.executed()
    with _web_client(tmp_path, executor.DaskExecutor(client_)) as client:
        job = client.post("/api/jobs", json={"name": SCEN}).json()
        assert started.wait(120)
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 200
        j = _wait_job(client, job["id"])
    assert j["status"] == "cancelled" and j["run_id"] is None
    _wait_idle(client_)
    assert dask_cluster.executed() - before < n_tasks / 2


def test_ctrl_c_cancels_the_cluster_tasks(dask_cluster):
    """SIGINT to ``detente forecast --draws N --scheduler ADDR`` while its tasks run: exit 130 with the
    usual message, and the cluster drops the run's remaining tasks."""
    import signal
    import subprocess
    import sys
    import time

    client = dask_cluster.client()
    before = dask_cluster.executed()
    cmd = [sys.executable, "-m", "detente", "forecast", SCEN, "--model", "bdm", "--draws", "100000", "--seed", "1",
           "--format", "json", "--max-seconds", "100000", "--max-memory", "4GB", "--scheduler", dask_cluster.address]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not any(client.processing().values()):  # wait until its tasks run on the workers
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
    _wait_idle(client)
    # 100,000 draws are 50 tasks of 2,000; far fewer ran
    assert dask_cluster.executed() - before < 25


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
