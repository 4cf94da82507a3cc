"""The result of a backtest: forecasts, metrics and their renderings (table, CSV, JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..serialize import JsonResult, jsonable
from .data import Dataset
from .metrics import metrics, paired_bootstrap

#: The model every other is compared with.
REFERENCE = "compromise"

#: Breakdown fields of ``Issue.meta``.
BREAKDOWNS = ("wave", "proc", "rule", "type")


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
    ) -> "BacktestResult":
        """Score ``forecasts`` against the dataset's outcomes."""
        outcome = np.array([i.outcome for i in ds.issues], float)
        issues = [
            {"issue": i.key, **{k: i.meta.get(k, "") for k in BREAKDOWNS}, "outcome": i.outcome} for i in ds.issues
        ]
        ref_err = np.abs(forecasts[REFERENCE] - outcome) if REFERENCE in forecasts else None
        summary: dict[str, dict[str, Any]] = {}
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
            settings={"seed": seed, "draws": draws, "n_boot": n_boot},
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
            per_issue.append({**it, "forecasts": {k: fc[j] for k, fc in self.forecasts.items()}})
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
            for key, groups in s["by"].items():
                for v, g in groups.items():
                    row[f"mae[{key}={v}]"] = g["mae"]
                    row[f"n[{key}={v}]"] = g["n"]
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
            t.add_column(col, justify=just)
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

    def breakdown_table(self, key: str):
        """A :class:`rich.table.Table` of MAE by one breakdown (``wave``, ``proc``, ``rule``, ``type``)."""
        from rich.table import Table

        values = list(dict.fromkeys(it[key] for it in self.issues))
        t = Table(title=f"MAE by {key}")
        t.add_column("model")
        for v in values:
            t.add_column(f"{v or '(none)'}", justify="right")
        for label, s in self.summary.items():
            g = s["by"][key]
            t.add_row(label, *(f"{g[v]['mae']:.2f} (n={g[v]['n']})" if g[v]["n"] else "-" for v in values))
        return t
