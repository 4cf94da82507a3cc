"""Benchmarks of the model engines: one ``bench_<engine>()`` per engine, and ``main()``.

Run: ``.venv/bin/python benchmarks/bench_engines.py [engine ...]`` (default:
every engine). Each function prints a markdown table and returns its rows.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _targets import target_line

ROOT = Path(__file__).resolve().parents[1]


def _machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    except OSError:  # pragma: no cover
        model = "?"
    import os

    return f"{model}, {os.cpu_count()} cores"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ============================================================================ smp

#: KTAB's C++ wall time per run (seconds), from the issue tracker.
KTAB_SECONDS = {(7, 3): 0.05, (13, 2): 0.35, (26, 1): 1.4, (40, 1): 5.4, (80, 1): 60.0, (160, 1): 17 * 60.0,
                (100, 3): 180.0}
KTAB_FILES = {(7, 3): "dummyData_3Dim.csv", (13, 2): "SOE-Pol-Comp.csv", (26, 1): "SOE-Policy.csv",
              (40, 1): "dummyData-a040.csv", (80, 1): "dummyData-a080.csv", (160, 1): "dummyData-a160.csv"}
KTAB_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ktab"


def _smp_inputs(n: int, D: int, B: int, seed: int = 0):
    from detente.models.base import Inputs

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 100, (B, n, D))
    sal = rng.uniform(0.05, 1, (B, n, D))
    sal = sal / sal.sum(-1, keepdims=True) * rng.uniform(0.3, 0.9, (B, n, 1))
    cap = rng.uniform(1, 100, (B, n))
    return Inputs.build(pos, sal, cap, low=[0] * D, high=[100] * D, seed=np.arange(B, dtype=np.uint64))


def _ktab_inputs(n: int, D: int):
    from detente.models.base import Inputs

    f = KTAB_FILES.get((n, D))
    if f is None or not (KTAB_DATA / f).exists():
        return _smp_inputs(n, D, 1, seed=1), "random"
    from detente.scenario.ktab import read_ktab_csv

    raw = read_ktab_csv(KTAB_DATA / f)
    keys = [i["key"] for i in raw["issues"]]
    pos = [[a["positions"][k] for k in keys] for a in raw["actors"]]
    sal = [[a["salience"][k] / 100 for k in keys] for a in raw["actors"]]
    cap = [a["capability"] for a in raw["actors"]]
    return Inputs.build(pos, sal, cap, low=[0] * D, high=[100] * D), f


def _smp_reference():
    """The loop-by-loop reference implementation of tests/test_smp.py."""
    spec = importlib.util.spec_from_file_location("_smp_reference_tests", ROOT / "tests" / "test_smp.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod.ref_run


def _time_smp(inputs, params, slice_size: int | None = None) -> tuple[float, int]:
    """Wall time of running every draw (best of 3 when a pass takes under 0.5 s) and total turns."""
    from detente.models import smp

    B = inputs.shape[0]
    step = slice_size or B
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        turns = 0
        for b0 in range(0, B, step):
            tr = smp.run(inputs.take(slice(b0, min(B, b0 + step))), params)
            turns += int(tr.rounds.sum())
        best = min(best, time.perf_counter() - t0)
        if best >= 0.5:
            break
    return best, turns


def bench_smp(max_cost: float = 3e7, ref_sizes: tuple[tuple[int, int], ...] = ((10, 1), (10, 3), (30, 1))) -> list[dict]:
    """Time the SMP engine; print and return the rows.

    Parameters
    ----------
    max_cost : float
        Combinations with ``B * n^3`` above this are skipped (they would take
        minutes); the output says which.
    ref_sizes : tuple of (n, D)
        Sizes at which the loop-by-loop reference implementation is timed
        (3 runs each) for the speed-up column.
    """
    from detente.models import smp

    params = smp.Params()
    ref_run = _smp_reference()
    print(f"## smp\n\nMachine: {_machine()}. numpy {np.__version__}. Default (KTAB) parameters, random scenarios.\n")
    ref_ms: dict[tuple[int, int], float] = {}
    for n, D in ref_sizes:
        inp = _smp_inputs(n, D, 3, seed=11)
        t0 = time.perf_counter()
        rturns = 0
        for b in range(3):
            rturns += ref_run(inp.position[b] / 100, inp.salience[b], inp.capability[b], params)[1]
        ref_ms[(n, D)] = (time.perf_counter() - t0) * 1000 / rturns  # per turn
    rows, out, skipped = [], [], []
    for n in (10, 30, 100, 300):
        for D in (1, 3):
            for B in (1, 100, 10_000):
                if B * n**3 > max_cost:
                    skipped.append(f"{n}x{D} B={B}")
                    continue
                inp = _smp_inputs(n, D, B, seed=n * 10 + D)
                sl = 1000 if B > 1000 else None
                dt, turns = _time_smp(inp, params, sl)
                ms = dt / B * 1000
                ref = ref_ms.get((n, D))
                speed = ref / (dt * 1000 / turns) if ref else None  # per turn: scenarios run different turns
                r = {"n": n, "D": D, "B": B, "ms_per_run": ms, "runs_per_s": B / dt, "mean_turns": turns / B,
                     "speedup_vs_reference": speed}
                rows.append(r)
                out.append([f"{n}", f"{D}", f"{B}", f"{ms:.2f}", f"{B / dt:.1f}", f"{turns / B:.1f}",
                            f"{speed:.0f}x" if speed else "-"])
                print(f"  smp {n}x{D} B={B}: {ms:.2f} ms/run", file=sys.stderr, flush=True)
    print(_table(["actors", "dims", "batch", "ms/run", "runs/s", "mean turns", "speed-up vs loop reference (per turn)"], out))
    print("\nLoop-by-loop reference (tests/test_smp.py::ref_run), ms per turn (3 runs each): "
          + ", ".join(f"{n}x{D}: {v:.1f}" for (n, D), v in ref_ms.items()))
    print("Times are the best of 3 passes when a pass takes under 0.5 s (the machine is shared). "
          f"B = 10,000 runs as 10 calls of 1,000 draws (bounds the history kept in memory). "
          f"Skipped (B n^3 > {max_cost:.0e}, minutes each): {', '.join(skipped) or 'none'}.\n")
    krows = []
    for (n, D), ks in KTAB_SECONDS.items():
        inp, src = _ktab_inputs(n, D)
        dt, turns = _time_smp(inp, params)
        rows.append({"n": n, "D": D, "B": 1, "ktab_file": src, "ms_per_run": dt * 1000, "turns": turns,
                     "ktab_s": ks, "ratio_vs_ktab": ks / dt})
        krows.append([f"{n}x{D}", src, f"{turns}", f"{dt * 1000:.1f}", f"{ks * 1000:.0f}", f"{ks / dt:.0f}x"])
        print(f"  smp KTAB size {n}x{D}: {dt * 1000:.1f} ms", file=sys.stderr, flush=True)
    print(_table(["size", "scenario", "turns", "detente ms/run", "KTAB ms/run", "faster than KTAB"], krows))
    return rows


# ============================================================================ smp: the targets of issue #17

#: The commit the targets are measured against ("today's figure" when issue #17 was worked on).
SMP_REF = "ec4c906"
#: Issue #17's targets: a160 seconds per run, 320 x 3 ms per turn, times faster than KTAB at 7 x 3
#: batched, Sobol seconds on the flagship.
SMP_TARGETS = {"a160": 0.25, "320x3": 60.0, "7x3": 20.0, "sobol": 5.0}

# A timing server in its own interpreter (sys.path starting with the src under test): one request
# per line, the best time of each case; the compiled kernels are warmed up first (when they exist).
SMP_WORKER = r"""
import json, sys, time
import numpy as np
import detente
from detente.models import smp
from detente.models.base import Inputs
from detente.scenario.ktab import read_ktab_csv
print(json.dumps({"module": detente.__file__}), flush=True)
if hasattr(smp, "warmup"):
    smp.warmup()

