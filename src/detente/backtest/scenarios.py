"""A backtest issue as a scenario with its recorded outcome, so that any analysis can take it.

``detente backtest --explain N`` turns each of a model's largest misses into a
:class:`~detente.scenario.Scenario` (the issue's actors with the positions,
saliences and capabilities the backtest ran, the actual decision as its
``record``) and asks :func:`detente.analysis.explain` what would have had to
differ for the model to forecast it. A model that couples issues
(``COUPLES_ISSUES``) saw the issue's whole proposal, so the scenario holds the
proposal's issues, and the record only the missed one.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

from ..scenario.schema import Scenario
from .data import Dataset
from .run import _proposals


def _key(text: str) -> str:
    """A scenario key from a dataset code (letters, digits, _ - . only)."""
    k = re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(text)).lstrip(".-")
    return k or "x"


def issue_scenario(ds: Dataset, j: int, caps: Sequence[np.ndarray], *, couples_issues: bool = False) -> Scenario:
    """Issue ``j`` of ``ds`` (its proposal, for a model that couples issues) as a scenario recording its outcome.

    ``caps`` are the capabilities the backtest used, per issue (as
    :func:`detente.backtest.capability.capabilities` gives them). Saliences
    are on the 0-1 scale (``salience_scale: 1``); no input has a range, so an
    explanation measures every change in units of its scale.
    """
    idx = [j]
    if couples_issues:
        idx = next(g for g in _proposals(ds) if j in g)
    issues = [ds.issues[i] for i in idx]
    actors: dict[str, dict[str, Any]] = {}
    for i, iss in zip(idx, issues):
        for r, code in enumerate(iss.actors):
            a = actors.setdefault(code, {"key": _key(code), "name": iss.names[r], "positions": {}, "salience": {},
                                         "capability": float(caps[i][r])})
            a["positions"][_key(iss.key)] = float(iss.position[r])
            a["salience"][_key(iss.key)] = float(iss.salience[r])
    for a in actors.values():  # an actor absent from an issue of the proposal takes no part in it
        for iss in issues:
            a["positions"].setdefault(_key(iss.key), float(iss.low))
            a["salience"].setdefault(_key(iss.key), 0.0)
    missed = ds.issues[j]
    raw = {
        "name": f"{ds.name} issue {missed.key}",
        "description": f"Backtest issue {missed.key} ({', '.join(f'{k}={v}' for k, v in missed.meta.items() if v)})",
        "salience_scale": 1,
        "issues": [{"key": _key(iss.key), "scale": [float(iss.low), float(iss.high)],
                    **({} if math.isnan(iss.status_quo) else {"status_quo": float(iss.status_quo)})} for iss in issues],
        "actors": list(actors.values()),
        "record": {"issues": {_key(missed.key): {"value": float(missed.outcome), "why": "the decision taken",
                                                  "source": f"{ds.name} dataset"}}},
    }
    return Scenario.model_validate(raw)


def largest_misses(outcome: np.ndarray, forecast: np.ndarray, n: int) -> list[int]:
    """The indices of the ``n`` issues with the largest absolute error (a model's NaNs left out), largest first."""
    err = np.abs(np.asarray(forecast, float) - np.asarray(outcome, float))
    ok = np.flatnonzero(np.isfinite(err))
    return [int(i) for i in ok[np.argsort(-err[ok], kind="stable")][: max(0, int(n))]]
