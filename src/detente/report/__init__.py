"""Reports of forecasts: charts (matplotlib), a self-contained HTML file, PNG images.

>>> from detente.report import build_report
>>> html = build_report("korea-2019", model="bdm")      # doctest: +SKIP

See ``docs/report.md``.
"""

from __future__ import annotations

from typing import Any, Sequence

from .build import Cancelled, compute, write_pngs
from .html import render


def build_report(
    scenario: Any,
    model: str | None = None,
    params: dict[str, Any] | None = None,
    *,
    seed: int | None = None,
    draws: int = 0,
    compare: Sequence[Any] = (),
    png_dir: Any = None,
    budget: Any = None,
    record: bool = True,
) -> str:
    """Forecast a scenario and return its report as one self-contained HTML document.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str, optional
    params : dict, optional
    seed : int, optional
    draws : int
        Monte Carlo draws (needs the analysis package).
    compare : sequence
        Variants to compare.
    png_dir : path, optional
        Also write the charts as PNG files there.
    budget : Budget, optional
        The compute budget (:mod:`detente.budget`), checked for the whole report before it starts.
    record : bool
        For a scenario with a record: the "What happened" section (every model scored, the
        model's explanation).

    Returns
    -------
    str
    """
    return render(compute(scenario, model, params, seed=seed, draws=draws, compare=compare, png_dir=png_dir,
                          budget=budget, record=record))


__all__ = ["build_report", "compute", "render", "write_pngs", "Cancelled"]
