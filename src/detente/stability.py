"""Does a forecast settle, cycle or drift, and does it depend on where the rounds stop?

A model that plays rounds (``DYNAMIC``, or one that names the parameter it
iterates in ``ROUNDS_PARAM``, see :mod:`detente.models.base`) gives a forecast
after every round; the headline is the one after the scenario's last round.
That number is only worth printing when the rounds have settled. This module
plays the same run further, to ``2 x horizon + NEAR`` rounds (within the
compute budget's rounds), and reads three things off it per issue:

``cycle_length``
    The length of a cycle of the whole state: the first round whose
    positions (every actor's, on that issue) equal those of an earlier round,
    minus that round. The models are deterministic functions of the
    positions between events, so a repeated state repeats for ever: the
    forecast then goes round the same ``cycle_length`` values whatever the
    horizon. 0 when no state repeats, or when the repeat is of the round
    before (a fixed point: the run has settled).
``range``
    ``[low, high]`` of the forecast over the cycle; without one, over the
    rounds from ``horizon - NEAR`` to the last round examined (so a forecast
    that still drifts or oscillates there shows how far it goes).
``horizon_spread``
    ``max - min`` of the forecast the model gives at horizons ``horizon -
    NEAR .. horizon + NEAR`` (what ``rounds=h`` would print for each h).

A forecast is ``unstable`` when the range or the horizon spread is wider
than :data:`FLAG_SHARE` of the issue's scale: then the forecast depends on
where the rounds stop, and the headline alone would hide it.

States are compared only after the last event that changes the bargaining
within the rounds examined (an event changes what the positions mean).

With Monte Carlo draws the headline is the median of the draws, so its
stability is the median's (:func:`diagnose_median`): every draw is played to
``horizon + NEAR`` and, per round, the median of the draws' forecasts is what
a run stopped after that round would headline. ``horizon_spread`` and
``range`` are the spread of that median over rounds ``horizon - NEAR ..
horizon + NEAR``; ``cycle_length`` the period with which the median repeats
over those rounds (0 when it does not; a window of ``2 NEAR + 1`` rounds shows
periods up to ``NEAR``); ``draws_moving`` the share of draws whose own forecast
moves by more than :data:`FLAG_SHARE` of the scale over them (each draw may
cycle while the median holds, when the draws cycle out of step). The median
is ``unstable`` when its spread exceeds :data:`FLAG_SHARE` of the scale.

Playing further is free of a second run when the model's rounds only stop the
play (``ROUNDS_ONLY_STOP``, see :mod:`detente.models.base`): a longer run, cut,
is the shorter one, so the forecast's own run, when it stopped before its
horizon, already is the longer run held at its final state, and the draws
played to ``horizon + NEAR`` give the headline at ``horizon`` and the nearby
horizons at once. A model without it is played again (the single forecast) or
its median is not diagnosed (Monte Carlo, with a note).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import models
from .models.base import MAX_ROUNDS, ModelParams
from .scenario.schema import Scenario

#: Rounds either side of the horizon whose forecasts make ``horizon_spread``.
NEAR = 2
#: An issue is flagged unstable when its range or horizon spread exceeds this share of its scale.
FLAG_SHARE = 0.01
#: Two states are the same when no position differs by more than this share of the scale.
STATE_TOL = 1e-9


def rounds_param(model: Any) -> str | None:
    """The parameter that sets how many rounds a model plays: ``rounds`` for a dynamic model,
    the model's ``ROUNDS_PARAM`` for one that iterates inside one run, else None (a one-shot model)."""
    if getattr(model, "DYNAMIC", False):
        return "rounds"
    return getattr(model, "ROUNDS_PARAM", None)


def only_stops(model: Any) -> bool:
    """True for a model whose rounds only stop the play (``ROUNDS_ONLY_STOP``): a longer run, cut, is the shorter one."""
    return bool(getattr(model, "ROUNDS_ONLY_STOP", False))


def window(horizon: int, last: int, start: int = 0) -> tuple[int, int]:
    """The first and last round of the nearby horizons (``horizon - NEAR .. horizon + NEAR``): not round 0
    (the input), not before ``start`` (an event changes the bargaining), not after ``last`` (the run)."""
    return max(min(1, horizon), horizon - NEAR, min(start, horizon)), min(last, horizon + NEAR)


