"""Run any model over a scenario's timeline: rounds, events and deadlines.

This is the only place that knows about events; models only ever see
:class:`~detente.models.base.Inputs`. A model that plays rounds (``DYNAMIC``,
see :mod:`detente.models.base`) is run in segments between event rounds: the positions it
reaches become the next segment's starting positions, and the events in
between change capabilities, positions, saliences or who takes part. A model
without rounds sees the scenario as it stands once every event within the
horizon has happened.

Events happen per draw (``happened``, shape (B, E)), so a batch of Monte Carlo
draws with different event outcomes runs as one batched call per segment.
Before the first segment the starting spread of each issue is fixed in
``Inputs.span`` (unless the caller set it), so a model that normalises
distances by the initial spread sees the same one in every segment.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from . import _cancel, models
from .models.base import Inputs, ModelParams, Trajectory
from .scenario.schema import Scenario


def most_likely(scenario: Scenario, batch: int = 1) -> np.ndarray:
    """The deterministic branch: an event happens when it is more likely than not (p > 0.5)."""
    p = np.array([e.probability for e in scenario.events], dtype=float)
    return np.broadcast_to(p > 0.5, (batch, len(p))).copy()


def events_within(scenario: Scenario, last: int | None) -> np.ndarray:
    """Which of the scenario's events fall within its first ``last`` rounds (every one for None): an event
    after the last round played is never part of a run."""
    return np.array([last is None or scenario.event_round(e) <= last for e in scenario.events], dtype=bool)


def is_dynamic(model: Any) -> bool:
    """True for a model that plays rounds (its ``DYNAMIC`` flag)."""
    return bool(model.DYNAMIC)


def horizon(scenario: Scenario, model: Any, params: ModelParams, explicit: set[str] | None = None) -> int:
    """How many rounds to play: an explicit ``rounds`` parameter, else the scenario's, else the model's default."""
    if explicit and "rounds" in explicit:
        return int(params.rounds)  # type: ignore[attr-defined]
    if scenario.rounds is not None:
        return scenario.rounds
    return int(params.rounds)  # type: ignore[attr-defined]


def _apply_event(scenario: Scenario, inp: Inputs, e_index: int, mask: np.ndarray) -> Inputs:
    """Apply event ``e_index`` to the draws where ``mask`` is true; returns new inputs."""
    ev = scenario.events[e_index]
    if ev.type == "deadline" or not mask.any():
        return inp
    i = scenario.actor_keys.index(ev.actor)  # type: ignore[arg-type]
    pos, sal, cap, act = inp.position.copy(), inp.salience.copy(), inp.capability.copy(), inp.active.copy()
    if ev.type == "join":
        act[mask, i] = True
    elif ev.type == "leave":
        act[mask, i] = False
    ch = ev.changes
    if ch.capability is not None:
        cap[mask, i] = ch.capability
    for key, x in ch.positions.items():
        pos[mask, i, scenario.issue_keys.index(key)] = x
    for key, x in ch.salience.items():
        sal[mask, i, scenario.issue_keys.index(key)] = x / scenario.salience_scale
    return replace(inp, position=pos, salience=sal, capability=cap, active=act)


def _fit(traj: Trajectory, k: int, records: dict[str, Any]) -> Trajectory:
    """Make a trajectory exactly ``k`` rounds long: cut it, or repeat its final state.

    Padded rounds hold the model's ``ROUND_RECORDS`` value (nothing happened)
    in those extras, and repeat the final round in the others.
    """
    T = traj.position.shape[1] - 1
    if T == k:
        return traj
    if T > k:
        idx = np.arange(k + 1)
    else:
        idx = np.concatenate([np.arange(T + 1), np.full(k - T, T)])
    extras = {name: v[:, idx] for name, v in traj.extras.items()}
    for name, empty in records.items():
        if T < k and name in extras:
            extras[name][:, T + 1 :] = empty
    return Trajectory(
        traj.position[:, idx],
        traj.forecast[:, idx],
        np.minimum(traj.rounds, k),
        extras,
        dict(traj.info),
    )


def simulate(
    scenario: Scenario,
    model_name: str,
    params: ModelParams,
    *,
    inputs: Inputs | None = None,
    happened: np.ndarray | None = None,
    explicit: set[str] | None = None,
) -> Trajectory:
    """Run ``model_name`` over the scenario's timeline for a batch of draws.

    Parameters
    ----------
    scenario : Scenario
    model_name : str
    params : ModelParams
        The model's validated parameters.
    inputs : Inputs, optional
        The draws' starting values (default: the scenario's point values, B = 1).
    happened : ndarray of bool, shape (B, E), optional
        Which events happen in which draw (default: the most likely branch).
    explicit : set of str, optional
        Parameter names the user set explicitly (an explicit ``rounds`` beats
        the scenario's horizon).

    Returns
    -------
    Trajectory
        The whole history; ``info["events_happened"]`` (B, E),
        ``info["ended_round"]`` (B,) and ``extras["active"]`` (B, T+1, n),
        who takes part in each round (the segments' concatenated).
    """
    return _run(scenario, model_name, params, inputs, happened, explicit, forecasts_only=False)


def simulate_forecasts(scenario: Scenario, model_name: str, params: ModelParams, *, inputs: Inputs | None = None,
                       happened: np.ndarray | None = None, explicit: set[str] | None = None,
                       every_round: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The forecasts of :func:`simulate` with these arguments, bit for bit, without the rest of the history.

    Returns ``(final, forecast)``: ``trajectory.final`` (B, D) and ``trajectory.forecast`` (B, T + 1, D)
    (None without ``every_round``: the final forecasts only). A model that plays rounds is run in the same
    segments, but the segments' positions and the model's extras are not joined into one history (what an
    analysis over many draws never reads: joining them was a tenth of a Sobol analysis of the flagship with
    smp); a model with the protocol's ``run_forecasts`` does not build them at all.
    """
    tr = _run(scenario, model_name, params, inputs, happened, explicit, forecasts_only=True, every_round=every_round)
    return tr.final, (tr.forecast if every_round else None)


def _run(scenario: Scenario, model_name: str, params: ModelParams, inputs: Inputs | None, happened: np.ndarray | None,
         explicit: set[str] | None, forecasts_only: bool, every_round: bool = True) -> Trajectory:
    """:func:`simulate` (with ``forecasts_only``, a trajectory whose forecasts, rounds and info only are the run's)."""
    _cancel.check()
    model = models.get(model_name)
    inp, hap, rounds_of = _timeline(scenario, inputs, happened)
    if not is_dynamic(model):
        return _simulate_static(scenario, model, params, inp, hap, rounds_of, forecasts_only=forecasts_only,
                                every_round=every_round)
    H = horizon(scenario, model, params, explicit)
    return _simulate_dynamic(scenario, model, params, inp, hap, rounds_of, H, forecasts_only=forecasts_only,
                             every_round=every_round)[0]


def simulate_prefix(
    scenario: Scenario,
    model_name: str,
    params: ModelParams,
    shorter: int,
    *,
    inputs: Inputs | None = None,
    happened: np.ndarray | None = None,
    explicit: set[str] | None = None,
) -> tuple[Trajectory, Trajectory]:
    """One run, and the run with fewer rounds read off it (a model that declares ``TRUNCATE_INFO``).

    Returns ``(run, prefix)``: what :func:`simulate` returns with these arguments, and what it returns
    with ``rounds`` set to ``shorter`` (the same, bit for bit: the model's segment that ``shorter``
    ends in is cut by :func:`detente.models.base.truncate` instead of played again).

    Raises
    ------
    ValueError
        For a model that plays no rounds or does not declare ``TRUNCATE_INFO``, or ``shorter`` outside
        1 .. the run's rounds.
    """
    _cancel.check()
    model = models.get(model_name)
    if not is_dynamic(model) or getattr(model, "TRUNCATE_INFO", None) is None:
        raise ValueError(f"{model_name}: a run with fewer rounds cannot be read off a longer one (TRUNCATE_INFO)")
    inp, hap, rounds_of = _timeline(scenario, inputs, happened)
    H = horizon(scenario, model, params, explicit)
    if not 1 <= shorter <= H:
        raise ValueError(f"expected a shorter run of 1 to {H} rounds, got {shorter}")
    out, prefix = _simulate_dynamic(scenario, model, params, inp, hap, rounds_of, H, int(shorter))
    assert prefix is not None
    return out, prefix


def _timeline(scenario: Scenario, inputs: Inputs | None,
              happened: np.ndarray | None) -> tuple[Inputs, np.ndarray, list[int]]:
    """The draws' inputs (default: the point values), which events happen in each (default: the most likely
    branch), and every event's round."""
    inp = scenario.to_inputs() if inputs is None else inputs
    B = inp.shape[0]
    E = len(scenario.events)
    hap = most_likely(scenario, B) if happened is None else np.asarray(happened, dtype=bool).reshape(B, E)
    return inp, hap, [scenario.event_round(e) for e in scenario.events]


def _simulate_dynamic(scenario: Scenario, model: Any, params: ModelParams, inp: Inputs, hap: np.ndarray,
                      rounds_of: list[int], H: int, cut_at: int | None = None, forecasts_only: bool = False,
                      every_round: bool = True) -> tuple[Trajectory, Trajectory | None]:
    """:func:`simulate` of a model that plays rounds, to ``H`` rounds; with ``cut_at``, also the run to
    ``cut_at`` rounds, read off this one (see :func:`simulate_prefix`). With ``forecasts_only`` (not with
    ``cut_at``), only the result's ``forecast``, ``rounds`` and ``info`` are the run's: its ``position``
    has no actors and its ``extras`` are empty (see :func:`simulate_forecasts`); without ``every_round`` (a model
    with ``run_forecasts``) only its final forecasts are the run's."""
    from .models.base import truncate

    B, E = hap.shape
    order = sorted(range(E), key=lambda e: (rounds_of[e], scenario.events[e].type != "deadline"))
    alive = np.ones(B, dtype=bool)
    ended = np.full(B, H, dtype=int)
    # events at rounds 0 and 1 shape the starting state
    for e in order:
        if rounds_of[e] <= 1:
            if scenario.events[e].type == "deadline":
                ended[alive & hap[:, e]] = 0
                alive &= ~hap[:, e]
            inp = _apply_event(scenario, inp, e, hap[:, e] & alive)
    if inp.span is None:
        # the initial spread of each issue over the actors taking part at the start, held
        # for every segment (models that normalise by it must not re-measure it after events)
        inp = replace(inp, span=_span(inp))
    boundaries = sorted({r for r in rounds_of if 1 < r <= H}) + [H + 1]
    pieces: list[Trajectory] = []
    cut: list[Trajectory] | None = None  # the pieces of the run to cut_at rounds
    D = inp.shape[2]
    idle = np.zeros((B, D), dtype=bool)
    past: np.ndarray | None = None
    # a model's own forecasts-only run (the protocol's optional hook; it reads no earlier positions)
    fast = getattr(model, "run_forecasts", None) if forecasts_only and cut_at is None else None
    t = 0
    for b in boundaries:
        k = b - 1 - t
        if k > 0 and fast is not None:
            _cancel.check()
            tr, inp = _segment_forecasts(fast, inp, params.model_copy(update={"rounds": k}), k,
                                         ~alive[:, None] | idle, every_round)
            idle |= _stopped(tr, k, D)
            pieces.append(tr)
            t = b - 1
        elif k > 0:
            _cancel.check()
            seg_params = params.model_copy(update={"rounds": k})
            inp = replace(inp, past=past)
            raw = model.run(inp, seg_params)
            if cut_at is not None and cut is None and t < cut_at <= b - 1:  # the shorter run ends in this segment
                # read off the model's own output (before the runner holds anything: _freeze writes in place)
                short = _fit(truncate(model, raw, cut_at - t), cut_at - t, model.ROUND_RECORDS)
                _freeze(short, ~alive[:, None] | idle, model.ROUND_RECORDS)
                cut = [*pieces, short]
            tr = _fit(raw, k, model.ROUND_RECORDS)
            if forecasts_only:
                tr = replace(tr, extras={})
            # Draws past their deadline stay where they were, and so do draws (or, for a model
            # that reports per-issue rounds, issues) whose model had already stopped (converged
            # or cycled) when no event since has changed anything.
            _freeze(tr, ~alive[:, None] | idle, model.ROUND_RECORDS)
            inp = replace(inp, position=tr.position[:, -1].copy())
            # every state before the next segment's start, for models that detect repeats
            seen = tr.position[:, :-1]
            past = seen.copy() if past is None else np.concatenate([past, seen], axis=1)
            idle |= _stopped(tr, k, D)
            if forecasts_only:  # the positions are read: keep only their round axis (the joins use its length)
                tr = replace(tr, position=tr.position[:, :, :0])
            pieces.append(tr)
            t = b - 1
        before = inp
        for e in order:
            if rounds_of[e] == b:
                if scenario.events[e].type == "deadline":
                    ended[alive & hap[:, e]] = b - 1
                    alive &= ~hap[:, e]
                inp = _apply_event(scenario, inp, e, hap[:, e] & alive)
        changed = _changed(before, inp)
        idle &= ~changed[:, None]
        if past is not None and changed.any():
            past[changed] = np.nan  # earlier states no longer describe the same bargaining
    out = _joined(model, pieces, hap, rounds_of, H, ended)
    if cut is None or cut_at is None:
        return out, None
    return out, _joined(model, cut, hap, rounds_of, cut_at, np.minimum(ended, cut_at))


def _segment_forecasts(fast: Any, inp: Inputs, seg_params: ModelParams, k: int, mask: np.ndarray,
                       every_round: bool = True) -> tuple[Trajectory, Inputs]:
    """One segment of ``k`` rounds with a model's ``run_forecasts``: the segment as :func:`_simulate_dynamic`'s
    forecasts-only pieces hold it (its ``position`` without actors) and the next segment's inputs. As
    :func:`_fit` and :func:`_freeze` treat ``run``'s result: the forecasts cut or padded to ``k`` rounds, and
    where ``mask`` (B, D) is true the segment's start held (forecast and final positions). Without
    ``every_round`` the model gives the first and last state's forecasts, and the rounds between hold the last."""
    raw = fast(replace(inp, past=None), seg_params, every_round=every_round)
    final = np.array(raw.position[:, -1], dtype=float)  # (B, n, D); a copy the next segment may own
    T = raw.forecast.shape[1] - 1
    forecast = raw.forecast
    if not every_round:
        forecast = forecast[:, np.minimum(np.arange(k + 1), 1)]
    elif T != k:
        if T > k:
            raise ValueError(f"run_forecasts played {T} rounds where {k} were asked for")  # pragma: no cover
        forecast = forecast[:, np.concatenate([np.arange(T + 1), np.full(k - T, T)])]
    else:
        forecast = forecast.copy() if not forecast.flags.writeable else forecast
    rounds = np.minimum(raw.rounds, k)
    info = dict(raw.info)
    if mask.any():
        b, d = np.nonzero(mask)
        forecast[b, :, d] = forecast[b, :1, d]
        final[b, :, d] = np.asarray(inp.position, dtype=float)[b, :, d]
        per_issue = info.get("issue_rounds")
        if per_issue is not None and np.shape(per_issue) == mask.shape:
            per_issue[mask] = 0
        whole = mask.all(axis=1)
        rounds[whole] = 0
    B, D = forecast.shape[0], forecast.shape[2]
    tr = Trajectory(np.empty((B, k + 1, 0, D)), forecast, rounds, {}, info)
    return tr, replace(inp, position=final)


def _joined(model: Any, pieces: list[Trajectory], hap: np.ndarray, rounds_of: list[int], H: int,
            ended: np.ndarray) -> Trajectory:
    """The segments of a run to ``H`` rounds as its trajectory."""
    out = _concat(pieces)
    # A model that stopped early (converged) in the last segment: drop the padding after it.
    last_start = out.position.shape[1] - 1 - (pieces[-1].position.shape[1] - 1)
    played = int(last_start + pieces[-1].rounds.max(initial=0))
    out = _fit(out, played, model.ROUND_RECORDS)
    # an event after the last round is outside the run: it did not happen in it
    out.info["events_happened"] = hap & (np.array(rounds_of, dtype=int) <= H)[None, :]
    out.info["ended_round"] = ended
    return out


def _stopped(tr: Trajectory, k: int, D: int) -> np.ndarray:
    """(B, D): which draws (issues, where the model reports ``info["issue_rounds"]``) stopped before round k."""
    per_issue = tr.info.get("issue_rounds")
    if per_issue is not None and np.shape(per_issue) == (tr.position.shape[0], D):
        return np.asarray(per_issue) < k
    return np.repeat((tr.rounds < k)[:, None], D, axis=1)


def _freeze(tr: Trajectory, mask: np.ndarray, records: dict[str, Any]) -> None:
    """Hold the start state of a segment where ``mask`` (B, D) is true (in place).

    A frozen issue of a draw that goes on keeps its start positions and
    forecast, and counts no rounds in ``info["issue_rounds"]``. A whole frozen
    draw (every issue masked) counts no rounds and plays none: every per-round
    array repeats the segment's start, except the model's ``records``
    (``ROUND_RECORDS``: what happened during a round), which hold their
    "nothing happened" value after round 0.
    """
    if not mask.any():
        return
    b, d = np.nonzero(mask)
    tr.position[b, :, :, d] = tr.position[b, :1, :, d]
    tr.forecast[b, :, d] = tr.forecast[b, :1, d]
    per_issue = tr.info.get("issue_rounds")
    if per_issue is not None and np.shape(per_issue) == mask.shape:
        per_issue[mask] = 0
    whole = mask.all(axis=1)
    if whole.any():
        tr.rounds[whole] = 0
        for name, v in tr.extras.items():
            v[whole, 1:] = records[name] if name in records else v[whole, :1]


def _changed(a: Inputs, b: Inputs) -> np.ndarray:
    """Per draw: did anything a model sees differ between ``a`` and ``b``? Shape (B,)."""
    return (
        (a.position != b.position).any(axis=(1, 2))
        | (a.salience != b.salience).any(axis=(1, 2))
        | (a.capability != b.capability).any(axis=1)
        | (a.active != b.active).any(axis=1)
    )


def _span(inp: Inputs) -> np.ndarray:
    """max - min of the active actors' positions per draw and issue, (B, D); NaN for a draw without one."""
    act = inp.active[:, :, None]
    hi = np.where(act, inp.position, -np.inf).max(axis=1)
    lo = np.where(act, inp.position, np.inf).min(axis=1)
    return np.where(np.asarray(inp.active.any(axis=1))[:, None], hi - lo, np.nan)


def _concat(pieces: list[Trajectory]) -> Trajectory:
    """The segments of a run as one trajectory (each segment's round 0 is the previous one's last round).

    ``info`` describes the end of the run: the last segment's, except
    ``issue_rounds``, which counts the rounds of every segment.
    """
    first = pieces[0]
    if len(pieces) == 1:
        return first
    cat = lambda arrs: np.concatenate([arrs[0]] + [a[:, 1:] for a in arrs[1:]], axis=1)  # noqa: E731
    extras: dict[str, np.ndarray] = {name: cat([p.extras[name] for p in pieces]) for name in first.extras}
    info: dict[str, np.ndarray] = dict(pieces[-1].info)
    if "issue_rounds" in info:
        info["issue_rounds"] = np.sum([p.info["issue_rounds"] for p in pieces], axis=0)
    return Trajectory(
        cat([p.position for p in pieces]),
        cat([p.forecast for p in pieces]),
        np.sum([p.rounds for p in pieces], axis=0),
        extras,
        info,
    )


def _simulate_static(scenario: Scenario, model: Any, params: ModelParams, inp: Inputs, hap: np.ndarray,
                     rounds_of: list[int], *, forecasts_only: bool = False, every_round: bool = True) -> Trajectory:
    """:func:`simulate` of a model that plays no rounds of the timeline: the events up to the scenario's horizon
    applied, then one run. With ``forecasts_only``, a model's ``run_forecasts`` (the protocol's optional hook) runs
    instead of ``run``: only the result's forecasts (without ``every_round``, the first and last), rounds and info
    are the run's."""
    B = inp.shape[0]
    H = scenario.rounds
    order = sorted(range(len(rounds_of)), key=lambda e: (rounds_of[e], scenario.events[e].type != "deadline"))
    alive = np.ones(B, dtype=bool)
    ended = np.full(B, -1 if H is None else H, dtype=int)
    for e in order:
        if H is not None and rounds_of[e] > H:
            continue
        if scenario.events[e].type == "deadline":
            ended[alive & hap[:, e]] = rounds_of[e] - 1
            alive &= ~hap[:, e]
            continue
        inp = _apply_event(scenario, inp, e, hap[:, e] & alive)
    fast = getattr(model, "run_forecasts", None) if forecasts_only else None
    tr = model.run(inp, params) if fast is None else fast(inp, params, every_round=every_round)
    tr.info["events_happened"] = hap if H is None else hap & (np.array(rounds_of, dtype=int) <= H)[None, :]
    tr.info["ended_round"] = ended
    return tr
