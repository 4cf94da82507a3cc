"""Benchmark of the exchange model against the targets of issues #13 and #17.

Issue #17's targets, as the issue words them:

- "exchange: >= 10x faster at 10 x 3 batched". The issue's figure: 1.7 s for 10,000 draws of the
  flagship (``korea-2019``; it has 8 actors on 3 issues) with the one-shot greedy pass that was then
  the whole model. That pass is ``REF``'s ``variant=greedy`` (commit 5351b1d, the same code, numpy),
  timed here in the same run on the same draws: the reference of both ``exchange-10x3`` lines.
  ``exchange-10x3:decide`` is what a user runs by default (Decide's rounds, 10 of them), the line
  the target applies to; ``exchange-10x3:greedy`` is the same one-shot pass as the reference, in
  this tree. The same two again on 10,000 random scenarios of exactly 10 actors x 3 issues.
- "at 100 x 3 with the full Decide algorithm within 2x of today's one-pass time (103 ms per run at
  100 x 3 with 10 passes)": ``exchange-100x3:passes10`` is the default ``decide`` (10 rounds) over
  ``REF``'s one-shot pass with ``passes=10`` (the issue's 103 ms); ``exchange-100x3:passes1`` the
  same over one pass (stricter).

Issue #13: Decide's ``cop21`` example (15 actors x 13 issues, tests/data/decide) at 10 rounds of the
default in under 1 s per run, and a Monte Carlo of 1,000 draws on it in under 60 s. Measured for the
float default (``decide``) and for Decide's decimal arithmetic (``arithmetic=decimal``, the fast exact
path ``_exchange_exact``), whose reference is the slow pure-decimal path (``_exchange_decimal``, the
same results bit for bit), timed in the same run (``exchange-decimal-run``: the fast path's time per
run, its ratio to the slow path's beside it; ``exchange-decimal-mc``: 1,000 draws of cop21 with
``arithmetic=decimal``; the slow path's figure is its per-run time times 1,000). The Monte Carlo runs in
process, as ``detente montecarlo`` does by default: each model call's draws are split over ``DETENTE_THREADS``
(default 2) forked processes (decimal arithmetic holds the GIL), so its wall time is what the target is about,
its CPU (this process and its children) printed beside. ``exchange-decimal-coin-mc``: the same Monte Carlo with
Decide's coin (``ties=coin``; 86.6 s idle at the end of the session before, ``COIN_REF``), its ratio against
``COIN_REF``'s code (its ``src`` extracted with ``git archive``, in its own interpreter with this venv's libraries, its
kernels compiled or loaded before the timing) timed in the same run, after this tree's. ``--decimal`` runs only these
lines.

Three versions, each its package's ``src`` (``git archive`` into a temporary folder) run with this
venv's libraries in its own interpreter, time the same cases (the flagship's draws made once, by
this tree, with its events applied as a forecast applies them; random scenarios from fixed seeds),
back to back, the order rotated, best of 3 (wall clock, and CPU seconds of all threads beside it):

- ``REF`` (5351b1d): the one-shot pass of the issue's figures (numpy, one thread); the reference.
- ``BASE`` (55bc571): ``decide`` as it was before this session's work on its loop; ``decide``'s results
  must equal its bit for bit, and its time shows what the rework gained.
- this tree (numba, ``DETENTE_THREADS`` threads, default 2).

``greedy``'s results must equal ``REF``'s bit for bit (its record of trades has room for ``n D / 4`` exchanges a
round, the most a round can realise, where ``REF``'s has ``min(M, 4 n D)``: the same rows, ``REF``'s extra padding
NaN). Each row prints the ratio against its
reference measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_exchange.py [--ref COMMIT] [--base COMMIT] [--no-mc] [--decimal]
[--draws N] [--coin-ref COMMIT] [--skip-first]``: ``--draws`` sets the Monte Carlos' draws (default 1,000, the target's;
fewer for a shorter run, the ratios then read as A/B), ``--coin-ref`` the coin Monte Carlo's reference (default
``COIN_REF``), ``--skip-first`` leaves out the decimal Monte Carlo with detente's tie rule.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _targets import target_line
from _versions import extract  # a commit's src, extracted with git archive

ROOT = Path(__file__).resolve().parents[1]
REF, BASE = "5351b1d", "55bc571"
#: The decimal coin Monte Carlo's reference: the code at the end of the session before this one's work on it.
COIN_REF = "aa83d71"
FILE = ROOT / "tests" / "data" / "decide" / "cop21.csv"
RUN_TARGET, MC_TARGET, MC_DRAWS, SPEEDUP, WITHIN = 1.0, 60.0, 1000, 10.0, 2.0
#: The draws of the target (``--draws`` may ask for fewer: the coin line's target is then proportional to them).
MC_TARGET_DRAWS = 1000
DRAWS = 10_000

#: Run in each version's interpreter: time the cases named in argv (best of ``reps`` after a warm-up), save the results.
WORKER = r'''
import json, sys, time
import numpy as np
from detente import api
from detente.models import exchange
from detente.models.base import Inputs

file, flag_file, out, reps, mc, names = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6].split(",")

def scen(B, n, D, seed):
    rng = np.random.default_rng(seed)
    return Inputs.build(rng.uniform(0, 100, (B, n, D)), rng.uniform(0.05, 1, (B, n, D)), rng.uniform(0.1, 1, (B, n)),
                        low=np.zeros(D), high=np.full(D, 100.0))

def flagship():
    f = np.load(flag_file)
    return Inputs.build(f["position"], f["salience"], f["capability"], active=f["active"], low=f["low"], high=f["high"])

cases = {
    "cop21 decide": lambda: (api.load(file).to_inputs(), {"variant": "decide"}),
    "flagship decide": lambda: (flagship(), {"variant": "decide"}),
    "flagship greedy": lambda: (flagship(), {"variant": "greedy"}),
    "10x3 decide": lambda: (scen(10000, 10, 3, 1), {"variant": "decide"}),
    "10x3 greedy": lambda: (scen(10000, 10, 3, 1), {"variant": "greedy"}),
    "100x3 decide": lambda: (scen(1, 100, 3, 2), {"variant": "decide"}),
    "100x3 greedy passes=1": lambda: (scen(1, 100, 3, 2), {"variant": "greedy", "passes": 1}),
    "100x3 greedy passes=10": lambda: (scen(1, 100, 3, 2), {"variant": "greedy", "passes": 10}),
}
# issue #17's targets time the float loop: where a version's default is Decide's decimals and coin, decide is asked
# for its float loop with detente's tie rule (the default before that switch)
FLOAT = {"arithmetic": "float", "ties": "first"} if "arithmetic" in getattr(exchange.Params, "model_fields", {}) else {}
exchange.run(scen(200, 10, 3, 0), exchange.Params(**FLOAT))  # load (or compile) the kernels
exchange.run(scen(200, 10, 3, 0), exchange.Params(variant="greedy"))
times, res = {}, {}
for name in [c for c in names if c]:
    inp, prm = cases[name]()
    if prm["variant"] == "decide":
        prm = {**prm, **FLOAT}
    best = cpu = float("inf")
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        tr = exchange.run(inp, exchange.Params(**prm))
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    times[name], times[name + "|cpu"] = best, cpu
    times[name + "|exchanges"] = float(tr.extras["exchanges"].sum() / inp.shape[0])
    res[name + "|position"] = tr.position
    res[name + "|forecast"] = tr.forecast
    res[name + "|exchanges"] = tr.extras["exchanges"]
    res[name + "|trades"] = tr.extras["trades"]
if mc:
    from detente.analysis import monte_carlo
    t0, c0 = time.perf_counter(), time.process_time()
    monte_carlo(api.load(file), "exchange", draws=1000, seed=0, progress=False, params=FLOAT or None)
    times["mc"], times["mc|cpu"] = time.perf_counter() - t0, time.process_time() - c0
np.savez(out + ".npz", **res)
print(json.dumps(times))
'''

#: Run in one version's interpreter: the Monte Carlo of ``MC_DRAWS`` draws of cop21 with ``arithmetic=decimal`` and the
#: given ``ties`` (after a small one that loads or compiles the kernels); prints its wall and CPU seconds (this process
#: and its forked players) as JSON.
MC_WORKER = r'''
import json, resource, sys, time
from detente import api
from detente.analysis import monte_carlo
from detente.budget import Budget

file, draws, ties = sys.argv[1], int(sys.argv[2]), sys.argv[3]
scen = api.load(file)
params = {"arithmetic": "decimal", "ties": ties}
budget = Budget.of(seconds=36_000)  # the budget's estimate is set for the slowest machines: lifted
monte_carlo(scen, "exchange", draws=4, seed=1, progress=False, params=params, budget=budget)  # load the kernels
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
t0, c0 = time.perf_counter(), time.process_time()
monte_carlo(scen, "exchange", draws=draws, seed=0, progress=False, params=params, budget=budget)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu += (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)
print(json.dumps({"wall": wall, "cpu": cpu}))
'''

#: The cases each version runs.
CASES = {
    "ref": ["flagship greedy", "10x3 greedy", "100x3 greedy passes=1", "100x3 greedy passes=10"],
    "base": ["cop21 decide", "flagship decide", "10x3 decide", "100x3 decide"],
    "new": ["cop21 decide", "flagship decide", "flagship greedy", "10x3 decide", "10x3 greedy", "100x3 decide",
            "100x3 greedy passes=1", "100x3 greedy passes=10"],
}


def flagship_draws(path: Path) -> None:
    """The inputs of 10,000 Monte Carlo draws of the flagship (seed 0), its events applied as a forecast does."""
    import numpy as np

    from detente import api, simulate
    from detente.analysis._draws import monte_carlo_draws

    scen = api.load("korea-2019")
    dr = monte_carlo_draws(scen, DRAWS, 0)

    class Seen(Exception):
        pass

    class Capture:  # a "model" that keeps the inputs the timeline runner gives it
        inputs = None

        def run(self, inp: Any, params: Any) -> None:  # the model protocol's run
            Capture.inputs = inp
            raise Seen

    try:
        simulate._simulate_static(scen, Capture(), None, dr.inputs, dr.happened,
                                  [scen.event_round(e) for e in scen.events])
    except Seen:
        pass
    inp = Capture.inputs
    assert inp is not None
    np.savez(path, position=inp.position, salience=inp.salience, capability=inp.capability, active=inp.active,
             low=np.asarray(inp.low, float), high=np.asarray(inp.high, float))


def work(src: Path, flag: Path, out: Path, names: list[str], mc: bool, reps: int = 1) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run([sys.executable, "-c", WORKER, str(FILE), str(flag), str(out), str(reps), "1" if mc else "0",
                           ",".join(names)], env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"bench_exchange: the worker on {src} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def decimal_lines(mc: bool, reps: int = 3, coin_ref: str = COIN_REF, first_mc: bool = True) -> list[str]:
    """Issue #13's targets for ``arithmetic=decimal``: the fast exact path against the slow decimal path, same run;
    the coin Monte Carlo against ``coin_ref``'s code (``first_mc``: also the Monte Carlo with detente's tie rule)."""
    import time

    import numpy as np

    from detente import api
    from detente.models import _exchange_decimal, exchange

    load = os.getloadavg()[0]
    inp = api.load(str(FILE)).to_inputs()
    fast_params = exchange.Params(arithmetic="decimal", ties="first")  # the slow path below: ties="first"
    exchange.run(inp, fast_params)  # compile or load the kernels
    fast = slow = float("inf")
    for _ in range(reps):  # alternate, best of reps
        c0 = time.process_time()
        a = exchange.run(inp, fast_params)
        fast = min(fast, time.process_time() - c0)
        c0 = time.process_time()
        b = _exchange_decimal.run(inp, 10, "first")
        slow = min(slow, time.process_time() - c0)
    same = all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("position", "forecast")) and \
        np.array_equal(a.extras["trades"], b.extras["trades"], equal_nan=True)
    print(f"\n#13 arithmetic=decimal on cop21 (10 rounds), CPU seconds, best of {reps}, load {load:.1f}: fast path "
          f"{fast:.3f} s, slow decimal path {slow:.3f} s ({slow / fast:.1f}x); the same results bit for bit: "
          f"{'yes' if same else 'NO'}")
    lines = [target_line("exchange-decimal-run", fast, reference=slow, ref_label="slow-decimal",
                         note=f"cop21 15 x 13, 10 rounds, arithmetic=decimal: fast exact path {fast:.3f} s CPU, the slow "
                              f"pure-decimal path {slow:.3f} s ({slow / fast:.1f}x); load {load:.1f}")]
    if mc and not first_mc:
        lines.append(coin_mc_line(load, coin_ref))
    elif mc:
        import resource

        from detente.analysis import monte_carlo
        from detente.budget import Budget
        from detente.models import _exchange_exact, _jit

        scen = api.load(str(FILE))
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.perf_counter(), time.process_time()
        # the budget's estimate (its flops per second are set for the slowest machines) would refuse it: lifted
        monte_carlo(scen, "exchange", draws=MC_DRAWS, seed=0, progress=False,
                    params={"arithmetic": "decimal", "ties": "first"}, budget=Budget.of(seconds=36_000))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)  # the forked players' CPU
        n, D = inp.shape[1:]
        procs = _exchange_exact.processes(MC_DRAWS, n, D)
        print(f"#13 Monte Carlo of {MC_DRAWS:,} draws of cop21 with arithmetic=decimal, in process (the default of "
              f"detente montecarlo): {wall:.1f} s wall, CPU {cpu:.1f} s (this process and its forked players: "
              f"each model call's draws split over up to {procs} processes, DETENTE_THREADS={_jit.threads()}, on "
              f"{os.cpu_count()} cores); the slow path would take about {slow * MC_DRAWS:.0f} s of one core")
        lines.append(target_line("exchange-decimal-mc", wall, reference=slow * MC_DRAWS, ref_label="slow-decimal",
                                 note=f"{MC_DRAWS:,} draws of cop21, arithmetic=decimal: {wall:.1f} s wall, {cpu:.1f} s "
                                      f"CPU over up to {procs} processes (the slow path: about {slow * MC_DRAWS:.0f} s, "
                                      f"its run time x {MC_DRAWS:,}); load {load:.1f} at the start, "
                                      f"{os.getloadavg()[0]:.1f} at the end"))
        lines.append(coin_mc_line(load, coin_ref))
    return lines


def mc_run(src: Path, ties: str) -> dict[str, float]:
    """:data:`MC_WORKER` under ``src``: the wall and CPU seconds of the decimal Monte Carlo with ``ties``."""
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run([sys.executable, "-c", MC_WORKER, str(FILE), str(MC_DRAWS), ties], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"bench_exchange: the Monte Carlo on {src} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def coin_mc_line(load: float, coin_ref: str = COIN_REF) -> str:
    """``exchange-decimal-coin-mc``: the decimal Monte Carlo with Decide's coin, this tree then ``coin_ref``'s code
    (:data:`COIN_REF` by default), then, when the draws are fewer than the target's (an A/B on a shared machine),
    this tree again: its figures the mean of its two runs, which bracket the reference's in time."""
    new = mc_run(ROOT / "src", "coin")
    with tempfile.TemporaryDirectory(prefix="bench-exchange-coin-") as d:
        old = mc_run(extract(coin_ref, Path(d)), "coin")
    if MC_DRAWS < MC_TARGET_DRAWS:
        again = mc_run(ROOT / "src", "coin")
        new = {k: (new[k] + again[k]) / 2 for k in new}
    ratio = old["wall"] / new["wall"]
    print(f"#13 Monte Carlo of {MC_DRAWS:,} draws of cop21 with arithmetic=decimal ties=coin: {new['wall']:.1f} s wall, "
          f"CPU {new['cpu']:.1f} s; {coin_ref}'s code in the same run {old['wall']:.1f} s wall, CPU {old['cpu']:.1f} s "
          f"({ratio:.2f}x faster)")
    tid, extra = "exchange-decimal-coin-mc", {}
    if MC_DRAWS < MC_TARGET_DRAWS:  # fewer draws (--draws): the target in proportion
        tid, extra = f"{tid}:draws{MC_DRAWS}", {"target": MC_TARGET * MC_DRAWS / MC_TARGET_DRAWS}
    return target_line(tid, new["wall"], reference=old["wall"], ref_label=coin_ref, **extra,
                       note=f"{MC_DRAWS:,} draws of cop21, arithmetic=decimal ties=coin: {new['wall']:.1f} s wall, "
                            f"{new['cpu']:.1f} s CPU; {coin_ref}'s code {old['wall']:.1f} s wall, {old['cpu']:.1f} s CPU "
                            f"({ratio:.2f}x); load {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


def same(old: Any, new: Any, trades: bool) -> bool:
    """Bit for bit (NaN equal to NaN). ``trades``: REF's record of trades, which has 9 columns (J's gain, the
    tenth, came after it) and room for ``min(M, 4 n D)`` exchanges a round where this tree's ``greedy`` has room
    for ``n D / 4``, the most a round can realise: the same rows, the rest of REF's padding NaN."""
    import numpy as np

    if trades:
        k = min(old.shape[2], new.shape[2])
        if not np.isnan(old[:, :, k:]).all() or not np.isnan(new[:, :, k:]).all():
            return False
        old, new = old[:, :, :k], new[:, :, :k, :9]
    return old.shape == new.shape and bool(np.array_equal(old, new, equal_nan=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF, help=f"the targets' reference, the issue's one-shot pass (default {REF})")
    ap.add_argument("--base", default=BASE, help=f"decide's loop before this session's rework (default {BASE})")
    ap.add_argument("--no-mc", action="store_true", help="skip the Monte Carlos (about 10 s of CPU, and 1-3 min for "
                                                          "arithmetic=decimal)")
    ap.add_argument("--decimal", action="store_true", help="only issue #13's lines for arithmetic=decimal")
    ap.add_argument("--draws", type=int, default=MC_TARGET_DRAWS,
                    help="the Monte Carlos' draws (default the target's 1,000; fewer: a shorter A/B run)")
    ap.add_argument("--coin-ref", default=COIN_REF, help=f"the coin Monte Carlo's reference (default {COIN_REF})")
    ap.add_argument("--skip-first", action="store_true",
                    help="with --decimal: leave out the decimal Monte Carlo with detente's tie rule")
    a = ap.parse_args()
    global MC_DRAWS
    MC_DRAWS = max(1, a.draws)
    if a.decimal:
        print("\n".join(decimal_lines(not a.no_mc, coin_ref=a.coin_ref, first_mc=not a.skip_first)))
        return
    import numpy as np

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-exchange-") as d:
        tmp = Path(d)
        flag = tmp / "flagship.npz"
        flagship_draws(flag)
        for k in ("ref", "base"):
            (tmp / k).mkdir()
        srcs = {"ref": extract(a.ref, tmp / "ref"), "base": extract(a.base, tmp / "base"), "new": ROOT / "src"}
        best: dict[str, dict[str, float]] = {k: {} for k in srcs}
        order = list(srcs)
        for r in range(3):  # rotate which goes first, so that the machine's load hits all alike
            for which in order[r:] + order[:r]:
                t = work(srcs[which], flag, tmp / which, CASES[which], mc=False)
                best[which] = {k: min(v, best[which].get(k, v)) for k, v in t.items()}
        if not a.no_mc:
            best["new"].update(work(srcs["new"], flag, tmp / "new-mc", [], mc=True))
        res = {k: np.load(tmp / f"{k}.npz") for k in srcs}
        differ = {k: [f for f in res[k].files if not same(res[k][f], res["new"][f], k == "ref" and f.endswith("|trades"))]
                  for k in ("ref", "base")}
        compared = {k: len(res[k].files) for k in ("ref", "base")}
    R, B, N = best["ref"], best["base"], best["new"]
    load_end = os.getloadavg()[0]
    print(f"bench_exchange: best of 3; reference {a.ref} (the issue's one-shot pass, numpy, one thread), base {a.base} "
          f"(decide before this session's rework); each its src in this venv; this tree with "
          f"{os.environ.get('DETENTE_THREADS', 'the default')} kernel threads; load average {load:.1f} at the start, "
          f"{load_end:.1f} at the end, on {os.cpu_count()} cores\n")
    print("| case | this tree (s) | reference (s) | ratio | target | meets |")
    print("|---|---:|---:|---:|---|---|")

    def t(v: dict[str, float], k: str) -> str:
        return f"{v[k]:.4f} (CPU {v[k + '|cpu']:.3f})"

    def row(name: str, new: str, ref: str, ratio: str, target: str, ok: bool | None) -> None:
        print(f"| {name} | {new} | {ref} | {ratio} | {target} | {'-' if ok is None else ('yes' if ok else 'NO')} |")

    targets: list[str] = []  # the lines of make bench's summary (benchmarks/targets.py)
    c = "cop21 decide"
    row("#13 one run, cop21 15 x 13, decide, 10 rounds", t(N, c), "-", f"{N[c] / RUN_TARGET:.2f} of the target",
        f"< {RUN_TARGET:g} s", N[c] < RUN_TARGET)
    if "mc" in N:
        row(f"#13 Monte Carlo {MC_DRAWS:,} draws on cop21", t(N, "mc"), "-", f"{N['mc'] / MC_TARGET:.2f} of the target",
            f"< {MC_TARGET:g} s", N["mc"] < MC_TARGET)
    for case, label, suffix in (("flagship", f"flagship (8 x 3), {DRAWS:,} draws", ""),
                                ("10x3", f"random 10 x 3, {DRAWS:,} draws", "-random10x3")):
        g = f"{case} greedy"
        for v in ("decide", "greedy"):
            k = f"{case} {v}"
            what = ("decide (the default, 10 rounds; the target applies to it)" if v == "decide"
                    else "greedy (the reference's one-shot pass, this tree)")
            row(f"#17 {label}: {what} against {a.ref}'s one-shot pass ({N[k + '|exchanges']:.1f} exchanges a draw)",
                t(N, k), t(R, g), f"{R[g] / N[k]:.2f}x faster", f">= {SPEEDUP:g}x faster", R[g] / N[k] >= SPEEDUP)
            targets.append(target_line(f"exchange-10x3:{v}{suffix}", R[g] / N[k], reference=1.0, ref_label=a.ref,
                                       note=f"{label}: {v} {N[k]:.3f} s against {a.ref}'s one-shot pass {R[g]:.3f} s "
                                            f"(CPU {N[k + '|cpu']:.2f} s against {R[g + '|cpu']:.2f} s); load {load:.1f}"))
    k = "100x3 decide"
    for p in (10, 1):
        g = f"100x3 greedy passes={p}"
        row(f"#17 100 x 3: decide (10 rounds) against {a.ref}'s one-shot pass with passes={p}"
            + (" (the issue's 103 ms)" if p == 10 else " (stricter)"), t(N, k), t(R, g), f"{N[k] / R[g]:.2f}x its time",
            f"<= {WITHIN:g}x its time", N[k] <= WITHIN * R[g])
        targets.append(target_line(f"exchange-100x3:passes{p}", N[k] / R[g], reference=None, ref_label=a.ref,
                                   note=f"decide 10 rounds {N[k] * 1000:.1f} ms over {a.ref}'s one-shot pass with "
                                        f"passes={p} {R[g] * 1000:.1f} ms; load {load:.1f}"))
    for c in CASES["base"]:
        row(f"{c}: this tree against {a.base} (this session's rework)", t(N, c), t(B, c), f"{B[c] / N[c]:.2f}x faster",
            "-", None)
    for k, what in (("ref", f"greedy equals {a.ref}'s"), ("base", f"decide equals {a.base}'s")):
        bad = differ[k]
        print(f"\n{what} bit for bit: {'yes' if not bad else 'NO: ' + ', '.join(bad)} ({compared[k]} arrays: positions, "
              "forecasts, exchange counts, trades)", end="")
    print()
    targets += decimal_lines(not a.no_mc, coin_ref=a.coin_ref)
    print("\n".join(targets))


if __name__ == "__main__":
    main()
