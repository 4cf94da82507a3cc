"""The run store: every run of the web app in one SQLite file.

A run is written once, whole, in one transaction when it has finished, so a
crash mid-run leaves no half-written run. Each call opens its own connection
(SQLite serialises writers; WAL lets readers go on while one writes), so the
store is safe to use from many request threads at once.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    created     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    scenario    TEXT NOT NULL,   -- the scenario as given (JSON: {"text", "format", "filename"} or {"scenario": dict} or {"name"})
    model       TEXT NOT NULL,
    params      TEXT NOT NULL,   -- JSON
    seed        INTEGER,
    draws       INTEGER NOT NULL DEFAULT 0,
    version     TEXT NOT NULL,
    results     TEXT NOT NULL    -- JSON: the report data shown for the run
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
"""


def default_store_path() -> Path:
    """``runs.sqlite3`` in the user's data folder (created when missing)."""
    import platformdirs

    d = Path(platformdirs.user_data_dir("detente", appauthor=False))
    return d / "runs.sqlite3"


class RunStore:
    """Runs kept in SQLite.

    Parameters
    ----------
    path : path
        The database file; its folder is created when missing. ``":memory:"``
        is not supported (every call opens a new connection).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            with con:
                con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.execute("PRAGMA busy_timeout=30000")
        con.row_factory = sqlite3.Row
        return con

    def add(self, *, kind: str, name: str, scenario: Any, model: str, params: dict[str, Any], seed: int | None,
            draws: int, version: str, results: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Store one finished run in a single transaction and return its summary."""
        rid = run_id or uuid.uuid4().hex[:12]
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        row = (rid, created, kind, name, json.dumps(scenario, ensure_ascii=False), model,
               json.dumps(params, sort_keys=True), seed, int(draws), version, json.dumps(results, ensure_ascii=False))
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute("INSERT INTO runs (id, created, kind, name, scenario, model, params, seed, draws, version, results) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return {"id": rid, "created": created, "kind": kind, "name": name, "model": model, "params": params,
                "seed": seed, "draws": int(draws), "version": version}

    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        """Summaries of the newest runs first (no results)."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT id, created, kind, name, model, params, seed, draws, version FROM runs "
                               "ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(r), "params": json.loads(r["params"])} for r in rows]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run in full, or None."""
        with closing(self._connect()) as con:
            r = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if r is None:
            return None
        d = dict(r)
        for k in ("scenario", "params", "results"):
            d[k] = json.loads(d[k])
        return d

    def delete(self, run_id: str) -> bool:
        """Delete a run; False when there was none."""
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            cur = con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            con.execute("COMMIT")
        return cur.rowcount > 0

    def count(self) -> int:
        """How many runs are stored."""
        with closing(self._connect()) as con:
            return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
