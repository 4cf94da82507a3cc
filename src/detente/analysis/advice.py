"""Advice: which single lever moves the forecast most toward an actor's own position.

For the chosen actor A and each issue, the levers are:

``own position``
    A states a more extreme position (away from the forecast, by 10% and
    25% of the scale).
``salience``
    A cares more (+25 points of the salience scale) or less (-25).
``persuade``
    Another actor moves its position toward A's (by 10% of the scale, not
    past A's position); per unit of shift, which actor gives most. The best
    one is then also tried with 25% and 50% of the scale ("how far").
``coalition``
    The two and the three best per-unit actors move together (25% of the
    scale each, not past A's position): greedy over the best per-unit actors.
``remove`` / ``add``
    What if an actor stayed out of the talks (its ``join`` events cancelled): a
    what-if that only others decide, shown but never offered as A's best lever;
    or a new ally, recruited by A, joins with A's positions and saliences and the
    smallest capability in the scenario.

Each lever says who pulls it (``control``): A itself (its own position and
salience), A by persuading others (persuasion, coalitions, a new ally), or only
others (``remove``). Forecasts, distances and gains in sentences and in the
``forecast``/``gain``/``share_of_distance`` columns are medians over the draws, so
that a sentence's arithmetic closes; the per-draw gains keep their spread
(``gain_mean``, ``gain_p10``, ``gain_p90``, ``p_helps``).

Every lever is evaluated on the same Monte Carlo draws (common random
numbers: the same inputs, events and model seeds), so its gain is a per-draw
difference. A's ideal in each draw is A's drawn starting position. The per-draw
gain is the distance from the base forecast to the ideal minus the distance from
the lever's forecast to it (positive: closer).

The work is a plan of independent tasks (:class:`_AdviceTask`: some levers x a
range of draws, about ``chunk`` model runs each), run by :func:`_run_advice_task`
in any order and anywhere (each task draws its own draws from the seed), and put
back together in task order. Stage 1 (the base and every single lever) is one
plan; stage 2 (how far, coalitions), chosen from stage 1's results, another;
with the deterministic point forecast, which sets the direction of A's own
moves, that is all. The result does not depend on how the draws and levers are
cut into tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..budget import Budget, inputs_bytes, plan_scenario
from ..errors import DetenteError, Problem
from ..executor import resolve as resolve_executor
from ..models.base import F8, Inputs, ModelInputError, ModelParams
from ..numfmt import fmt_percent
from ..scenario.schema import Actor, Scenario, Value
from ..serialize import JsonResult, input_sha256, meta
from ..serialize import json_value as _clean
from ..simulate import most_likely, simulate
from ._draws import actor_index, check_seed, issue_index, monte_carlo_draws, tile
from ._run import resolve, run_draws, run_tasks, task_size
from .montecarlo import check_draws

if TYPE_CHECKING:
    import pandas as pd

#: Lever sizes, as shares of the issue scale (positions) or of the salience scale.
OWN_SHIFTS = (0.10, 0.25)
SALIENCE_SHIFTS = (+0.25, -0.25)
PERSUADE_PROBE = 0.10
PERSUADE_FURTHER = (0.25, 0.50)
COALITION_SHIFT = 0.25
COALITION_SIZES = (2, 3)

#: Names in sentences and lever descriptions are shortened to this many characters (charts: 24).
SENTENCE_NAME = 60

#: Who pulls a lever: the actor itself, others it must persuade (or recruit), or others alone.
SELF, PERSUADE, OTHERS = "itself", "persuasion", "others"


@dataclass(frozen=True)
class _Move:
    """What a lever changes in a draw's inputs: plain data, so a task can carry it to another process.

    ``kind`` is a lever's kind (or ``"base"``: nothing changes); ``actors`` the actors moved
    (persuasion, coalition) or kept out (``remove``); ``step`` the signed shift of A's own
    position, the shift of its salience on the model's 0-1 scale, or how far each persuaded
    actor moves at most.
    """

    kind: str
    issue: int | None = None
    actors: tuple[int, ...] = ()
    step: float = 0.0


BASE = _Move("base")


@dataclass
class _Lever:
    kind: str
    issue: int | None  # the issue it acts on (None: all issues)
    target: str | None  # another actor concerned
    description: str
    cost: float  # size of the move in scale units (NaN when not a move)
    move: _Move
    control: str = SELF  # SELF, PERSUADE or OTHERS
    who: str = ""  # in words: who must act for the lever to be pulled


@dataclass
class Advice(JsonResult):
    """Levers for one actor, ranked by how far they move each issue's forecast toward it.

    Every number of a sentence (:meth:`headline`) and of the columns ``forecast``, ``gain`` and
    ``share_of_distance`` is a median over the draws: the median forecast without the lever
    (``base.forecast``), with it (``table.forecast``), and the median of the actor's drawn
    position (``base.ideal``), so the arithmetic closes: ``distance = |forecast - ideal|``,
    ``gain = distance - |lever forecast - ideal|``, ``share_of_distance = gain / distance``.
    The per-draw gains' own statistics (``gain_mean``, ``gain_median``, ``gain_p10``,
    ``gain_p90``, ``p_helps``) describe their spread.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    actor : str
    draws, seed : int
    table : DataFrame
        One row per lever x issue: ``issue, kind, target, lever, control, who, pullable, cost,
        cost_share, forecast, gain, share_of_distance, gain_mean, gain_median, gain_p10,
        gain_p90, p_helps, gain_per_unit``, sorted by issue, levers the actor can pull first
        (``control`` itself or persuasion), then by ``gain``.
    base : DataFrame
        Per issue: ``issue, ideal`` (median of the actor's drawn position), ``forecast``
        (median base forecast), ``distance`` (``|forecast - ideal|``).
    runs : int
        Model runs made.
    """

    scenario: Scenario
    model: str
    params: ModelParams
    actor: str
    draws: int
    seed: int
    table: pd.DataFrame
    base: pd.DataFrame
    runs: int = 0
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The lever table (a copy)."""
        return self.table.copy()

    def best(self, issue: str | None = None) -> dict[str, Any]:
        """The lever the actor can pull with the largest gain (on ``issue``; default: on any
        issue, by share of distance); levers only others control are never the best."""
        df = self.table if issue is None else self.table[self.table["issue"] == issue]
        own = df[df["pullable"]]
        df = own if len(own) else df
        col = "gain" if issue is not None else "share_of_distance"
        return df.sort_values(col, ascending=False, kind="stable").iloc[0].to_dict()

    def best_persuasion_target(self, issue: str) -> str | None:
        """The other actor that gives the most gain per unit of shift on ``issue``."""
        df = self.table[(self.table["issue"] == issue) & (self.table["kind"] == "persuade")]
        df = df[np.isclose(df["cost_share"], PERSUADE_PROBE)]
        if df.empty:
            return None
        return str(df.sort_values("gain_per_unit", ascending=False, kind="stable").iloc[0]["target"])

    def headline(self) -> list[str]:
        """One sentence per issue naming the best lever the actor can pull; every number a median over
        the draws, with the issue's scale's decimals (:mod:`detente.numfmt`). The distances, the gain and
        the share of the way are worked out from the printed forecasts and position, so that the sentence
        adds up on the digits it shows (the JSON keeps the unrounded values)."""
        me = self.scenario.actor(self.actor).short_name(SENTENCE_NAME)
        out = []
        for r in self.base.to_dict("records"):
            iss = self.scenario.issue(r["issue"])
            f = iss.fmt
            head = f"{iss.name}: medians over {self.draws} draws"
            if r["distance"] <= 1e-9 * (iss.scale[1] - iss.scale[0]):
                out.append(f"{head}: the forecast {f(r['forecast'])} already is where {me} stands")
                continue
            b = self.best(r["issue"])
            if not b["pullable"] or not b["gain"] > 0:
                out.append(f"{head}: no lever {me} can pull moves the forecast {f(r['forecast'])} toward {f(r['ideal'])}, "
                           f"where {me} stands")
                continue
            a = shown_arithmetic(f, r["forecast"], b["forecast"], r["ideal"], b["share_of_distance"])
            out.append(
                f"{head}: the best lever for {me} is to {b['lever']} ({b['who']}): the forecast moves from "
                f"{a['from']} to {a['to']} and ends {a['rest']} points from {a['ideal']}, where {me} stands, instead of "
                f"{a['distance']}: {a['gain']} points closer ({a['share']} of the way). Draw by draw, it helps in "
                f"{fmt_percent(b['p_helps'])} of them"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "model", "params", "actor", "statistic", "issues": {KEY: {name, decimals, ideal,
        forecast, distance, best, levers}}, "headline", "meta"}``."""

        issues = {}
        for r in self.base.to_dict("records"):
            rows = self.table[self.table["issue"] == r["issue"]].drop(columns=["issue"]).to_dict("records")
            rows = [{k: _clean(v) for k, v in x.items()} for x in rows]
            iss = self.scenario.issue(r["issue"])
            b = self.best(r["issue"]) if rows else None
            best = next((x for x in rows if b is not None and x["lever"] == b["lever"]), None)
            issues[r["issue"]] = {"name": iss.name, "decimals": iss.decimals, "ideal": r["ideal"], "forecast": r["forecast"],
                                  "distance": r["distance"], "best": best, "levers": rows}
        return {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "actor": self.actor,
            "actor_name": self.scenario.actor(self.actor).name,
            "statistic": f"median over {self.draws} draws",
            "issues": issues,
            "headline": self.headline(),
            "meta": meta(self.seed, draws=self.draws, runs=self.runs, input_sha256=input_sha256(self.scenario),
                         notes=self.notes),
        }


def _with_ally(scen: Scenario, a: int, inputs: Inputs, happened: np.ndarray) -> tuple[Scenario, Inputs, str]:
    """The scenario and draws with one extra actor: A's ally, absent unless a lever adds it."""
    keys = set(scen.actor_keys)
    key = "new-ally"
    while key in keys:
        key += "_"
    me = scen.actors[a]
    cap = min(x.capability.value for x in scen.actors)
    ally = Actor(
        key=key,
        name=f"a new ally of {me.key}",
        capability=Value(value=cap),
        positions={k: Value(value=v.value) for k, v in me.positions.items()},
        salience={k: Value(value=v.value) for k, v in me.salience.items()},
    )
    aug = scen.with_changes(actors=[*scen.actors, ally])
    B = inputs.shape[0]
    ext = Inputs(
        np.concatenate([inputs.position, inputs.position[:, a : a + 1]], axis=1),
        np.concatenate([inputs.salience, inputs.salience[:, a : a + 1]], axis=1),
        np.concatenate([inputs.capability, np.full((B, 1), cap)], axis=1),
        np.concatenate([inputs.active, np.zeros((B, 1), dtype=bool)], axis=1),
        inputs.low,
        inputs.high,
        inputs.status_quo,
        inputs.seed,
    )
    return aug, ext, key


def advise(
    scenario: Any,
    actor: str,
    issue: str | None = None,
    model: str | None = None,
    draws: int = 200,
    seed: int = 0,
    *,
    params: dict[str, Any] | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    budget: Budget | None = None,
    scheduler: Any = None,
    workers: int | None = None,
) -> Advice:
    """Which single lever moves the forecast most toward ``actor``'s position, and what it costs.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    actor : str
        The actor advised (its key).
    issue : str, optional
        One issue (default: every issue).
    model : str
    draws : int
        Monte Carlo draws shared by every lever.
    seed : int
    params : dict, optional
        The model's parameters.
    chunk, progress, budget, scheduler, workers
        See :func:`detente.analysis.monte_carlo`: the levers' runs go to a Dask cluster as tasks of
        some levers x a range of draws; the result is the same bit for bit.

    Returns
    -------
    Advice
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    a = actor_index(scen, actor)
    targets = list(range(len(scen.issues))) if issue is None else [issue_index(scen, issue)]
    B = check_draws(draws)
    s = check_seed(seed)
    _plan(scen, model, p, explicit, len(targets), B, chunk, budget)
    dr = monte_carlo_draws(scen, B, s)
    aug, base_inp, ally_key = _with_ally(scen, a, dr.inputs, dr.happened)
    with resolve_executor(scheduler, workers) as ex:
        # the direction A wants each issue to move, from the point forecast (one cheap run)
        point = run_draws(scen, model, p, scen.to_inputs(seed=s), most_likely(scen), explicit=explicit, progress=False,
                          budget=budget, executor=ex)[0][0]
        levers = _Levers(scen, a, dr, base_inp, ally_key, point)
        shared = ex.share(_AdviceJob(scen, aug, model, p, frozenset(explicit), s, a, float(base_inp.capability[0, -1]),
                                     levers.lo, levers.hi, tuple(levers.joins(j) for j in range(len(scen.actors)))))

        def run_stage(moves: list[_Move], stage: str) -> np.ndarray:
            size = task_size(aug, model, p, len(moves) * B, len(aug.actors), len(aug.issues), explicit, chunk, budget, ex)
            tasks = advice_tasks(moves, B, size)
            try:
                parts = run_tasks(_run_advice_task, tasks, shared=shared, executor=ex, progress=progress,
                                  runs=[len(t.moves) * (t.stop - t.start) for t in tasks], what=f"advice ({model}), {stage}")
            except ModelInputError as e:
                raise DetenteError([Problem(aug.source_file, None, f"model {model}", str(e))]) from None
            return merge_advice(tasks, parts, len(moves), B)

        try:
            stage1 = levers.single(targets)
            fc1 = run_stage([BASE] + [lev.move for lev in stage1], "stage 1 (each lever alone)")
            base_fc = fc1[0]
            results = [(lev, fc1[k + 1]) for k, lev in enumerate(stage1)]
            stage2 = levers.further(targets, results, base_fc)
            if stage2:
                fc2 = run_stage([lev.move for lev in stage2], "stage 2 (how far, and coalitions)")
                results += [(lev, fc2[k]) for k, lev in enumerate(stage2)]
        finally:
            ex.forget(shared)
    runs = (len(stage1) + 1 + len(stage2)) * B + 1
    df, base = _tables(levers, targets, results, base_fc)
    me = scen.actors[a]
    notes = [f"{B} Monte Carlo draws shared by every lever (common random numbers). Forecasts, the position of "
             f"{me.short_name(SENTENCE_NAME)}, distance, gain and share of the way are medians over the draws (the distance and gain of "
             f"the median forecasts; the sentence works distance, gain and share out from the numbers it prints, so they "
             f"add up as read); the 10-90% range and 'helps in' describe the per-draw gains, in scale points. "
             f"Each lever says who pulls it: {me.short_name(SENTENCE_NAME)} itself, others it must persuade, or only others "
             "(a what-if, never offered as its best lever)."]
    return Advice(scen, model, p, me.key, B, s, df, base, runs=runs, notes=notes)


def _plan(scen: Scenario, model: str, p: ModelParams, explicit: set[str], n_targets: int, B: int, chunk: int | None,
          budget: Budget | None) -> None:
    """Check the whole analysis against the budget before it starts."""
    n1, D, E = len(scen.actors) + 1, len(scen.issues), len(scen.events)
    # stage 1: every single lever on the targeted issues, removals and the new ally, plus the base;
    # stage 2 at most the further persuasions and coalitions per issue, plus the base
    L1 = n_targets * (len(OWN_SHIFTS) + len(SALIENCE_SHIFTS) + n1 - 2) + (n1 - 2) + 2
    L2 = n_targets * (len(PERSUADE_FURTHER) + len(COALITION_SIZES))
    plan_scenario(f"advice ({model})", scen, model, p, explicit, (L1 + L2) * B + 1, budget=budget, chunk=chunk,
                  held=B * (max(L1, L2) + 1) * (inputs_bytes(n1, D, E) + 2 * D * F8) + L1 * B * D * F8)


class _Levers:
    """The levers of one actor over one set of draws: what each changes in the draws' inputs."""

    def __init__(self, scen: Scenario, a: int, dr: Any, base_inp: Inputs, ally_key: str, point: np.ndarray):
        self.scen, self.a, self.dr, self.base_inp, self.ally_key = scen, a, dr, base_inp, ally_key
        self.B = base_inp.shape[0]
        self.ideal = dr.inputs.position[:, a, :].copy()  # (B, D)
        inp = scen.to_inputs()
        self.lo, self.hi = inp.low, inp.high
        self.width = self.hi - self.lo
        self.sscale = float(scen.salience_scale)
        self.n = len(scen.actors)
        self.others = [j for j in range(self.n) if j != a]
        self.me = scen.actors[a].short_name(SENTENCE_NAME)
        direction = np.sign(self.ideal.mean(axis=0) - point)
        direction[direction == 0] = 1.0
        self.direction = direction

    def name(self, j: int) -> str:
        return str(self.scen.actors[j].short_name(SENTENCE_NAME))

    def joins(self, j: int) -> tuple[int, ...]:
        """The ``join`` events of actor ``j`` (cancelled when it stays out)."""
        scen = self.scen
        return tuple(e for e, ev in enumerate(scen.events) if ev.actor == scen.actors[j].key and ev.type == "join")

    def shift(self, lev: _Lever) -> np.ndarray | None:
        """Per draw, the size of the move a lever actually makes (None when it is not a move)."""
        mv, ideal = lev.move, self.ideal
        d = mv.issue
        if mv.kind == "own position":
            return np.abs(np.clip(ideal[:, d] + mv.step, self.lo[d], self.hi[d]) - ideal[:, d])
        if mv.kind in ("persuade", "coalition"):
            pos = self.dr.inputs.position
            return sum(np.minimum(np.abs(ideal[:, d] - pos[:, j, d]), mv.step) for j in mv.actors)
        return None

    # -- the levers -----------------------------------------------------------------------------
    def own(self, d: int, share: float) -> _Lever:
        step = share * self.width[d] * self.direction[d]
        size = share * self.width[d]
        return _Lever("own position", d, None, f"state a position {size:g} points more extreme", size,
                      _Move("own position", d, (self.a,), step), SELF, f"{self.me} itself")

    def salience(self, d: int, share: float) -> _Lever:
        delta = share * self.sscale
        verb = "raise" if share > 0 else "lower"
        return _Lever("salience", d, None, f"{verb} its salience by {abs(delta):g} points", abs(delta),
                      _Move("salience", d, (self.a,), delta / self.sscale), SELF, f"{self.me} itself")

    def persuade(self, d: int, js: list[int], share: float) -> _Lever:
        step = share * self.width[d]
        keys = [self.scen.actors[j].key for j in js]
        names = [self.name(j) for j in js]
        who = f"{self.me}, by persuading {_and(names)}"
        if len(js) == 1:
            return _Lever("persuade", d, keys[0], f"persuade {names[0]} to move {step:g} points toward it", step,
                          _Move("persuade", d, (js[0],), step), PERSUADE, who)
        return _Lever("coalition", d, "+".join(keys),
                      f"build a coalition: {', '.join(names)} each move up to {step:g} points toward it",
                      step * len(js), _Move("coalition", d, tuple(js), step), PERSUADE, who)

    def remove(self, j: int) -> _Lever:
        return _Lever("remove", None, self.scen.actors[j].key, f"if {self.name(j)} stayed out of the talks", np.nan,
                      _Move("remove", None, (j,)), OTHERS, f"the other parties, not {self.me}")

    def add(self) -> _Lever:
        cap = self.base_inp.capability[0, self.n]
        return _Lever("add", None, self.ally_key, f"bring in a new ally (capability {cap:g}) with its own positions", np.nan,
                      _Move("add", None, (self.n,)), PERSUADE, f"{self.me}, by recruiting the ally")

    # -- the two stages ----------------------------------------------------------------------------
    def single(self, targets: list[int]) -> list[_Lever]:
        """Stage 1: every single lever on the targeted issues, the removals and the new ally."""
        out: list[_Lever] = []
        for d in targets:
            out += [self.own(d, s_) for s_ in OWN_SHIFTS]
            out += [self.salience(d, s_) for s_ in SALIENCE_SHIFTS]
            out += [self.persuade(d, [j], PERSUADE_PROBE) for j in self.others]
        out += [self.remove(j) for j in self.others]
        out.append(self.add())
        return out

    def further(self, targets: list[int], results: list[tuple[_Lever, np.ndarray]], base_fc: np.ndarray) -> list[_Lever]:
        """Stage 2: how far for the best per-unit actor; greedy coalitions of the best per-unit actors."""
        out: list[_Lever] = []
        for d in targets:
            per_unit = []
            for lev, fc in results:
                if lev.kind == "persuade" and lev.issue == d:
                    j = self.scen.actor_keys.index(lev.target)  # type: ignore[arg-type]
                    sh = self.shift(lev).mean()  # type: ignore[union-attr]
                    g = self.gains(fc, base_fc)
                    per_unit.append((g[:, d].mean() / sh if sh > 0 else 0.0, j))
            per_unit.sort(key=lambda t: -t[0])
            good = [j for u, j in per_unit if u > 0]
            if good:
                out += [self.persuade(d, [good[0]], s_) for s_ in PERSUADE_FURTHER]
            for k in COALITION_SIZES:
                if len(good) >= k:
                    out.append(self.persuade(d, good[:k], COALITION_SHIFT))
        return out

    def gains(self, fc: np.ndarray, base_fc: np.ndarray) -> np.ndarray:
        """Per draw and issue: how much closer to the actor's drawn position a lever's forecast is."""
        return np.abs(base_fc - self.ideal) - np.abs(fc - self.ideal)


def shown_arithmetic(f: Callable[[float], str], forecast: float, lever: float, ideal: float,
                     share: float = float("nan")) -> dict[str, str]:
    """The numbers of one lever as printed, worked out from the printed digits so that they add up as read.

    ``f`` prints a number with the issue's digits. Returns the texts ``from``, ``to`` and ``ideal`` (the
    base forecast, the lever's and the actor's position), ``distance`` and ``rest`` (each forecast's
    distance to the position, from the printed numbers), ``gain`` (their difference; ``signed_gain``
    with its sign) and ``share`` (gain over distance, as a percentage; the unrounded ``share`` when the
    printed distance is 0).
    """
    f0, f1, x = f(forecast), f(lever), f(ideal)
    dist, rest = _gap(f0, x), _gap(f1, x)
    gain = dist - rest
    return {"from": f0, "to": f1, "ideal": x, "distance": _text(dist), "rest": _text(rest), "gain": _text(gain),
            "signed_gain": ("" if gain < 0 else "+") + _text(gain),
            "share": fmt_percent(float(gain / dist)) if dist else fmt_percent(share)}


def _gap(a: str, b: str) -> Decimal:
    """``|a - b|`` of two printed numbers, exactly, with their decimals."""
    return abs(Decimal(a) - Decimal(b))


def _text(x: Decimal) -> str:
    """A printed difference as text (``6.4``, ``0.0``; never ``-0.0``)."""
    return str(abs(x)) if x == 0 else str(x)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _tables(lv: _Levers, targets: list[int], results: list[tuple[_Lever, np.ndarray]],
            base_fc: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lever table and the per-issue base (see :class:`Advice`)."""
    scen, ideal, width = lv.scen, lv.ideal, lv.width
    med_ideal = np.median(ideal, axis=0)
    med_base = np.median(base_fc, axis=0)
    distance = np.abs(med_base - med_ideal)
    rows = []
    for lev, fc in results:
        g = lv.gains(fc, base_fc)
        for d in targets if lev.issue is None else [lev.issue]:
            x = g[:, d]
            tol = 1e-9 * width[d]
            sh = lv.shift(lev)
            shift = sh.mean() if sh is not None else np.nan
            med = float(np.median(fc[:, d]))
            gain = float(distance[d] - abs(med - med_ideal[d]))
            rows.append({
                "issue": scen.issues[d].key, "kind": lev.kind, "target": lev.target, "lever": lev.description,
                "control": lev.control, "who": lev.who, "pullable": lev.control != OTHERS,
                "cost": lev.cost, "cost_share": lev.cost / width[d] if lev.kind in ("own position", "persuade", "coalition") else np.nan,
                "forecast": med, "gain": gain,
                "share_of_distance": gain / float(distance[d]) if distance[d] > tol else 0.0,
                "gain_mean": float(x.mean()), "gain_median": float(np.median(x)),
                "gain_p10": float(np.quantile(x, 0.1)), "gain_p90": float(np.quantile(x, 0.9)),
                "p_helps": float(np.mean(x > tol)),
                "gain_per_unit": float(x.mean() / shift) if shift and np.isfinite(shift) and shift > 0 else np.nan,
            })
    import pandas as pd  # only where a frame is made
    df = pd.DataFrame(rows)
    order = {scen.issues[d].key: i for i, d in enumerate(targets)}
    df = df.assign(_o=df["issue"].map(order), _x=~df["pullable"])
    df = df.sort_values(["_o", "_x", "gain"], ascending=[True, True, False], kind="stable")
    df = df.drop(columns=["_o", "_x"]).reset_index(drop=True)
    base = pd.DataFrame([
        {"issue": scen.issues[d].key, "ideal": float(med_ideal[d]), "forecast": float(med_base[d]), "distance": float(distance[d])}
        for d in targets
    ])
    return df, base


# -- the plan: tasks, one task, the merge ---------------------------------------------------------
@dataclass(frozen=True)
class _AdviceJob:
    """What every task of one advice shares (sent once): the scenarios, the model, the seed, the actor.

    ``scenario`` is the one the draws are drawn from; ``aug`` the one the model runs (with A's
    possible new ally, absent unless a lever adds it, of capability ``ally_capability``).
    """

    scenario: Scenario
    aug: Scenario
    model: str
    params: ModelParams
    explicit: frozenset[str]
    seed: int
    actor: int
    ally_capability: float
    low: np.ndarray
    high: np.ndarray
    joins: tuple[tuple[int, ...], ...]  # per actor, its join events


@dataclass(frozen=True)
class _AdviceTask:
    """Some levers (``moves``: the stage's levers ``lever ..``, in order) on draws ``start .. stop`` of the run."""

    lever: int
    moves: tuple[_Move, ...]
    start: int
    stop: int


def advice_tasks(moves: list[_Move], draws: int, size: int) -> list[_AdviceTask]:
    """The levers x draws of one stage cut into tasks of about ``size`` model runs: draws in
    ranges of at most ``size``, as many levers per task as fill it; levers outer, draws inner."""
    per = max(1, min(draws, size))
    nl = max(1, size // per)
    return [_AdviceTask(i, tuple(moves[i : i + nl]), s0, min(draws, s0 + per))
            for i in range(0, len(moves), nl) for s0 in range(0, draws, per)]


def _apply(mv: _Move, x: Inputs, h: np.ndarray, ideal: np.ndarray, job: _AdviceJob) -> None:
    """Change the draws ``x`` (and their events ``h``) in place as the move says; ``ideal`` is A's drawn position."""
    d = mv.issue
    if mv.kind == "own position":
        a = job.actor
        x.position[:, a, d] = np.clip(x.position[:, a, d] + mv.step, job.low[d], job.high[d])
    elif mv.kind == "salience":
        a = job.actor
        x.salience[:, a, d] = np.clip(x.salience[:, a, d] + mv.step, 0.0, 1.0)
    elif mv.kind in ("persuade", "coalition"):
        for j in mv.actors:
            pos = x.position[:, j, d]
            gap = ideal[:, d] - pos
            x.position[:, j, d] = pos + np.sign(gap) * np.minimum(np.abs(gap), mv.step)
    elif mv.kind == "remove":
        (j,) = mv.actors
        x.active[:, j] = False
        h[:, list(job.joins[j])] = False
    elif mv.kind == "add":
        x.active[:, mv.actors[0]] = True


def _run_advice_task(task: _AdviceTask, job: _AdviceJob) -> np.ndarray:
    """The final forecasts of one task, shape (levers, draws, D): its draws drawn from the seed
    (the same numbers as those rows of the whole run), each lever applied to a copy, one model call.
    Only these forecasts travel back from a worker."""
    k = task.stop - task.start
    dr = monte_carlo_draws(job.scenario, k, job.seed, first=task.start)
    a, x = job.actor, dr.inputs
    base = Inputs(
        np.concatenate([x.position, x.position[:, a : a + 1]], axis=1),
        np.concatenate([x.salience, x.salience[:, a : a + 1]], axis=1),
        np.concatenate([x.capability, np.full((k, 1), job.ally_capability)], axis=1),
        np.concatenate([x.active, np.zeros((k, 1), dtype=bool)], axis=1),
        x.low, x.high, x.status_quo, x.seed,
    )
    ideal = x.position[:, a, :]
    L = len(task.moves)
    inp = tile(base, L)
    hap = np.tile(dr.happened, (L, 1))
    for i, mv in enumerate(task.moves):
        rows = slice(i * k, (i + 1) * k)
        sub = Inputs(inp.position[rows], inp.salience[rows], inp.capability[rows], inp.active[rows],
                     inp.low, inp.high, inp.status_quo, inp.seed[rows])
        _apply(mv, sub, hap[rows], ideal, job)  # views: writes go into inp / hap
    tr = simulate(job.aug, job.model, job.params, inputs=inp, happened=hap, explicit=set(job.explicit))
    return tr.final.reshape(L, k, -1)


def merge_advice(tasks: list[_AdviceTask], parts: list[np.ndarray], levers: int, draws: int) -> np.ndarray:
    """The tasks' forecasts put back in place: shape (levers, draws, D), in the plan's lever order."""
    out = np.empty((levers, draws, parts[0].shape[-1]))
    for t, part in zip(tasks, parts):
        out[t.lever : t.lever + len(t.moves), t.start : t.stop] = part
    return out
