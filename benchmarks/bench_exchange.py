"""Benchmark of the exchange model against the targets of issues #13 and #17, and against the code at 5351b1d.

Issue #13: Decide's ``cop21`` example (15 actors x 13 issues, tests/data/decide) at 10 rounds of
the default (``decide``) variant in under 1 s per run, and a Monte Carlo of 1,000 draws on it in
under 60 s. Issue #17: at 10 x 3, batched (10,000 draws), at least 10x faster than the code at
5351b1d; at 100 x 3, the full Decide algorithm (10 rounds) within 2x of the one-shot greedy pass
at 5351b1d.

The reference is the package's ``src`` at 5351b1d (``git archive`` into a temporary folder), run
with this venv's libraries in its own interpreter; the two versions time the same cases (random
scenarios from a fixed seed) back to back, alternating which goes first, best of 3. Each prints
the ratio (reference / measured is the speed-up; measured / target below 1 meets a time target).
Both versions' results are compared bit for bit (positions, forecasts, exchanges and trades).

Run: ``.venv/bin/python benchmarks/bench_exchange.py [--ref COMMIT] [--no-mc]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _targets import target_line
from bench_parse import extract  # the reference commit's src, extracted with git archive

ROOT = Path(__file__).resolve().parents[1]
REF = "5351b1d"
FILE = ROOT / "tests" / "data" / "decide" / "cop21.csv"
RUN_TARGET, MC_TARGET, MC_DRAWS = 1.0, 60.0, 1000

#: Run in each version's interpreter: time every case (best of ``reps`` after a warm-up), save the results.
WORKER = r'''
import json, sys, time
import numpy as np
from detente import api
from detente.models import exchange
from detente.models.base import Inputs

file, out, reps, mc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"

def scen(B, n, D, seed):
    rng = np.random.default_rng(seed)
    return Inputs.build(rng.uniform(0, 100, (B, n, D)), rng.uniform(0.05, 1, (B, n, D)), rng.uniform(0.1, 1, (B, n)),
                        low=np.zeros(D), high=np.full(D, 100.0))

cop21 = api.load(file)
cases = {
    "cop21 decide": (cop21.to_inputs(), {}),
    "10x3 x10000 decide": (scen(10000, 10, 3, 1), {}),
    "10x3 x10000 greedy": (scen(10000, 10, 3, 1), {"variant": "greedy"}),
    "100x3 decide": (scen(1, 100, 3, 2), {}),
    "100x3 greedy passes=10": (scen(1, 100, 3, 2), {"variant": "greedy", "passes": 10}),
    "100x3 greedy passes=1": (scen(1, 100, 3, 2), {"variant": "greedy", "passes": 1}),
}
exchange.run(scen(2, 10, 3, 0))  # load (or compile) the kernels
exchange.run(scen(2, 10, 3, 0), exchange.Params(variant="greedy"))
times, res = {}, {}
for name, (inp, prm) in cases.items():
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        tr = exchange.run(inp, exchange.Params(**prm))
        best = min(best, time.perf_counter() - t0)
    times[name] = best
    res[name + "|position"] = tr.position
    res[name + "|forecast"] = tr.forecast
    res[name + "|exchanges"] = tr.extras["exchanges"]
    res[name + "|trades"] = tr.extras["trades"][..., :9]  # the ninth column on: J's gain, added later
if mc:
    from detente.analysis import monte_carlo
    t0, c0 = time.perf_counter(), time.process_time()
    monte_carlo(cop21, "exchange", draws=1000, seed=0, progress=False)
    times["mc"], times["mc_cpu"] = time.perf_counter() - t0, time.process_time() - c0
np.savez(out + ".npz", **res)
print(json.dumps(times))
'''


def work(src: Path, out: Path, reps: int, mc: bool) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run([sys.executable, "-c", WORKER, str(FILE), str(out), str(reps), "1" if mc else "0"],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"bench_exchange: the worker on {src} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF, help=f"the reference commit (default {REF})")
    ap.add_argument("--no-mc", action="store_true", help="skip the two Monte Carlo runs (about a minute of CPU each)")
    a = ap.parse_args()
    import numpy as np

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-exchange-") as d:
        tmp = Path(d)
        srcs = {"ref": extract(a.ref, tmp), "new": ROOT / "src"}
        best: dict[str, dict[str, float]] = {"ref": {}, "new": {}}
        for r in range(3):  # alternate which goes first, so that the machine's load hits both alike
            for which in (("ref", "new") if r % 2 == 0 else ("new", "ref")):
                t = work(srcs[which], tmp / which, 1, mc=False)
                best[which] = {k: min(v, best[which].get(k, v)) for k, v in t.items()}
        if not a.no_mc:
            for which in ("new", "ref"):
                best[which].update({k: v for k, v in work(srcs[which], tmp / f"{which}-mc", 1, mc=True).items()
                                    if k.startswith("mc")})
        ref_res, new_res = np.load(tmp / "ref.npz"), np.load(tmp / "new.npz")
        differ = [k for k in ref_res.files if not np.array_equal(ref_res[k], new_res[k], equal_nan=True)]
    R, N = best["ref"], best["new"]
    print(f"bench_exchange: best of 3, reference = {a.ref} (its src, this venv); load average {load:.1f} at the start\n")
    print("| case | this code (s) | at the reference (s) | speed-up | target | ratio to target | meets |")
    print("|---|---:|---:|---:|---|---:|---|")

    def row(name: str, new: float, ref: float, target: str, ratio: float, ok: bool) -> None:
        print(f"| {name} | {new:.4f} | {ref:.4f} | {ref / new:.1f}x | {target} | {ratio:.2f} | {'yes' if ok else 'NO'} |")

    targets: list[str] = []  # the lines of make bench's summary (benchmarks/targets.py; h-perf's convention)
    c = "cop21 decide"
    row("#13 one run, cop21 15 x 13, decide, 10 rounds", N[c], R[c], f"< {RUN_TARGET:g} s", N[c] / RUN_TARGET, N[c] < RUN_TARGET)
    if "mc" in N:
        row(f"#13 Monte Carlo {MC_DRAWS:,} draws on cop21 (CPU {N['mc_cpu']:.1f} s; reference {R['mc_cpu']:.1f} s)",
            N["mc"], R["mc"], f"< {MC_TARGET:g} s", N["mc"] / MC_TARGET, N["mc"] < MC_TARGET)
    for v in ("greedy", "decide"):
        k = f"10x3 x10000 {v}"
        sp = R[k] / N[k]
        row(f"#17 10 x 3, 10,000 draws batched, {v}", N[k], R[k], ">= 10x faster", 10 / sp, sp >= 10)
        targets.append(target_line(f"exchange-10x3:{v}", sp, reference=1.0, ref_label=a.ref))
    k = "100x3 decide"
    for g in ("100x3 greedy passes=10", "100x3 greedy passes=1"):
        ratio = N[k] / R[g]
        targets.append(target_line(f"exchange-100x3:{g[12:].replace('=', '')}", ratio, reference=None,
                                   ref_label=a.ref, note=f"decide 10 rounds over {a.ref}'s {g[6:]}"))
        print(f"| #17 100 x 3, decide (10 rounds) against the reference's {g[6:]} | {N[k]:.4f} | {R[g]:.4f} | "
              f"{R[g] / N[k]:.2f}x | <= 2x its time | {ratio / 2:.2f} | {'yes' if ratio <= 2 else 'NO'} |")
    print(f"\nresults bit for bit equal to the reference's: {'yes' if not differ else 'NO: ' + ', '.join(differ)} "
          f"({len(ref_res.files)} arrays over {len(ref_res.files) // 4} cases)")
    print("\n".join(targets))


if __name__ == "__main__":
    main()
