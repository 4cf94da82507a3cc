"""Advice, compare and backtests on a real Dask cluster (issue #16): the same numbers as in process.

A real ``dask scheduler`` and two ``dask worker`` processes on loopback (the ``dask_cluster``
fixture of tests/conftest.py). The reference of each comparison is the same call run in this
process, as before there were executors; on the cluster the work is cut into other tasks (sized for
two workers), and the tasks must have run on the workers (their executed-task count grows).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from detente import executor
from detente.analysis import advise, compare
from detente.backtest import load_deu, run_backtest
from detente.errors import DetenteError


def _ran_on_the_cluster(cluster, before: int, at_least: int) -> None:
    assert cluster.executed() - before >= at_least


def test_advice_on_the_cluster_is_bit_identical(dask_cluster):
    local = advise("korea-2019", "trump", model="bdm", draws=40, seed=3, progress=False)
    before = dask_cluster.executed()
    remote = advise("korea-2019", "trump", model="bdm", draws=40, seed=3, progress=False, scheduler=dask_cluster.address)
    _ran_on_the_cluster(dask_cluster, before, 4)
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    pd.testing.assert_frame_equal(local.base, remote.base, check_exact=True)
    assert local.to_dict() == remote.to_dict()


def test_advice_with_a_chunk_on_a_client_the_caller_owns(dask_cluster):
    """A given chunk is kept (a task is then one model call of that size); the caller's client stays open."""
    local = advise("korea-2019-window", "dprk", issue="sanctions", model="compromise", draws=25, seed=1, progress=False)
    client = dask_cluster.client()
    before = dask_cluster.executed()
    remote = advise("korea-2019-window", "dprk", issue="sanctions", model="compromise", draws=25, seed=1, chunk=9,
                    progress=False, scheduler=client)
    _ran_on_the_cluster(dask_cluster, before, 3)  # 25 draws in calls of 9: at least three tasks
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    assert client.status == "running"


@pytest.mark.parametrize("draws", [0, 30])
def test_compare_on_the_cluster_is_bit_identical(dask_cluster, draws):
    scens = ["korea-2019", "korea-2019-wait", "korea-2019-window"]
    local = compare(scens, models=["bdm", "compromise"], draws=draws, seed=2, progress=False)
    with executor.connect(dask_cluster.address) as ex:
        before = dask_cluster.executed()
        remote = compare(scens, models=["bdm", "compromise"], draws=draws, seed=2, progress=False, scheduler=ex)
        _ran_on_the_cluster(dask_cluster, before, 6)
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    pd.testing.assert_frame_equal(local.differences, remote.differences, check_exact=True)


def test_compare_refusal_from_a_worker_names_the_scenario_and_model(dask_cluster, tmp_path):
    """A model that cannot run a scenario refuses on the worker; the message is the one in process."""
    import json

    scen = {"name": "nosq", "issues": [{"key": "x", "scale": [0, 100]}],
            "actors": [{"key": k, "capability": 1, "positions": {"x": p}, "salience": {"x": 50}}
                       for k, p in (("a", 10), ("b", 90))]}
    path = tmp_path / "nosq.json"
    path.write_text(json.dumps(scen))
    with pytest.raises(DetenteError) as here:
        compare([str(path)], models=["nash"])
    before = dask_cluster.executed()
    with pytest.raises(DetenteError) as there:
        compare([str(path)], models=["nash"], scheduler=dask_cluster.address)
    _ran_on_the_cluster(dask_cluster, before, 1)  # the refusal came from a worker
    assert there.value.problems == here.value.problems
    assert here.value.problems[0].field == "model nash" and str(path) in str(here.value.problems[0])


def test_backtest_and_a_parameter_grid_on_the_cluster_are_bit_identical(dask_cluster):
    full = load_deu()
    ds = replace(full, issues=full.issues[:90])  # the first 90 decisions: a quick sweep
    grid = {"focal.pi": [0.2, 0.4], "capability": ["votes", "equal"]}
    local = run_backtest(ds, models="compromise,smp", grid=grid, draws=2, seed=4, n_boot=200)
    before = dask_cluster.executed()
    remote = run_backtest(ds, models="compromise,smp", grid=grid, draws=2, seed=4, n_boot=200,
                          scheduler=dask_cluster.address)
    _ran_on_the_cluster(dask_cluster, before, 5)
    assert list(remote.forecasts) == list(local.forecasts) == [
        "compromise", "smp", "focal(pi=0.2,capability=votes)", "focal(pi=0.2,capability=equal)",
        "focal(pi=0.4,capability=votes)", "focal(pi=0.4,capability=equal)"]
    for k in local.forecasts:
        assert np.array_equal(local.forecasts[k], remote.forecasts[k], equal_nan=True), k
    assert remote.to_json() == local.to_json()


