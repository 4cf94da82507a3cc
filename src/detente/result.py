"""The result of one forecast, and its stable JSON contract.

``Result.to_dict()`` gives::

    {"scenario": NAME, "model": NAME, "params": {...},
     "issues": {ISSUE_KEY: {"forecast": float, "scale": [low, high], ...}},
     "history": [{"round": 0, "positions": {ACTOR_KEY: {ISSUE_KEY: float}},
                  "forecast": {ISSUE_KEY: float}, ...}, ...],
     "meta": {"version": ..., "seed": ..., "input_sha256": ..., "events": [...], "notes": [...]}}

Later models and analyses add fields; they never rename these.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._extras import import_optional
from .models.base import ModelParams, Trajectory
from .scenario.schema import Scenario
from .serialize import JsonResult, finite, input_sha256, json_value, meta  # noqa: F401 (json_value, input_sha256: re-exported)

if TYPE_CHECKING:
    import pandas as pd


_f = finite  # the JSON-safe float, under its old name


@dataclass
class Result(JsonResult):
    """One forecast of one scenario by one model.

    Attributes
    ----------
    scenario : Scenario
    model : str
    params : ModelParams
    trajectory : Trajectory
        The model's raw arrays (batch of one draw).
    seed : int or None
    """

    scenario: Scenario
    model: str
    params: ModelParams
    trajectory: Trajectory
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    _bands: list[dict[str, Any]] | None = field(default=None, init=False, repr=False, compare=False)
    #: What the run did with uncertain events (the most likely branch), or None without any.
    branch: str | None = None
    #: Per issue key, the stability diagnostics (:mod:`detente.stability`); None for a model without rounds.
    stability: dict[str, dict[str, Any]] | None = None

    @property
    def all_notes(self) -> list[str]:
        """The branch note (if any), the run's notes, then one per unstable issue: what ``meta.notes`` lists."""
        return ([self.branch] if self.branch else []) + list(self.notes) + self.stability_notes()

    def stability_notes(self, where: str = "") -> list[str]:
        """One sentence per issue whose forecast is unstable (:func:`detente.stability.describe`)."""
        from .stability import describe

        return [describe(iss.name + where, self.stability[iss.key], iss.fmt) for iss in self.scenario.issues
                if self.stability is not None and self.stability.get(iss.key, {}).get("unstable")]

    # -- plain views -------------------------------------------------------------
    @property
    def forecast(self) -> dict[str, float]:
        """The final forecast per issue key."""
        return {k: float(v) for k, v in zip(self.scenario.issue_keys, self.trajectory.final[0])}

    @property
    def issues(self) -> dict[str, dict[str, Any]]:
        """Per issue: ``forecast``, ``scale``, the nearest ``label``, plus model-specific fields."""
        from . import models

        out: dict[str, dict[str, Any]] = {}
        for d, iss in enumerate(self.scenario.issues):
            x = float(self.trajectory.final[0, d])
            entry: dict[str, Any] = {"forecast": _f(x), "scale": [iss.scale[0], iss.scale[1]]}
            if iss.labels:
                entry["label"] = iss.label_for(x)
            if self.stability is not None and iss.key in self.stability:
                entry["stability"] = self.stability[iss.key]
            out[iss.key] = entry
        for key, band in zip(self.scenario.issue_keys, self.track_record_bands()):
            out[key]["track_record_band"] = band
        summarize = getattr(models.get(self.model), "summarize", None)
        if summarize is not None:
            for key, extra in summarize(self.trajectory, 0, self.scenario.issue_keys).items():
                for k, v in extra.items():
                    out[key].setdefault(k, v)
        return out

    def track_record_bands(self) -> list[dict[str, Any]]:
        """Per issue, the band this model's track record supports (:func:`detente.calibrate.forecast_bands`; computed once)."""
        from .calibrate import scenario_bands

        if self._bands is None:
            self._bands = scenario_bands(self.scenario, self.model, self.params.model_dump(mode="json"),
                                         self.trajectory.final[0])
        return copy.deepcopy(self._bands)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Round by round: positions of the actors taking part, the forecast, the model's moves and fields."""
        from . import models

        tr = self.trajectory
        akeys, ikeys = self.scenario.actor_keys, self.scenario.issue_keys
        model = models.get(self.model)
        moves = getattr(model, "moves", None)
        render = getattr(model, "render_round", None)
        rows = []
        for t in range(tr.position.shape[1]):
            on = tr.active_at(0, t)
            row: dict[str, Any] = {
                "round": t,
                "positions": {
                    a: {i: _f(tr.position[0, t, n, d]) for d, i in enumerate(ikeys)}
                    for n, a in enumerate(akeys)
                    if on[n]
                },
                "forecast": {i: _f(tr.forecast[0, t, d]) for d, i in enumerate(ikeys)},
            }
            if moves is not None:
                row["moves"] = moves(tr, 0, t, akeys, ikeys)
            if render is not None:
                for k, v in render(tr, 0, t, akeys, ikeys).items():
                    row.setdefault(k, v)
            rows.append(row)
        return rows

    @property
    def events(self) -> list[dict[str, Any]]:
        """Each event, its round, probability and whether it happened in this run."""
        hap = self.trajectory.info.get("events_happened")
        return [
            {
                "key": e.key,
                "name": e.name,
                "type": e.type,
                "round": self.scenario.event_round(e),
                "probability": e.probability,
                "happened": bool(hap[0, j]) if hap is not None else None,
            }
            for j, e in enumerate(self.scenario.events)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract as a Python dict."""

        return {
            "scenario": self.scenario.name,
            "model": self.model,
            "params": self.params.model_dump(mode="json"),
            "issues": self.issues,
            "history": self.history,
            "meta": meta(self.seed, input_sha256=input_sha256(self.scenario), events=self.events, notes=self.all_notes),
        }

    def _repr_html_(self) -> str:
        """The forecast as HTML tables (Jupyter shows it so): per issue, then each actor's position at the start and end."""
        from html import escape

        from .scenario.html import html_table

        s, last = self.scenario, self.history[-1]["positions"]
        forecast = html_table(["issue", "scale", "forecast", "meaning"],
                              ([i.key, f"{i.scale[0]:g} to {i.scale[1]:g}", self.forecast[i.key],
                                i.label_for(self.forecast[i.key]) if i.labels else ""] for i in s.issues), "Forecast")
        moves = html_table(["actor", *(f"{i.key}: start -> end" for i in s.issues)],
                           ([a.name, *(f"{a.positions[i.key].value:g} -> {last[a.key][i.key]:.4g}" if a.key in last
                                       else f"{a.positions[i.key].value:g} -> absent" for i in s.issues)] for a in s.actors),
                           "Positions")
        notes = "".join(f"<p><i>note: {escape(n)}</i></p>" for n in self.notes)
        return f"<div><p><b>{escape(s.name)}</b> &mdash; model {escape(self.model)}</p>{forecast}{moves}{notes}</div>"

    def to_frame(self) -> pd.DataFrame:
        """Tidy positions by round: columns ``round, actor, issue, position`` (+ ``forecast``).

        Needs pandas (the ``analysis`` extra).
        """
        pd = import_optional("pandas")
        tr = self.trajectory
        akeys, ikeys = self.scenario.actor_keys, self.scenario.issue_keys
        T = tr.position.shape[1]
        active = tr.extras.get("active")
        r, a, i = np.meshgrid(np.arange(T), np.arange(len(akeys)), np.arange(len(ikeys)), indexing="ij")
        df = pd.DataFrame(
            {
                "round": r.ravel(),
                "actor": np.asarray(akeys, dtype=object)[a.ravel()],
                "issue": np.asarray(ikeys, dtype=object)[i.ravel()],
                "position": tr.position[0].ravel(),
                "forecast": tr.forecast[0][r.ravel(), i.ravel()],
            }
        )
        if active is not None:
            df = df[active[0][r.ravel(), a.ravel()]].reset_index(drop=True)
        return df
