"""From analysis results and a model's perspective view to the plain arrays the charts draw.

Kept apart from :mod:`detente.report.build` so that the report depends on the
analysis package's public results in one place only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def monte_carlo_arrays(mc: Any) -> dict[str, Any]:
    """A :class:`~detente.analysis.montecarlo.MonteCarloResult` run with ``by_round=True`` as
    ``{draws, rounds, quantiles: {issue: {q: [...]}}, finals: {issue: [...]}}``."""
    keys = mc.scenario.issue_keys
    fan = mc.fan(QUANTILES)
    T1 = mc.by_round.shape[1]
    quantiles = {k: {q: [float(v) for v in fan[k][q]] for q in QUANTILES} for k in keys}
    finals = {k: [float(v) for v in mc.forecasts[:, d]] for d, k in enumerate(keys)}
    return {"draws": mc.draws, "rounds": list(range(T1)), "quantiles": quantiles if T1 > 1 else {},
            "finals": finals}


def sensitivity_rows(res: Any) -> dict[str, Any]:
    """One-at-a-time sensitivity: ``{base: {issue: x}, rows: {issue: [(label, at low, at high)]}}``."""
    return oat_chart_rows(res.to_frame().to_dict("records"), res.top_drivers(5))


def oat_chart_rows(table: list[dict[str, Any]], top_drivers: list[str]) -> dict[str, Any]:
    """:func:`sensitivity_rows` from the table's rows (:func:`detente.analysis.sensitivity.oat_rows`, no pandas)."""
    rows: dict[str, list] = {}
    base: dict[str, float] = {}
    for r in table:
        k = r["issue"]
        rows.setdefault(k, []).append((str(r["label"]), float(r["forecast_low"]), float(r["forecast_high"])))
        base[k] = float(r["base"])
    return {"base": base, "rows": rows, "top_drivers": list(top_drivers)}


def perspective_panels(view: Any, scen: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per issue, ``(key, x, y)`` of a one-draw :class:`~detente.models.base.Perspective`
    (arrays shaped (1, n, n, D)): ``x[i, j]`` is actor i's own stake against rival j, ``y[i, j]`` i's view of j's."""
    a, b = np.asarray(view.x, float)[0], np.asarray(view.y, float)[0]
    return [(key, a[:, :, d], b[:, :, d]) for d, key in enumerate(scen.issue_keys)]
