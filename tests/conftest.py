"""Shared fixtures: the data that ships in the package, and where the shared data lives (CI has ../shared beside the clone)."""

from __future__ import annotations

import csv
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples on every run (a landing must not hang on a lucky draw); a developer's run
# keeps exploring new examples. A failure found either way is shown with its reproducing example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# Bueno de Mesquita's (1994) EC car-emission table, as the package ships it
EMISSION = ROOT / "src" / "detente" / "scenarios" / "emission-ec-1994.csv"


def emission_weighted_mean() -> float:
    """sum c s x / sum c s of the emission table, in exact rational arithmetic (the compromise point)."""
    rows = list(csv.DictReader(EMISSION.open()))
    w = [Fraction(r["capability"]) * Fraction(r["salience"]) for r in rows]
    return float(sum(wi * Fraction(r["position"]) for wi, r in zip(w, rows)) / sum(w))


@pytest.fixture
def emission_csv() -> Path:
    return EMISSION


@pytest.fixture
def trade_file(tmp_path) -> Path:
    """A three-actor, two-issue scenario in which A and B trade (derived by hand in tests/test_exchange.py:
    the compromise points are 70 on both issues; after the trade, B holds 100 on p, A holds 100 on q, and
    both outcomes are 83.33)."""
    import json

    scen = {
        "name": "trade",
        "issues": [{"key": "p", "scale": [0, 100]}, {"key": "q", "scale": [0, 100]}],
        "actors": [
            {"key": "A", "capability": 1, "positions": {"p": 100, "q": 0}, "salience": {"p": 80, "q": 20}},
            {"key": "B", "capability": 1, "positions": {"p": 0, "q": 100}, "salience": {"p": 20, "q": 80}},
            {"key": "C", "capability": 1, "positions": {"p": 50, "q": 50}, "salience": {"p": 50, "q": 50}},
        ],
    }
    d = tmp_path / "trade"
    d.mkdir()
    path = d / "trade.json"
    path.write_text(json.dumps(scen), encoding="utf-8")
    return path


# -- a real Dask cluster on loopback (tests/_dask_cluster.py): a scheduler and two workers -------------
@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, shared by the session's tests
    (which must leave both workers alive); ``.address`` is ``tcp://127.0.0.1:PORT``."""
    from _dask_cluster import DaskCluster

    cluster = DaskCluster(tmp_path_factory.mktemp("dask"), workers=2)
    yield cluster
    cluster.stop()


@pytest.fixture
def fresh_dask_cluster(tmp_path):
    """A cluster of its own for a test that kills a worker."""
    from _dask_cluster import DaskCluster

    cluster = DaskCluster(tmp_path / "dask", workers=2)
    yield cluster
    cluster.stop()


# -- the suite on two processes (pytest-xdist: `pytest -n 2 --dist loadscope --no-loadscope-reorder`; docs/development.md) --
# loadscope keeps each module's tests on one worker, so a module-scoped fixture (a report, a backtest, a browser)
# is built once, as in a serial run. (xdist's loadgroup would also keep the two Dask modules together, but with
# pytest 9 its groups are not applied: it renames nodes through an attribute pytest 9 no longer reads.)

#: The modules holding the longest tests (a fresh numba cache compiled, reports built in fresh interpreters, a
#: server under a memory limit, clusters), sent to the workers first so that neither waits alone on one of
#: them at the end; the order of the others, and of every module's own tests, is the files' order.
FIRST = ("test_packaging.py", "test_report_beside.py", "test_budget.py", "test_report_shipped.py", "test_dask.py",
         "test_web_editor.py", "test_tables.py", "test_record.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker (every worker sorts alike, as xdist requires)
        rank = {name: i for i, name in enumerate(FIRST)}
        items.sort(key=lambda it: rank.get(it.path.name, len(FIRST)))
