"""Scaling of the Dask backend (issue #16): one and two local workers against the in-process run.

The target: >= 1.7x from 1 to 2 workers on this 2-core machine, and an overhead of the 1-worker cluster
over the in-process run under 10 % for work of at least 30 s. Each worker runs one kernel thread
(``DETENTE_THREADS=1``, ``executor.local(n, threads=1)``), and the in-process reference too, so that
"1 worker" is one core and "2 workers" two (with the default of two kernel threads, one process
already uses most of both cores and a second worker can add little). The in-process run with the
default threads is timed as well, for information.

Workloads (``--only``, default ``sobol,mc``: the issue's two), each run every way with the same seed
and checked to give the same numbers bit for bit (the script fails otherwise):

* ``sobol``: Sobol sensitivity of a synthetic 100-actor, 3-issue scenario with ``smp`` (``--uncertain``
  actors' capabilities ranged +/-30 %, ``--samples`` base samples: ``samples x (uncertain + 2)`` model
  runs; the default, 64 x 6 = 384 runs, is about 55 s of CPU time on one core: at 32 the in-process run took
  27 s once no cluster shared its process, under the 30 s the overhead target is for);
* ``mc``: Monte Carlo of the flagship with ``bdm`` (``--draws`` draws; 200,000 is about 45 s on one core);
* ``grid``: a backtest parameter grid on the 322 DEU decisions (``smp`` under each ``--grid-rules`` voting
  rule x each ``--grid-capabilities`` capability convention, beside the compromise reference);
* ``advice``: advice for ``trump`` on every issue of the flagship with ``bdm`` (``--advice-draws`` draws).

The ways are interleaved for ``--repeat`` rounds (the best time of each kept, so that a change of the
machine's load hits all alike). Each cluster is started for its own timed run and closed after it, so that
only the cluster being timed runs (an idle cluster's scheduler, nanny and worker would take CPU from the
one timed); starting it is timed apart (it is paid once per command, not per analysis), and it runs a
small warm-up analysis first (imports, the numba kernels loaded from the cache), as the in-process run does.

Printed: wall times, the speed-up from 1 to 2 workers and the overhead of 1 worker over the in-process
run, as ``TARGET`` lines (ids ``scale-speedup:WORKLOAD`` and ``scale-overhead:WORKLOAD``,
benchmarks/_targets.py). The machine is shared: the load average (``uptime``) is printed before and
after; a ratio below target on a loaded machine says how busy the cores were. What the backend itself
costs is printed apart from the load: the share of the wall time the workers were not computing (the
cluster's task stream: scheduling, transfer, the client's own work), and the two ratios again from
CPU time instead of wall time: a cluster way's time on idle cores is bounded by this process's CPU
seconds (the client's own work before and after the tasks and the scheduler's, as if none of it
overlapped the tasks) plus its busiest worker's, or all its CPU seconds over the cores when that is
more; the in-process run's is its CPU seconds. That bound (a pessimistic one for the cluster) is
what idle cores would give, and a loaded machine changes it much less than the wall times (it
still slows every process somewhat: caches, memory).

Run: ``.venv/bin/python benchmarks/bench_scale.py [--only sobol,mc --samples 32 --draws 200000 --repeat 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
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


@contextlib.contextmanager
def kernel_threads(k: int | None):
    """The models' kernel threads in this process (``DETENTE_THREADS``; None: the default)."""
    from detente.models import _jit

    saved = os.environ.get(_jit.THREADS_ENV)
    if k is None:
        os.environ.pop(_jit.THREADS_ENV, None)
    else:
        os.environ[_jit.THREADS_ENV] = str(k)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(_jit.THREADS_ENV, None)
        else:
            os.environ[_jit.THREADS_ENV] = saved


def cpu_now(ex: Any) -> tuple[float, dict[str, float]]:
    """CPU seconds used so far by this process (its threads: the client, a LocalCluster's scheduler) and by
    each worker process of ``ex`` (None: in process)."""
    return time.process_time(), (ex.client.run(time.process_time) if ex is not None else {})


