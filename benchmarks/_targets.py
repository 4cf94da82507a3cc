"""Issue #17's targets (and issue #16's scaling), one line each, as every bench script prints them for ``make bench``'s summary.

The convention (also in docs/performance.md): a line on stdout that starts with ``TARGET `` and holds
``key=value`` fields, shell-quoted (read back with :func:`shlex.split`)::

    TARGET id=import measured=0.031 target=0.25 op=le unit=s reference=0.73 ref_label=issue met=yes note='...'

``id`` is one of :data:`TARGETS` (``id:variant`` for a variant of one target); ``op`` is ``le``
(measured must be at most the target) or ``ge`` (at least); ``reference`` is the figure before the
change (measured in the same run on the reference commit ``ref_label``, or the issue's own figure
when ``ref_label`` is ``issue``; ``-`` when there is none). ``benchmarks/targets.py`` collects the
lines of every script and prints one table, every target of issue #17 in it ("not run" when no
script printed its line).
"""

from __future__ import annotations

import math
import shlex
from typing import Any

#: Every target of issue #17: id -> (what, target, op, unit, the issue's "today" figure or None).
TARGETS: dict[str, tuple[str, float, str, str, float | None]] = {
    "first-bdm-forecast": ("first bdm forecast, fresh install", 2.0, "le", "s", 11.0),
    "import": ("import detente", 0.25, "le", "s", 0.73),
    "help": ("detente --help", 0.3, "le", "s", 0.67),
    "report-bdm-1000": ("detente report korea-2019 -m bdm --draws 1000", 2.0, "le", "s", 6.7),
    "api-forecast": ("/api/forecast over the bare forecast (computes only what it returns)", 4.0, "le", "x",
                     641 / 28),
    "smp-a160": ("smp, KTAB a160, one run", 0.25, "le", "s", None),
    "smp-320x3-turn": ("smp, 320 x 3, per turn", 0.06, "le", "s", None),
    "smp-peak": ("smp, share of peak flops on both cores at n >= 160", 25.0, "ge", "%", 5.5),
    "smp-sobol-flagship": ("Sobol of the flagship with smp", 5.0, "le", "s", 31.0),
    "smp-ktab-7x3": ("smp vs KTAB at 7 x 3, batched", 20.0, "ge", "x", 3.6),
    "exchange-10x3": ("exchange 10 x 3 batched, speed-up", 10.0, "ge", "x", 1.0),
    "exchange-100x3": ("exchange 100 x 3, full Decide, time over today's one pass", 2.0, "le", "x", None),
    # issue #13 (benchmarks/bench_exchange.py): Decide's decimal arithmetic, cop21 (15 x 13, 10 rounds)
    "exchange-decimal-run": ("exchange arithmetic=decimal, cop21, one run", 1.0, "le", "s", None),
    "exchange-decimal-mc": ("exchange arithmetic=decimal, cop21, Monte Carlo of 1,000 draws", 60.0, "le", "s", None),
    "exchange-decimal-coin-mc": ("exchange arithmetic=decimal ties=coin, cop21, Monte Carlo of 1,000 draws", 60.0, "le",
                                 "s", 86.6),
    # issue #16 (benchmarks/bench_scale.py), one line per workload (``:sobol``, ``:mc``)
    "scale-speedup": ("Dask: 2 local workers over 1 (1 kernel thread each), 2 cores", 1.7, "ge", "x", None),
    "scale-overhead": ("Dask: 1 worker over in process (1 kernel thread), work >= 30 s", 10.0, "le", "%", None),
}


def _num(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


def target_line(tid: str, measured: float | None, *, reference: float | None = None, ref_label: str = "issue",
                note: str = "", target: float | None = None, op: str | None = None, unit: str | None = None,
                met: bool | None = None) -> str:
    """The ``TARGET`` line of target ``tid`` (target, op and unit default to :data:`TARGETS`')."""
    base = TARGETS.get(tid.split(":")[0])
    target = target if target is not None else (base[1] if base else math.nan)
    op = op or (base[2] if base else "le")
    unit = unit or (base[3] if base else "")
    if met is None:
        met = measured is not None and math.isfinite(measured) and (
            measured <= target if op == "le" else measured >= target)
    fields: dict[str, Any] = {"id": tid, "measured": _num(measured), "target": _num(target), "op": op, "unit": unit,
                              "reference": _num(reference), "ref_label": ref_label, "met": "yes" if met else "no"}
    if note:
        fields["note"] = note
    return "TARGET " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in fields.items())


def parse(line: str) -> dict[str, str] | None:
    """The fields of a ``TARGET`` line (None for any other line)."""
    if not line.startswith("TARGET "):
        return None
    try:
        parts = shlex.split(line[7:])
    except ValueError:
        return None
    out = dict(p.split("=", 1) for p in parts if "=" in p)
    return out if "id" in out else None
