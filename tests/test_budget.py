"""The compute budget: cost estimates against measured memory, refusals before any work, bounded chunks.

Issue 10, point 3: every model states the cost of a run from its sizes, an
analysis over the budget is refused before it starts (exit 2 / HTTP 422) with
the estimate and how to raise the limit, memory stays bounded by chunking,
rounds are capped; and the server, under an address-space limit of 2 GiB,
answers the largest requests the default budget allows and stays up.
"""

from __future__ import annotations

import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from detente import models
from detente.analysis import advise, compare, monte_carlo, sensitivity
from detente.analysis.montecarlo import plan_monte_carlo
from detente.api import forecast, load, model_params
from detente.budget import Budget, BudgetError, plan_scenario, run_cost
from detente.models.base import MAX_ROUNDS, Inputs, model_cost
from detente.simulate import simulate

DETENTE = [sys.executable, "-c", "import sys; from detente.cli import main; sys.exit(main(sys.argv[1:]))"]
PROBE_TIMEOUT = 60  # seconds: a refused request must come back long before this (the machine is shared)


#: The web app answers its loopback names only, and a write needs the header the bundled UI sends.
WEB = {"base_url": "http://127.0.0.1", "headers": {"X-Detente": "1"}}

def big_scenario(n: int, D: int, seed: int = 1, ranged: bool = False) -> dict:
    """n actors x D issues with random positions, saliences and capabilities (with ``ranged``,
    every one of them has a range: n x (1 + 2 D) uncertain inputs)."""
    rnd = random.Random(seed)

    def pos() -> object:
        x = rnd.randint(10, 90)
        return {"value": x, "low": x - 10, "high": x + 10} if ranged else x

    return {
        "name": f"big {n}x{D}",
        "issues": [{"key": f"i{d}", "scale": [0, 100]} for d in range(D)],
        "actors": [
            {"key": f"a{i}", "capability": pos(),
             "positions": {f"i{d}": pos() for d in range(D)},
             "salience": {f"i{d}": pos() for d in range(D)}}
            for i in range(n)
        ],
    }


def random_inputs(B: int, n: int, D: int) -> Inputs:
    rng = np.random.default_rng(0)
    return Inputs.build(rng.uniform(0, 100, (B, n, D)), rng.uniform(0.1, 1, (B, n, D)), rng.uniform(1, 10, (B, n)),
                        low=np.zeros(D), high=np.full(D, 100.0), status_quo=np.full(D, 50.0), seed=np.arange(B))


def traced_peak(fn) -> int:
    """The peak of memory traced by tracemalloc while ``fn`` runs (numpy reports its buffers to it)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def with_rounds(m, T: int):
    p = m.Params()
    for f in ("rounds", "passes"):
        if f in m.Params.model_fields:
            return p.model_copy(update={f: T})
    return p


# -- 1. every model's cost against its measured peak ---------------------------------------------------
# Sizes where the per-draw arrays dominate (a few MB), for every shipped model.
SIZES = {
    "compromise": [(2000, 20, 5, 0), (400, 100, 3, 0)],
    "mean": [(2000, 20, 5, 0), (400, 100, 3, 0)],
    "median": [(2000, 20, 5, 0), (400, 100, 3, 0)],
    "nash": [(200, 20, 5, 0), (100, 60, 3, 0)],
    "counterweight": [(2000, 20, 5, 0), (400, 100, 3, 0)],
    "focal": [(1000, 20, 5, 0), (200, 100, 3, 0)],
    "exchange": [(60, 20, 3, 1), (10, 40, 5, 2)],
    "bdm": [(300, 20, 3, 10), (100, 10, 10, 30), (20, 60, 2, 5)],
    "smp": [(100, 20, 3, 10), (20, 40, 5, 20), (50, 10, 10, 30)],
}


@pytest.mark.parametrize("name", list(SIZES))
def test_model_cost_is_an_upper_bound_of_its_peak_memory_within_3x(name):
    m = models.get(name)
    assert set(SIZES) == set(models.names()), "every registered model has sizes here"
    for B, n, D, T in SIZES[name]:
        p = with_rounds(m, T)
        inp = random_inputs(B, n, D)
        # compile / warm up outside the measurement, at the measured batch size: a model may take another compiled
        # path for a large batch (smp's fused passes from FUSED_MIN_DRAWS draws), and numba's compiling is traced
        m.run(inp, p)
        peak = traced_peak(lambda: m.run(inp, p))
        est = model_cost(m, n, D, p).bytes(B)
        assert peak <= est <= 3 * peak, f"{name} B={B} n={n} D={D} T={T}: peak {peak:,} vs estimate {est:,.0f}"


def test_run_cost_covers_the_timeline_runner_with_events():
    """simulate() in segments between events (korea-2019 has them) stays under the budget's per-run cost."""
    scen = load("korea-2019")
    assert scen.events
    for name in ("bdm", "smp", "compromise"):
        m = models.get(name)
        p = m.Params()
        B = 400
        inp = scen.to_inputs(batch=B)
        T = scen.rounds if scen.rounds is not None and "rounds" in m.Params.model_fields else getattr(p, "rounds", 0)
        simulate(scen, name, p, inputs=scen.to_inputs(batch=2))
        peak = traced_peak(lambda: simulate(scen, name, p, inputs=inp))
        est = run_cost(m, len(scen.actors), len(scen.issues), p, T if "rounds" in m.Params.model_fields else 0).bytes(B)
        assert peak <= est <= 4 * peak, f"{name}: peak {peak:,} vs estimate {est:,.0f}"


