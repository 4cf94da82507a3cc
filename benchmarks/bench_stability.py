"""What the stability check costs (issue #12), as ratios measured in the same run.

* A single forecast with and without the stability check, for each model that plays rounds, on the
  flagship and the EC emission case: the check's cost is ``with / without``. Beside it, the same with
  the reuse of a run that stopped by itself switched off (``ROUNDS_ONLY_STOP`` ignored): the cost
  before it.
* ``forecast --draws``: Monte Carlo with the median's stability (the draws played two rounds past the
  horizon, the most likely branch without its own check) against the way it ran before (the draws to
  the horizon, and the most likely branch with its own stability check).

Each time is the minimum of several repeats; the machine's load is printed first (``uptime``).
Run: ``.venv/bin/python benchmarks/bench_stability.py [--repeat 5] [--draws 500]``.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager
from unittest import mock


def best(fn, repeat: int) -> float:
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


@contextmanager
def without_reuse():
    """As before: no model's rounds are taken to only stop the play, and no forecast is read off its check's run."""
    with mock.patch("detente.stability.only_stops", lambda model: False), \
            mock.patch("detente.api.only_stops", lambda model: False), \
            mock.patch("detente.api._stability_rounds", lambda *a, **k: None):  # two runs, not one (TRUNCATE_INFO)
        yield


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--draws", type=int, default=500)
    a = ap.parse_args(argv)
    import detente

    print("load:", os.getloadavg())
    print(f"{'single forecast':<34s} {'no check':>9s} {'check':>9s} {'ratio':>7s} {'before':>9s} {'ratio':>7s}")
    for scen in ("korea-2019", "emission-ec-1994"):
        for model in ("bdm", "smp", "exchange"):
            detente.forecast(scen, model=model)  # warm
            plain = best(lambda: detente.forecast(scen, model=model, stability=False), a.repeat)
            now = best(lambda: detente.forecast(scen, model=model), a.repeat)
            with without_reuse():
                old = best(lambda: detente.forecast(scen, model=model), a.repeat)
            print(f"{scen + ' ' + model:<34s} {plain:9.3f} {now:9.3f} {now / plain:7.2f} {old:9.3f} {old / plain:7.2f}")
    print(f"\nforecast --draws {a.draws} (seconds; ratio new / before)")
    for scen, model in (("korea-2019", "bdm"), ("korea-2019", "smp"), ("emission-ec-1994", "bdm")):
        new = best(lambda: detente.monte_carlo(scen, model, draws=a.draws, seed=1), a.repeat)

        def before():
            with without_reuse():  # the draws to the horizon; the branch with its own check, as before
                detente.monte_carlo(scen, model, draws=a.draws, seed=1, point=False)
            detente.forecast(scen, model=model, seed=1)

        old = best(before, a.repeat)
        print(f"{scen + ' ' + model:<34s} new {new:7.3f}  before {old:7.3f}  ratio {new / old:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
