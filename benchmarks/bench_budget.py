"""How close the compute budget's estimates are: estimated / measured time and memory, per model.

For every model and a few scenario sizes, runs a Monte Carlo of random
scenarios (no ranges) through ``detente.monte_carlo`` and prints the budget's
estimate of seconds and peak memory (``detente.analysis.montecarlo.plan_monte_carlo``)
against the measured wall time and the peak memory traced by ``tracemalloc``.
A time ratio above 1 means the budget is cautious; the memory ratio must stay
at or above 1 (the tests check it).

Run: ``.venv/bin/python benchmarks/bench_budget.py [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc


def scenario(n: int, D: int) -> dict:
    rnd = random.Random(1)
    return {
        "name": f"{n}x{D}",
        "issues": [{"key": f"i{d}", "scale": [0, 100], "status_quo": 50} for d in range(D)],
        "actors": [{"key": f"a{i}", "capability": rnd.randint(1, 100),
                    "positions": {f"i{d}": rnd.randint(0, 100) for d in range(D)},
                    "salience": {f"i{d}": rnd.randint(1, 100) for d in range(D)}} for i in range(n)],
    }


CASES = {  # model: [(actors, issues, draws)]
    "compromise": [(20, 5, 20000), (100, 5, 5000)],
    "median": [(20, 5, 20000), (100, 5, 5000)],
    "mean": [(20, 5, 20000)],
    "nash": [(20, 3, 500)],
    "counterweight": [(20, 5, 20000)],
    "focal": [(20, 5, 10000)],
    "bdm": [(10, 3, 5000), (40, 5, 300)],
    "smp": [(10, 3, 1000), (30, 3, 100)],
    "exchange": [(10, 3, 2000), (30, 4, 100)],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the first size of each model only")
    args = ap.parse_args()
    from detente.analysis import monte_carlo
    from detente.analysis.montecarlo import plan_monte_carlo
    from detente.api import load, model_params

    print(f"{'model':14s} {'size':>12s} {'draws':>7s} {'est s':>8s} {'meas s':>8s} {'ratio':>6s} "
          f"{'est MB':>8s} {'peak MB':>8s} {'ratio':>6s}")
    for model, cases in CASES.items():
        for n, D, draws in cases[:1] if args.quick else cases:
            scen = load(scenario(n, D))
            monte_carlo(scen, model, draws=2, progress=False)  # compile / warm up
            est = plan_monte_carlo(scen, model, model_params(model, {}), set(), draws)
            tracemalloc.start()
            t0 = time.perf_counter()
            monte_carlo(scen, model, draws=draws, progress=False)
            dt = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{model:14s} {f'{n}x{D}':>12s} {draws:7d} {est.seconds:8.2f} {dt:8.2f} {est.seconds / dt:6.2f} "
                  f"{est.memory / 1e6:8.1f} {peak / 1e6:8.1f} {est.memory / peak:6.2f}", flush=True)


if __name__ == "__main__":
    main()