def same(a: Any, b: Any) -> bool:
    return bool(a.equals(b)) if hasattr(a, "equals") else bool(np.array_equal(a, b))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=64, help="Sobol base samples (a power of two).")
    ap.add_argument("--uncertain", type=int, default=4, help="Ranged capabilities (Sobol factors).")
    ap.add_argument("--draws", type=int, default=200_000, help="bdm Monte Carlo draws of the flagship.")
    ap.add_argument("--grid-rules", default="Prop,Binary", help="smp voting rules of the backtest grid.")
    ap.add_argument("--grid-capabilities", default="votes", help="Capability conventions of the backtest grid.")
    ap.add_argument("--advice-draws", type=int, default=2000, help="Draws of the advice workload.")
    ap.add_argument("--only", default="sobol,mc", help="Comma-separated workloads: sobol, mc, grid, advice.")
    ap.add_argument("--repeat", type=int, default=2, help="Rounds of the runs, interleaved; the best of each is kept.")
    args = ap.parse_args(argv)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(only) - {"sobol", "mc", "grid", "advice"})
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose among sobol, mc, grid, advice")

    from _targets import target_line
    from detente import executor
    from detente.analysis import advise, monte_carlo, sensitivity
    from detente.backtest import load_deu, run_backtest
    from detente.budget import Budget
    from detente.models import _jit

    scen = synthetic(uncertain=args.uncertain)
    small = synthetic(n=12, uncertain=args.uncertain)
    budget = Budget.of(seconds=1e6, draws=10_000_000)
    deu = load_deu()
    grid = {"smp.voting_rule": args.grid_rules.split(","), "capability": args.grid_capabilities.split(",")}
    workloads = {
        "sobol": (f"Sobol, smp, 100 actors x 3 issues, {args.uncertain} factors, N={args.samples} "
                  f"({args.samples * (args.uncertain + 2)} runs)",
                  lambda **kw: sensitivity(scen, "smp", "sobol", samples=args.samples, seed=0, progress=False,
                                           budget=budget, **kw).table,
                  lambda **kw: sensitivity(small, "smp", "sobol", samples=2, seed=0, progress=False, **kw)),
        "mc": (f"Monte Carlo, bdm, flagship, {args.draws:,} draws",
               lambda **kw: monte_carlo("korea-2019", "bdm", draws=args.draws, seed=0, point=False, progress=False,
                                        budget=budget, **kw).forecasts,
               lambda **kw: monte_carlo("korea-2019", "bdm", draws=50, seed=0, point=False, progress=False, **kw)),
        "grid": (f"Backtest grid, DEU 322 decisions, smp voting_rule={args.grid_rules} x capability={args.grid_capabilities}",
                 lambda **kw: np.vstack(list(run_backtest(deu, grid=grid, budget=budget, progress=False,
                                                          **kw).forecasts.values())),
                 lambda **kw: run_backtest(replace(deu, issues=deu.issues[:12]), models="smp", n_boot=10, progress=False,
                                           **kw)),
        "advice": (f"Advice, bdm, flagship, trump on every issue, {args.advice_draws:,} draws",
                   lambda **kw: advise("korea-2019", "trump", model="bdm", draws=args.advice_draws, progress=False,
                                       budget=budget, **kw).table,
                   lambda **kw: advise("korea-2019", "trump", model="bdm", draws=5, progress=False, **kw)),
    }
    default = _jit.default_threads()
    print(f"before: {load()}; kernel threads: 1 in process and per worker (the default is {default})", flush=True)
    import logging

    from distributed import get_task_stream

    logging.getLogger("distributed").setLevel(logging.WARNING)  # a cluster's start and close, every round

    ways = ["in process, 1 thread", "1 worker", "2 workers", f"in process, {default} threads"]
    rows = []
    starts: dict[int, list[float]] = {1: [], 2: []}
    ex: Any = None
    try:
        for key in only:
            label, run, warm = workloads[key]
            print(f"\n{label}", flush=True)
            with kernel_threads(1):
                warm()
            best = dict.fromkeys(ways, math.inf)
            cpu = dict.fromkeys(ways, math.inf)  # CPU seconds: this process (client, scheduler) + the workers
            span = dict.fromkeys(ways, math.inf)  # CPU seconds of the busiest worker
            client = dict.fromkeys(ways, math.inf)  # CPU seconds of this process
            idle = {1: 0.0, 2: 0.0}
            ref = None
            for r in range(args.repeat):  # interleaved, so that a change of the machine's load hits every way
                print(f"  round {r + 1}:", end="", flush=True)
                for way in ways:
                    n = {"1 worker": 1, "2 workers": 2}.get(way)
                    if n is not None:
                        # only the cluster being timed runs (an idle one's housekeeping would take CPU from it)
                        ex, start = timed(lambda n=n: executor.local(n, threads=1))
                        starts[n].append(start)
                        warm(scheduler=ex)
                    c0 = cpu_now(ex)
                    if ex is None:
                        with kernel_threads(1 if way == ways[0] else None):
                            out, t = timed(run)
                    else:
                        with get_task_stream(client=ex.client) as stream:
                            out, t = timed(lambda ex=ex: run(scheduler=ex))
                    c1 = cpu_now(ex)
                    here, workers = c1[0] - c0[0], [c1[1][w] - c0[1][w] for w in c1[1]]
                    cpu[way] = min(cpu[way], here + sum(workers))
                    span[way] = min(span[way], max(workers) if workers else here)
                    client[way] = min(client[way], here)
                    ref = out if ref is None else ref
                    if not same(out, ref):
                        print(f"\n  {way}: the result DIFFERS from the in-process run")
                        return 1
                    note = ""
                    if n is not None:
                        busy = sum(s["stop"] - s["start"] for d in stream.data for s in d["startstops"]
                                   if s["action"] == "compute")
                        note = f" ({len(stream.data)} tasks, workers idle {100 * (1 - busy / (t * n)):.1f} %)"
                        if t < best[way]:
                            idle[n] = 1 - busy / (t * n)
                    best[way] = min(best[way], t)
                    print(f"; {way} {t:.2f} s{note}", end="", flush=True)
                    if ex is not None:
                        ex.close()
                        ex = None
                print(flush=True)
            t0, t1, t2, td = (best[w] for w in ways)
            speedup, overhead = t1 / t2, 100 * (t1 / t0 - 1)
            print("  best: " + ", ".join(f"{w} {best[w]:.2f} s" for w in ways) + " (every result the same bit for bit)")
            print(f"  speed-up 1 -> 2 workers {speedup:6.2f}x  (target >= 1.7x)")
            print(f"  overhead of 1 worker over in process {overhead:+.1f} %  (target < 10 % for work of >= 30 s; "
                  f"this work: {t0:.0f} s on one core)")
            # on idle cores, at most: this process's CPU time (the client's own work before and after the tasks,
            # and the scheduler's), as if none of it overlapped the tasks, plus the busiest worker's, or all
            # the CPU time shared out to the cores when that is longer
            cores = os.cpu_count() or 1
            est = {w: max(client[w] + span[w], cpu[w] / cores) for w in ("1 worker", "2 workers")}
            cpu_speedup = est["1 worker"] / est["2 workers"]
            cpu_overhead = 100 * (est["1 worker"] / cpu[ways[0]] - 1)
            print("  CPU seconds (best of the rounds): " + ", ".join(f"{w} {cpu[w]:.1f}" for w in ways)
                  + f"; of which this process (client, scheduler): 1 worker {client['1 worker']:.1f}, 2 workers "
                  f"{client['2 workers']:.1f}; busiest worker: 1 worker {span['1 worker']:.1f}, 2 workers "
                  f"{span['2 workers']:.1f}")
            print(f"  from CPU time (what idle cores would give): speed-up {cpu_speedup:.2f}x, overhead {cpu_overhead:+.1f} %")
            ld = os.getloadavg()[0]
            print(target_line(f"scale-speedup:{key}", speedup, note=f"{label}: 1 worker {t1:.1f} s, 2 workers {t2:.1f} s "
                              f"(1 kernel thread each); from CPU time {cpu_speedup:.2f}x; load {ld:.1f}"))
            print(target_line(f"scale-overhead:{key}", overhead, note=f"{label}: in process {t0:.1f} s, 1 worker {t1:.1f} s "
                              f"(1 kernel thread); {'' if t0 >= 30 else 'SHORTER than the 30 s the target is for; '}"
                              f"from CPU time {cpu_overhead:+.1f} %; load {ld:.1f}"))
            rows.append((label, t0, t1, t2, td, speedup, overhead, idle[1], idle[2], cpu_speedup, cpu_overhead))
    finally:
        if ex is not None:
            ex.close()
    for n, ts in starts.items():
        if ts:
            print(f"a local cluster of {n} worker{'s' if n > 1 else ''} (1 kernel thread each) started in "
                  f"{min(ts):.1f}-{max(ts):.1f} s (not counted above)")
    print(f"\nafter: {load()}")
    print(f"\n| workload | in process (1 thread) | 1 worker | 2 workers | in process ({default} threads) | speed-up (>= 1.7x) "
          "| overhead (< 10 %) | workers idle (1 / 2) | from CPU time: speed-up, overhead |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, t0, t1, t2, td, sp, ov, i1, i2, csp, cov in rows:
        print(f"| {label} | {t0:.1f} s | {t1:.1f} s | {t2:.1f} s | {td:.1f} s | {sp:.2f}x | {ov:+.1f} % | "
              f"{100 * i1:.1f} % / {100 * i2:.1f} % | {csp:.2f}x, {cov:+.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