def diagnose(forecast: np.ndarray, states: np.ndarray, horizon: int, width: float, *, start: int = 0) -> dict[str, Any]:
    """The stability of one issue from a run played past its horizon.

    Parameters
    ----------
    forecast : ndarray, shape (L + 1,)
        The forecast after every round 0..L (L >= horizon); a run that stopped
        early repeats its final value.
    states : ndarray, shape (L + 1, n)
        Every actor's position after every round (NaN for an actor not taking part).
    horizon : int
        The round whose forecast is the headline.
    width : float
        The issue's scale width (``high - low``).
    start : int
        The first round whose state may be compared (after the last event).

    Returns
    -------
    dict
        ``cycle_length``, ``range``, ``horizon_spread`` (with ``horizons``,
        the first and last round of the window, and ``horizon_range``, the
        lowest and highest forecast in it), ``unstable``, ``settled_at`` (the
        round from which the state no longer changes, or None) and
        ``rounds_examined``.
    """
    f = np.asarray(forecast, float)
    S = np.asarray(states, float)
    L = len(f) - 1
    tol = STATE_TOL * max(width, 1e-300)
    cycle, cyc_from = 0, 0
    settled: int | None = None
    # Each round is compared with every earlier one: to keep that linear in the actors, a round is a
    # candidate only if its sum of positions is within n * tol of this round's (necessary for every
    # position to be within tol, with room for the sums' round-off); only candidates are compared whole.
    Z = np.where(np.isnan(S), 0.0, S)
    sig = Z.sum(axis=1)
    n = max(S.shape[1], 1)
    stol = n * tol + 8 * n * np.finfo(float).eps * (float(np.abs(Z).max(initial=0.0)) + 1.0)
    for t in range(start + 1, L + 1):
        cand = np.flatnonzero(np.abs(sig[start:t] - sig[t]) <= stol)
        if not cand.size:
            continue
        earlier = S[start + cand]
        diff = np.abs(earlier - S[t])
        same = np.all((diff <= tol) | (np.isnan(earlier) & np.isnan(S[t])), axis=1)
        if same.any():
            first = start + int(cand[np.flatnonzero(same)[-1]])  # the most recent equal state
            p = t - first
            if p == 1:
                settled = first
            else:
                cycle, cyc_from = p, first
            break
    # round 0 is the input, not a forecast of the bargaining; an event within the window changes the
    # bargaining itself, so the window starts at the last one
    first_near, last_near = window(horizon, L, start)
    near = f[first_near: last_near + 1]
    spread = float(near.max() - near.min())
    if cycle:
        seg = f[cyc_from: cyc_from + cycle]
    else:
        seg = f[first_near:]
    lo, hi = float(seg.min()), float(seg.max())
    flag = FLAG_SHARE * width
    return {
        "cycle_length": int(cycle),
        "range": [lo, hi],
        "horizon_spread": spread,
        "horizons": [int(first_near), int(last_near)],
        "horizon_range": [float(near.min()), float(near.max())],
        "unstable": bool(hi - lo > flag or spread > flag),
        "settled_at": settled,
        "rounds_examined": int(L),
    }