def test_monte_carlo_estimate_bounds_its_peak():
    scen = load("korea-2019")
    for name in ("bdm", "compromise"):
        p = model_params(name, {})
        monte_carlo(scen, name, draws=5, progress=False)
        peak = traced_peak(lambda: monte_carlo(scen, name, draws=6000, progress=False, by_round=True))
        est = plan_monte_carlo(scen, name, p, set(), 6000, by_round=True).memory
        assert peak <= est <= 3 * peak, f"{name}: peak {peak:,} vs estimate {est:,.0f}"


# -- 2. chunks from memory, results unchanged -------------------------------------------------------------
def test_chunks_follow_the_memory_budget_and_never_change_a_result():
    scen = load("korea-2019")
    small = Budget(memory=64 << 20)  # chunks of at most 16 MB
    est = plan_monte_carlo(scen, "bdm", model_params("bdm", {}), set(), 1000, budget=small)
    assert est.chunk < 1000  # fewer draws per call than the run has
    assert est.chunk * est.cost.bytes_per_draw <= small.chunk_memory
    for name in ("bdm", "smp"):
        assert plan_monte_carlo(scen, name, model_params(name, {}), set(), 1000, budget=small).chunk < 1000
        a = monte_carlo(scen, name, draws=1000, seed=7, progress=False, by_round=True)
        b = monte_carlo(scen, name, draws=1000, seed=7, progress=False, by_round=True, budget=small)
        assert np.array_equal(a.forecasts, b.forecasts)
        assert np.array_equal(a.by_round, b.by_round)


