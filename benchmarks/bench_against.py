"""Engines and readers of this tree against a reference commit: does a refactor cost speed?

Run: ``.venv/bin/python benchmarks/bench_against.py [--ref COMMIT] [--passes N]``.

The reference commit's ``src`` is extracted with ``git archive`` into a temporary
folder. Each pass runs both versions, each in a fresh interpreter of this venv
(``PYTHONPATH`` pointing at its ``src``, its own numba cache folder, kept across
passes so that only the first pass compiles), alternating which version goes
first. A case's figure is its best time over the passes; the ratio this tree /
reference is what to read on a shared, loaded machine (below 1 is faster). The
script asserts both versions compute the same numbers (the forecasts' digest), except in the cases
whose numbers changed on purpose since the reference (``CHANGED_SINCE_REF``, each with its commit).

Cases: the bdm kernel on the EC emission case (10,000 draws), Monte Carlo of
the flagship with bdm, smp and compromise, the DEU backtest dataset's loader,
and a Decide file's reader.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_parse import extract  # the reference commit's src, by git archive (benchmarks/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
#: main before the issue #11 clean-up (bdm reference moved in, load_deu/read_decide split).
REF = "5351b1d"
#: Cases whose numbers changed on purpose after :data:`REF`, with the commit that changed them (found by bisecting
#: on the case's digest): the script still times them, and fails on any other difference.
CHANGED_SINCE_REF = {
    "Monte Carlo, flagship, bdm, 2,000 draws": "12406ed, bdm's positions coincide only when equal (issue #12, point 8)",
}

CHILD = r'''
import hashlib, json, time
import numpy as np
import detente

def best(f, k):
    out = None
    ts = []
    for _ in range(k):
        t0 = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t0)
    return min(ts), out

from detente.models import bdm
from detente.models.base import Inputs
from detente.backtest.data import load_deu
from detente.scenario.decide import read_decide
import csv
root = __ROOT__
rows = list(csv.DictReader(open(root + "/src/detente/scenarios/emission-ec-1994.csv")))
x = np.array([float(r["position"]) for r in rows]); c = np.array([float(r["capability"]) for r in rows])
s = np.array([float(r["salience"]) for r in rows]) / 100.0
inp = Inputs.build(np.broadcast_to(x, (10_000, x.size))[:, :, None], s, c, low=4, high=10)
bdm.run(inp)  # numba loads (or compiles) the kernel
mc = lambda m, n: detente.monte_carlo("korea-2019", model=m, draws=n, seed=0, progress=False).summary()["median"].to_numpy()
cases = {
    "bdm, EC emission case, 10,000 draws": (lambda: bdm.run(inp).forecast, 5),
    "Monte Carlo, flagship, bdm, 2,000 draws": (lambda: mc("bdm", 2000), 3),
    "Monte Carlo, flagship, smp, 300 draws": (lambda: mc("smp", 300), 3),
    "Monte Carlo, flagship, compromise, 10,000 draws": (lambda: mc("compromise", 10_000), 3),
    "load_deu (shipped DEU, four CSV files)": (lambda: np.array([i.outcome for i in load_deu().issues]), 5),
    "read_decide (cop21, 15 x 13)": (lambda: json.dumps(read_decide(root + "/tests/data/decide/cop21.csv"), sort_keys=True), 20),
}
out = {}
for name, (f, k) in cases.items():
    t, v = best(f, k)
    digest = hashlib.sha256(v.encode() if isinstance(v, str) else np.ascontiguousarray(v).tobytes()).hexdigest()[:16]
    out[name] = [t, digest]
print(json.dumps({"module": detente.__file__, "cases": out}))
'''


def run(src: Path, cache: Path) -> dict[str, list]:
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(cache)}
    code = CHILD.replace("__ROOT__", repr(str(ROOT)))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode:
        raise SystemExit(p.stderr[-4000:])
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert Path(res["module"]).resolve().is_relative_to(src.resolve()), f"imported {res['module']}, not {src}"
    return res["cases"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ref", default=REF, help=f"the reference commit (default {REF})")
    ap.add_argument("--passes", type=int, default=3, help="fresh interpreters per version (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="detente-against-") as d:
        tmp = Path(d)
        srcs = {"now": ROOT / "src", "ref": extract(args.ref, tmp)}
        got: dict[str, list[dict[str, list]]] = {"now": [], "ref": []}
        for k in range(args.passes):
            for which in (("now", "ref") if k % 2 == 0 else ("ref", "now")):
                got[which].append(run(srcs[which], tmp / f"numba-{which}"))
                print(f"pass {k + 1}/{args.passes}: {which} done", file=sys.stderr, flush=True)
    print(f"bench_against: best of {args.passes} fresh interpreters per version; reference = {args.ref}\n")
    print(f"| case | now | {args.ref} | ratio |\n|---|---:|---:|---:|")
    ratios, differ, unexplained = [], [], []
    for case in got["now"][0]:
        now = min(r[case][0] for r in got["now"])
        ref = min(r[case][0] for r in got["ref"])
        same = {r[case][1] for r in got["now"]} == {r[case][1] for r in got["ref"]}
        mark = ""
        if not same:  # a refactor must not change a number; a deliberate change since the reference is named
            why = CHANGED_SINCE_REF.get(case) if args.ref == REF else None
            (differ if why else unexplained).append(case)
            mark = f" (numbers differ: {why})" if why else " (NUMBERS DIFFER)"
        ratios.append(now / ref)
        print(f"| {case}{mark} | {now * 1000:,.1f} ms | {ref * 1000:,.1f} ms | {now / ref:.2f} |")
    gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"\nratio now / {args.ref}: geometric mean {gm:.2f}, worst {max(ratios):.2f} "
          + (f"(same numbers in every case but {len(differ)}, changed on purpose since {args.ref})" if differ
             else "(same numbers in every case)"))
    assert not unexplained, f"{', '.join(unexplained)}: the two versions computed different numbers"


if __name__ == "__main__":
    main()