def ktab(path):
    raw = read_ktab_csv(path)
    keys = [i["key"] for i in raw["issues"]]
    pos = [[a["positions"][k] for k in keys] for a in raw["actors"]]
    sal = [[a["salience"][k] / 100 for k in keys] for a in raw["actors"]]
    cap = [a["capability"] for a in raw["actors"]]
    return Inputs.build(pos, sal, cap, low=[0] * len(keys), high=[100] * len(keys))

def pairs(target):  # the resolution's pairs of options that share an actor's election (status quo 0, bargain 1 + m)
    queues = {}
    for m, k in enumerate(int(v) for v in target):
        if k >= 0:  # m's bargain with k is in m's election and in k's
            queues.setdefault(m, [0]).append(1 + m)
            queues.setdefault(k, [0]).append(1 + m)
    return len({(a, b) for q in queues.values() for a in q for b in q if a < b})

def shape(tr):  # what the flop count needs: actors, clusters at every state, challengers and pairs at every turn
    ex = tr.extras
    T = int(tr.rounds[0])
    clusters = [len({int(v) for v in ex["cluster"][0, t] if v >= 0}) for t in range(T + 1)]
    challengers = [int((ex["target"][0, t] >= 0).sum()) for t in range(1, T + 1)]
    return {"n": int(tr.position.shape[2]), "clusters": clusters, "challengers": challengers,
            "pairs": [pairs(ex["target"][0, t]) for t in range(1, T + 1)]}

