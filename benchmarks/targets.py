"""The summary of ``make bench``: every target of issue #17, measured, against its target and reference.

Run: ``.venv/bin/python benchmarks/targets.py OUTPUT...`` on the saved output of the bench scripts
(``make bench`` saves it in ``.bench/out.txt``), or with no file to read standard input. It collects
the ``TARGET`` lines (:mod:`_targets`) and prints one row per target of the issue, in the issue's
order, with the measured figure, the target, the reference and the ratio measured / reference, and
whether it is met; a target no script printed shows "not run". Variants (``id:variant``) get a row
each. It also repeats any ``BENCH FAILED`` line. Exit code 0 (the summary reports; it does not judge).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _targets import TARGETS, parse


def _ratio(measured: str, reference: str) -> str:
    try:
        m, r = float(measured), float(reference)
    except ValueError:
        return "-"
    return f"{m / r:.3g}" if r else "-"


def summary(lines: list[str]) -> str:
    rows: dict[str, dict[str, str]] = {}
    failed = [line.strip() for line in lines if line.startswith("BENCH FAILED")]
    for line in lines:
        f = parse(line.rstrip("\n"))
        if f is not None:
            rows[f["id"]] = f  # the last line of an id wins (a script run twice)
    out = [f"issue #17 targets (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
           "ratio = measured / reference: below 1 is faster for times, above 1 higher for speed-ups and shares)"]
    head = f"  {'target':<24} {'measured':>10} {'target':>10} {'reference':>14} {'ratio':>7}  met"
    out += [head, "  " + "-" * (len(head) - 2)]
    order = list(TARGETS) + sorted(k for k in rows if k.split(":")[0] not in TARGETS)
    for tid in order:
        variants = [k for k in rows if k == tid or k.startswith(tid + ":")] if tid in TARGETS else [tid]
        if not variants:
            what, target, op, unit, _ = TARGETS[tid]
            out.append(f"  {tid:<24} {'not run':>10} {('<=' if op == 'le' else '>=') + f'{target:g}{unit}':>10} "
                       f"{'':>14} {'':>7}  -    ({what})")
            continue
        for k in sorted(variants):
            f = rows[k]
            sign = "<=" if f.get("op") == "le" else ">="
            unit = f.get("unit", "")
            ref = f.get("reference", "-")
            ref_txt = "-" if ref == "-" else f"{ref}{unit} ({f.get('ref_label', '?')})"
            out.append(f"  {k:<24} {f['measured'] + unit:>10} {sign + f['target'] + unit:>10} {ref_txt:>14} "
                       f"{_ratio(f['measured'], ref):>7}  {f.get('met', '?')}"
                       + (f"   {f['note']}" if f.get("note") else ""))
    met = sum(1 for f in rows.values() if f.get("met") == "yes")
    out.append(f"  {met} of {len(rows)} measured lines met; {sum(1 for t in TARGETS if not any(k.split(':')[0] == t for k in rows))} "
               f"of {len(TARGETS)} targets not run")
    out += failed
    return "\n".join(out)


def main() -> None:
    lines: list[str] = []
    if len(sys.argv) > 1:
        for p in sys.argv[1:]:
            lines += Path(p).read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        lines = sys.stdin.read().splitlines()
    print(summary(lines))


if __name__ == "__main__":
    main()
