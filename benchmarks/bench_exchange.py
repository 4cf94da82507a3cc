"""Benchmark of the exchange model's ``decide`` variant against the targets of issue #13.

Targets: a 15 x 13 climate-size file (Decide's ``cop21`` example, tests/data/decide) at 10 rounds
in under 1 s per run, and a Monte Carlo of 1,000 draws on it in under 60 s. Printed as ratios
(measured / target; below 1 meets the target). The first run also compiles (or loads from numba's
cache) the kernel, so it is timed apart.

Run: ``.venv/bin/python benchmarks/bench_exchange.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "tests" / "data" / "decide" / "cop21.csv"
RUN_TARGET, MC_TARGET, MC_DRAWS = 1.0, 60.0, 1000


def main() -> list[tuple[str, float, float]]:
    from detente import api
    from detente.analysis import monte_carlo
    from detente.models import exchange

    scen = api.load(str(FILE))
    inp = scen.to_inputs()
    t0 = time.perf_counter()
    exchange.run(inp)
    first = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        tr = exchange.run(inp)
        runs.append(time.perf_counter() - t0)
    one = min(runs)
    t0, c0 = time.perf_counter(), time.process_time()
    monte_carlo(scen, "exchange", draws=MC_DRAWS, seed=0, progress=False)
    mc, mc_cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = [
        (f"one run, 15 x 13, 10 rounds ({int(tr.extras['exchanges'][0].sum())} exchanges)", one, RUN_TARGET),
        (f"Monte Carlo, {MC_DRAWS:,} draws", mc, MC_TARGET),
    ]
    import os

    print(f"first run (compiles or loads the kernel): {first:.2f} s; load average {os.getloadavg()[0]:.1f}; "
          f"Monte Carlo CPU time {mc_cpu:.1f} s over {exchange.THREADS} thread(s)\n")
    print("| benchmark | seconds | target | ratio |\n|---|---|---|---|")
    for name, sec, target in rows:
        print(f"| {name} | {sec:.3f} | {target:g} | {sec / target:.3f} |")
    return rows


if __name__ == "__main__":
    main()
