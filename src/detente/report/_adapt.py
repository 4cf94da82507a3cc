"""Adapters from the analysis package and the bdm model to the plain arrays the charts draw.

Kept apart from :mod:`detente.report.build` so that the report depends on the
analysis modules' interfaces in one place only.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call ``fn`` with only the keyword arguments its signature accepts."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover
        return fn(*args, **kw)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return fn(*args, **kw)
    return fn(*args, **{k: v for k, v in kw.items() if k in sig.parameters})


def _entry(mod: Any, *names: str) -> Callable[..., Any]:
    for n in names:
        fn = getattr(mod, n, None)
        if callable(fn):
            return fn
    raise AttributeError(f"{mod.__name__} has none of {', '.join(names)}")


def monte_carlo_arrays(mc: Any, scen: Any, model: str, params: dict, draws: int, seed: int | None,
                       step: Callable[[float, str], None] | None = None, chunk: int = 250) -> dict[str, Any]:
    """Monte Carlo as ``{draws, rounds, quantiles: {issue: {q: [...]}}, finals: {issue: [...]}}``.

    Draws the scenarios exactly as :func:`detente.analysis.monte_carlo` does
    and simulates them in chunks through :func:`detente.simulate.simulate`,
    keeping every round (for the fan chart), reporting progress and stopping
    between chunks when cancelled. Falls back to the public
    ``monte_carlo(...)`` (final forecasts only, no fan) if the analysis
    package's drawing helpers change.
    """
    keys = scen.issue_keys
    s = int(seed or 0)
    try:
        from ..analysis._draws import check_seed, monte_carlo_draws
        from ..analysis._run import resolve
        from ..simulate import simulate
    except ImportError:
        res = _call(_entry(mc, "monte_carlo"), scen, model=model, params=params, draws=draws, seed=s, progress=False)
        fc = np.asarray(res.forecasts, float)
        return {"draws": int(fc.shape[0]), "rounds": [], "quantiles": {},
                "finals": {k: [float(v) for v in fc[:, d]] for d, k in enumerate(keys)}}
    scen, p, explicit = resolve(scen, model, params)
    dr = monte_carlo_draws(scen, int(draws), check_seed(s))
    pieces = []
    for start in range(0, draws, chunk):
        idx = np.arange(start, min(draws, start + chunk))
        if step is not None:
            step(0.3 + 0.25 * start / draws, f"Monte Carlo: draws {start + 1}-{idx[-1] + 1} of {draws}")
        tr = simulate(scen, model, p, inputs=dr.inputs.take(idx), happened=dr.happened[idx], explicit=explicit)
        pieces.append(np.asarray(tr.forecast, float))
    T1 = max(x.shape[1] for x in pieces)
    fc = np.concatenate([np.concatenate([x, np.repeat(x[:, -1:], T1 - x.shape[1], axis=1)], axis=1) for x in pieces])
    quantiles = {k: {q: [float(v) for v in np.nanquantile(fc[:, :, d], q, axis=0)] for q in QUANTILES}
                 for d, k in enumerate(keys)}
    finals = {k: [float(v) for v in fc[:, -1, d]] for d, k in enumerate(keys)}
    return {"draws": int(fc.shape[0]), "rounds": list(range(T1)), "quantiles": quantiles if T1 > 1 else {},
            "finals": finals}


def sensitivity_rows(sens: Any, scen: Any, model: str, params: dict, seed: int | None) -> dict[str, Any]:
    """One-at-a-time sensitivity: ``{base: {issue: x}, rows: {issue: [(label, at low, at high)]}}``."""
    res = _call(_entry(sens, "sensitivity"), scen, model=model, method="oat", params=params, seed=int(seed or 0),
                progress=False)
    df = res.to_frame()
    rows: dict[str, list] = {}
    base: dict[str, float] = {}
    for r in df.to_dict("records"):
        k = r["issue"]
        rows.setdefault(k, []).append((str(r.get("label") or r.get("input")), float(r["forecast_low"]), float(r["forecast_high"])))
        base[k] = float(r["base"])
    return {"base": base, "rows": rows, "top_drivers": list(res.top_drivers(5))}


def quadrant_arrays(fn: Callable[..., Any], scen: Any, params: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per issue, ``(key, E^i(U_ij), E^i(U_ji))`` at round 0 from ``bdm.expected_utilities``.

    Accepts a result that is a tuple ``(eu_self, eu_other)`` or a dict with
    those keys, with arrays shaped (B, n, n, D), (n, n, D) or (D, n, n).
    """
    inputs = scen.to_inputs()
    res = _call(fn, inputs, params)
    if isinstance(res, dict):
        a, b = res.get("eu_self", res.get("self")), res.get("eu_other", res.get("other"))
    else:
        a, b = res
    a, b = np.asarray(a, float), np.asarray(b, float)
    n, D = len(scen.actors), len(scen.issues)
    out = []
    for d, key in enumerate(scen.issue_keys):
        out.append((key, _slice(a, n, D, d), _slice(b, n, D, d)))
    return out


def _slice(x: np.ndarray, n: int, D: int, d: int) -> np.ndarray:
    if x.ndim == 4:
        x = x[0]
    if x.shape == (n, n, D):
        return x[:, :, d]
    if x.shape == (D, n, n):
        return x[d]
    raise TypeError(f"unexpected expected-utility array shape {x.shape}")
