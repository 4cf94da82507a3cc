"""What ``detente report korea-2019 -m bdm --draws 1000`` costs, now and at a reference commit (issue #17).

Run: ``.venv/bin/python benchmarks/bench_report.py [--ref COMMIT] [--rounds N]``.

Each case runs as a whole fresh process (interpreter start, imports, the report, the HTML file
written), for this tree and for the reference commit's ``src`` (extracted with ``git archive``,
run with this venv's libraries and its own numba cache in ``.bench/``), alternating which goes
first; one untimed run of each fills the caches. Both trees are byte-compiled first, as installing a package does
(pip compiles what it installs; an editable install under ``PYTHONDONTWRITEBYTECODE``, as on this machine, would
otherwise compile every module of detente again in every process: about 0.2 CPU seconds of the report). Cases:

* ``report``: exactly the command of the issue's target, the "What happened" section included (every
  model scored against the record and bdm's explanation of it, added after the target was set);
* ``report without the record``: ``build_report(..., record=False)``, the report the target was
  set for;
* ``report, record computed``: the same command with ``--seed 1``, whose record section did not ship
  with detente (``detente/report/_shipped.py`` ships the flagship's usual ones, seed 0), so it is
  computed: what a report of the user's own scenario with a record costs.

It prints the best wall time of each (and the CPU time of the process and its children in that
run), the ratio now / reference, whether the report's text (charts and the creation time left
out) is the same in both versions, the load average, and a ``TARGET`` line for ``make bench``'s
summary (benchmarks/targets.py).
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _targets import target_line
from _versions import ROOT, extract

REF = "aa83d71"
#: Exactly the command of the issue's target (the scenario's own seed).
ARGS = ["korea-2019", "-m", "bdm", "--draws", "1000"]
NO_RECORD = ("import sys; from detente.report import build_report; "
             "open(sys.argv[1], 'w').write(build_report('korea-2019', 'bdm', draws=1000, record=False))")
CASES = {
    "report": lambda out: ["-m", "detente", "report", *ARGS, "-o", out],
    "report without the record": lambda out: ["-c", NO_RECORD, out],
    "report, record computed": lambda out: ["-m", "detente", "report", *ARGS, "--seed", "1", "-o", out],
}


def run(src: Path, cache: Path, argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and every child it waited for) of one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(cache)}
    env.pop("DETENTE_NO_NUMBA", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv}: {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


#: The one sentence this tree's report adds under a record section that shipped with detente (the section's
#: values are the same: tests/test_report_shipped.py recomputes them); left out of the comparison, and said so.
SHIPPED_NOTE = re.compile(r'<p class="note">This section was computed when this version of detente was built[^<]*</p>')


def text_of(html: str) -> str:
    """The report without its pictures and creation time: its sections, tables and words."""
    # (the whitespace after a chart too: matplotlib's SVG ends with a newline, detente's own SVG writer's does not)
    html = re.sub(r"<svg\b.*?</svg>\s*", "<svg/>", html, flags=re.S)
    return re.sub(r"<tr><td>created</td><td>[^<]*</td></tr>", "", html)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF, help=f"the reference commit (default {REF}: main at the start of the "
                    "session that shipped the flagship's record section; 33541e2 is the one before, ec4c906 is main "
                    "before issue #17's report work); 'none' times this tree only")
    ap.add_argument("--rounds", type=int, default=2, help="timed runs of each case and version (default 2)")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    bench = ROOT / ".bench"
    bench.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as d:
        versions = {"now": (ROOT / "src", bench / "numba-now")}
        if a.ref != "none":
            versions[a.ref] = (extract(a.ref, Path(d)), bench / f"numba-{a.ref}")
        best: dict[tuple[str, str], tuple[float, float]] = {}
        html: dict[str, str] = {}
        for src, _ in versions.values():  # as an install does (see the module's docstring)
            compileall.compile_dir(str(src / "detente"), quiet=1)
        for label, (src, cache) in versions.items():  # untimed: fills numba's cache (a compile the first time)
            out = str(Path(d) / f"warm-{label}.html")
            run(src, cache, CASES["report"](out))
            html[label] = Path(out).read_text(encoding="utf-8")
            # and every model's kernels: the report with a shipped record section runs bdm alone, so the case that
            # computes the section would otherwise compile the other models' kernels in its timed run
            run(src, cache, CASES["report, record computed"](str(Path(d) / f"warm-all-{label}.html")))
        for r in range(a.rounds):
            for i, case in enumerate(CASES):
                order = list(versions)[::(-1 if (r + i) % 2 else 1)]
                for label in order:
                    src, cache = versions[label]
                    wall, cpu = run(src, cache, CASES[case](str(Path(d) / f"{label}.html")))
                    if wall < best.get((label, case), (math.inf, 0.0))[0]:
                        best[(label, case)] = (wall, cpu)
    load1 = os.getloadavg()[0]
    print(f"bench_report: detente report {' '.join(ARGS)}, fresh processes, best of {a.rounds}; "
          f"reference {a.ref}; load average {load0:.1f} before, {load1:.1f} after (on {os.cpu_count()} cores)")
    print(f"  {'case':<28} {'version':<9} {'wall':>8} {'cpu':>8} {'ratio':>7} {'cpu ratio':>9}")
    for case in CASES:
        for label in versions:
            wall, cpu = best[(label, case)]
            ratio = "" if label == "now" or ("now", case) not in best else f"{best[('now', case)][0] / wall:7.3f}"
            # CPU seconds (user + system, every process of the report): what the machine's load distorts least
            cpu_ratio = "" if label == "now" or ("now", case) not in best else f"{best[('now', case)][1] / cpu:9.3f}"
            print(f"  {case:<28} {label:<9} {wall:7.2f}s {cpu:7.2f}s {ratio:>7} {cpu_ratio:>9}")
    ref = a.ref if a.ref != "none" else None
    if ref is not None:
        shipped = {label: bool(SHIPPED_NOTE.search(h)) for label, h in html.items()}
        same = SHIPPED_NOTE.sub("", text_of(html["now"])) == SHIPPED_NOTE.sub("", text_of(html[ref]))
        print(f"bench_report: the report's text (sections, tables, words; charts aside) is "
              f"{'the same as' if same else 'NOT the same as'} {ref}'s"
              + ("" if same else " (expected when the report's wording or an analysis changed since)")
              + "".join(f"; {label}'s record section shipped with detente (not computed), its note left out of the "
                        "comparison" for label, yes in shipped.items() if yes))
    load = f"load {load0:.1f}-{load1:.1f}"
    for tid, case in (("report-bdm-1000", "report"), ("report-bdm-1000:no-record", "report without the record"),
                      ("report-bdm-1000:computed-record", "report, record computed")):
        wall, cpu = best[("now", case)]
        print(target_line(tid, wall, reference=best[(ref, case)][0] if ref else 6.7, ref_label=ref or "issue",
                          note=f"cpu {cpu:.1f} s (both cores); {load}"))


if __name__ == "__main__":
    main()
