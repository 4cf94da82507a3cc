"""Background runs with progress and cancellation, kept as rows of the run store.

A :class:`JobManager` runs report computations (:func:`detente.report.compute`)
on the app's bounded :class:`~detente.web.pool.WorkPool`. Each job is a row of
the :class:`~detente.web.store.RunStore` (``jobs``): its state, progress,
problems and run id, so a job id given out is answered after a crash or a
restart too (a job that was queued or running then is ``interrupted``). A
running job keeps its progress in memory and writes it to the row at most
every :data:`SAVE_EVERY` seconds. A cancelled job stops at its next step and
stores nothing; a job whose run cannot be stored (disk full, read-only store)
fails with that reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Callable

from .._cancel import Cancelled
from ..errors import DetenteError
from .pool import WorkPool
from .store import RunStore, StoreError

log = logging.getLogger(__name__)

#: Seconds between two writes of a running job's progress to its row.
SAVE_EVERY = 1.0

#: Job states; the last four are final.
STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


class Job:
    """A live (queued or running) job: its row's fields and its cancel flag."""

    def __init__(self, row: dict[str, Any]):
        self.row = dict(row)
        self.cancel = threading.Event()
        self.saved = 0.0

    @property
    def id(self) -> str:
        return self.row["id"]

    def to_dict(self) -> dict[str, Any]:
        """The job's state for the API."""
        d = dict(self.row)
        d["progress"] = round(float(d["progress"]), 3)
        return d


class JobManager:
    """Runs jobs on the pool and keeps their state in the store.

    Parameters
    ----------
    store : RunStore
    pool : WorkPool
    keep : int
        How many finished jobs the store remembers.
    """

    def __init__(self, store: RunStore, pool: WorkPool, keep: int = 1000):
        self.store, self.pool, self.keep = store, pool, keep
        self._live: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Callable[[Callable[[float, str], None], threading.Event], str]) -> dict[str, Any]:
        """Queue ``work(progress, cancel) -> run_id`` and return the job's state.

        Raises
        ------
        Busy
            When the pool's queue is full (the job is not kept).
        StoreError
            When the job's row cannot be written.
        """
        job = Job(self.store.add_job(uuid.uuid4().hex[:12], kind))
        with self._lock:
            self._live[job.id] = job
        try:
            self.pool.submit(lambda: self._run(job, work), job.cancel)
        except Exception:
            with self._lock:
                self._live.pop(job.id, None)
            self.store.delete_job(job.id)
            raise
        try:
            self.store.trim_jobs(self.keep)
        except StoreError:  # pragma: no cover - the job itself was stored
            log.warning("could not trim the job table", exc_info=True)
        return job.to_dict()

    def _save(self, job: Job, **fields: Any) -> None:
        job.row.update(fields)
        try:
            self.store.update_job(job.id, **fields)
            job.saved = time.monotonic()
        except StoreError as e:  # the state stays in memory; the store's failure is logged
            log.warning("job %s: cannot save its state: %s", job.id, e)

    def _run(self, job: Job, work: Callable[..., str]) -> None:
        if job.cancel.is_set():
            self._save(job, status="cancelled", message="cancelled before it started")
            with self._lock:
                self._live.pop(job.id, None)
            return
        self._save(job, status="running", message="starting")

        def progress(frac: float, message: str) -> None:
            if job.cancel.is_set():
                raise Cancelled()
            job.row["progress"] = max(float(job.row["progress"]), float(frac))
            job.row["message"] = message
            if time.monotonic() - job.saved >= SAVE_EVERY:
                self._save(job, progress=job.row["progress"], message=message)

        try:
            run_id = work(progress, job.cancel)
        except Cancelled:
            self._save(job, status="cancelled", message="cancelled; nothing was stored")
        except DetenteError as e:
            self._save(job, status="failed", message="the input has problems", problems=[p.to_dict() for p in e.problems])
        except StoreError as e:
            self._save(job, status="failed", message=str(e), error=str(e))
        except Exception:
            log.exception("job %s failed", job.id)
            self._save(job, status="failed", message="internal error", error="internal error (see the server log)")
        else:
            self._save(job, status="done", progress=1.0, message="done", run_id=run_id)
        finally:
            with self._lock:
                self._live.pop(job.id, None)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's state (live, else from the store), or None."""
        with self._lock:
            live = self._live.get(job_id)
        return live.to_dict() if live is not None else self.store.get_job(job_id)

    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest jobs first, live ones with their current progress."""
        rows = self.store.list_jobs(limit)
        with self._lock:
            live = {k: j.to_dict() for k, j in self._live.items()}
        return [live.get(r["id"], r) for r in rows]

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Ask a job to stop (it stops at its next step); its state, or None."""
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            live.cancel.set()
            if live.row["status"] == "queued":
                live.row["message"] = "cancelling"
        return self.get(job_id)

    def shutdown(self) -> None:
        """Cancel every live job (the pool stops them at their next step)."""
        with self._lock:
            live = list(self._live.values())
        for j in live:
            j.cancel.set()
