"""What a user waits for before anything is computed: import, ``--help``, the first bdm forecast.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--quick] [--ref COMMIT] [--repeat N]``. Every
figure is taken in fresh processes (the minimum of ``--repeat``, default ``REPEAT``), for this tree
and, in the same run, for the reference commit (default ``c0a0d05``, before issue #17), which is
checked out with ``git worktree add`` into a temporary folder and run with this venv's libraries
(its ``src`` first on ``PYTHONPATH``). Each line prints the figure, its target and the ratio to the
reference's figure; import and ``--help`` alternate between the two trees, run by run, so that both
see the same load.

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


def startup(trees: dict[str, tuple[Path, str]], repeat: int) -> dict[str, dict[str, float]]:
    """``import detente`` and ``detente --help`` of each tree (label -> (src, the module ``-m`` runs)), the
    trees alternating run by run; the minimum of ``repeat`` each."""
    out: dict[str, dict[str, float]] = {label: {"import detente": float("inf"), "detente --help": float("inf")}
                                        for label in trees}
    with tempfile.TemporaryDirectory(prefix="numba-cache-startup-") as tmp:
        for r in range(repeat):
            for label in list(trees)[:: 1 if r % 2 == 0 else -1]:
                src, help_module = trees[label]
                env = _env(src, Path(tmp) / label)
                fig = out[label]
                fig["import detente"] = min(fig["import detente"], _inner(IMPORT, env))
                fig["detente --help"] = min(fig["detente --help"],
                                            _outer([sys.executable, "-m", help_module, "--help"], env))
    return out


def measure(src: Path, warm: list[str] | None, label: str) -> dict[str, float]:
    """The first bdm forecast and the first compiled run, cold and warm, for the tree whose package is in ``src``."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"numba-cache-{label}-") as tmp:
        cache = Path(tmp)
        env = _env(src, cache)
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


def _commands(src: Path) -> tuple[str, list[str] | None]:
    """The module ``-m`` runs for ``--help`` and the install step (``detente warmup``) of a tree, if it has them."""
    main = "detente" if (src / "detente" / "__main__.py").exists() else "detente.cli"
    has_warmup = any("warmup" in f.read_text(encoding="utf-8") for f in (src / "detente" / "cli").glob("*.py"))
    return main, (["-m", main, "warmup"] if has_warmup else None)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="this tree only (no reference, no ratios)")
    ap.add_argument("--ref", default=REFERENCE, help=f"the reference commit (default {REFERENCE}, before issue #17)")
    ap.add_argument("--repeat", type=int, default=10, help="runs of import and --help per tree (default 10)")
    ap.add_argument("--startup-only", action="store_true", help="import and --help only")
    a = ap.parse_args()
    load_before = os.getloadavg()[0]
    src = ROOT / "src"
    tmp = Path(tempfile.mkdtemp(prefix="detente-ref-"))
    tree = tmp / "tree"
    trees = {"ours": (src, _commands(src)[0])}
    if not a.quick:
        add = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), a.ref],
                             capture_output=True, text=True, check=False)
        if add.returncode != 0:
            print(f"bench_startup: cannot check out the reference {a.ref}: {add.stderr.strip()}")
        else:
            trees["ref"] = (tree / "src", _commands(tree / "src")[0])
    try:
        fast = startup(trees, a.repeat)
        ours = dict(fast["ours"])
        ref = dict(fast["ref"]) if "ref" in fast else None
        if not a.startup_only:
            ours.update(measure(src, _commands(src)[1], "ours"))
            if ref is not None:
                ref.update(measure(tree / "src", _commands(tree / "src")[1], "ref"))
    finally:
        if "ref" in trees:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True,
                           check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bench_startup: fresh processes, import and --help the minimum of {a.repeat} (the trees alternating), "
          f"the forecasts of {REPEAT} (cold: one run); reference {a.ref} from a temporary git worktree with this "
          f"venv's libraries; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"(on {os.cpu_count()} cores)")
    for name, dt in ours.items():
        target = TARGETS[name]
        line = f"  {name:<48} {dt:7.3f} s"
        line += f"  target {target:.2f} s ({'met' if dt <= target else 'MISSED'}, ratio {dt / target:.2f})" if target else " " * 36
        if ref is not None:
            line += f"  {a.ref}: {ref[name]:7.3f} s (ratio {dt / ref[name]:.3f})"
        print(line)
    load = f"load {load_before:.1f}-{os.getloadavg()[0]:.1f}"
    rows = [("import", "import detente", f"import time inside a fresh interpreter; {load}"),
            ("help", "detente --help", f"whole process, interpreter start included; {load}")]
    if not a.startup_only:
        rows.append(("first-bdm-forecast", "first bdm forecast, cold cache",
                     f"empty numba cache, import included; after `detente warmup` "
                     f"{ours['first bdm forecast, warm cache']:.2f} s; {load}"))
    for tid, name, note in rows:
        print(target_line(tid, ours[name], reference=None if ref is None else ref[name],
                          ref_label=a.ref if ref is not None else "issue", note=note)
              if ref is not None else
              target_line(tid, ours[name], reference=TARGETS_17[tid][4], ref_label="issue", note=note))


if __name__ == "__main__":
    main()
