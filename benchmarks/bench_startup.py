"""What a user waits for before anything is computed: import, ``--help``, the first bdm forecast.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--quick]``. Every figure is
taken in fresh processes (the minimum of ``REPEAT``), for this tree and, in the
same run, for the reference commit ``c0a0d05`` (before issue #17), which is
checked out with ``git worktree add`` into a temporary folder and run with this
venv's libraries (its ``src`` first on ``PYTHONPATH``). Each line prints the
figure, its target and the ratio to the reference's figure.

* ``import detente``: the import alone, timed inside a fresh interpreter.
* ``detente --help``: the whole process, interpreter start included.
* first bdm forecast: ``import detente; detente.forecast("korea-2019", model="bdm")``
  in a fresh process, import included, with numba's cache empty (cold: a fresh
  ``NUMBA_CACHE_DIR``) and after ``detente warmup`` (warm; what ``make run``
  and ``pip install`` + ``detente warmup`` leave).
* first compiled bdm run: a 200-draw Monte Carlo of the flagship with bdm (large
  enough for the numba kernels), cold and warm, import included.

``--quick`` skips the reference (figures are then printed without ratios).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _targets import TARGETS as TARGETS_17
from _targets import target_line

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "c0a0d05"
REPEAT = 3

TARGETS = {
    "import detente": 0.25,
    "detente --help": 0.3,
    "first bdm forecast, cold cache": 2.0,
    "first bdm forecast, warm cache": 2.0,
    "first compiled bdm run (200 draws), warm cache": None,
    "first compiled bdm run (200 draws), cold cache": None,
}

IMPORT = "import time; t = time.perf_counter(); import detente; print(time.perf_counter() - t)"
FORECAST = ("import time; t = time.perf_counter(); import detente; "
            "detente.forecast('korea-2019', model='bdm'); print(time.perf_counter() - t)")
MONTE_CARLO = ("import time; t = time.perf_counter(); import detente; "
               "detente.monte_carlo('korea-2019', model='bdm', draws=200, seed=0); print(time.perf_counter() - t)")


def _env(src: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env["NUMBA_CACHE_DIR"] = str(cache)
    env.pop("DETENTE_NO_NUMBA", None)
    return env


def _inner(code: str, env: dict[str, str]) -> float:
    """Seconds printed by ``code`` run in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return float(proc.stdout.strip().splitlines()[-1])


def _outer(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a whole process."""
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return dt


def measure(src: Path, help_module: str, warm: list[str] | None, label: str) -> dict[str, float]:
    """Every figure for the tree whose package is in ``src``."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"numba-cache-{label}-") as tmp:
        cache = Path(tmp)
        env = _env(src, cache)
        out["import detente"] = min(_inner(IMPORT, env) for _ in range(REPEAT))
        out["detente --help"] = min(_outer([sys.executable, "-m", help_module, "--help"], env) for _ in range(REPEAT))
        # cold: an empty numba cache (each cold figure is one run: the second would be warm)
        out["first bdm forecast, cold cache"] = _inner(FORECAST, env)
        shutil.rmtree(cache)
        cache.mkdir()
        out["first compiled bdm run (200 draws), cold cache"] = _inner(MONTE_CARLO, env)
        shutil.rmtree(cache)
        cache.mkdir()
        if warm is not None:  # the install step
            subprocess.run([sys.executable, *warm], env=env, capture_output=True, check=True)
        else:  # no install step: the first use fills the cache
            _inner(MONTE_CARLO, env)
            _inner(FORECAST, env)
        out["first bdm forecast, warm cache"] = min(_inner(FORECAST, env) for _ in range(REPEAT))
        out["first compiled bdm run (200 draws), warm cache"] = min(_inner(MONTE_CARLO, env) for _ in range(REPEAT))
    return out


def reference() -> dict[str, float] | None:
    """The figures of commit c0a0d05, from a temporary worktree."""
    tmp = Path(tempfile.mkdtemp(prefix="detente-ref-"))
    tree = tmp / "tree"
    add = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), REFERENCE],
                         capture_output=True, text=True, check=False)
    if add.returncode != 0:
        print(f"bench_startup: cannot check out the reference {REFERENCE}: {add.stderr.strip()}")
        return None
    try:
        return measure(tree / "src", "detente.cli", None, "ref")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    load_before = os.getloadavg()[0]
    ours = measure(ROOT / "src", "detente", ["-m", "detente", "warmup"], "ours")
    ref = None if quick else reference()
    print(f"bench_startup: fresh processes, minimum of {REPEAT} (cold: one run); reference {REFERENCE} "
          f"from a temporary git worktree with this venv's libraries; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (on {os.cpu_count()} cores)")
    for name, dt in ours.items():
        target = TARGETS[name]
        line = f"  {name:<48} {dt:7.2f} s"
        line += f"  target {target:.2f} s ({'met' if dt <= target else 'MISSED'}, ratio {dt / target:.2f})" if target else " " * 36
        if ref is not None:
            line += f"  {REFERENCE}: {ref[name]:6.2f} s (ratio {dt / ref[name]:.3f}, {ref[name] / dt:.1f}x faster)"
        print(line)
    load = f"load {load_before:.1f}-{os.getloadavg()[0]:.1f}"
    for tid, name, note in (
            ("import", "import detente", load),
            ("help", "detente --help", f"whole process, interpreter start included; {load}"),
            ("first-bdm-forecast", "first bdm forecast, cold cache",
             f"empty numba cache, import included; after `detente warmup` "
             f"{ours['first bdm forecast, warm cache']:.2f} s; {load}")):
        print(target_line(tid, ours[name], reference=None if ref is None else ref[name],
                          ref_label=REFERENCE if ref is not None else "issue", note=note)
              if ref is not None else
              target_line(tid, ours[name], reference=TARGETS_17[tid][4], ref_label="issue", note=note))


if __name__ == "__main__":
    main()
