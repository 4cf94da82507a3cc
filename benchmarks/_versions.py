"""Timing two versions of detente side by side: each in its own interpreter, its ``src`` first on the path.

Used by the benchmarks that compare this tree with a reference commit (``bench_parse.py``,
``bench_web.py``): :func:`extract` takes the reference commit's ``src`` out of git, and a
:class:`Worker` runs a timing script under one ``src``, one JSON request per line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Source of ``best(fn, budget)`` for a worker script: ``fn`` once to warm up, then the best of three
#: rounds of as many calls as fill ``budget`` seconds; seconds per call.
BEST = r"""
import time
def best(fn, budget):
    fn()  # warm: imports, caches
    t0 = time.perf_counter(); fn(); one = time.perf_counter() - t0
    n = max(1, int(budget / max(one, 1e-6)))
    out = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out = min(out, (time.perf_counter() - t0) / n)
    return out
"""


class Worker:
    """One version of detente in its own interpreter, running ``script``: it prints ``{"module": ...}``
    first, then reads one JSON request per line on stdin and answers one JSON value per line."""

    def __init__(self, src: Path, script: str):
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        module = json.loads(self.proc.stdout.readline())["module"]
        assert Path(module).resolve().is_relative_to(src.resolve()), f"imported {module}, not {src}"

    def ask(self, *request: Any) -> Any:
        self.proc.stdin.write(json.dumps(list(request)) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def extract(ref: str, dest: Path) -> Path:
    """The reference commit's ``src`` folder, extracted under ``dest``."""
    tar = dest / "ref.tar"
    with open(tar, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    return dest / "src"
