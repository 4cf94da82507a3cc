"""The result of a backtest: forecasts, metrics and their renderings (table, CSV, JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..calibrate import LEVELS, RELIABILITY_LEVELS, coverage, interval_score, pit_histogram, reliability
from ..serialize import JsonResult, jsonable
from .calibration import ALL_LEVELS
from .data import Dataset
from .metrics import metrics, paired_bootstrap

#: The model every other is compared with.
REFERENCE = "compromise"

#: Breakdown fields of ``Issue.meta``.
BREAKDOWNS = ("wave", "proc", "rule", "type")


def _at(bands: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    """The columns of ``bands`` (computed at :data:`detente.backtest.calibration.ALL_LEVELS`) at ``levels``."""
    return bands[:, [ALL_LEVELS.index(lev) for lev in levels], :]


def _band_scores(bands: np.ndarray, outcome: np.ndarray) -> dict[str, Any]:
    """Coverage and mean interval score per level of the issues with a band."""
    ok = np.isfinite(bands[:, 0, 0])
    n = int(ok.sum())
    if n == 0:
        return {"n_bands": 0, "coverage": {str(lev): None for lev in LEVELS}, "interval_score": {str(lev): None for lev in LEVELS}}
    cov = coverage(bands[ok], outcome[ok])
    isc = interval_score(bands[ok], outcome[ok], LEVELS).mean(axis=0)
    return {"n_bands": n, "coverage": {str(lev): float(c) for lev, c in zip(LEVELS, cov)},
            "interval_score": {str(lev): float(v) for lev, v in zip(LEVELS, isc)}}


def _probabilistic(p: dict[str, Any], outcome: np.ndarray, issues: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage, interval score, CRPS, reliability and PIT of one model's bands, overall and by breakdown."""
    bands = _at(p["bands"], LEVELS)
    out: dict[str, Any] = _band_scores(bands, outcome)
    ok = np.isfinite(p["crps"])
    out["crps"] = float(p["crps"][ok].mean()) if ok.any() else None
    rel_ok = np.isfinite(p["bands"][:, 0, 0])
    out["reliability"] = reliability(_at(p["bands"], RELIABILITY_LEVELS)[rel_ok], outcome[rel_ok]) if rel_ok.any() else None
    out["pit_histogram"] = pit_histogram(p["pit"])
    chosen = [str(c) for c in p["difficulty"] if c]
    out["band_difficulty"] = {c: chosen.count(c) for c in dict.fromkeys(chosen)}
    by: dict[str, Any] = {}
    for key in BREAKDOWNS:
        values = [it[key] for it in issues]
        groups = {}
        for v in dict.fromkeys(values):
            mask = np.array([x == v for x in values])
            sc = _band_scores(bands[mask], outcome[mask])
            c = p["crps"][mask]
            sc["crps"] = float(c[np.isfinite(c)].mean()) if np.isfinite(c).any() else None
            groups[v] = sc
        by[key] = groups
    out["prob_by"] = by
    return out


