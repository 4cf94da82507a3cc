"""Scaling of the Dask backend (issue #16): one and two local workers against the in-process run.

Two workloads, each run three ways with the same seed (and checked to give the same numbers bit for bit):

* Sobol sensitivity of a synthetic 100-actor, 3-issue scenario with ``smp`` (``--uncertain`` actors'
  capabilities ranged +/-30 %, ``--samples`` base samples: ``samples x (uncertain + 2)`` model runs);
* Monte Carlo of the flagship with ``bdm`` (``--draws`` draws);
* a backtest parameter grid on the 322 DEU decisions: ``smp`` under each ``--grid-rules`` voting rule
  x each ``--grid-capabilities`` capability convention, beside the compromise reference (the whole
  ``run_backtest``, scores and bootstrap included; the compared result is every forecast);
* advice for ``trump`` on every issue of the flagship with ``bdm`` (``--advice-draws`` draws).

For each: the in-process run (no dask), a LocalCluster of 1 worker process, and one of 2, interleaved
for ``--repeat`` rounds (the best time of each kept, so that a change of the machine's load hits all
three alike). Printed:
wall times, the speed-up from 1 to 2 workers (target >= 1.7x on a 2-core machine) and the overhead of
the 1-worker cluster over the in-process run (target < 10 % for work of >= 30 s). Starting a cluster
is timed apart (it is paid once per command, not per analysis), and each cluster runs a small warm-up
analysis first (imports, the numba kernels loaded from the cache), as the in-process run does.

The machine is shared: the load average (``uptime``) is printed before and after, and a speed-up
below target on a loaded machine says how busy the cores were, not what the backend can do. What the
backend itself costs is printed apart from the load: the share of the wall time the workers were not
computing (the cluster's task stream: scheduling, transfer, the client's own work).

Run: ``.venv/bin/python benchmarks/bench_scale.py [--samples 2 --uncertain 10 --draws 100000 --repeat 2]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import replace
from typing import Any

import numpy as np


def synthetic(n: int = 100, D: int = 3, uncertain: int = 10, seed: int = 0):
    """``n`` actors on ``D`` issues (scale 0-100) with random positions, saliences and capabilities;
    the first ``uncertain`` actors' capabilities ranged +/-30 % (the Sobol factors)."""
    import detente

    rng = np.random.default_rng(seed)
    issues = [{"key": f"i{d}", "scale": [0, 100]} for d in range(D)]
    actors = []
    for i in range(n):
        c = float(rng.uniform(1, 100))
        actors.append({"key": f"a{i}",
                       "capability": {"value": c, "low": 0.7 * c, "high": 1.3 * c} if i < uncertain else c,
                       "positions": {f"i{d}": float(rng.uniform(0, 100)) for d in range(D)},
                       "salience": {f"i{d}": float(rng.uniform(10, 90)) for d in range(D)}})
    return detente.load({"name": f"synthetic-{n}", "issues": issues, "actors": actors})


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2, help="Sobol base samples (a power of two).")
    ap.add_argument("--uncertain", type=int, default=10, help="Ranged capabilities (Sobol factors).")
    ap.add_argument("--draws", type=int, default=100_000, help="bdm Monte Carlo draws of the flagship.")
    ap.add_argument("--grid-rules", default="Prop,Binary", help="smp voting rules of the backtest grid.")
    ap.add_argument("--grid-capabilities", default="votes", help="Capability conventions of the backtest grid.")
    ap.add_argument("--advice-draws", type=int, default=2000, help="Draws of the advice workload.")
    ap.add_argument("--only", choices=["sobol", "mc", "grid", "advice"], default=None)
    ap.add_argument("--repeat", type=int, default=2, help="Rounds of the three runs, interleaved; the best of each is kept.")
    args = ap.parse_args(argv)

    from detente import executor
    from detente.analysis import advise, monte_carlo, sensitivity
    from detente.backtest import load_deu, run_backtest

    scen = synthetic(uncertain=args.uncertain)
    small = synthetic(n=12, uncertain=args.uncertain)
    budget = None
    from detente.budget import Budget

    budget = Budget.of(seconds=1e6, draws=10_000_000)
    deu = load_deu()
    grid = {"smp.voting_rule": args.grid_rules.split(","), "capability": args.grid_capabilities.split(",")}
    workloads = {
        "sobol": (f"Sobol, smp, 100 actors x 3 issues, {args.uncertain} factors, N={args.samples}",
                  lambda **kw: sensitivity(scen, "smp", "sobol", samples=args.samples, seed=0, progress=False,
                                           budget=budget, **kw).table,
                  lambda **kw: sensitivity(small, "smp", "sobol", samples=2, seed=0, progress=False, **kw)),
        "mc": (f"Monte Carlo, bdm, flagship, {args.draws:,} draws",
               lambda **kw: monte_carlo("korea-2019", "bdm", draws=args.draws, seed=0, point=False, progress=False,
                                        budget=budget, **kw).forecasts,
               lambda **kw: monte_carlo("korea-2019", "bdm", draws=50, seed=0, point=False, progress=False, **kw)),
        "grid": (f"Backtest grid, DEU 322 decisions, smp voting_rule={args.grid_rules} x capability={args.grid_capabilities}",
                 lambda **kw: np.vstack(list(run_backtest(deu, grid=grid, budget=budget, **kw).forecasts.values())),
                 lambda **kw: run_backtest(replace(deu, issues=deu.issues[:12]), models="smp", n_boot=10, **kw)),
        "advice": (f"Advice, bdm, flagship, trump on every issue, {args.advice_draws:,} draws",
                   lambda **kw: advise("korea-2019", "trump", model="bdm", draws=args.advice_draws, progress=False,
                                       budget=budget, **kw).table,
                   lambda **kw: advise("korea-2019", "trump", model="bdm", draws=5, progress=False, **kw)),
    }
    print(f"before: {load()}", flush=True)
    from distributed import get_task_stream

    rows = []
    clusters: dict[int, Any] = {}
    try:
        for n in (1, 2):
            clusters[n], start = timed(lambda n=n: executor.local(n))
            print(f"a local cluster of {n} worker{'s' if n > 1 else ''} started in {start:.1f} s (not counted below)")
        for key, (label, run, warm) in workloads.items():
            if args.only and key != args.only:
                continue
            print(f"\n{label}", flush=True)
            warm()
            for ex in clusters.values():
                warm(scheduler=ex)
            best = {0: math.inf, 1: math.inf, 2: math.inf}
            idle = {1: 0.0, 2: 0.0}
            ref = None
            for r in range(args.repeat):  # interleaved, so that a change of the machine's load hits all three
                out, t = timed(run)
                ref = out if ref is None else ref
                best[0] = min(best[0], t)
                print(f"  round {r + 1}: in process {t:7.2f} s", end="", flush=True)
                for n, ex in clusters.items():
                    with get_task_stream(client=ex.client) as stream:
                        out, t = timed(lambda ex=ex: run(scheduler=ex))
                    busy = sum(s["stop"] - s["start"] for d in stream.data for s in d["startstops"]
                               if s["action"] == "compute")
                    if not (out.equals(ref) if hasattr(out, "equals") else np.array_equal(out, ref)):
                        print(f"\n  {n} worker(s): the result DIFFERS from the in-process run")
                        return 1
                    if t < best[n]:
                        best[n], idle[n] = t, 1 - busy / (t * n)
                    print(f"; {n} worker{'s' if n > 1 else ''} {t:7.2f} s ({len(stream.data)} tasks, workers idle "
                          f"{100 * (1 - busy / (t * n)):.1f} %)", end="", flush=True)
                print(flush=True)
            speedup = best[1] / best[2]
            overhead = best[1] / best[0] - 1
            print(f"  best: in process {best[0]:.2f} s, 1 worker {best[1]:.2f} s, 2 workers {best[2]:.2f} s "
                  "(every result the same bit for bit)")
            print(f"  speed-up 1 -> 2 workers {speedup:6.2f}x  (target >= 1.7x)")
            print(f"  overhead of 1 worker over in process {100 * overhead:+.1f} %  (target < 10 % for work of >= 30 s; "
                  f"this work: {best[0]:.0f} s)")
            rows.append((label, best[0], best[1], best[2], speedup, overhead, idle[1], idle[2]))
    finally:
        for ex in clusters.values():
            ex.close()
    print(f"\nafter: {load()}")
    print("\n| workload | in process | 1 worker | 2 workers | speed-up (>= 1.7x) | overhead (< 10 %) | workers idle (1 / 2) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, t0, t1, t2, sp, ov, i1, i2 in rows:
        print(f"| {label} | {t0:.1f} s | {t1:.1f} s | {t2:.1f} s | {sp:.2f}x | {100 * ov:+.1f} % | "
              f"{100 * i1:.1f} % / {100 * i2:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
