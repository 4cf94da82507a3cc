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
    An actor is kept out of the talks (its ``join`` events cancelled), or a
    new ally joins with A's positions and saliences and the smallest
    capability in the scenario.

Every lever is evaluated on the same Monte Carlo draws (common random
numbers: the same inputs, events and model seeds), so its gain is a per-draw
difference. A's ideal in each draw is A's drawn starting position. The gain is
the distance from the base forecast to the ideal minus the distance from the
lever's forecast to it (positive: closer). All levers of a stage run as one
batch of draws (in chunks of ``chunk`` draws): with the deterministic point
forecast, three batches in all (two when the second stage has no lever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..budget import Budget, inputs_bytes, plan_scenario
from ..models.base import F8, Inputs, ModelParams
from ..scenario.schema import Actor, Scenario, Value
from ..serialize import JsonResult, input_sha256, meta
from ..serialize import json_value as _clean
from ..simulate import most_likely
from ._draws import actor_index, check_seed, issue_index, monte_carlo_draws, short_actor, tile
from ._run import resolve, run_draws
from .montecarlo import check_draws

#: Lever sizes, as shares of the issue scale (positions) or of the salience scale.
OWN_SHIFTS = (0.10, 0.25)
SALIENCE_SHIFTS = (+0.25, -0.25)
PERSUADE_PROBE = 0.10
PERSUADE_FURTHER = (0.25, 0.50)
COALITION_SHIFT = 0.25
COALITION_SIZES = (2, 3)

Modifier = Callable[[Inputs, np.ndarray], None]


@dataclass
class _Lever:
    kind: str
    issue: int | None  # the issue it acts on (None: all issues)
    target: str | None  # another actor concerned
    description: str
    cost: float  # size of the move in scale units (NaN when not a move)
    modify: Modifier
    shift: Callable[[], np.ndarray] | None = None  # per-draw size of the move actually made


@dataclass
class Advice(JsonResult):
    """Levers for one actor, ranked by how far they move each issue's forecast toward it.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    actor : str
    draws, seed : int
    table : DataFrame
        One row per lever x issue: ``issue, kind, target, lever, cost,
        gain_mean, gain_median, gain_p10, gain_p90, share_of_distance,
        p_helps, gain_per_unit``, sorted by issue then ``gain_mean``.
    base : DataFrame
        Per issue: ``issue, ideal`` (median of A's drawn position),
        ``forecast`` (median base forecast), ``distance`` (mean distance).
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
        """The lever with the largest mean gain (on ``issue``, default: on any issue, by share of distance)."""
        df = self.table if issue is None else self.table[self.table["issue"] == issue]
        col = "gain_mean" if issue is not None else "share_of_distance"
        return df.sort_values(col, ascending=False, kind="stable").iloc[0].to_dict()

    def best_persuasion_target(self, issue: str) -> str | None:
        """The other actor that gives the most gain per unit of shift on ``issue``."""
        df = self.table[(self.table["issue"] == issue) & (self.table["kind"] == "persuade")]
        df = df[np.isclose(df["cost_share"], PERSUADE_PROBE)]
        if df.empty:
            return None
        return str(df.sort_values("gain_per_unit", ascending=False, kind="stable").iloc[0]["target"])

    def headline(self) -> list[str]:
        """One sentence per issue naming the best lever, its gain and its spread."""
        out = []
        name = short_actor(self.scenario, self.scenario.actor_keys.index(self.actor))
        for r in self.base.to_dict("records"):
            b = self.best(r["issue"])
            out.append(
                f"{r['issue']}: {name}'s best lever is to {b['lever']}: the forecast moves "
                f"{b['gain_mean']:+.1f} points toward {name} ({100 * b['share_of_distance']:.0f}% of the way "
                f"from {r['forecast']:.1f} to {r['ideal']:.1f}); it helps in {100 * b['p_helps']:.0f}% of draws "
                f"(10-90%: {b['gain_p10']:+.1f} to {b['gain_p90']:+.1f})"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"scenario", "model", "params", "actor", "issues": {KEY: {ideal, forecast, distance, best, levers}}, "meta"}``."""

        issues = {}
        for r in self.base.to_dict("records"):
            rows = self.table[self.table["issue"] == r["issue"]].drop(columns=["issue"]).to_dict("records")
            rows = [{k: _clean(v) for k, v in x.items()} for x in rows]
            issues[r["issue"]] = {"ideal": r["ideal"], "forecast": r["forecast"], "distance": r["distance"],
                                  "best": rows[0] if rows else None, "levers": rows}
        return {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "actor": self.actor,
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
    chunk, progress, budget
        See :func:`detente.analysis.monte_carlo`.

    Returns
    -------
    Advice
    """
    scen, model, p, explicit = resolve(scenario, model, params)
    a = actor_index(scen, actor)
    targets = list(range(len(scen.issues))) if issue is None else [issue_index(scen, issue)]
    B = check_draws(draws)
    s = check_seed(seed)
    n1, D, E = len(scen.actors) + 1, len(scen.issues), len(scen.events)
    # stage 1: every single lever on the targeted issues, removals and the new ally, plus the base;
    # stage 2 at most the further persuasions and coalitions per issue, plus the base
    L1 = len(targets) * (len(OWN_SHIFTS) + len(SALIENCE_SHIFTS) + n1 - 2) + (n1 - 2) + 2
    L2 = len(targets) * (len(PERSUADE_FURTHER) + len(COALITION_SIZES)) + 1
    plan_scenario(f"advice ({model})", scen, model, p, explicit, (L1 + L2) * B + 1, budget=budget, chunk=chunk,
                  held=B * (max(L1, L2) + 1) * (inputs_bytes(n1, D, E) + 2 * D * F8) + L1 * B * D * F8)
    dr = monte_carlo_draws(scen, B, s)
    aug, base_inp, ally_key = _with_ally(scen, a, dr.inputs, dr.happened)
    ideal = dr.inputs.position[:, a, :].copy()  # (B, D)
    lo, hi = scen.to_inputs().low, scen.to_inputs().high
    width = hi - lo
    sscale = float(scen.salience_scale)
    n = len(scen.actors)
    others = [j for j in range(n) if j != a]
    # the direction A wants each issue to move, from the point forecast (one cheap run)
    point = run_draws(scen, model, p, scen.to_inputs(seed=s), most_likely(scen), explicit=explicit, progress=False,
                      budget=budget)[0][0]
    direction = np.sign(ideal.mean(axis=0) - point)
    direction[direction == 0] = 1.0

    def run_stage(levers: list[_Lever]) -> np.ndarray:
        L = len(levers) + 1
        inp = tile(base_inp, L)
        hap = np.tile(dr.happened, (L, 1))
        for k, lev in enumerate(levers, start=1):
            rows = slice(k * B, (k + 1) * B)
            sub = Inputs(inp.position[rows], inp.salience[rows], inp.capability[rows], inp.active[rows],
                         inp.low, inp.high, inp.status_quo, inp.seed[rows])
            lev.modify(sub, hap[rows])  # views: writes go into inp / hap
        fc = run_draws(aug, model, p, inp, hap, explicit=explicit, chunk=chunk, progress=progress, what=f"advice ({model})",
                       budget=budget)[0]
        return fc.reshape(L, B, -1)

    # -- lever builders -------------------------------------------------------------------
    def own(d: int, share: float) -> _Lever:
        step = share * width[d] * direction[d]

        def m(x: Inputs, h: np.ndarray) -> None:
            x.position[:, a, d] = np.clip(x.position[:, a, d] + step, lo[d], hi[d])

        shift = lambda: np.abs(np.clip(ideal[:, d] + step, lo[d], hi[d]) - ideal[:, d])  # noqa: E731
        return _Lever("own position", d, None, f"state a position {share * width[d]:g} points more extreme", share * width[d], m, shift)

    def sal(d: int, share: float) -> _Lever:
        delta = share * sscale

        def m(x: Inputs, h: np.ndarray) -> None:
            x.salience[:, a, d] = np.clip(x.salience[:, a, d] + delta / sscale, 0.0, 1.0)

        verb = "raise" if share > 0 else "lower"
        return _Lever("salience", d, None, f"{verb} its salience by {abs(delta):g} points", abs(delta), m)

    def persuade(d: int, js: list[int], share: float) -> _Lever:
        step = share * width[d]

        def moved(j: int, pos: np.ndarray) -> np.ndarray:
            gap = ideal[:, d] - pos
            return pos + np.sign(gap) * np.minimum(np.abs(gap), step)

        def m(x: Inputs, h: np.ndarray) -> None:
            for j in js:
                x.position[:, j, d] = moved(j, x.position[:, j, d])

        def shift() -> np.ndarray:
            return sum(np.minimum(np.abs(ideal[:, d] - dr.inputs.position[:, j, d]), step) for j in js)

        names = [scen.actors[j].key for j in js]
        if len(js) == 1:
            return _Lever("persuade", d, names[0], f"persuade {names[0]} to move {step:g} points toward it", step, m, shift)
        return _Lever("coalition", d, "+".join(names), f"build a coalition: {', '.join(names)} each move up to {step:g} points toward it",
                      step * len(js), m, shift)

    def remove(j: int) -> _Lever:
        joins = [e for e, ev in enumerate(scen.events) if ev.actor == scen.actors[j].key and ev.type == "join"]

        def m(x: Inputs, h: np.ndarray) -> None:
            x.active[:, j] = False
            h[:, joins] = False

        return _Lever("remove", None, scen.actors[j].key, f"keep {scen.actors[j].key} out of the talks", np.nan, m)

    def add() -> _Lever:
        def m(x: Inputs, h: np.ndarray) -> None:
            x.active[:, n] = True

        cap = base_inp.capability[0, n]
        return _Lever("add", None, ally_key, f"bring in a new ally (capability {cap:g}) with its own positions", np.nan, m)

    # -- stage 1: every single lever ---------------------------------------------------------
    stage1: list[_Lever] = []
    for d in targets:
        stage1 += [own(d, s_) for s_ in OWN_SHIFTS]
        stage1 += [sal(d, s_) for s_ in SALIENCE_SHIFTS]
        stage1 += [persuade(d, [j], PERSUADE_PROBE) for j in others]
    stage1 += [remove(j) for j in others]
    stage1.append(add())
    fc1 = run_stage(stage1)
    base_fc = fc1[0]
    dist = np.abs(base_fc - ideal)  # (B, D)

    def gains(fc: np.ndarray) -> np.ndarray:
        return dist - np.abs(fc - ideal)

    results: list[tuple[_Lever, np.ndarray]] = [(lev, gains(fc1[k + 1])) for k, lev in enumerate(stage1)]

    # -- stage 2: how far for the best per-unit actor; greedy coalitions ----------------------
    stage2: list[_Lever] = []
    for d in targets:
        per_unit = []
        for lev, g in results:
            if lev.kind == "persuade" and lev.issue == d:
                j = scen.actor_keys.index(lev.target)  # type: ignore[arg-type]
                sh = lev.shift().mean()  # type: ignore[misc]
                per_unit.append((g[:, d].mean() / sh if sh > 0 else 0.0, j))
        per_unit.sort(key=lambda t: -t[0])
        good = [j for u, j in per_unit if u > 0]
        if good:
            stage2 += [persuade(d, [good[0]], s_) for s_ in PERSUADE_FURTHER]
        for k in COALITION_SIZES:
            if len(good) >= k:
                stage2.append(persuade(d, good[:k], COALITION_SHIFT))
    if stage2:
        fc2 = run_stage(stage2)
        results += [(lev, gains(fc2[k + 1])) for k, lev in enumerate(stage2)]
    runs = (len(stage1) + 1 + (len(stage2) + 1 if stage2 else 0)) * B + 1

    # -- the table ------------------------------------------------------------------------------
    rows = []
    for lev, g in results:
        for d in targets if lev.issue is None else [lev.issue]:
            x = g[:, d]
            tol = 1e-9 * width[d]
            shift = lev.shift().mean() if lev.shift is not None else np.nan
            rows.append({
                "issue": scen.issues[d].key, "kind": lev.kind, "target": lev.target, "lever": lev.description,
                "cost": lev.cost, "cost_share": lev.cost / width[d] if lev.kind in ("own position", "persuade", "coalition") else np.nan,
                "gain_mean": float(x.mean()), "gain_median": float(np.median(x)),
                "gain_p10": float(np.quantile(x, 0.1)), "gain_p90": float(np.quantile(x, 0.9)),
                "share_of_distance": float(x.mean() / dist[:, d].mean()) if dist[:, d].mean() > tol else 0.0,
                "p_helps": float(np.mean(x > tol)),
                "gain_per_unit": float(x.mean() / shift) if shift and np.isfinite(shift) and shift > 0 else np.nan,
            })
    df = pd.DataFrame(rows)
    order = {scen.issues[d].key: i for i, d in enumerate(targets)}
    df = df.assign(_o=df["issue"].map(order)).sort_values(["_o", "gain_mean"], ascending=[True, False], kind="stable")
    df = df.drop(columns="_o").reset_index(drop=True)
    base = pd.DataFrame([
        {"issue": scen.issues[d].key, "ideal": float(np.median(ideal[:, d])), "forecast": float(np.median(base_fc[:, d])),
         "distance": float(dist[:, d].mean())}
        for d in targets
    ])
    notes = [f"{B} Monte Carlo draws shared by every lever (common random numbers); gain = how much closer the "
             f"forecast gets to {scen.actors[a].key}'s drawn starting position, in scale points"]
    return Advice(scen, model, p, scen.actors[a].key, B, s, df, base, runs=runs, notes=notes)
