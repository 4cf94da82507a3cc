"""A scenario's recorded outcome, or one the user gives: which issues, which values, which events.

Shared by :mod:`detente.analysis.score` and :mod:`detente.analysis.explain`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DetenteError, Problem
from ..scenario.schema import Scenario
from ..simulate import most_likely

#: The neighbourhood of an outcome, as a share of its issue's scale (either side): a forecast
#: within it "reproduces" the outcome.
NEIGHBOURHOOD = 0.05


def _problem(field: str, reason: str, file: str | None = None) -> DetenteError:
    return DetenteError([Problem(file, None, field, reason)])


def parse_outcome(scenario: Scenario, outcome: Any, field: str = "outcome") -> dict[str, float]:
    """An outcome as ``{issue key: value}``, from ``"deal=15,sanctions=0"`` or a mapping.

    Every issue must exist and every value be a finite number on its issue's
    scale; a mistake is a :class:`DetenteError` naming the issue and the value.
    """
    if isinstance(outcome, str):
        text = outcome.strip()
        if not text:
            raise _problem(field, "expected issue=value pairs such as deal=15,sanctions=0, got nothing")
        if len(text) > 10_000:
            raise _problem(field, f"at most 10,000 characters, got {len(text):,}")
        pairs: list[tuple[str, Any]] = []
        for part in text.split(","):
            if "=" not in part:
                raise _problem(field, f"expected issue=value, got {part.strip()!r} (e.g. deal=15,sanctions=0)")
            key, _, value = part.partition("=")
            pairs.append((key.strip(), value.strip()))
    elif isinstance(outcome, dict):
        pairs = [(str(k), v) for k, v in outcome.items()]
    else:
        raise _problem(field, f"expected issue=value pairs or a mapping, got {type(outcome).__name__}")
    out: dict[str, float] = {}
    keys = scenario.issue_keys
    for key, value in pairs:
        if key not in keys:
            raise _problem(field, f"unknown issue {key!r}; issues: {', '.join(keys)}")
        if key in out:
            raise _problem(field, f"issue {key!r} is given twice")
        if isinstance(value, bool):
            raise _problem(field, f"{key}: expected a number, got {value!r}")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise _problem(field, f"{key}: expected a number, got {value!r}") from None
        if not math.isfinite(x):
            raise _problem(field, f"{key}: expected a finite number, got {value!r}")
        lo, hi = scenario.issue(key).scale
        if not lo <= x <= hi:
            raise _problem(field, f"{key}: {x:g} is outside the issue's scale [{lo:g}, {hi:g}]")
        out[key] = x
    if not out:
        raise _problem(field, "expected at least one issue=value pair")
    return out


def target_outcome(scenario: Scenario, outcome: Any = None, field: str = "outcome") -> dict[str, float]:
    """The outcome asked for (``outcome``), else the scenario's recorded one; a DetenteError when neither exists."""
    if outcome is not None:
        return parse_outcome(scenario, outcome, field)
    rec = scenario.record
    if rec is None or not rec.issues:
        raise _problem(field, "the scenario records no outcome (add `record: {issues: {KEY: VALUE}}` to it, "
                              "see docs/scenario-format.md) and none was given (e.g. --outcome deal=15)",
                       scenario.source_file)
    return {k: float(rec.issues[k].value) for k in scenario.issue_keys if k in rec.issues}


def recorded_events(scenario: Scenario) -> tuple[np.ndarray, dict[str, str]]:
    """Which events happen: the recorded ones as recorded, the others on their most likely branch.

    Returns the outcomes, shape (E,), and per event where its outcome comes
    from (``"record"`` or ``"most likely"``).
    """
    rec = scenario.record.events if scenario.record is not None else {}
    happened = most_likely(scenario)[0]  # the most likely branch, where the record is silent
    basis: dict[str, str] = {}
    for j, e in enumerate(scenario.events):
        if e.key in rec:
            happened[j] = rec[e.key].happened
        basis[e.key] = "record" if e.key in rec else "most likely"
    return happened, basis


def check_share(x: Any, field: str, high: float = 0.5) -> float:
    """A share of the scale in (0, ``high``]."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and 0 < v <= high):
        raise _problem(field, f"expected a share of the scale above 0 and at most {high:g} (e.g. 0.05 for 5%), got {x!r}")
    return v
