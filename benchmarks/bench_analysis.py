"""Benchmark of detente.analysis against its targets.

* Monte Carlo, 10,000 draws of the flagship with ``bdm`` (target < 5 s), ``smp`` and ``exchange``;
* Sobol, 1,024 base samples, on the EC emission case with ranges added here
  (positions +/- 1 year, saliences +/- 20%, capabilities +/- 20%) (target < 30 s);
* advice for the flagship's DPRK actor, every issue, 200 draws (target < 10 s).

Run: ``.venv/bin/python benchmarks/bench_analysis.py [--sobol-model bdm]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The EC emission case as it ships in the package (the same rows as shared/data/bdm).
EMISSION = ROOT / "src" / "detente" / "scenarios" / "emission-ec-1994.csv"


def emission_with_ranges():
    """The emission case with +/-1 year positions, +/-20% saliences and capabilities."""
    import detente

    s = detente.load(str(EMISSION))
    d = s.to_dict()
    lo, hi = s.issues[0].scale
    key = s.issues[0].key
    for a in d["actors"]:
        c = float(a["capability"] if not isinstance(a["capability"], dict) else a["capability"]["value"])
        a["capability"] = {"value": c, "low": 0.8 * c, "high": 1.2 * c}
        p = float(a["positions"][key] if not isinstance(a["positions"][key], dict) else a["positions"][key]["value"])
        a["positions"][key] = {"value": p, "low": max(lo, p - 1), "high": min(hi, p + 1)}
        v = float(a["salience"][key] if not isinstance(a["salience"][key], dict) else a["salience"][key]["value"])
        a["salience"][key] = {"value": v, "low": max(0.0, 0.8 * v), "high": min(float(s.salience_scale), 1.2 * v)}
    return detente.load(d)


def timed(label: str, target: float | None, fn):
    t0 = time.perf_counter()
    res = fn()
    dt = time.perf_counter() - t0
    ratio = f"  ({dt / target:.2f} x the {target:g} s target)" if target else ""
    print(f"{label:<55s} {dt:7.2f} s{ratio}", flush=True)
    return res, dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sobol-model", default="bdm")
    args = ap.parse_args(argv)

    from detente import models
    from detente.analysis import advise, monte_carlo, sensitivity

    rows = []
    for name, target in (("bdm", 5.0), ("smp", None), ("exchange", None)):
        try:
            models.get(name)
        except ImportError as e:
            print(f"skipping {name}: not importable yet ({e})")
            continue
        mc, dt = timed(f"Monte Carlo, flagship, {name}, 10,000 draws", target,
                       lambda: monte_carlo("korea-2019", name, draws=10_000, seed=0, progress=False))
        rows.append((f"Monte Carlo 10,000 draws, flagship, {name}", dt, target))
        print("   deal median", round(mc.summary()["median"][0], 1), "80%", [round(x, 1) for x in mc.summary()[["lo80", "hi80"]].iloc[0]])
    s = emission_with_ranges()
    res, dt = timed(f"Sobol, emission, {args.sobol_model}, N=1,024", 30.0,
                    lambda: sensitivity(s, args.sobol_model, "sobol", samples=1024, seed=0, progress=False))
    rows.append((f"Sobol N=1,024 ({res.runs:,} runs), emission, {args.sobol_model}", dt, 30.0))
    for line in res.top_drivers(3):
        print("  ", line)
    for name in ("compromise", "bdm"):
        adv, dt = timed(f"advice, flagship, dprk, {name}, 200 draws", 10.0 if name == "bdm" else None,
                        lambda: advise("korea-2019", "dprk", model=name, draws=200, seed=0, progress=False))
        rows.append((f"advice, flagship dprk, all issues, {name}, 200 draws ({adv.runs:,} runs)", dt, 10.0 if name == "bdm" else None))
    print()
    print("| benchmark | seconds | target | ratio |")
    print("|---|---:|---:|---:|")
    for label, dt, target in rows:
        print(f"| {label} | {dt:.2f} | {'< %g s' % target if target else '-'} | {f'{dt / target:.2f}' if target else '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