def counted(inp, params):  # the share of the third-party terms the challenges computed (1 without a pruned search)
    import inspect
    from detente.models import _smp_core as core
    if "counted" not in inspect.signature(core.challenges).parameters:
        return 1.0
    real, tot = core.challenges, [0, 0]
    def count(*a, **k):
        n = a[0].shape[-1]
        c = np.full(a[0].shape[:2], n, dtype=np.int64)  # left as it is when every target is counted
        out = real(*a, counted=c, **k)
        tot[0] += int(np.minimum(c, n).sum()); tot[1] += c.size * n
        return out
    core.challenges = count
    try:
        smp.run(inp, params)
    finally:
        core.challenges = real
    return tot[0] / max(tot[1], 1)

def best(fn, reps):
    out = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter(); r = fn(); out = min(out, time.perf_counter() - t0)
    return out, r

def large(kind, arg):  # the inputs of a160 / 320x3, made once per worker
    if kind not in made:
        if kind == "a160":
            made[kind] = ktab(arg), smp.Params()
        else:
            rng = np.random.default_rng(0)
            pos = rng.uniform(0, 100, (1, 320, 3)); sal = rng.uniform(0.05, 1, (1, 320, 3))
            sal = sal / sal.sum(-1, keepdims=True) * rng.uniform(0.3, 0.9, (1, 320, 1))
            made[kind] = Inputs.build(pos, sal, rng.uniform(1, 100, (1, 320)), low=[0] * 3, high=[100] * 3), \
                smp.Params(rounds=3)
    return made[kind]

made = {}
for line in sys.stdin:
    kind, arg, reps = json.loads(line)
    if kind in ("a160", "320x3"):  # seconds per run of KTAB's 160-actor example; ms per turn, 320 actors x 3 issues
        inp, params = large(kind, arg)
        smp.run(inp, smp.Params(rounds=1))
        dt, tr = best(lambda: smp.run(inp, params), reps)
        per = 1.0 if kind == "a160" else 1000 / int(tr.rounds[0])
        ans = [dt * per, int(tr.rounds[0]), shape(tr), counted(inp, params)]
    elif kind in ("a160-once", "320x3-once"):  # one more timed run, in the unit of its case
        inp, params = large(kind[:-5], arg)
        t0 = time.perf_counter(); tr = smp.run(inp, params); dt = time.perf_counter() - t0
        ans = [dt * (1.0 if kind == "a160-once" else 1000 / int(tr.rounds[0]))]
    elif kind == "7x3":  # ms per run of KTAB's 7 x 3 example, batched (arg copies in one call)
        path, B = arg
        one = ktab(path)
        inp = Inputs.build(np.repeat(one.position, B, 0), np.repeat(one.salience, B, 0),
                           np.repeat(one.capability, B, 0), low=[0] * 3, high=[100] * 3)
        smp.run(one, smp.Params())
        dt, tr = best(lambda: smp.run(inp, smp.Params()), reps)
        ans = [dt * 1000 / B, int(tr.rounds[0])]
    elif kind == "sobol":  # seconds of a Sobol analysis of the flagship with smp
        from detente.analysis import sensitivity
        sensitivity("korea-2019", "smp", "sobol", samples=64)
        dt, res = best(lambda: sensitivity("korea-2019", "smp", "sobol", samples=arg), reps)
        ans = [dt, res.runs]
    print(json.dumps(ans), flush=True)
