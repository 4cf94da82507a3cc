"""The run store: every run of the web app in one SQLite file.

A run is written once, whole, in one transaction when it has finished, so a
crash mid-run leaves no half-written run. Each call opens its own connection
(SQLite serialises writers; WAL lets readers go on while one writes), so the
store is safe to use from many request threads at once.

Background jobs are rows too (table ``jobs``): their state, progress,
problems and run id. A store opened after a crash or a restart marks every job
that was queued or running as ``interrupted``.

A store that cannot be written raises :class:`StoreFull` (the disk is full:
HTTP 507) or :class:`StoreUnavailable` (read-only, no permission, I/O error:
HTTP 503); a failed write leaves everything already stored as it was.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import errno
import functools
import json
import sqlite3
import uuid
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, Callable, ParamSpec, TypeVar

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
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    created     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,   -- queued, running, done, failed, cancelled, interrupted
    progress    REAL NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    run_id      TEXT,
    problems    TEXT NOT NULL DEFAULT '[]',  -- JSON
    error       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""

#: What a job that was queued or running when the server stopped says.
INTERRUPTED = "the server stopped while this job was queued or running; nothing of it was stored: start it again"


class StoreError(Exception):
    """The run store cannot be used; ``status`` is the HTTP answer."""

    status = 503

    def __init__(self, path: Path, what: str, detail: str):
        super().__init__(f"the run store {path} {what} ({detail})")
        self.path, self.what, self.detail = path, what, detail


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full: HTTP 507."""

    status = 507


class StoreUnavailable(StoreError):
    """The store is read-only, not permitted or failing: HTTP 503."""


_FULL = ("SQLITE_FULL",)
_READONLY = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOTADB", "SQLITE_CORRUPT")


def store_error(path: Path, e: BaseException) -> StoreError | None:
    """The :class:`StoreError` that ``e`` (from SQLite or the file system) means, or None."""
    if isinstance(e, sqlite3.Error):
        name = getattr(e, "sqlite_errorname", "") or ""
        text = str(e)
        if name.startswith(_FULL) or "full" in text:
            return StoreFull(path, "is full: the disk has no space left", f"{text}; free space, or give another --store")
        if name.startswith(_READONLY) or "readonly" in text or "unable to open" in text:
            return StoreUnavailable(path, "cannot be written", f"{text}; check its permissions and file system, "
                                    "or give another --store")
        if name.startswith("SQLITE_IOERR") or "disk I/O" in text:
            return StoreUnavailable(path, "cannot be written: the disk failed", text)
        return None
    if isinstance(e, OSError):
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(path, "is full: the disk has no space left", e.strerror or str(e))
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StoreUnavailable(path, "cannot be written", f"{e.strerror}; give a writable --store")
        return StoreUnavailable(path, "cannot be used", e.strerror or str(e))
    return None


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn SQLite and file-system failures of a store method into :class:`StoreError`."""

    @functools.wraps(fn)
    def wrapper(*a: P.args, **k: P.kwargs) -> R:
        try:
            return fn(*a, **k)
        except (sqlite3.Error, OSError) as e:
            err = store_error(Path(getattr(a[0], "path", "?")), e)
            if err is None:
                raise
            raise err from e

    return wrapper


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _write(con: sqlite3.Connection, sql: str, args: tuple = ()) -> sqlite3.Cursor:
    """One statement in its own immediate transaction; a failure rolls back (when SQLite has not already)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        cur = con.execute(sql, args)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # SQLite rolls back by itself on SQLITE_FULL: never hide the first error
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise
    return cur


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

    @_guarded
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
            self.interrupted = _write(con, "UPDATE jobs SET status = 'interrupted', message = ? "
                                           "WHERE status IN ('queued', 'running')", (INTERRUPTED,)).rowcount

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.execute("PRAGMA busy_timeout=30000")
        con.row_factory = sqlite3.Row
        return con

    @_guarded
    def add(self, *, kind: str, name: str, scenario: Any, model: str, params: dict[str, Any], seed: int | None,
            draws: int, version: str, results: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Store one finished run in a single transaction and return its summary."""
        rid = run_id or uuid.uuid4().hex[:12]
        created = _now()
        row = (rid, created, kind, name, json.dumps(scenario, ensure_ascii=False), model,
               json.dumps(params, sort_keys=True), seed, int(draws), version, json.dumps(results, ensure_ascii=False))
        with closing(self._connect()) as con:
            _write(con, "INSERT INTO runs (id, created, kind, name, scenario, model, params, seed, draws, version, results) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return {"id": rid, "created": created, "kind": kind, "name": name, "model": model, "params": params,
                "seed": seed, "draws": int(draws), "version": version}

    @_guarded
    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        """Summaries of the newest runs first (no results)."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT id, created, kind, name, model, params, seed, draws, version FROM runs "
                               "ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(r), "params": json.loads(r["params"])} for r in rows]

    @_guarded
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

    @_guarded
    def delete(self, run_id: str) -> bool:
        """Delete a run; False when there was none."""
        with closing(self._connect()) as con:
            return _write(con, "DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0

    @_guarded
    def count(self) -> int:
        """How many runs are stored."""
        with closing(self._connect()) as con:
            return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    # -- jobs ---------------------------------------------------------------------------------

    @_guarded
    def add_job(self, job_id: str, kind: str) -> dict[str, Any]:
        """A new queued job."""
        created = _now()
        with closing(self._connect()) as con:
            _write(con, "INSERT INTO jobs (id, created, kind, status, message) VALUES (?, ?, ?, 'queued', 'queued')",
                   (job_id, created, kind))
        return self.get_job(job_id)  # type: ignore[return-value]

    @_guarded
    def update_job(self, job_id: str, **fields: Any) -> None:
        """Set some of a job's ``status``, ``progress``, ``message``, ``run_id``, ``problems``, ``error``."""
        allowed = {"status", "progress", "message", "run_id", "problems", "error"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"unknown job fields: {sorted(set(fields) - allowed)}")
        vals = [json.dumps(v) if k == "problems" else v for k, v in fields.items()]
        sets = ", ".join(f"{k} = ?" for k in fields)
        with closing(self._connect()) as con:
            _write(con, f"UPDATE jobs SET {sets} WHERE id = ?", (*vals, job_id))

    @_guarded
    def delete_job(self, job_id: str) -> None:
        """Forget a job."""
        with closing(self._connect()) as con:
            _write(con, "DELETE FROM jobs WHERE id = ?", (job_id,))

    @staticmethod
    def _job(r: sqlite3.Row) -> dict[str, Any]:
        d = dict(r)
        d["problems"] = json.loads(d["problems"] or "[]")
        d["progress"] = round(float(d["progress"]), 3)
        return d

    @_guarded
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """One job's state, or None."""
        with closing(self._connect()) as con:
            r = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if r is None else self._job(r)

    @_guarded
    def list_jobs(self, limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest jobs first."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [self._job(r) for r in rows]

    @_guarded
    def trim_jobs(self, keep: int) -> None:
        """Forget finished jobs beyond the newest ``keep``."""
        with closing(self._connect()) as con:
            _write(con, "DELETE FROM jobs WHERE status NOT IN ('queued', 'running') AND id NOT IN "
                        "(SELECT id FROM jobs ORDER BY created DESC LIMIT ?)", (keep,))