def diagnose_median(forecasts: np.ndarray, horizon: int, width: float, *, start: int = 0) -> dict[str, Any]:
    """The stability of the Monte Carlo median of one issue (see the module docstring).

    Parameters
    ----------
    forecasts : ndarray, shape (B, L + 1)
        Every draw's forecast after every round 0..L (L >= horizon; a draw that
        stopped early repeats its final value).
    horizon : int
        The round whose median is the headline.
    width : float
        The issue's scale width.
    start : int
        The round of the last event that changes the bargaining (the window starts there at the earliest).

    Returns
    -------
    dict
        ``statistic`` ("median"), ``cycle_length``, ``range``, ``horizon_spread``,
        ``horizons``, ``horizon_range``, ``draws_moving``, ``unstable`` and
        ``rounds_examined``.
    """
    f = np.asarray(forecasts, float)
    L = f.shape[1] - 1
    a, b = window(horizon, L, start)
    near = f[:, a: b + 1]
    med = np.median(near, axis=0)
    lo, hi = float(med.min()), float(med.max())
    tol = STATE_TOL * max(width, 1e-300)
    flag = FLAG_SHARE * width
    cycle = 0
    if hi - lo > tol:  # the smallest period with which the median repeats over the whole window
        for p in range(2, len(med) // 2 + 1):
            if np.all(np.abs(med[p:] - med[:-p]) <= tol):
                cycle = p
                break
    moving = float(np.mean(np.ptp(near, axis=1) > flag)) if len(near) else 0.0
    return {
        "statistic": "median",
        "cycle_length": int(cycle),
        "range": [lo, hi],
        "horizon_spread": hi - lo,
        "horizons": [int(a), int(b)],
        "horizon_range": [lo, hi],
        "draws_moving": moving,
        "unstable": bool(hi - lo > flag),
        "rounds_examined": int(L),
    }


def examined_rounds(horizon: int, max_rounds: int | None = None) -> int:
    """How far a stability check plays: ``2 x horizon + NEAR``, within ``max_rounds`` (and the models' cap)."""
    cap = min(MAX_ROUNDS, max_rounds if max_rounds is not None else MAX_ROUNDS)
    return max(min(2 * horizon + NEAR, cap), min(horizon, cap))


def stability(scenario: Scenario, model_name: str, params: ModelParams, horizon: int, *,
              explicit: set[str] | None = None, seed: int = 0, max_rounds: int | None = None,
              happened: np.ndarray | None = None, run: Any = None, long: Any = None) -> dict[str, dict[str, Any]] | None:
    """Per issue key, the stability of a forecast (see the module docstring); None for a one-shot model.

    Parameters
    ----------
    scenario : Scenario
    model_name : str
    params : ModelParams
        The parameters of the forecast (its ``rounds``/``ROUNDS_PARAM`` is replaced).
    horizon : int
        The rounds the forecast played.
    explicit : set of str, optional
        Parameters the user set (passed to the runner).
    seed : int
    max_rounds : int, optional
        The budget's rounds per run; the check plays no further.
    happened : ndarray of bool, shape (1, E), optional
        The events' outcomes (default: the most likely branch). Events after the
        horizon are left out: the check asks what the bargaining does on its own.
    run : Trajectory, optional
        The forecast's own run to ``horizon`` (on the default branch). When the model's rounds only
        stop the play (:func:`only_stops`) and this run stopped before ``horizon``, the longer run is
        this one held at its final state, and no run is played.
    long : Trajectory, optional
        The run already played to :func:`examined_rounds` on this branch (the default one, events after
        ``horizon`` left out), as :func:`detente.simulate.simulate_prefix` plays it for the forecast: no
        run is played.
    """
    from .simulate import events_within, most_likely, simulate

    model = models.get(model_name)
    name = rounds_param(model)
    if name is None or horizon < 1:
        return None
    L = examined_rounds(horizon, max_rounds)
    p = params.model_copy(update={name: L})
    hap = most_likely(scenario) if happened is None else np.array(happened, dtype=bool).reshape(1, -1)
    if getattr(model, "DYNAMIC", False):  # a one-shot model plays the events within the scenario's horizon anyway
        hap &= events_within(scenario, horizon)[None, :]
    if long is not None:
        tr = long
    elif run is not None and happened is None and only_stops(model) and run.position.shape[1] - 1 < horizon:
        tr = run  # it stopped by itself: played further, it stops at the same round (held below)
    else:
        tr = simulate(scenario, model_name, p, inputs=scenario.to_inputs(seed=seed), happened=hap,
                      explicit=set(explicit or ()) | {"rounds"})
    T = tr.position.shape[1] - 1
    idx = np.minimum(np.arange(L + 1), T)  # a run that stopped early holds its final state
    pos = tr.position[0][idx]  # (L+1, n, D)
    act = tr.extras.get("active")
    if act is not None:
        pos = np.where(act[0][idx][:, :, None], pos, np.nan)
    fc = tr.forecast[0][idx]
    start = bargaining_start(scenario, model, horizon)
    out = {}
    for d, iss in enumerate(scenario.issues):
        out[iss.key] = diagnose(fc[:, d], pos[:, :, d], horizon, float(iss.scale[1] - iss.scale[0]), start=start)
    return out


def bargaining_start(scenario: Scenario, model: Any, horizon: int) -> int:
    """The round from which the bargaining plays on its own: the last event within the horizon that changes
    it, for a model that plays the scenario's rounds; 0 for one that does not."""
    return _last_event(scenario, horizon) if getattr(model, "DYNAMIC", False) else 0


def _last_event(scenario: Scenario, L: int) -> int:
    """The round of the last event (later than round 1, within the horizon ``L``) that changes the bargaining."""
    rounds = [scenario.event_round(e) for e in scenario.events if e.type != "deadline"]
    inside = [r for r in rounds if 1 < r <= L]
    return max(inside, default=0)


#: With draws, a note says when at least this share of draws moves over the nearby horizons while the median holds.
MOVING_NOTE_SHARE = 0.1


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else "<1%"


def short(st: dict[str, Any], fmt: Any = None) -> str:
    """A table cell: ``settled`` / ``stable``, or what makes the forecast unstable (with draws: the median)."""
    show = fmt or (lambda x: f"{x:.3g}")
    if st.get("statistic") == "median":
        a, b = st["horizons"]
        moving = st["draws_moving"]
        if not st["unstable"]:
            return "stable" + (f" ({_pct(moving)} of draws move)" if moving >= MOVING_NOTE_SHARE else "")
        lo, hi = st["horizon_range"]
        cyc = f"alternates with period {st['cycle_length']}; " if st["cycle_length"] else ""
        return f"unstable: {cyc}{show(lo)} to {show(hi)} at rounds {a}-{b}"
    if not st["unstable"]:
        return "settled" if st["settled_at"] is not None else "stable"
    a, b = st["horizons"]
    lo, hi = st["horizon_range"]
    cyc = f"cycle of {st['cycle_length']}; " if st["cycle_length"] else ""
    if hi > lo:
        return f"unstable: {cyc}{show(lo)} to {show(hi)} at rounds {a}-{b}"
    return f"unstable: {cyc}moves {show(st['range'][0])} to {show(st['range'][1])}"


def describe(name: str, st: dict[str, Any], fmt: Any = None) -> str:
    """One sentence for an unstable issue: what its diagnostics mean for the headline (with draws, for the
    median; then also for a median that holds while many draws move, and "" when there is nothing to say)."""
    show = fmt or (lambda x: f"{x:.3g}")
    if st.get("statistic") == "median":
        return _describe_median(name, st, show)
    lo, hi = st["range"]
    parts = []
    if st["cycle_length"]:
        over = (f"over the cycle the forecast goes from {show(lo)} to {show(hi)}" if show(lo) != show(hi)
                else f"the forecast holds at {show(lo)} over the cycle")
        parts.append(f"the bargaining cycles with period {st['cycle_length']} ({over})")
    elif st["settled_at"] is None:
        parts.append(f"the bargaining has not settled after {st['rounds_examined']} rounds (the forecast moves between "
                     f"{show(lo)} and {show(hi)})")
    a, b = st["horizons"]
    hlo, hhi = st["horizon_range"]
    if hhi > hlo:
        parts.append(f"stopping after any of rounds {a} to {b} gives forecasts from {show(hlo)} to {show(hhi)}")
    return f"{name}: unstable forecast: " + "; ".join(parts) + ". The headline depends on where the rounds stop."


def _describe_median(name: str, st: dict[str, Any], show: Any) -> str:
    a, b = st["horizons"]
    lo, hi = st["horizon_range"]
    moving = st["draws_moving"]
    draws = (f"the forecast of {_pct(moving)} of the draws moves by more than {FLAG_SHARE:.0%} of the scale over "
             "those rounds")
    if not st["unstable"]:
        if moving < MOVING_NOTE_SHARE:
            return ""
        return f"{name}: the median holds over rounds {a} to {b} (within {FLAG_SHARE:.0%} of the scale), although {draws}."
    cyc = f", alternating with period {st['cycle_length']}" if st["cycle_length"] else ""
    return (f"{name}: unstable median: stopping after any of rounds {a} to {b} gives medians from {show(lo)} to "
            f"{show(hi)}{cyc}; {draws}. The headline depends on where the rounds stop.")