def test_draws_built_chunk_by_chunk_are_the_draws_built_at_once():
    from detente.analysis._draws import draw_seeds, monte_carlo_draws, uniforms

    full = uniforms(5, "input:x", 1000)
    assert np.array_equal(np.concatenate([uniforms(5, "input:x", 300), uniforms(5, "input:x", 700, start=300)]), full)
    assert np.array_equal(draw_seeds(5, 10, start=990), draw_seeds(5, 1000)[990:])
    scen = load("korea-2019")
    eager = monte_carlo_draws(scen, 500, 9)
    lazy = monte_carlo_draws(scen, 500, 9, lazy=True)
    assert lazy.inputs.shape == eager.inputs.shape
    for sl in (slice(0, 500), slice(123, 377), slice(499, 500)):
        a, b = eager.inputs.take(sl), lazy.inputs.take(sl)
        for f in ("position", "salience", "capability", "active", "seed", "low", "high"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
        assert np.array_equal(a.status_quo, b.status_quo, equal_nan=True)


def test_monte_carlo_memory_does_not_grow_with_actors_x_issues_x_draws():
    """The draws' inputs are built per chunk: only drawn values and forecasts are kept per draw."""
    scen = load(big_scenario(100, 10))  # no ranges: nothing uncertain to keep per draw
    monte_carlo(scen, "compromise", draws=5, progress=False)
    peak_4k = traced_peak(lambda: monte_carlo(scen, "compromise", draws=4_000, progress=False))
    peak_20k = traced_peak(lambda: monte_carlo(scen, "compromise", draws=20_000, progress=False))
    # 16,000 more draws would hold 256 MB more if every draw's positions and saliences were kept
    assert peak_20k - peak_4k < 20e6


def test_chunked_monte_carlo_peak_stays_under_the_memory_budget():
    """Many draws of a heavy run: the peak stays under the budget, however many chunks it takes."""
    scen = load(big_scenario(30, 4))
    b = Budget(memory=24 << 20)
    monte_carlo(scen, "bdm", draws=5, progress=False)
    peak = traced_peak(lambda: monte_carlo(scen, "bdm", draws=800, progress=False, budget=b))
    assert peak <= b.memory
    est = plan_monte_carlo(scen, "bdm", model_params("bdm", {}), set(), 800, budget=b)
    assert est.chunk < 100  # a dozen chunks and more
    unchunked = traced_peak(lambda: monte_carlo(scen, "bdm", draws=800, progress=False, chunk=800,
                                                budget=Budget(memory=4 << 30)))
    assert unchunked > b.memory  # without the budget's chunks the same run would not fit


# -- 3. refusals from the Python API ------------------------------------------------------------------------
def test_refusal_states_estimate_limit_and_how_to_raise_it():
    scen = load(big_scenario(300, 10))
    with pytest.raises(BudgetError) as e:
        monte_carlo(scen, "bdm", draws=100_000)
    (prob,) = e.value.problems  # the draws are built chunk by chunk: memory fits, time does not
    assert prob.field == "seconds"
    assert "300 actors x 10 issues x 10 rounds need about 55.1 h of computing, over the budget of 10 min" in prob.reason
    assert "--max-seconds" in prob.reason
    with pytest.raises(BudgetError) as e:
        monte_carlo(scen, "bdm", draws=100_000, budget=Budget(memory=16 << 20))
    assert [p.field for p in e.value.problems] == ["memory", "seconds"]  # every limit exceeded is named
    assert "more than a chunk may use (4 MB, a quarter of the 16 MB budget)" in e.value.problems[0].reason
    assert "--max-memory" in e.value.problems[0].reason


@pytest.mark.parametrize("run", [
    lambda s, b: forecast(s, "bdm", rounds=20_000, budget=b),
    lambda s, b: monte_carlo(s, "bdm", draws=2_000_000, budget=b),
    lambda s, b: sensitivity(s, "bdm", "sobol", samples=1 << 16, budget=b),
    lambda s, b: advise(s, "trump", model="smp", draws=100_000, budget=b),
    lambda s, b: compare([s, "korea-2019-wait"], ["bdm", "smp"], draws=200_000, budget=b),
])
def test_every_analysis_is_refused_before_it_starts(run):
    t0 = time.perf_counter()
    with pytest.raises(BudgetError):
        run(load("korea-2019"), None)
    assert time.perf_counter() - t0 < PROBE_TIMEOUT


def test_backtest_is_refused_before_any_model_runs():
    from detente.backtest import run_backtest

    with pytest.raises(BudgetError) as e:
        run_backtest("deu", models="smp", draws=100_000)
    assert "--max-" in e.value.problems[0].reason


def test_a_raised_budget_lets_the_run_through():
    scen = load("korea-2019")
    with pytest.raises(BudgetError):
        monte_carlo(scen, "compromise", draws=5000, budget=Budget(draws=1000))
    assert monte_carlo(scen, "compromise", draws=5000, budget=Budget(draws=5000)).draws == 5000


def test_budget_limits_are_validated():
    assert Budget.of(memory="2GB").memory == 2 << 30
    assert Budget.of(memory="512MB").memory == 512 << 20
    for kw in ({"memory": "lots"}, {"memory": "10KB"}, {"seconds": -1}, {"draws": 0}, {"rounds": MAX_ROUNDS + 1},
               {"draws": 2.5}, {"seconds": float("nan")}):
        with pytest.raises(BudgetError.__mro__[1]):  # DetenteError
            Budget.of(**kw)


@pytest.mark.parametrize("name", ["bdm", "smp"])
def test_rounds_are_capped_in_every_model_with_rounds(name):
    from detente.errors import DetenteError

    key = "rounds" if name == "bdm" else "max_turns"
    with pytest.raises(DetenteError) as e:
        model_params(name, {key: 1_000_000_000})
    assert f"at most {MAX_ROUNDS:,}" in e.value.problems[0].reason
    with pytest.raises(BudgetError) as e:
        plan_scenario("forecast", load("korea-2019"), name, model_params(name, {key: 50_000}), {"rounds"}, 1)
    assert "--max-rounds" in e.value.problems[0].reason


def test_every_dynamic_model_caps_its_rounds():
    for name in models.names():
        m = models.get(name)
        for f in ("rounds", "passes"):
            if f in m.Params.model_fields:
                le = [x.le for x in m.Params.model_fields[f].metadata if getattr(x, "le", None) is not None]
                assert le and le[0] <= MAX_ROUNDS, f"{name}.{f} has no cap"


# -- 4. the command line: exit 2 with the message ---------------------------------------------------------
def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*DETENTE, *args], capture_output=True, text=True, timeout=PROBE_TIMEOUT, cwd=cwd)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("big") / "big.json"
    p.write_text(json.dumps(big_scenario(300, 10)), encoding="utf-8")
    assert 50_000 < p.stat().st_size < 150_000
    return p