@dataclass
class BacktestResult(JsonResult):
    """Forecasts of every model on every scored issue, and their scores.

    Attributes
    ----------
    dataset : str
        Dataset name and path.
    capability : str
        The capability option used (models may override it in their spec).
    issues : list of dict
        ``{"issue", "wave", "proc", "rule", "type", "outcome"}`` per scored issue.
    outcome : ndarray, shape (n_issues,)
    forecasts : dict label -> ndarray (n_issues,)
        NaN where the model did not run.
    summary : dict label -> dict
        Metrics per model (the JSON ``models`` object).
    skipped : list of dict
        Issues of the dataset that could not be scored.
    not_run : dict label -> dict
        Issues a model could not take, with the reason.
    failures : dict label -> str
        Models that failed with an error.
    notes : list of str
    """

    JSON_ASCII = True  # non-ASCII escaped, as the backtest JSON has always been written

    dataset: str
    capability: str
    issues: list[dict[str, Any]]
    outcome: np.ndarray
    forecasts: dict[str, np.ndarray]
    summary: dict[str, dict[str, Any]]
    skipped: list[dict[str, Any]]
    n_total: int
    not_run: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    bands: dict[str, np.ndarray] = field(default_factory=dict)

    # ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        ds: Dataset,
        forecasts: dict[str, np.ndarray],
        *,
        capability: str,
        specs: dict[str, Any] | None = None,
        not_run: dict[str, dict[str, Any]] | None = None,
        failures: dict[str, str] | None = None,
        notes: list[str] | None = None,
        seed: int = 0,
        draws: int = 0,
        n_boot: int = 2000,
        prob: dict[str, dict[str, Any]] | None = None,
        bands_how: str = "",
    ) -> "BacktestResult":
        """Score ``forecasts`` against the dataset's outcomes.

        ``prob`` (label -> the output of :func:`detente.backtest.calibration.model_bands`)
        adds the probabilistic scores of each model's track-record bands; ``bands_how``
        says how they were learned.
        """
        outcome = np.array([i.outcome for i in ds.issues], float)
        issues = [
            {"issue": i.key, **{k: i.meta.get(k, "") for k in BREAKDOWNS}, "outcome": i.outcome} for i in ds.issues
        ]
        ref_err = np.abs(forecasts[REFERENCE] - outcome) if REFERENCE in forecasts else None
        summary: dict[str, dict[str, Any]] = {}
        bands: dict[str, np.ndarray] = {}
        for label, fc in forecasts.items():
            s: dict[str, Any] = metrics(fc, outcome)
            spec = (specs or {}).get(label)
            if spec is not None:
                s["model"] = spec.name
                s["params"] = dict(spec.params)
                s["capability"] = spec.capability or capability
            s["by"] = {}
            for key in BREAKDOWNS:
                groups: dict[Any, dict[str, Any]] = {}
                values = [it[key] for it in issues]
                for v in dict.fromkeys(values):
                    mask = np.array([x == v for x in values])
                    m = metrics(fc[mask], outcome[mask])
                    groups[v] = {"n": m["n"], "mae": m["mae"]}
                s["by"][key] = groups
            if ref_err is not None:
                boot = paired_bootstrap(np.abs(fc - outcome), ref_err, n_boot=n_boot, seed=seed)
                s["mae_diff_vs_compromise"] = boot
            if label in (not_run or {}):
                s["not_run"] = (not_run or {})[label]
            if prob and label in prob:
                s.update(_probabilistic(prob[label], outcome, issues))
                bands[label] = _at(prob[label]["bands"], LEVELS)
            summary[label] = s
        return cls(
            dataset=f"{ds.name} ({ds.path})",
            capability=capability,
            issues=issues,
            outcome=outcome,
            forecasts=dict(forecasts),
            summary=summary,
            skipped=list(ds.skipped),
            n_total=ds.n_total,
            not_run=dict(not_run or {}),
            failures=dict(failures or {}),
            notes=list(notes or []),
            settings={"seed": seed, "draws": draws, "n_boot": n_boot, **({"bands": bands_how} if bands_how else {})},
            bands=bands,
        )

    # ------------------------------------------------------------------
    @property
    def n_issues(self) -> int:
        """The number of scored issues."""
        return len(self.issues)

    def mae(self, label: str) -> float:
        """The MAE of one model."""
        return float(self.summary[label]["mae"])

    def to_dict(self) -> dict[str, Any]:
        """Everything, as one JSON-ready object (NaN as null)."""
        per_issue = []
        for j, it in enumerate(self.issues):
            row = {**it, "forecasts": {k: fc[j] for k, fc in self.forecasts.items()}}
            if self.bands:
                row["bands"] = {k: {str(lev): [float(b[j, i, 0]), float(b[j, i, 1])] for i, lev in enumerate(LEVELS)}
                                for k, b in self.bands.items()}
            per_issue.append(row)
        return jsonable(
            {
                "dataset": self.dataset,
                "capability": self.capability,
                "n_issues": self.n_issues,
                "n_total": self.n_total,
                "n_skipped": len(self.skipped),
                "settings": self.settings,
                "models": self.summary,
                "per_issue": per_issue,
                "skipped": self.skipped,
                "failures": self.failures,
                "notes": self.notes,
            }
        )

    def to_frame(self):
        """Per-issue forecasts: one row per issue, one column per model (pandas)."""
        import pandas as pd

        df = pd.DataFrame(self.issues)
        for k, fc in self.forecasts.items():
            df[k] = fc
        return df

    def summary_frame(self):
        """One row per model: n, MAE, RMSE, median AE, within 5/10, the bootstrap
        difference from the compromise model, and the MAE of every breakdown group
        (columns ``mae[wave=...]`` etc.)."""
        import pandas as pd

        rows = []
        for label, s in self.summary.items():
            row = {
                "model": label,
                "n": s["n"],
                "mae": s["mae"],
                "rmse": s["rmse"],
                "median_ae": s["median_ae"],
                "within5": s["within5"],
                "within10": s["within10"],
            }
            boot = s.get("mae_diff_vs_compromise")
            if boot:
                row.update({"mae_diff": boot["mean"], "diff_lo": boot["ci95"][0], "diff_hi": boot["ci95"][1]})
            if "coverage" in s:
                for lev in LEVELS:
                    row[f"coverage{lev}"] = s["coverage"][str(lev)]
                    row[f"interval_score{lev}"] = s["interval_score"][str(lev)]
                row["crps"] = s["crps"]
            for key, groups in s["by"].items():
                for v, g in groups.items():
                    row[f"mae[{key}={v}]"] = g["mae"]
                    row[f"n[{key}={v}]"] = g["n"]
                    pg = s.get("prob_by", {}).get(key, {}).get(v)
                    if pg is not None:
                        for lev in LEVELS:
                            row[f"coverage{lev}[{key}={v}]"] = pg["coverage"][str(lev)]
                            row[f"interval_score{lev}[{key}={v}]"] = pg["interval_score"][str(lev)]
            rows.append(row)
        return pd.DataFrame(rows)

    def to_csv(self) -> str:
        """:meth:`summary_frame` as CSV text."""
        return self.summary_frame().to_csv(index=False, float_format="%.4f")

    def table(self):
        """A :class:`rich.table.Table` of the overall scores."""
        from rich.table import Table

        t = Table(
            title=f"Backtest on {self.dataset}: {self.n_issues} scored issues "
            f"({len(self.skipped)} skipped), capability={self.capability}"
        )
        for col, just in (
            ("model", "left"),
            ("n", "right"),
            ("MAE", "right"),
            ("RMSE", "right"),
            ("median AE", "right"),
            ("<=5", "right"),
            ("<=10", "right"),
            ("MAE - compromise [95% CI]", "right"),
        ):
            t.add_column(col, justify=just, overflow="fold" if col == "model" else "ellipsis")  # a grid's specs are long
        for label, s in self.summary.items():
            boot = s.get("mae_diff_vs_compromise")
            diff = (
                "-"
                if label == REFERENCE or not boot or boot["n"] == 0
                else f"{boot['mean']:+.2f} [{boot['ci95'][0]:+.2f}, {boot['ci95'][1]:+.2f}]"
            )
            t.add_row(
                label,
                str(s["n"]),
                f"{s['mae']:.2f}",
                f"{s['rmse']:.2f}",
                f"{s['median_ae']:.2f}",
                f"{s['within5']:.0%}",
                f"{s['within10']:.0%}",
                diff,
            )
        for label, msg in self.failures.items():
            t.add_row(label, "-", "failed", "", "", "", "", msg[:60])
        return t

    def _by_table(self, key: str, title: str):
        """An empty :class:`rich.table.Table` with a model column and one column per value of a breakdown."""
        from rich.table import Table

        values = list(dict.fromkeys(it[key] for it in self.issues))
        t = Table(title=title)
        t.add_column("model")
        for v in values:
            t.add_column(f"{v or '(none)'}", justify="right")
        return t, values

    def breakdown_table(self, key: str):
        """A :class:`rich.table.Table` of MAE by one breakdown (``wave``, ``proc``, ``rule``, ``type``)."""
        t, values = self._by_table(key, f"MAE by {key}")
        for label, s in self.summary.items():
            g = s["by"][key]
            t.add_row(label, *(f"{g[v]['mae']:.2f} (n={g[v]['n']})" if g[v]["n"] else "-" for v in values))
        return t

    # ------------------------------------------------------------------ probabilistic scores
    def prob_table(self):
        """A :class:`rich.table.Table` of the track-record bands' coverage, interval scores and CRPS."""
        from rich.table import Table

        how = self.settings.get("bands", "")
        t = Table(title="Track-record bands: coverage (nominal 50/80/90%) and interval score (lower is better)"
                  + (f"\n{how}" if how else ""))
        t.add_column("model")
        t.add_column("n", justify="right")
        for lev in LEVELS:
            t.add_column(f"cover {lev}%", justify="right")
        for lev in LEVELS:
            t.add_column(f"IS {lev}%", justify="right")
        t.add_column("CRPS", justify="right")
        t.add_column("difficulty", justify="left")

        def pct(v: Any) -> str:
            return "-" if v is None else f"{v:.0%}"

        def num(v: Any) -> str:
            return "-" if v is None else f"{v:.1f}"

        for label, s in self.summary.items():
            if "coverage" not in s:
                continue
            diff = ", ".join(f"{k} x{v}" if len(s["band_difficulty"]) > 1 else k for k, v in s["band_difficulty"].items())
            t.add_row(label, str(s["n_bands"]), *(pct(s["coverage"][str(lev)]) for lev in LEVELS),
                      *(num(s["interval_score"][str(lev)]) for lev in LEVELS), num(s["crps"]), diff or "-")
        return t

    def reliability_table(self):
        """A :class:`rich.table.Table`: nominal against observed coverage of every model's bands (the reliability chart)."""
        from rich.table import Table

        t = Table(title="Reliability: observed coverage of the central bands at each nominal coverage")
        t.add_column("model")
        for lev in RELIABILITY_LEVELS:
            t.add_column(f"{lev}%", justify="right")
        t.add_column("PIT histogram (10 bins)", justify="left")
        for label, s in self.summary.items():
            rel = s.get("reliability")
            if not rel:
                continue
            t.add_row(label, *(f"{o:.0%}" for o in rel["observed"]), " ".join(str(c) for c in s["pit_histogram"]))
        return t

    def prob_breakdown_table(self, key: str, level: int = 80):
        """A :class:`rich.table.Table` of one band's coverage and interval score by one breakdown."""
        t, values = self._by_table(key, f"{level}% band by {key}: coverage / interval score")
        for label, s in self.summary.items():
            g = s.get("prob_by", {}).get(key)
            if not g:
                continue
            cells = []
            for v in values:
                c, i = g[v]["coverage"][str(level)], g[v]["interval_score"][str(level)]
                cells.append("-" if c is None else f"{c:.0%} / {i:.1f}")
            t.add_row(label, *cells)
        return t
