"""The conformance suite: does a model module keep detente's model protocol?

Like scikit-learn's ``check_estimator``, :func:`check_model` runs every check
of this module on a model (a registry name or a module) and raises
:class:`ConformanceError` naming each check that failed and why. Each check is
also a function of its own, taking the model, the inputs and the parameters,
so a test can drive it with its own (e.g. hypothesis-generated) scenarios;
``tests/test_conformance.py`` does that for every registered model.

The checks (names as in :data:`CHECKS`):

``attributes``
    ``NAME``, ``SUMMARY``, ``CITATION`` are non-empty strings, ``DYNAMIC``
    (and ``COUPLES_ISSUES``, if given) a bool, ``run`` callable, a dynamic
    model's ``ROUND_RECORDS`` a dict; the optional hooks, if present, are
    callable.
``params``
    ``Params`` subclasses :class:`~detente.models.base.ModelParams`, is frozen
    and forbids unknown fields, ``Params()`` is valid; a dynamic model's has an
    integer ``rounds`` field.
``output``
    Shapes and dtypes of the :class:`~detente.models.base.Trajectory`
    (``position`` (B, T+1, n, D), ``forecast`` (B, T+1, D), ``rounds`` (B,)
    integers in [0, T], round 0 the input, a dynamic model's T <= ``rounds``, every extra and info array with the leading batch
    axes, ``extras["active"]`` equal to ``inputs.active`` in every round; a
    dynamic model's ``ROUND_RECORDS`` are extras, holding their "nothing
    happened" value in the rounds after a draw stopped),
    finite positions and forecasts, inactive actors that never move, and
    positions and forecasts within each issue's scale.
``deterministic``
    The same inputs (seeds included) give the same result, bit for bit.
``batched``
    Each draw of a batch equals that draw run alone, bit for bit.
``inactive``
    An inactive actor is exactly a removed one (bit for bit).
``order``
    Permuting the actors permutes their positions and leaves the forecasts
    and round counts unchanged (up to round-off, on generic inputs).
``affine``
    Rescaling an issue's scale (x -> a x + b, a power of two, b an integer,
    positions, scale and status quo alike) transforms positions and forecasts
    the same way and leaves the round counts unchanged.
``needs``
    Without a status quo the model either runs or raises
    :class:`~detente.models.base.ModelInputError`, nothing else.
``hooks``
    ``moves`` returns :data:`~detente.models.base.Move` rows consistent with
    the trajectory (one per changed actor-issue cell, ``from``/``to`` the
    positions before and after the round, none in round 0);
    ``render_round`` and ``summarize`` return JSON-serialisable dicts (no
    ``moves`` key in ``render_round``, one entry per issue in
    ``summarize``); no hook mentions an actor in a round it does not take
    part in (``extras["active"]``); ``perspective`` returns (B, n, n, D)
    arrays, finite exactly off the diagonal between actors taking part.
``rounds_only_stop``
    For a model that declares ``ROUNDS_ONLY_STOP``: a run given more rounds,
    cut after the rounds of a shorter one, has the shorter run's positions,
    forecasts and extras, bit for bit (a run that stopped early repeats its
    final round), so that one long run can stand for every shorter horizon.

``truncate``
    For a model that declares ``TRUNCATE_INFO``: the whole trajectory of a
    run given more rounds, read off by :func:`~detente.models.base.truncate`
    at the rounds of a shorter run (and at one round), equals the shorter run
    bit for bit: shapes, positions, forecasts, ``rounds``, every extra and
    every ``info`` array.

``forecasts_only``
    For a model that defines ``run_forecasts``: its forecasts, ``rounds``
    and every ``info`` array equal ``run``'s bit for bit, its ``position`` is
    ``run``'s final state alone (B, 1, n, D), and its ``extras`` are empty;
    with ``every_round=False`` its forecasts are ``run``'s first and last.

A model may declare checks it is documented not to pass with a function
``conformance_exceptions(params) -> {check: reason}``; they are skipped for
those parameters and reported with the reason. The checks of
:data:`NOT_EXEMPTABLE` (the protocol's core) admit no exception. ``CONFORMANCE_PARAMS`` (a sequence of parameter dicts) adds
parameter sets to the defaults. Dynamic models run with at most
:data:`MAX_ROUNDS` rounds here, so that the suite stays fast.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any, Callable, Iterable, NoReturn

import numpy as np

from .base import Inputs, ModelInputError, ModelParams, Trajectory, truncate

CHECKS = ("attributes", "params", "output", "deterministic", "batched", "inactive", "order", "affine", "needs", "hooks",
          "rounds_only_stop", "truncate", "forecasts_only")
#: The core of the protocol, which no model may declare an exception for: a model that could
#: skip them all would pass the suite while checking nothing.
NOT_EXEMPTABLE = ("attributes", "params", "output", "deterministic", "batched")
#: Most rounds a dynamic model plays in the suite.
MAX_ROUNDS = 4
#: Positions of generated scenarios lie on a grid of this step (a power of two), so that
#: shifting a scale by an integer and scaling it by a power of two are exact.
GRID = 2.0**-6
MOVE_KEYS = {"actor", "issue", "from", "to", "counterpart", "kind", "why"}
_HOOKS = ("moves", "render_round", "summarize", "perspective", "warmup", "cost", "run_forecasts")


class ConformanceError(AssertionError):
    """A model does not keep the protocol; the message lists every failed check."""


# ----------------------------------------------------------------------------- inputs


def random_inputs(
    rng: np.random.Generator,
    B: int = 3,
    n: int = 5,
    D: int = 2,
    *,
    generic: bool = True,
    inactive: bool = False,
) -> Inputs:
    """A batch of B random scenarios of n actors on D issues.

    Parameters
    ----------
    rng : numpy Generator
    B, n, D : int
    generic : bool
        True: distinct positions on a fine grid, capabilities and saliences
        bounded away from zero (no ties for a model to break). False:
        degenerate values a model must survive: positions from a few grid
        points (ties, coinciding actors), zero saliences and capabilities.
    inactive : bool
        Make about a quarter of the actors inactive (at least one stays active
        in every draw).

    Returns
    -------
    Inputs
        Scales with integer ends (a random width between 1 and 200), positions
        and a status quo on each scale's grid of step :data:`GRID`, one seed
        per draw.
    """
    low = rng.integers(-100, 100, D).astype(float)
    high = low + rng.integers(1, 200, D)
    steps = ((high - low) / GRID).astype(np.int64)
    if generic:
        k = rng.integers(0, steps + 1, (B, n, D))
        sal = rng.uniform(0.05, 1.0, (B, n, D))
        cap = rng.uniform(0.1, 1.0, (B, n))
    else:
        few = rng.integers(0, steps + 1, (3, D))
        k = few[rng.integers(0, 3, (B, n, D)), np.arange(D)]
        sal = rng.choice([0.0, 0.3, 1.0], (B, n, D))
        cap = rng.choice([0.0, 0.5, 1.0], (B, n))
    pos = low + k * GRID
    act = np.ones((B, n), dtype=bool)
    if inactive:
        act = rng.random((B, n)) > 0.25
        act[np.arange(B), rng.integers(0, n, B)] = True
    sq = low + rng.integers(0, steps + 1) * GRID
    seed = rng.integers(0, 2**63, B, dtype=np.int64).astype(np.uint64)
    return Inputs(pos, sal, cap, act, low, high, sq, seed)


def params_to_check(model: ModuleType) -> list[ModelParams]:
    """The defaults and each of ``CONFORMANCE_PARAMS``, a dynamic model's rounds capped at :data:`MAX_ROUNDS`."""
    out = []
    for extra in ({}, *getattr(model, "CONFORMANCE_PARAMS", ())):
        p = model.Params(**extra)
        if model.DYNAMIC:
            p = p.model_copy(update={"rounds": min(int(p.rounds), MAX_ROUNDS)})
        if p not in out:
            out.append(p)
    return out


