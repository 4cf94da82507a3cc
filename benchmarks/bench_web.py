"""What ``POST /api/forecast`` costs over the bare forecast it returns (issue 11, point 3).

Run: ``.venv/bin/python benchmarks/bench_web.py [--ref COMMIT] [--rounds N]``.

``/api/forecast`` answers the forecast (its history, notes, summary and moves)
and stores the run; the report (charts, perspective map) is built on demand by
``GET /api/runs/{id}/report``. Before (commit 5351b1d) every ``/api/forecast``
built the whole report. For the flagship ``korea-2019`` with ``compromise`` and
``bdm``, this script times, in one interpreter per version of the source
(this tree, and the reference commit's ``src`` extracted with ``git archive``),
alternating which goes first:

* the bare forecast, ``detente.forecast("korea-2019", model)``;
* ``POST /api/forecast`` through FastAPI's TestClient on a fresh run store
  (validation, the forecast, the stored run, the JSON answer).

It prints the best time of each and the ratio ``/api/forecast`` / bare
forecast (target: <= 4 for this tree; the rest is validating the scenario,
HTTP, JSON and one SQLite write), and the ratio now / reference.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from _targets import target_line
from _versions import BEST, ROOT, Worker, extract

REF = "5351b1d"
TARGET = 4.0
MODELS = ("compromise", "bdm")

WORKER = BEST + r"""
import json, sys, tempfile
import detente
from fastapi.testclient import TestClient
from detente.web import create_app
print(json.dumps({"module": detente.__file__}), flush=True)
tmp = tempfile.mkdtemp(prefix="bench-web-")
client = TestClient(create_app(tmp + "/runs.sqlite3"), base_url="http://127.0.0.1", headers={"X-Detente": "1"})
client.__enter__()
def api(model):
    r = client.post("/api/forecast", json={"name": "korea-2019", "model": model, "seed": 1})
    assert r.status_code == 201, r.text
def bare(model):
    detente.forecast("korea-2019", model, seed=1)
for line in sys.stdin:
    kind, model, budget = json.loads(line)
    print(json.dumps(best((lambda: api(model)) if kind == "api" else (lambda: bare(model)), budget)), flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=REF, help=f"the reference commit (default {REF}); 'none' times this tree only")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of reference and new (default 2)")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per timing round and case (default 1)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as d:
        workers = {"new": Worker(ROOT / "src", WORKER)}
        if a.ref != "none":
            workers["ref"] = Worker(extract(a.ref, Path(d)), WORKER)
        best: dict[tuple[str, str, str], float] = {}
        try:
            for r in range(a.rounds):
                for i, (kind, model) in enumerate((k, m) for m in MODELS for k in ("bare", "api")):
                    order = sorted(workers, reverse=(r + i) % 2 == 1)
                    for which in order:
                        t = workers[which].ask(kind, model, a.budget)
                        key = (which, kind, model)
                        best[key] = min(best.get(key, math.inf), t)
        finally:
            for w in workers.values():
                w.close()
    print(f"bench_web: korea-2019, best of {a.rounds} x 3 rounds; reference = {a.ref}")
    print(f"  {'version':<9} {'model':<11} {'forecast':>11} {'/api/forecast':>14} {'ratio':>7}")
    worst = 0.0
    for which in sorted(workers, key=lambda w: w != "ref"):
        for model in MODELS:
            b, api = best[(which, "bare", model)], best[(which, "api", model)]
            if which == "new":
                worst = max(worst, api / b)
            label = a.ref if which == "ref" else "now"
            print(f"  {label:<9} {model:<11} {b * 1e3:>8.1f} ms {api * 1e3:>11.1f} ms {api / b:>7.2f}")
    if "ref" in workers:
        for model in MODELS:
            print(f"bench_web: /api/forecast now / {a.ref} ({model}) = "
                  f"{best[('new', 'api', model)] / best[('ref', 'api', model)]:.3f}")
    print(f"bench_web: /api/forecast / forecast = {worst:.2f} (worst model; target <= {TARGET:g}: "
          f"{'ok' if worst <= TARGET else 'MISSED'})")
    ref_worst = (max(best[("ref", "api", m)] / best[("ref", "bare", m)] for m in MODELS)
                 if "ref" in workers else None)
    print(target_line("api-forecast", worst, reference=ref_worst if ref_worst is not None else 641 / 28,
                      ref_label=a.ref if ref_worst is not None else "issue",
                      note=f"worst of {', '.join(MODELS)}; load {os.getloadavg()[0]:.1f}"))


if __name__ == "__main__":
    main()
