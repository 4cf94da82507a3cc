"""Parser throughput on normal files, against the parsers before the input bounds (commit c0a0d05).

Run: ``.venv/bin/python benchmarks/bench_parse.py [--ref COMMIT] [--rounds N]``.

The bounded readers (file size, rows, cells, nesting, YAML aliases and nodes,
digits, magnitudes, defusedxml for KTAB XML, the ``extends:`` sandbox) must
not make normal files more than 10 % slower to read. This script extracts the
reference commit's ``src`` into a temporary folder (``git archive``), then
times the same input files with both versions, each in its own interpreter,
file by file and back to back (alternating which goes first), and prints for each file the best time per load and
the ratio new / reference (target: <= 1.10 overall, the geometric mean).

Files: the shipped scenarios (YAML, a variant, CSV tables, a KTAB CSV), the
KTAB sample files in ``../shared/data/ktab`` (CSV and XML) when present, a
Decide file, and the shipped DEU backtest dataset (four CSV files). The shipped YAML scenarios are
read from a copy without the top-level fields added after the reference commit (``record:``), which
the reference refuses; any other file that one version cannot read is listed as not compared.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from _versions import BEST, Worker, extract

ROOT = Path(__file__).resolve().parents[1]
REF = "c0a0d05"
TARGET = 1.10

DECIDE = """#O\tToll
#A\tCouncil\tCity council
#A\tGreens\tGreen party\tsmall but loud
#A\tShops\tShopkeepers
#P\ttoll\tShould there be a toll?
#P\tzone\tHow large a zone?
#M\ttoll\t0\tNo, never
#M\ttoll\t100\tYes
#D\tCouncil\ttoll\t100\t0.9\t1
#D\tGreens\ttoll\t100\t0.95\t0.6
#D\tShops\ttoll\t0\t0.7\t0.8
#D\tCouncil\tzone\t40\t0.5\t1
#D\tGreens\tzone\t90\t0.6\t0.6
#D\tShops\tzone\t10\t0.8\t0.8
"""

# A timing server: runs in its own interpreter whose sys.path starts with the src folder under
# test, reads one case per line on stdin, answers the best time per load of that case.
WORKER = BEST + r"""
import json, sys
import detente
from detente.backtest.data import load_deu
print(json.dumps({"module": detente.__file__}), flush=True)
for line in sys.stdin:
    kind, path, budget = json.loads(line)
    fn = (lambda p=path: load_deu(p)) if kind == "deu" else (lambda p=path: detente.load(p))
    try:
        fn()
    except Exception as e:  # a file this version cannot read (a field added since): said, not timed
        print(json.dumps({"error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
        continue
    print(json.dumps(best(fn, budget)), flush=True)
"""


NEWER_FIELDS = ("record",)  # top-level scenario fields added after the reference commit


def _without_newer(text: str) -> str:
    """A YAML scenario without its top-level blocks the reference cannot read (:data:`NEWER_FIELDS`)."""
    out, skip = [], False
    for line in text.splitlines(keepends=True):
        if line[:1].isalpha():  # a top-level key starts a block
            skip = line.split(":", 1)[0] in NEWER_FIELDS
        if not skip:
            out.append(line)
    return "".join(out)


def cases(tmp: Path) -> list[tuple[str, str, str]]:
    ship = ROOT / "src" / "detente" / "scenarios"
    # The shipped scenarios as both versions can read them: a copy without the fields added since the
    # reference (the flagship's `record:` of what happened), so that each is still compared.
    copy = tmp / "scenarios"
    copy.mkdir()
    out = []
    for p in sorted(ship.iterdir()):
        if p.suffix == ".yaml":
            text = p.read_text(encoding="utf-8")
            (copy / p.name).write_text(_without_newer(text), encoding="utf-8")
            stripped = _without_newer(text) != text
            out.append((p.name + (" (no record:)" if stripped else ""), "scenario", str(copy / p.name)))
        elif p.suffix == ".csv":
            out.append((p.name, "scenario", str(p)))
    ktab = ROOT.parent / "shared" / "data" / "ktab"
    if ktab.is_dir():
        out += [(f"ktab/{p.name}", "scenario", str(p)) for p in sorted(ktab.iterdir()) if p.suffix in (".csv", ".xml")]
    dec = tmp / "toll.txt"
    dec.write_text(DECIDE, encoding="utf-8")
    out.append(("decide/toll.txt", "scenario", str(dec)))
    out.append(("deu (4 CSV files)", "deu", str(ROOT / "src" / "detente" / "data" / "deu")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF, help=f"the reference commit (default {REF})")
    ap.add_argument("--rounds", type=int, default=5, help="alternations of reference and new (default 5)")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per timing round and file (default 0.2)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as d:
        tmp = Path(d)
        ref_src = extract(a.ref, tmp)
        items = cases(tmp)
        workers = {"ref": Worker(ref_src, WORKER), "new": Worker(ROOT / "src", WORKER)}
        best: dict[str, dict[str, float]] = {"ref": {}, "new": {}}
        unread: dict[str, str] = {}  # file -> why one version cannot read it (not comparable)
        try:
            # Both versions time each file back to back, in alternating order, so that the load of a
            # shared machine hits both alike.
            for r in range(a.rounds):
                for i, (label, kind, path) in enumerate(items):
                    if label in unread:
                        continue
                    for which in (("ref", "new") if (r + i) % 2 == 0 else ("new", "ref")):
                        t = workers[which].ask(kind, path, a.budget)
                        if isinstance(t, dict):
                            unread[label] = f"{which} cannot read it: {t['error']}"
                            break
                        best[which][label] = min(best[which].get(label, math.inf), t)
        finally:
            for w in workers.values():
                w.close()
    best_ref, best_new = best["ref"], best["new"]
    print(f"bench_parse: time per load, best of {a.rounds} x 3 rounds; reference = {a.ref}")
    print(f"  {'file':<36} {'reference':>12} {'now':>12} {'ratio':>7}")
    logs = []
    for label, _, _ in items:
        if label in unread:
            print(f"  {label:<36} not compared ({unread[label].splitlines()[0][:120]})")
            continue
        r, n = best_ref[label], best_new[label]
        logs.append(math.log(n / r))
        print(f"  {label:<36} {r * 1e3:>9.3f} ms {n * 1e3:>9.3f} ms {n / r:>7.3f}")
    gm = math.exp(sum(logs) / len(logs))
    worst = max(logs)
    print(f"bench_parse: ratio now / {a.ref} = {gm:.3f} (geometric mean; worst file {math.exp(worst):.3f}; "
          f"target <= {TARGET:.2f}: {'ok' if gm <= TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