@pytest.mark.parametrize("args, field, flag", [
    (["forecast", "--draws", "-5"], "--draws", None),
    (["forecast", "--draws", "100000000"], "draws", "--max-draws"),
    (["forecast", "-m", "bdm", "-p", "rounds=1000000000"], "params.rounds", None),
    (["forecast", "-m", "bdm", "-p", "rounds=50000"], "rounds", "--max-rounds"),
    (["forecast", "--draws", "10", "--max-memory", "lots"], "--max-memory", None),
    (["advise", "-a", "trump", "--draws", "-3"], "--draws", None),
    (["compare", "korea-2019", "korea-2019-wait", "--draws", "-1"], "--draws", None),
    (["sensitivity", "--method", "sobol", "--samples", "1048576", "-m", "bdm"], "draws", "--max-draws"),
    (["backtest", "--draws", "-1"], "--draws", None),
    (["backtest", "--draws", "100000", "-m", "smp"], "draws", "--max-draws"),
    (["report", "--draws", "2000000", "-o", "never.html"], "draws", "--max-draws"),
])
def test_cli_probes_exit_2_with_the_bound(args, field, flag, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert f": {field}: " in r.stderr
    if flag:
        assert flag in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "never.html").exists()


def test_cli_big_scenario_with_bdm_and_100000_draws_is_refused_quickly(big_file):
    r = cli("forecast", str(big_file), "-m", "bdm", "--draws", "100000")
    assert r.returncode == 2
    assert ": seconds: " in r.stderr and "over the budget of 10 min" in r.stderr and "--max-seconds" in r.stderr


def test_cli_flag_raises_the_limit(big_file):
    r = cli("forecast", str(big_file), "-m", "bdm", "--draws", "100000", "--max-seconds", "1e6", "--max-memory", "20MB")
    assert r.returncode == 2
    assert ": memory: " in r.stderr and ": seconds: " not in r.stderr  # time now fits; memory refuses