def test_a_backtest_on_the_cluster_has_a_progress_bar(dask_cluster, monkeypatch):
    """The bar follows the backtest's tasks as the workers finish them, as Monte Carlo's does."""
    bars = []

    class Bar:
        def __init__(self, what, total):
            self.what, self.total, self.done, self.stopped = what, total, [], False

        def update(self, task, completed):
            self.done.append(completed)

        def stop(self):
            self.stopped = True

    def start(what, total):
        bars.append(Bar(what, total))
        return bars[-1], None

    monkeypatch.setattr(executor, "_start_bar", start)
    full = load_deu()
    ds = replace(full, issues=full.issues[:40])
    before = dask_cluster.executed()
    run_backtest(ds, models="compromise,smp", draws=2, seed=1, n_boot=20, scheduler=dask_cluster.address, progress=True)
    _ran_on_the_cluster(dask_cluster, before, 2)
    assert len(bars) == 1
    bar = bars[0]
    assert bar.what == "Backtest of 2 models" and bar.stopped
    assert len(bar.done) >= 2 and bar.done == sorted(bar.done) and bar.done[-1] == bar.total == 2 * 2 * 40
    # off when asked, even where the default would show one (a bar from the first tick)
    monkeypatch.setattr(executor, "PROGRESS_AFTER", -1.0)
    run_backtest(ds, models="compromise", scheduler=dask_cluster.address, progress=False, n_boot=20)
    assert len(bars) == 1


def test_ctrl_c_during_a_backtest_says_how_far_it_got(monkeypatch):
    def interrupted(what, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(executor, "_start_bar", interrupted)
    full = load_deu()
    with pytest.raises(KeyboardInterrupt, match=r"^backtest interrupted after [\d,]+ of 40 model runs; nothing was kept$"):
        run_backtest(replace(full, issues=full.issues[:40]), models="compromise", progress=True, n_boot=10)


def test_a_worker_killed_mid_backtest_does_not_change_the_result(fresh_dask_cluster):
    """SIGKILL one of the two workers once a few of the backtest's tasks are back: the scheduler reruns
    the lost ones on the other worker, and every forecast is the in-process one."""
    cluster = fresh_dask_cluster
    full = load_deu()
    ds = replace(full, issues=full.issues[:60])
    local = run_backtest(ds, models="smp", draws=2, seed=7, n_boot=50)
    killed: list[int] = []

    class KillingOne(executor.DaskExecutor):
        def task_size(self, items, item_seconds, cap):
            return max(1, min(cap, 8))  # many small tasks: most are still to come when the worker dies

        def run(self, fn, tasks, **kw):
            for k, item in enumerate(super().run(fn, tasks, **kw)):
                if k == 2 and not killed:
                    cluster.kill_worker("w1")
                    killed.append(len(tasks))
                yield item

    ex = KillingOne(cluster.client())
    remote = run_backtest(ds, models="smp", draws=2, seed=7, n_boot=50, scheduler=ex)
    assert killed and killed[0] > 6  # most of the tasks were still to come when the worker died
    assert list(cluster.workers()) == ["w0"]
    for k in local.forecasts:
        assert np.array_equal(local.forecasts[k], remote.forecasts[k], equal_nan=True), k
    assert remote.to_json() == local.to_json()


def test_a_model_that_fails_runs_no_further_task(monkeypatch):
    """A model that raised in a backtest task is reported, and its later tasks are not run (the other models'
    all are); the report names the same failure as when every task runs."""
    import detente
    from detente.backtest import run as bt

    full = load_deu()
    ds = replace(full, issues=full.issues[:60])
    mod = detente.models.get("mean")
    real, calls = mod.run, []

    def broken(inputs, params):
        calls.append(inputs.shape[0])
        raise RuntimeError("boom")

    specs = bt._specs(["mean", "compromise"])
    sizes = {sp.label: 20 for sp in specs}  # 20 draws per task: several tasks per model
    job, _ = bt.backtest_job(ds, specs, "votes", 1, 0, sizes)
    tasks = bt.backtest_tasks(job)
    n_mean = sum(t.spec == 0 for t in tasks)
    assert n_mean >= 3
    monkeypatch.setattr(mod, "run", broken)
    monkeypatch.setattr(bt, "_plan_backtest", lambda *a, **k: sizes)
    ran = []
    task = bt.run_backtest_task
    monkeypatch.setattr(bt, "run_backtest_task", lambda t, j: ran.append(t.spec) or task(t, j))
    _, not_run, failures, _ = bt.run_models(ds, specs, "votes", executor=executor.Executor())
    assert failures == {"mean": "RuntimeError: boom"} and len(calls) == 1
    assert ran.count(0) == 1 and ran.count(1) == len(tasks) - n_mean
    # the same report as when every task runs
    every = bt.merge_backtest(job, [sp.label for sp in specs], tasks, [task(t, job) for t in tasks])
    assert every[2] == failures
    monkeypatch.setattr(mod, "run", real)