# ----------------------------------------------------------------------------- helpers


def _resolve(model: str | ModuleType) -> ModuleType:
    if isinstance(model, str):
        from .registry import get

        return get(model)
    return model


def _fail(check: str, model: ModuleType, msg: str) -> NoReturn:
    raise ConformanceError(f"{getattr(model, 'NAME', model)}: {check}: {msg}")


def _equal(check: str, model: ModuleType, what: str, a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"):
        diff = "shapes differ" if a.shape != b.shape else f"{int((a != b).sum())} entries differ"
        _fail(check, model, f"{what}: {diff} {a.shape} vs {b.shape}")


def _close(check: str, model: ModuleType, what: str, a: Any, b: Any, atol: Any) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        _fail(check, model, f"{what}: shapes differ {a.shape} vs {b.shape}")
    bad = ~(np.abs(a - b) <= atol)
    if bad.any():
        _fail(check, model, f"{what}: {int(bad.sum())} entries differ, largest by {float(np.abs(a - b).max()):.3g}")


def _padded(a: np.ndarray, T1: int) -> np.ndarray:
    """``a`` (leading axes B, T+1) with its final round repeated up to T1 rounds."""
    if a.shape[1] >= T1:
        return a
    return np.concatenate([a, np.repeat(a[:, -1:], T1 - a.shape[1], axis=1)], axis=1)


def _width(inputs: Inputs) -> np.ndarray:
    return np.asarray(inputs.high, float) - np.asarray(inputs.low, float)


# ----------------------------------------------------------------------------- the checks


def check_attributes(model: str | ModuleType) -> None:
    """The protocol's names exist with the right types."""
    m = _resolve(model)
    for name in ("NAME", "SUMMARY", "CITATION"):
        v = getattr(m, name, None)
        if not isinstance(v, str) or not v.strip():
            _fail("attributes", m, f"{name} must be a non-empty string")
    if not isinstance(getattr(m, "DYNAMIC", None), bool):
        _fail("attributes", m, "DYNAMIC must be True or False (does the model play rounds?)")
    if not isinstance(getattr(m, "COUPLES_ISSUES", False), bool):
        _fail("attributes", m, "COUPLES_ISSUES must be a bool")
    if not callable(getattr(m, "run", None)):
        _fail("attributes", m, "run must be callable")
    for hook in _HOOKS:
        if hasattr(m, hook) and not callable(getattr(m, hook)):
            _fail("attributes", m, f"{hook} must be callable")
    if m.DYNAMIC and not isinstance(getattr(m, "ROUND_RECORDS", None), dict):
        _fail("attributes", m, "a dynamic model needs ROUND_RECORDS, a dict mapping the extras that record a round "
                               "to their 'nothing happened' value ({} for none)")
    if hasattr(m, "conformance_exceptions") and not callable(m.conformance_exceptions):
        _fail("attributes", m, "conformance_exceptions must be a function of the parameters")


def check_params(model: str | ModuleType) -> None:
    """``Params``: a frozen ModelParams that forbids unknown fields, valid by default."""
    from pydantic import ValidationError

    m = _resolve(model)
    P = getattr(m, "Params", None)
    if not (isinstance(P, type) and issubclass(P, ModelParams)):
        _fail("params", m, "Params must subclass detente.models.base.ModelParams")
    cfg = P.model_config
    if not cfg.get("frozen") or cfg.get("extra") != "forbid":
        _fail("params", m, "Params must be frozen with extra='forbid'")
    p = P()
    try:
        P(**{"surely_not_a_parameter": 1})
    except ValidationError:
        pass
    else:
        _fail("params", m, "an unknown parameter was accepted")
    fields = list(P.model_fields)
    if fields:
        try:
            setattr(p, fields[0], getattr(p, fields[0]))
        except ValidationError:
            pass
        else:
            _fail("params", m, "Params could be changed after construction")
    if m.DYNAMIC:
        if "rounds" not in P.model_fields or not isinstance(p.model_dump()["rounds"], int):
            _fail("params", m, "a dynamic model's Params needs an integer field 'rounds'")


def check_output(model: str | ModuleType, inputs: Inputs, params: ModelParams, traj: Trajectory | None = None) -> Trajectory:
    """Shapes, dtypes, finiteness, the input as round 0, inactive actors still, everything within the scales."""
    m = _resolve(model)
    tr = m.run(inputs, params) if traj is None else traj
    B, n, D = inputs.shape
    if not isinstance(tr, Trajectory):
        _fail("output", m, f"run returned {type(tr).__name__}, not a Trajectory")
    if tr.position.ndim != 4 or tr.position.shape[0] != B or tr.position.shape[2:] != (n, D):
        _fail("output", m, f"position has shape {tr.position.shape}, expected ({B}, T+1, {n}, {D})")
    T1 = tr.position.shape[1]
    if tr.forecast.shape != (B, T1, D):
        _fail("output", m, f"forecast has shape {tr.forecast.shape}, expected {(B, T1, D)}")
    if tr.position.dtype.kind != "f" or tr.forecast.dtype.kind != "f":
        _fail("output", m, "position and forecast must be float arrays")
    if tr.rounds.shape != (B,) or tr.rounds.dtype.kind not in "iu":
        _fail("output", m, f"rounds must be integers of shape ({B},), got {tr.rounds.dtype} {tr.rounds.shape}")
    if (tr.rounds < 0).any() or (tr.rounds > T1 - 1).any():
        _fail("output", m, f"rounds must lie in [0, {T1 - 1}]")
    if m.DYNAMIC and T1 - 1 > params.rounds:  # type: ignore[attr-defined]
        _fail("output", m, f"{T1 - 1} rounds played with rounds={params.rounds}")  # type: ignore[attr-defined]
    for name, v in tr.extras.items():
        if np.shape(v)[:2] != (B, T1):
            _fail("output", m, f"extras[{name!r}] has shape {np.shape(v)}, expected leading ({B}, {T1})")
    for name, v in tr.info.items():
        if np.shape(v)[:1] != (B,):
            _fail("output", m, f"info[{name!r}] has shape {np.shape(v)}, expected leading ({B},)")
    if "issue_rounds" in tr.info and np.shape(tr.info["issue_rounds"]) != (B, D):
        _fail("output", m, f"info['issue_rounds'] must have shape ({B}, {D})")
    if "active" not in tr.extras:
        _fail("output", m, "extras['active'] (who takes part in each round) is missing")
    if m.DYNAMIC:
        after = np.arange(T1)[None, :] > tr.rounds[:, None]  # (B, T1): the rounds a draw did not play
        for name, empty in m.ROUND_RECORDS.items():
            if name not in tr.extras:
                _fail("output", m, f"ROUND_RECORDS names {name!r}, which is not one of the extras")
            v = np.asarray(tr.extras[name])
            held = v[after]
            if not (held == empty).all():
                _fail("output", m, f"extras[{name!r}] holds something else than its 'nothing happened' value "
                                   f"{empty!r} in a round after the draw stopped")
    _equal("output", m, "extras['active']", tr.extras["active"], Trajectory.active_rounds(inputs, T1 - 1))
    if not np.isfinite(tr.position).all() or not np.isfinite(tr.forecast).all():
        _fail("output", m, "non-finite positions or forecasts")
    _equal("output", m, "round 0 positions", tr.position[:, 0], inputs.position)
    still = inputs.active[:, None, :, None] | (tr.position == tr.position[:, :1])
    if not still.all():
        _fail("output", m, "an inactive actor moved")
    tol = 1e-9 * _width(inputs)
    lo, hi = np.asarray(inputs.low, float) - tol, np.asarray(inputs.high, float) + tol
    if not ((tr.forecast >= lo) & (tr.forecast <= hi)).all():
        _fail("output", m, "a forecast lies outside its issue's scale")
    if not ((tr.position >= lo) & (tr.position <= hi)).all():
        _fail("output", m, "a position left its issue's scale")
    return tr


def _same_trajectory(check: str, m: ModuleType, a: Trajectory, b: Trajectory) -> None:
    _equal(check, m, "position", a.position, b.position)
    _equal(check, m, "forecast", a.forecast, b.forecast)
    _equal(check, m, "rounds", a.rounds, b.rounds)
    for k in set(a.extras) | set(b.extras):
        _equal(check, m, f"extras[{k!r}]", a.extras.get(k), b.extras.get(k))
    for k in set(a.info) | set(b.info):
        _equal(check, m, f"info[{k!r}]", a.info.get(k), b.info.get(k))


def check_deterministic(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """Two runs on the same inputs (and seeds) agree bit for bit."""
    m = _resolve(model)
    _same_trajectory("deterministic", m, m.run(inputs, params), m.run(inputs, params))


def check_batched(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """Each draw of the batch equals the draw run alone (bit for bit; a shorter run repeats its final state)."""
    m = _resolve(model)
    whole = m.run(inputs, params)
    T1 = whole.position.shape[1]
    for b in range(inputs.shape[0]):
        alone = m.run(inputs.take(slice(b, b + 1)), params)
        part = whole.take(slice(b, b + 1))
        t1 = alone.position.shape[1]
        if t1 > T1:
            _fail("batched", m, f"draw {b} alone runs {t1 - 1} rounds, the batch {T1 - 1}")
        _equal("batched", m, f"position of draw {b}", part.position, _padded(alone.position, T1))
        _equal("batched", m, f"forecast of draw {b}", part.forecast, _padded(alone.forecast, T1))
        _equal("batched", m, f"rounds of draw {b}", part.rounds, alone.rounds)
        for k, v in alone.extras.items():
            _equal("batched", m, f"extras[{k!r}] of draw {b}", part.extras[k][:, :t1], v)
        for k, v in alone.info.items():
            _equal("batched", m, f"info[{k!r}] of draw {b}", part.info[k], v)


def check_inactive(model: str | ModuleType, inputs: Inputs, params: ModelParams, rel: float = 0.0) -> None:
    """Each draw equals the same draw with its inactive actors removed.

    Bit for bit by default; with ``rel > 0``, positions and forecasts to
    within ``rel`` times the issue's scale (for a model documented to agree
    only up to round-off), round counts still exactly.
    """
    m = _resolve(model)
    full = m.run(inputs, params)
    same = (lambda what, a, b: _equal("inactive", m, what, a, b)) if rel == 0 else \
        (lambda what, a, b: _close("inactive", m, what, a, b, rel * _width(inputs)))
    for b in range(inputs.shape[0]):
        keep = np.flatnonzero(inputs.active[b])
        one = inputs.take(slice(b, b + 1))
        cut = Inputs(one.position[:, keep], one.salience[:, keep], one.capability[:, keep], one.active[:, keep],
                     one.low, one.high, one.status_quo, one.seed)
        alone = m.run(one, params)
        removed = m.run(cut, params)
        same(f"positions of draw {b}", alone.position[:, :, keep], removed.position)
        same(f"forecast of draw {b}", alone.forecast, removed.forecast)
        _equal("inactive", m, f"rounds of draw {b}", alone.rounds, removed.rounds)
        _equal("inactive", m, f"forecast of draw {b} in the batch", full.forecast[b, : alone.forecast.shape[1]],
               alone.forecast[0])


def check_order(model: str | ModuleType, inputs: Inputs, params: ModelParams, perm: Iterable[int]) -> None:
    """Listing the actors in the order ``perm`` permutes positions and changes neither forecasts nor rounds."""
    m = _resolve(model)
    perm = np.asarray(list(perm))
    a = m.run(inputs, params)
    moved = Inputs(inputs.position[:, perm], inputs.salience[:, perm], inputs.capability[:, perm],
                   inputs.active[:, perm], inputs.low, inputs.high, inputs.status_quo, inputs.seed)
    b = m.run(moved, params)
    atol = 1e-9 * _width(inputs)
    _close("order", m, "positions", b.position, a.position[:, :, perm], atol)
    _close("order", m, "forecast", b.forecast, a.forecast, atol)
    _equal("order", m, "rounds", b.rounds, a.rounds)


def check_affine(model: str | ModuleType, inputs: Inputs, params: ModelParams, scale: float, shift: float) -> None:
    """On the scale ``x -> scale x + shift`` positions and forecasts transform the same way, rounds do not change."""
    m = _resolve(model)
    def f(v: Any) -> np.ndarray:
        return scale * np.asarray(v, float) + shift

    a = m.run(inputs, params)
    moved = Inputs(f(inputs.position), inputs.salience, inputs.capability, inputs.active, f(inputs.low),
                   f(inputs.high), f(inputs.status_quo), inputs.seed)
    b = m.run(moved, params)
    atol = 1e-9 * scale * _width(inputs)
    _close("affine", m, "positions", b.position, f(a.position), atol)
    _close("affine", m, "forecast", b.forecast, f(a.forecast), atol)
    _equal("affine", m, "rounds", b.rounds, a.rounds)


def check_needs(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """Without a status quo the model runs or raises ModelInputError, nothing else."""
    m = _resolve(model)
    bare = Inputs(inputs.position, inputs.salience, inputs.capability, inputs.active, inputs.low, inputs.high,
                  np.full(inputs.shape[2], np.nan), inputs.seed)
    try:
        m.run(bare, params)
    except ModelInputError as e:
        if not str(e).strip():
            _fail("needs", m, "ModelInputError without a message")
    except Exception as e:  # anything but ModelInputError: the point of the check
        _fail("needs", m, f"raised {type(e).__name__} ({e}) instead of ModelInputError")


def _mentions(obj: Any, names: set[str]) -> set[str]:
    """Which of ``names`` appear as a key or a string value anywhere in ``obj``."""
    if isinstance(obj, str):
        return {obj} & names
    if isinstance(obj, dict):
        return set().union(*([_mentions(k, names) | _mentions(v, names) for k, v in obj.items()] or [set()]))
    if isinstance(obj, (list, tuple)):
        return set().union(*([_mentions(v, names) for v in obj] or [set()]))
    return set()


def check_hooks(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """The presentation hooks: shapes, agreement with the trajectory, JSON, per-round active actors."""
    m = _resolve(model)
    tr = m.run(inputs, params)
    B, n, D = inputs.shape
    actors = [f"actor{i}" for i in range(n)]
    issues = [f"issue{d}" for d in range(D)]
    T1 = tr.position.shape[1]
    # the same run as the runner would show it if every actor joined after round 0 (an event):
    # the hooks must follow extras["active"] round by round and name no one in round 0
    joined = Trajectory(tr.position, tr.forecast, tr.rounds, dict(tr.extras), tr.info)
    act = tr.extras["active"].copy()
    act[:, 0] = False
    joined.extras["active"] = act
    moves, render, summarize = (getattr(m, h, None) for h in ("moves", "render_round", "summarize"))
    for b in range(B):
        for t in range(T1):
            out = {}
            if moves is not None:
                rows = moves(tr, b, t, actors, issues)
                if not isinstance(rows, list):
                    _fail("hooks", m, "moves must return a list")
                if t == 0 and rows:
                    _fail("hooks", m, "moves in round 0")
                cells = set()
                for row in rows:
                    if not MOVE_KEYS <= set(row):
                        _fail("hooks", m, f"a move lacks {sorted(MOVE_KEYS - set(row))}")
                    i, d = actors.index(row["actor"]), issues.index(row["issue"])
                    cells.add((i, d))
                    if (row["from"], row["to"]) != (tr.position[b, t - 1, i, d], tr.position[b, t, i, d]):
                        _fail("hooks", m, f"move of {row['actor']} on {row['issue']} in round {t}: from/to are not "
                                          "the positions before and after the round")
                    if row["counterpart"] is not None and row["counterpart"] not in actors:
                        _fail("hooks", m, f"unknown counterpart {row['counterpart']!r}")
                    if not (isinstance(row["kind"], str) and row["kind"] and isinstance(row["why"], str) and row["why"]):
                        _fail("hooks", m, "a move needs a kind and a why")
                if t > 0:
                    changed = {(int(i), int(d)) for i, d in zip(*np.nonzero(tr.position[b, t] != tr.position[b, t - 1]))}
                    if cells != changed:
                        _fail("hooks", m, f"round {t}: moves name cells {sorted(cells)}, positions changed in "
                                          f"{sorted(changed)}")
                out["moves"] = rows
            if render is not None:
                fields = render(tr, b, t, actors, issues)
                if not isinstance(fields, dict) or "moves" in fields:
                    _fail("hooks", m, "render_round must return a dict without a 'moves' key")
                out.update(fields)
                absent = {actors[i] for i in np.flatnonzero(~joined.active_at(b, t))}
                named = _mentions(render(joined, b, t, actors, issues), absent)
                if moves is not None:
                    named |= _mentions(moves(joined, b, t, actors, issues), absent)
                if named:
                    _fail("hooks", m, f"round {t} names {sorted(named)}, who take no part in it")
            try:
                json.dumps(out, allow_nan=True)
            except TypeError as e:
                _fail("hooks", m, f"round {t} is not JSON-serialisable: {e}")
        if summarize is not None:
            s = summarize(tr, b, issues)
            if not isinstance(s, dict) or set(s) != set(issues) or not all(isinstance(v, dict) for v in s.values()):
                _fail("hooks", m, "summarize must return one dict per issue key")
            try:
                json.dumps(s, allow_nan=True)
            except TypeError as e:
                _fail("hooks", m, f"summarize is not JSON-serialisable: {e}")
    view_of = getattr(m, "perspective", None)
    if view_of is not None:
        view = view_of(inputs, params)
        for name in ("x", "y"):
            a = np.asarray(getattr(view, name), float)
            if a.shape != (B, n, n, D):
                _fail("hooks", m, f"perspective.{name} has shape {a.shape}, expected {(B, n, n, D)}")
            pair = inputs.active[:, :, None] & inputs.active[:, None, :] & ~np.eye(n, dtype=bool)
            _equal("hooks", m, f"finite entries of perspective.{name}", np.isfinite(a),
                   np.broadcast_to(pair[..., None], a.shape))
        if len(view.quadrants) != 4 or not all(isinstance(s, str) for s in (view.title, view.x_label, view.y_label)):
            _fail("hooks", m, "perspective needs a title, two axis labels and four quadrant names")


def check_rounds_only_stop(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """For a model that declares ``ROUNDS_ONLY_STOP``: the run given ``rounds + 3`` rounds, cut after
    ``rounds``, equals the run given ``rounds`` in positions, forecasts and extras (bit for bit)."""
    m = _resolve(model)
    if not getattr(m, "ROUNDS_ONLY_STOP", False):
        return
    name = "rounds" if m.DYNAMIC else getattr(m, "ROUNDS_PARAM", None)
    if name is None:
        _fail("rounds_only_stop", m, "ROUNDS_ONLY_STOP needs a rounds parameter (rounds, or ROUNDS_PARAM)")
    short = m.run(inputs, params)
    k = int(getattr(params, name) if getattr(params, name) is not None else short.position.shape[1] - 1)
    long = m.run(inputs, params.model_copy(update={name: k + 3}))
    T1 = k + 1
    cut = lambda a: _padded(a, T1)[:, :T1]  # noqa: E731
    _equal("rounds_only_stop", m, "position", cut(short.position), cut(long.position))
    _equal("rounds_only_stop", m, "forecast", cut(short.forecast), cut(long.forecast))
    for name in short.extras:
        _equal("rounds_only_stop", m, f"extras[{name!r}]", cut(short.extras[name]), cut(long.extras[name]))


def check_truncate(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """For a model that declares ``TRUNCATE_INFO``: the run given ``rounds + 3`` rounds, truncated to
    ``rounds`` (and to 1), is the run given that many rounds, bit for bit, ``info`` included."""
    m = _resolve(model)
    if getattr(m, "TRUNCATE_INFO", None) is None:
        return
    if not getattr(m, "ROUNDS_ONLY_STOP", False) or not m.DYNAMIC:
        _fail("truncate", m, "TRUNCATE_INFO needs a dynamic model that declares ROUNDS_ONLY_STOP")
    if not isinstance(m.TRUNCATE_INFO, dict):
        _fail("truncate", m, "TRUNCATE_INFO must be a dict of info names")
    k = int(params.rounds)  # type: ignore[attr-defined]
    long = m.run(inputs, params.model_copy(update={"rounds": k + 3}))
    for cut in sorted({k, 1}):
        short = m.run(inputs, params.model_copy(update={"rounds": cut}))
        got = truncate(m, long, cut)
        what = f"truncated to {cut} of {k + 3} rounds"
        _equal("truncate", m, f"position {what}", got.position, short.position)
        _equal("truncate", m, f"forecast {what}", got.forecast, short.forecast)
        _equal("truncate", m, f"rounds {what}", got.rounds, short.rounds)
        if set(got.extras) != set(short.extras) or set(got.info) != set(short.info):
            _fail("truncate", m, f"{what}: the extras or info names differ")
        for name in short.extras:
            _equal("truncate", m, f"extras[{name!r}] {what}", got.extras[name], short.extras[name])
        for name in short.info:
            _equal("truncate", m, f"info[{name!r}] {what}", got.info[name], short.info[name])


def check_forecasts_only(model: str | ModuleType, inputs: Inputs, params: ModelParams) -> None:
    """For a model with ``run_forecasts``: ``run``'s forecasts, rounds, info and final positions, bit for bit, with
    the final state as its only positions and no extras."""
    m = _resolve(model)
    fast = getattr(m, "run_forecasts", None)
    if fast is None:
        return
    full, got = m.run(inputs, params), fast(inputs, params)
    B, _, n, D = full.position.shape
    if got.position.shape != (B, 1, n, D) or got.extras:
        _fail("forecasts_only", m, f"run_forecasts must return the final positions alone, shape {(B, 1, n, D)}, "
                                   f"and no extras; got {got.position.shape} and {sorted(got.extras)}")
    _equal("forecasts_only", m, "final position", got.position[:, 0], full.position[:, -1])
    _equal("forecasts_only", m, "forecast", got.forecast, full.forecast)
    _equal("forecasts_only", m, "rounds", got.rounds, full.rounds)
    if set(got.info) != set(full.info):
        _fail("forecasts_only", m, "run_forecasts' info names differ from run's")
    for name in full.info:
        _equal("forecasts_only", m, f"info[{name!r}]", got.info[name], full.info[name])
    ends = fast(inputs, params, every_round=False)
    _equal("forecasts_only", m, "first and last forecasts (every_round=False)", ends.forecast,
           full.forecast[:, [0, -1]])
    _equal("forecasts_only", m, "final position (every_round=False)", ends.position, got.position)
    _equal("forecasts_only", m, "rounds (every_round=False)", ends.rounds, full.rounds)


_INPUT_CHECKS: dict[str, Callable[..., Any]] = {
    "output": check_output,
    "deterministic": check_deterministic,
    "batched": check_batched,
    "inactive": check_inactive,
    "needs": check_needs,
    "hooks": check_hooks,
    "rounds_only_stop": check_rounds_only_stop,
    "truncate": check_truncate,
    "forecasts_only": check_forecasts_only,
}


def check_model(model: str | ModuleType, *, examples: int = 3, seed: int = 0) -> dict[str, str]:
    """Run every check of the suite on a model.

    Parameters
    ----------
    model : str or module
        A registry name or a model module.
    examples : int
        Generated scenarios per check and parameter set (generic and
        degenerate ones alternate).
    seed : int
        Seeds the generated scenarios.

    Returns
    -------
    dict
        ``{check: "ok"}``; for a check the model declares an exception for
        (``conformance_exceptions``) with some of its parameter sets,
        ``"skipped with PARAMS: REASON"`` (after ``"ok; "`` when it passed
        with the other sets).

    Raises
    ------
    ConformanceError
        Naming every check that failed, with the first failure of each.
    """
    m = _resolve(model)
    exempt: dict[str, str] = {}
    current = "the defaults"
    report: dict[str, str] = {}
    failures: list[str] = []

    def attempt(check: str, fn: Callable[[], None]) -> None:
        if check in exempt:
            note = f"skipped with {current}: {exempt[check]}"
            if note not in report.get(check, ""):
                report[check] = f"{report[check]}; {note}" if check in report else note
            return
        try:
            fn()
        except ConformanceError as e:
            report[check] = "failed"
            failures.append(str(e))
        except Exception as e:  # a crash is a failure of that check
            report[check] = "failed"
            failures.append(f"{m.NAME}: {check}: raised {type(e).__name__}: {e}")
        else:  # passed: "ok", also when an earlier parameter set skipped it ("ok; skipped with ...")
            if check not in report:
                report[check] = "ok"
            elif report[check].startswith("skipped"):
                report[check] = f"ok; {report[check]}"

    attempt("attributes", lambda: check_attributes(m))
    attempt("params", lambda: check_params(m))
    if failures:
        raise ConformanceError("\n".join(failures))
    rng = np.random.default_rng(seed)
    exceptions: Callable[[ModelParams], dict[str, str]] = getattr(m, "conformance_exceptions", lambda params: {})
    for params in params_to_check(m):
        exempt = dict(exceptions(params))
        changed = {k: v for k, v in params.model_dump(exclude_defaults=True).items() if k != "rounds"}
        current = str(changed) if changed else "the defaults"
        unknown = set(exempt) - (set(CHECKS) - set(NOT_EXEMPTABLE))
        if unknown or not all(isinstance(r, str) and r.strip() for r in exempt.values()):
            allowed = tuple(c for c in CHECKS if c not in NOT_EXEMPTABLE)
            raise ConformanceError(f"{m.NAME}: attributes: conformance_exceptions must map checks of {allowed} "
                                   f"to reasons (no exception from {', '.join(NOT_EXEMPTABLE)})")
        for k in range(examples):
            B, n, D = int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 4))
            rough = random_inputs(rng, B, n, D, generic=k % 2 == 1, inactive=True)
            generic = random_inputs(rng, B, n, D, generic=True)
            for check, fn in _INPUT_CHECKS.items():
                attempt(check, lambda fn=fn: fn(m, rough, params))  # type: ignore[misc]
            perm = rng.permutation(n)
            attempt("order", lambda: check_order(m, generic, params, perm))
            a, b = 2.0 ** int(rng.integers(-2, 4)), float(rng.integers(-1000, 1000))
            attempt("affine", lambda: check_affine(m, generic, params, a, b))
    if failures:
        raise ConformanceError("\n".join(dict.fromkeys(failures)))
    return report