# -- 5. the web app: 422 before any work --------------------------------------------------------------------
@pytest.fixture()
def client(tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    with TestClient(create_app(tmp_path / "runs.db"), **WEB) as c:
        yield c


def test_web_big_request_answers_422_with_the_estimate(client, big_file):
    text = big_file.read_text(encoding="utf-8")
    for path, extra in (("/api/forecast", {}), ("/api/jobs", {}), ("/api/advice", {"actor": "a0"})):
        t0 = time.perf_counter()
        r = client.post(path, json={"text": text, "format": "json", "model": "bdm", "draws": 100_000, **extra})
        assert r.status_code == 422, (path, r.text)
        (prob,) = r.json()["problems"]
        # advice runs every lever over the draws: its number of runs is over the budget first
        assert prob["field"] == ("draws" if path == "/api/advice" else "seconds")
        assert "--max-" in prob["reason"] and "detente serve" in prob["reason"]
        assert time.perf_counter() - t0 < PROBE_TIMEOUT
    assert client.get("/api/jobs").json() == []  # nothing was queued


def test_web_rounds_probes_answer_422(client):
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "bdm", "params": {"rounds": 1_000_000_000}})
    assert r.status_code == 422 and "at most 100,000" in r.text
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": "bdm", "params": {"rounds": 50_000}})
    assert r.status_code == 422 and "--max-rounds" in r.text


def test_create_app_budget_is_the_servers_limit(tmp_path):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    body = {"name": "korea-2019", "model": "compromise", "draws": 5000}
    with TestClient(create_app(tmp_path / "a.db", budget=Budget(draws=1000)), **WEB) as c:
        r = c.post("/api/forecast", json=body)
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "draws"
    with TestClient(create_app(tmp_path / "b.db"), **WEB) as c:
        assert c.post("/api/forecast", json=body).status_code == 201


# -- 6. the server under an address-space limit -------------------------------------------------------------
ADDRESS_SPACE = 2 << 30  # 2 GiB of virtual memory for the whole server process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _largest_draws(scen, model: str) -> int:
    """The most Monte Carlo draws (at most the web app's 100,000) a forecast request may ask under the default budget."""
    from detente.report.build import plan_report

    lo, hi = 0, 100_000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            plan_report(scen, model, {}, draws=mid, sensitivity=False)
            lo = mid
        except BudgetError:
            hi = mid - 1
    return lo


def test_server_under_2_gib_address_space_answers_the_largest_requests_and_stays_up(tmp_path, big_file):
    """The server runs under RLIMIT_AS = 2 GiB (numpy, numba and the app take about 0.5 GB of it idle).

    It gets the largest requests the default budget allows: a 120 x 6 scenario
    whose 1,560 inputs are all uncertain, with as many draws as fit the 1 GB
    memory budget (every draw keeps its 1,560 drawn values), the flagship with the
    web app's maximum of 100,000 draws, and a one-at-a-time sensitivity of the
    big scenario; then a request over the budget (300 x 10, bdm, 100,000 draws).
    Every request within the budget answers 201, the one over it 422, the server
    is still up, and its peak resident memory stayed under 2 GB.
    """
    scen = big_scenario(120, 6, ranged=True)
    draws = _largest_draws(load(scen), "compromise")
    assert 50_000 < draws < 100_000  # the memory budget, not the web cap, is the bound here
    port = _free_port()
    code = (f"import uvicorn; from detente.web import create_app; "
            f"uvicorn.run(create_app({str(tmp_path / 'runs.db')!r}), host='127.0.0.1', port={port}, log_level='warning')")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    env = dict(os.environ, MALLOC_ARENA_MAX="2", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=limit, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def post(path: str, body: dict) -> int:
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", "X-Detente": "1"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def peak_rss() -> int:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        text = json.dumps(scen)
        assert post("/api/forecast", {"text": text, "format": "json", "model": "compromise", "draws": draws}) == 201
        assert post("/api/forecast", {"name": "korea-2019", "model": "compromise", "draws": 100_000}) == 201
        assert post("/api/sensitivity", {"text": text, "format": "json", "model": "compromise"}) == 201
        assert post("/api/forecast", {"text": big_file.read_text(), "format": "json", "model": "bdm", "draws": 100_000}) == 422
        assert proc.poll() is None
        assert json.loads(urllib.request.urlopen(base + "/api/health", timeout=10).read())["ok"] is True
        peak = peak_rss()
        print(f"server peak resident memory: {peak / 1e6:.0f} MB (largest Monte Carlo: {draws:,} draws)")
        assert peak < 2 * 10**9
    finally:
        proc.terminate()
        proc.wait(timeout=30)
