"""Time the whole DEU backtest of every deterministic model against the 60 s target.

Run: ``.venv/bin/python benchmarks/bench_backtest.py``. Prints the wall time of
``run_backtest("deu")`` with every registered model (one run per issue, which is
the whole backtest for deterministic models) and its ratio to the target.
"""

from __future__ import annotations

import time

from detente import models
from detente.backtest import run_backtest

TARGET_S = 60.0


def main() -> None:
    names = models.names()
    t0 = time.perf_counter()
    res = run_backtest("deu", models=names, draws=0, seed=0)
    dt = time.perf_counter() - t0
    print(f"bench_backtest: {res.n_issues} issues x {len(res.summary)} models ({', '.join(res.summary)})")
    for label, s in res.summary.items():
        print(f"  {label:<16} n={s['n']:>3}  MAE={s['mae']:.2f}")
    for label, msg in res.failures.items():
        print(f"  {label:<16} FAILED: {msg}")
    print(f"bench_backtest: {dt:.2f} s (target {TARGET_S:.0f} s, ratio {dt / TARGET_S:.3f})")


if __name__ == "__main__":
    main()