"""


#: Flops per element of the SMP's two O(n^3) sums (see :func:`smp_flops`).
COALITION_FLOPS, THIRD_PARTY_FLOPS = 6, 17


def smp_flops(n: int, clusters: list[int], challengers: list[int], pairs: list[int]) -> float:
    """Floating-point operations of one SMP run with the default (KTAB) parameters, its O(n^3) part.

    Counted from the algorithm (``../shared/specs/smp.md``, docs/models/smp.md), not from a kernel:

    * A coalition sum over Nv voters for an unordered pair of options {a, b},
      ``C(a, b) = sum_v max(0, w_v (V[v, a] - V[v, b]))`` and ``C(b, a)``: for each voter one
      subtraction and one multiplication give the vote on (a, b) (the vote on (b, a) is its negation),
      then a maximum and an addition for each of the two ordered pairs: :data:`COALITION_FLOPS` = 6 per
      pair and voter. An election over M options needs every pair, ``3 M (M - 1) Nv`` in all. At every
      state t = 0 .. T there are two: the valuation (M = Nv = n) and the report's election over the
      clusters of positions (M = clusters[t], Nv = n). At every turn, the resolution: each actor's
      own election among its status quo and the bargains it is part of (its own, and those whose
      target it is) needs only the pairs within it: ``pairs[t]`` distinct pairs, shared by two
      elections where they meet (the status quo with every bargain, and bargains that share an
      actor), 6 n each. (Until 2026-12-02 the count took every pair of all the turn's bargains,
      ``3 M (M - 1) n`` with M = 1 + challengers[t], as the code then computed them: 16 times the
      pairs the elections read at 320 x 3, 3 times at a160.)
    * The challenges' third parties (SemiCommit), for each initiator i, target j and third party m
      outside {i, j}: u[m][j] = Bm R + A (2), v0 = w (u_mi - u_mj) (2), |v0| + S0_ij + S0_ji (2),
      pi = (max(v0, 0) + S0_ij) / that (3), beta = u_mj - u_mm (1), (u_mm - u_mi - beta) pi + beta
      (3), w times it (1), and the two sums over m, S_ij += max(0, v), S_ji += max(0, -v) (3):
      :data:`THIRD_PARTY_FLOPS` = 17 per triple, ``17 n (n - 1) (n - 2)`` per turn.

    Comparisons count as flops. The O(n^2 D) rest (distances, utilities, the principals' votes,
    the PCEs' sums over each election's options, bargains) is left out, so this is a lower bound
    (under 1 % of the total at n = 160).

    This is the algorithm's count, what a run must decide, not what a kernel executes: since
    2026-12-02 (the ninth pass, docs/performance.md) the default rule's challenges compute the
    third parties only of the targets that can be an initiator's best (the same results), so the
    share of peak computed from it is an effective rate; the benchmark prints beside it the share
    of the third-party terms the run computed.
    """
    elections = sum(M * (M - 1) * n for M in [n] * len(clusters) + list(clusters))
    return (COALITION_FLOPS / 2 * elections + COALITION_FLOPS * n * sum(pairs)
            + THIRD_PARTY_FLOPS * n * (n - 1) * (n - 2) * len(challengers))


PEAK_SCRIPT = r"""
import time
import numpy as np
a = np.random.default_rng(0).uniform(size=(1024, 1024)); b = a.copy(); a @ b
best = float("inf")
for _ in range(7):
    t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
