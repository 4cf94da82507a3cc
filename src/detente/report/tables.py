"""A forecast as tables for a spreadsheet: a per-issue summary beside the per-round rows, as CSV or a workbook.

:func:`forecast_tables` gives named tables (each a header row and rows):

``summary``
    One row per issue: the headline forecast and its meaning, the scale, and, with Monte
    Carlo draws, the median, mean, the 50/80/95% bands of the draws (input bands) and the most
    likely branch beside them (``most_likely``); for a model that plays rounds, the stability
    verdict (``unstable``, ``cycle_length``, ``horizon_spread``; see :mod:`detente.stability`) of the
    headline (with draws, of the median, and ``draws_moving``, the share of draws that move near the horizon);
    and the model's 50/80/90% track-record bands (``track_record_*``). The headline is what the
    forecast table prints: the Monte Carlo median with draws, the single run's forecast
    without.
``outcomes``
    One row per named outcome (an issue's thresholds): its probability over the draws (blank
    without draws: one run gives no probability).
``bands`` (with draws kept by round)
    The forecast's 5/25/50/75/95% quantiles after every round.
``positions``
    Every actor's position on every issue after every round, and the forecast then (one run;
    with draws, the run of the most likely branch of each event).
``moves``
    Who moved where in which round, and why, as the model reports it.
``notes``
    What the run noted (fallbacks, the reader's notes).

:func:`tables_csv` writes them as one CSV (a first column ``table`` says which table a row
belongs to; a spreadsheet filters on it), :func:`tables_xlsx` as a workbook, one sheet each.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .._parse import csv_safe

Table = list[list[Any]]

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def forecast_tables(result: Any, mc: Any = None) -> dict[str, Table]:
    """The tables of a forecast (a :class:`~detente.result.Result`; ``mc``: its Monte Carlo result, if any)."""
    s = result.scenario
    tables: dict[str, Table] = {"summary": _summary(result, mc), "outcomes": _outcomes(s, mc)}
    if mc is not None and getattr(mc, "by_round", None) is not None:
        tables["bands"] = _bands(mc)
    tables["positions"] = _positions(result)
    tables["moves"] = _moves(result)
    # with draws, the Monte Carlo notes hold the run's own and the median's stability
    notes = list(dict.fromkeys(mc.notes if mc is not None else result.all_notes))
    if mc is None:
        notes.append("one run: no bands or outcome probabilities; forecast with --draws N for them")
    else:
        notes.append(f"headline: the median of {mc.draws} Monte Carlo draws (seed {mc.seed}); positions and moves: one run "
                     "taking the most likely branch of each event")
    tables["notes"] = [["note"], *([n] for n in notes)]
    return tables


def _summary(result: Any, mc: Any) -> Table:
    s = result.scenario
    head = ["issue", "issue_name", "scale_low", "scale_high", "model", "forecast", "meaning"]
    if mc is not None:
        head += ["draws", "median", "mean", "sd", "lo50", "hi50", "lo80", "hi80", "lo95", "hi95", "most_likely"]
    stab = mc.stability if mc is not None else result.stability  # of the headline: with draws, the median's
    if stab is not None:
        head += ["unstable", "cycle_length", "horizon_spread"] + (["draws_moving"] if mc is not None else [])
    # the track-record bands (detente.calibrate), around the headline; blank for a model without a track record
    head += ["track_record_lo50", "track_record_hi50", "track_record_lo80", "track_record_hi80", "track_record_lo90",
             "track_record_hi90", "track_record_from"]
    rows: Table = [head]
    summ = {r["issue"]: r for r in mc.summary().to_dict("records")} if mc is not None else {}
    bands = (mc if mc is not None else result).track_record_bands()
    for iss, band in zip(s.issues, bands):
        x = summ[iss.key]["median"] if mc is not None else result.forecast[iss.key]
        row = [iss.key, iss.name, iss.scale[0], iss.scale[1], result.model, float(x), iss.label_for(x) if iss.labels else None]
        if mc is not None:
            q = summ[iss.key]
            row += [mc.draws, *(float(q[k]) for k in ("median", "mean", "sd", "lo50", "hi50", "lo80", "hi80", "lo95", "hi95")),
                    float(result.forecast[iss.key])]
        if stab is not None:
            st = stab[iss.key]
            row += [st["unstable"], st["cycle_length"], st["horizon_spread"]] + ([st["draws_moving"]] if mc is not None else [])
        b = band.get("bands")
        row += ([v for lev in ("50", "80", "90") for v in b[lev]] + [band["learned_from"]] if b
                else [None] * 6 + [band.get("why")])
        rows.append(row)
    return rows


def _outcomes(s: Any, mc: Any) -> Table:
    rows: Table = [["issue", "outcome", "value", "direction", "probability"]]
    probs = {(r["issue"], r["name"]): r["probability"] for r in mc.thresholds().to_dict("records")} if mc is not None else {}
    for iss in s.issues:
        for t in iss.thresholds:
            p = probs.get((iss.key, t.name))
            rows.append([iss.key, t.name, t.value, t.direction, None if p is None else float(p)])
    return rows


def _bands(mc: Any) -> Table:
    rows: Table = [["round", "issue", *(f"p{round(q * 100):02d}" for q in _QUANTILES)]]
    fan = mc.fan(_QUANTILES)
    T = mc.by_round.shape[1]
    for t in range(T):
        for iss in mc.scenario.issues:
            rows.append([t, iss.key, *(float(fan[iss.key][q][t]) for q in _QUANTILES)])
    return rows


def _positions(result: Any) -> Table:
    df = result.to_frame()
    return [list(df.columns), *([_plain(v) for v in r] for r in df.itertuples(index=False, name=None))]


def _moves(result: Any) -> Table:
    records = [dict(m, round=h["round"]) for h in result.history for m in (h.get("moves") or [])]
    cols = ["round", *dict.fromkeys(k for m in records for k in m if k != "round")]
    return [cols, *([_plain(m.get(c)) for c in cols] for m in records)]


def _plain(v: Any) -> Any:
    """A cell: numbers as Python numbers, text as text, anything nested as JSON text."""
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if isinstance(v, dict | list | tuple):
        return json.dumps(v, ensure_ascii=False, default=str)
    return v


def tables_csv(tables: dict[str, Table]) -> str:
    """All tables as one CSV: a first column ``table``, then the union of their columns in order of first use."""
    cols: list[str] = list(dict.fromkeys(c for t in tables.values() for c in t[0]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", *cols])
    for name, t in tables.items():
        at = {c: i for i, c in enumerate(t[0])}
        for row in t[1:]:
            w.writerow([name, *(_csv_cell(row[at[c]]) if c in at else "" for c in cols)])
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return csv_safe(v) if isinstance(v, str) else v


def tables_xlsx(tables: dict[str, Table]) -> bytes:
    """All tables as a workbook, one sheet each (needs the ``xlsx`` extra)."""
    from .._xlsx import workbook_bytes

    return workbook_bytes({name: t for name, t in tables.items()}, widths={"summary": {1: 30, 6: 40}, "notes": {0: 100}})