print(2 * 1024 ** 3 / best / 1e9)
"""


def blas_peak_gflops() -> float:
    """This machine's peak float64 GFLOP/s on one core, as numpy's BLAS achieves it: the best of 7
    products of 1,024 x 1,024 matrices with one BLAS thread (2 x 1,024^3 flops each), in a fresh
    interpreter (the BLAS thread count is read at import)."""
    env = {**os.environ, **{k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def bench_smp_targets(ref: str = SMP_REF, sobol_samples: int = 1024, reps: int = 7,
                      cases: tuple[str, ...] = tuple(SMP_TARGETS)) -> list[dict]:
    """Issue #17's smp targets, each measured now and at ``ref`` in the same run, with their ratios.

    Both versions run in their own interpreter (``_versions.Worker``), case by
    case and back to back, so that the load of the shared machine hits both
    alike: a160 (s per run), 320 x 3 (ms per turn), KTAB's 7 x 3 example run
    as 1,000 copies in one call (ms per run, and times faster than KTAB's
    50 ms), and a Sobol analysis of the flagship with smp (``sobol_samples``
    base samples; the issue's target is for 1,024). Prints one line per target,
    and the share of the machine's peak flops at a160 and 320 x 3 (``smp-peak``:
    :func:`smp_flops` over the time and over two cores' :func:`blas_peak_gflops`,
    measured before and after the cases). ``cases`` limits the run to some of them (on the command line
    ``smp_large``: a160 and 320 x 3 only, with the share of peak; ``smp_fewactors``: the 7 x 3 batch and the
    Sobol analysis only).

    a160 and 320 x 3 (since 2026-12-02, session 8) run one at a time, the two versions in turn, 1 + ``reps``
    runs each (320 x 3: ``reps`` runs): the shared host's slow phases come and go within seconds, and a
    version's seven runs back to back took about 0.3 s, so one slow phase could take all of them. The best
    run is the figure (as everywhere here); the share's line also gives the median run's share and how many
    runs reached 25 %.
    """
    import tempfile

    from _versions import Worker, extract

    a160, d3 = KTAB_DATA / KTAB_FILES[(160, 1)], KTAB_DATA / KTAB_FILES[(7, 3)]
    if not (a160.exists() and d3.exists()):
        raise SystemExit(f"bench_smp_targets needs KTAB's example files in {KTAB_DATA}")
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"## smp targets (issue #17)\n\nMachine: {_machine()}; now vs {ref}, each in its own interpreter, "
          f"best of {reps} runs (a160 and 320 x 3: one at a time, the versions in turn); {load}\n", flush=True)
    requests = {"a160": ("a160", str(a160), reps), "320x3": ("320x3", None, max(1, reps - 1)),
                "7x3": ("7x3", [str(d3), 1000], reps), "sobol": ("sobol", sobol_samples, 1)}
    requests = {k: v for k, v in requests.items() if k in cases}
    got: dict[str, dict[str, list]] = {"ref": {}, "now": {}}
    runs: dict[str, dict[str, list[float]]] = {"ref": {}, "now": {}}  # a160 and 320 x 3: every timed run
    peaks = [blas_peak_gflops()]
    with tempfile.TemporaryDirectory(prefix="bench-smp-") as d:
        workers = {"ref": Worker(extract(ref, Path(d)), SMP_WORKER), "now": Worker(ROOT / "src", SMP_WORKER)}
        try:
            for i, (case, req) in enumerate(requests.items()):
                if case in ("a160", "320x3"):
                    # one run each (warm-up, shape, counts), then the runs one by one, the versions in turn:
                    # a phase of the shared host (they come and go within seconds) hits both alike
                    for which in ("ref", "now"):
                        got[which][case] = workers[which].ask(case, req[1], 1)
                        runs[which][case] = [got[which][case][0]]
                    for k in range(req[2]):
                        for which in (("ref", "now") if k % 2 == 0 else ("now", "ref")):
                            runs[which][case].append(workers[which].ask(case + "-once", req[1], 1)[0])
                    for which in ("ref", "now"):
                        got[which][case][0] = min(runs[which][case])
                        print(f"  {case} {which}: {got[which][case][0]:.4g}", file=sys.stderr, flush=True)
                    continue
                for which in (("ref", "now") if i % 2 == 0 else ("now", "ref")):
                    got[which][case] = workers[which].ask(*req)
                    print(f"  {case} {which}: {got[which][case][0]:.4g}", file=sys.stderr, flush=True)
        finally:
            for w in workers.values():
                w.close()
    peaks.append(blas_peak_gflops())
    rows, table = [], []
    for case, target in SMP_TARGETS.items():
        if case not in requests:
            continue
        now, old = got["now"][case][0], got["ref"][case][0]
        if case == "7x3":  # a speed-up over KTAB: higher is better
            x_now, x_old = KTAB_SECONDS[(7, 3)] * 1000 / now, KTAB_SECONDS[(7, 3)] * 1000 / old
            met = x_now >= target
            line = ["7 x 3 batched (x 1,000), times faster than KTAB", f">= {target:.0f}x", f"{x_old:.0f}x",
                    f"{x_now:.0f}x", f"{now:.3f} / {old:.3f} ms per run", "met" if met else "MISSED"]
        else:
            unit = {"a160": "s per run", "320x3": "ms per turn", "sobol": "s"}[case]
            what = {"a160": "a160 (KTAB's 160 actors x 1)", "320x3": "320 actors x 3 issues",
                    "sobol": f"Sobol, flagship, smp, N={sobol_samples} ({got['now'][case][1]:,} runs)"}[case]
            met = now <= target
            line = [what, f"<= {target:g} {unit}", f"{old:.4g}", f"{now:.4g}", f"{now / old:.3f} (now / {ref})",
                    "met" if met else f"MISSED ({now / target:.1f}x the target)"]
        rows.append({"case": case, "now": now, "ref": old, "target": target, "met": met})
        table.append(line)
        # the line of make bench's summary (benchmarks/targets.py; h-perf's convention)
        tid = {"a160": "smp-a160", "320x3": "smp-320x3-turn", "7x3": "smp-ktab-7x3", "sobol": "smp-sobol-flagship"}[case]
        if case == "7x3":
            print(target_line(tid, x_now, reference=x_old, ref_label=ref, target=target, unit="x"))
        else:
            print(target_line(tid, now, reference=old, ref_label=ref, target=target,
                              unit={"a160": "s", "320x3": "ms", "sobol": "s"}[case]))
    # share of the peak flops of both cores at n >= 160 (the flops from the run's shape, the same in both versions)
    peak = 2 * max(peaks)
    shares: dict[str, dict[str, float]] = {}
    for case in ("a160", "320x3"):
        if case not in requests:
            continue
        t_now, turns, shp = got["now"][case][:3]
        flops = smp_flops(shp["n"], shp["clusters"], shp["challengers"], shp["pairs"])
        secs = {"now": t_now, "ref": got["ref"][case][0]}
        if case == "320x3":  # ms per turn
            secs = {k: v / 1000 * turns for k, v in secs.items()}
        shares[case] = {k: 100 * flops / v / (peak * 1e9) for k, v in secs.items()}
        # the share of every run of this tree (320 x 3's times are in ms a turn)
        each = [100 * flops / (t * (turns / 1000 if case == "320x3" else 1.0)) / (peak * 1e9) for t in runs["now"][case]]
        shares[case].update(median=float(np.median(each)), met_runs=sum(v >= 25 for v in each), runs=len(each))
        table.append([f"share of peak, {case} ({flops / 1e9:.2f} GFLOP)", ">= 25 %", f"{shares[case]['ref']:.1f} %",
                      f"{shares[case]['now']:.1f} %", f"{shares[case]['now'] / shares[case]['ref']:.2f}",
                      "met" if shares[case]["now"] >= 25 else "MISSED"])
        frac = got["now"][case][3] if len(got["now"][case]) > 3 else 1.0
        print(target_line(f"smp-peak:{case}", shares[case]["now"], reference=shares[case]["ref"], ref_label=ref,
                          note=f"{flops / 1e9:.3g} GFLOP in {secs['now']:.3g} s, the best of {shares[case]['runs']} runs "
                          f"(median {shares[case]['median']:.1f} %; {shares[case]['met_runs']} of them >= 25 %); peak "
                          f"{peak:.1f} GFLOP/s (2 cores); the challenges computed {100 * frac:.0f} % of the third-party "
                          "terms the count has"))
    worst = min(shares, key=lambda c: shares[c]["now"]) if shares else None
    if worst is not None:
        print(target_line("smp-peak" if len(shares) == 2 else "smp-peak:one-case", shares[worst]["now"],
                          reference=shares[worst]["ref"], ref_label=ref,
                          note=f"the lower of a160 and 320x3 ({worst}); peak {peak:.1f} GFLOP/s = 2 cores x numpy's "
                          f"1-thread float64 matmul (best of {len(peaks)} measurements: "
                          f"{', '.join(f'{p:.1f}' for p in peaks)} GFLOP/s per core)"))
    print(_table(["target", "goal", ref, "now", "ratio", ""], table))
    print(f"\nPeak: {peak:.1f} GFLOP/s for both cores (numpy's one-thread 1,024^2 float64 matrix product, "
          f"{', '.join(f'{p:.1f}' for p in peaks)} GFLOP/s per core before / after). Flops: "
          "bench_engines.smp_flops (the coalition and third-party sums, counted from the algorithm).")
    after = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"\nAt the end: {after}. Absolute times scale with the machine's load; the ratios, measured back to "
          "back, much less.")
    return rows


# ============================================================================ bdm

#: The EC emission case as it ships in the package (the same rows as shared/data/bdm).
BDM_EMISSION = Path(__file__).resolve().parents[1] / "src" / "detente" / "scenarios" / "emission-ec-1994.csv"
#: The issue tracker's target for the 10-actor emission case, batched.
BDM_TARGET_MS = 0.05


def _bdm_inputs(n: int, B: int, seed: int = 0):
    from detente.models.base import Inputs

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 10, (B, n, 1))
    sal = rng.uniform(0.05, 1, (B, n, 1))
    cap = rng.uniform(0.05, 1, (B, n))
    return Inputs.build(pos, sal, cap, low=0, high=10)


def _bdm_reference_ms(n: int, rounds: int, runs: int) -> float:
    """ms per 10-round run of the plain reference, timed on ``rounds`` rounds and scaled."""
    from detente.models.bdm_reference import reference_run

    inp = _bdm_inputs(n, runs, seed=1)
    t0 = time.perf_counter()
    for b in range(runs):
        reference_run(inp.position[b, :, 0], inp.capability[b], inp.salience[b, :, 0], rounds=rounds)
    return (time.perf_counter() - t0) / runs * 1000.0 * 10 / rounds


def _bdm_first_call() -> dict[str, float]:
    """Seconds to import numba, and of the first ``bdm.run`` in a fresh process with the
    kernel cache in place (``cached``) and with an empty cache (``compile``)."""
    import os
    import tempfile

    code = (
        "import time; t0 = time.perf_counter(); import numba; t1 = time.perf_counter()\n"
        "from detente.models import bdm; from detente.models.base import Inputs\n"
        "inp = Inputs.build([1.0, 4.0, 6.0], [0.5, 0.6, 0.7], [1.0, 2.0, 3.0])\n"
        "t2 = time.perf_counter(); bdm.run(inp); t3 = time.perf_counter()\n"
        "print(t1 - t0, t3 - t2)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as empty:
        for label, env in (("cached", {}), ("compile", {"NUMBA_CACHE_DIR": empty})):
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, **env})
            imp, first = map(float, res.stdout.split())
            out["numba_import"] = min(out.get("numba_import", imp), imp)
            out[label] = first
    return out


def bench_bdm(budget_s: float = 60.0) -> list[dict]:
    """ms per run of ``bdm`` (10 rounds) by actors and batch size, against the reference.

    A batch is skipped when its predicted time exceeds ``budget_s`` seconds.
    The reference is timed on a few runs only (and on fewer rounds for larger n,
    scaled to 10 rounds); it is not run for n = 300. Times are the best of 3
    passes (1 for B = 10,000), after a first call that loads the compiled kernel.
    """
    from detente.models import _jit, bdm

    print(f"## bdm ({_machine()}, {_jit.threads()} worker threads)\n")
    first = _bdm_first_call()
    print(f"First call in a fresh process: import numba {first['numba_import']:.2f} s; first bdm.run "
          f"{first['cached']:.2f} s with the kernel cache, {first['compile']:.1f} s compiling (empty cache)\n",
          flush=True)
    # the emission case, batched
    import csv

    rows_csv = list(csv.DictReader(BDM_EMISSION.open()))
    from detente.models.base import Inputs

    x = np.array([float(r["position"]) for r in rows_csv])
    c = np.array([float(r["capability"]) for r in rows_csv])
    s = np.array([float(r["salience"]) for r in rows_csv]) / 100.0
    B = 10_000
    inp = Inputs.build(np.broadcast_to(x, (B, x.size))[:, :, None], s, c, low=4, high=10)
    bdm.run(inp.take(slice(0, 100)))
    emission = {}
    threads = _jit.threads()
    saved = os.environ.get(_jit.THREADS_ENV)
    for th in sorted({1, threads}):
        os.environ[_jit.THREADS_ENV] = str(th)
        best = min(_timed(lambda: bdm.run(inp)) for _ in range(5))
        emission[th] = best / B * 1000.0
    if saved is None:
        os.environ.pop(_jit.THREADS_ENV)
    else:
        os.environ[_jit.THREADS_ENV] = saved
    ms = emission[threads]
    print(f"EC emission case, 10 actors, 10 rounds, B = {B:,}: {ms:.4f} ms/run with {threads} threads "
          f"({ms / BDM_TARGET_MS:.2f} x the {BDM_TARGET_MS} ms target), {emission[1]:.4f} ms/run with 1 "
          "(best of 5)\n", flush=True)

    ref_plan = {10: (10, 5), 30: (2, 2), 100: (1, 1)}  # n: (rounds, runs)
    ref_ms = {}
    for n, (rounds, runs) in ref_plan.items():
        ref_ms[n] = _bdm_reference_ms(n, rounds, runs)
        print(f"  reference n={n}: {ref_ms[n]:.1f} ms/run", file=sys.stderr, flush=True)
    rows = [{"n": 10, "B": B, "case": "emission", "ms_per_run": ms, "ms_per_run_1_thread": emission[1],
             "first_call": first}]
    table = []
    for n in (10, 30, 100, 300):
        per_run = None
        for B in (1, 100, 10_000):
            if per_run is not None and per_run * B / 1000.0 > budget_s:
                table.append([str(n), f"{B:,}", "skipped (time)", "", ""])
                continue
            inp = _bdm_inputs(n, B)
            reps = 3 if B < 10_000 else 1
            dt = min(_timed(lambda: bdm.run(inp)) for _ in range(reps))
            per_run = dt / B * 1000.0
            speedup = ref_ms[n] / per_run if n in ref_ms else None
            rows.append({"n": n, "B": B, "ms_per_run": per_run, "speedup": speedup})
            table.append([str(n), f"{B:,}", f"{per_run:.4g}", f"{1000.0 / per_run:,.0f}",
                          f"{speedup:,.0f}x" if speedup else "-"])
            print(f"  bdm n={n} B={B}: {per_run:.4g} ms/run", file=sys.stderr, flush=True)
    print(_table(["actors", "batch", "ms/run", "runs/s", "vs reference"], table))
    print("\nreference (plain loops, detente.models.bdm_reference), ms per 10-round run: "
          + ", ".join(f"n={n}: {v:,.0f}" for n, v in ref_ms.items()))
    return rows


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ============================================================================ main

ENGINES = {"smp": bench_smp, "smp_targets": bench_smp_targets, "bdm": bench_bdm,
           "smp_large": lambda: bench_smp_targets(cases=("a160", "320x3")),
           "smp_fewactors": lambda: bench_smp_targets(cases=("7x3", "sobol"))}
#: What runs without arguments (``make bench``): every target once (``smp_large`` and ``smp_fewactors`` are parts of
#: ``smp_targets``, for the command line; run after it they printed each smp target twice, the summary keeping the
#: last).
DEFAULT = ("smp", "smp_targets", "bdm")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks named on the command line (default: :data:`DEFAULT`, every target once)."""
    names = (argv if argv is not None else sys.argv[1:]) or list(DEFAULT)
    for name in names:
        if name not in ENGINES:
            raise SystemExit(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
        ENGINES[name]()
        print()


if __name__ == "__main__":
    main()
