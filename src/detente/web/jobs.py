"""Background runs with progress and cancellation.

A :class:`JobManager` runs report computations (:func:`detente.report.compute`)
on a small thread pool. Each :class:`Job` reports its progress (a fraction and
a message), can be cancelled (it stops at its next step and stores nothing),
and on success stores its run in the :class:`~detente.web.store.RunStore`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import DetenteError
from ..report.build import Cancelled

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One background run.

    Attributes
    ----------
    id : str
    kind : str
    status : {"queued", "running", "done", "failed", "cancelled"}
    progress : float
        0 to 1.
    message : str
        What the run is doing now.
    run_id : str or None
        The stored run, once done.
    problems : list of dict
        The input problems when the run failed on bad input.
    error : str or None
        A generic message when the run failed on an internal error.
    """

    id: str
    kind: str
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    run_id: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The job's state for the API."""
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 3),
                "message": self.message, "run_id": self.run_id, "problems": self.problems, "error": self.error,
                "created": self.created}


class JobManager:
    """Runs jobs on a thread pool and keeps their state in memory.

    Parameters
    ----------
    workers : int
        Jobs running at once (the rest wait in the queue).
    keep : int
        How many finished jobs to remember.
    """

    def __init__(self, workers: int = 2, keep: int = 500):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detente-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, kind: str, work: Callable[[Callable[[float, str], None], threading.Event], str]) -> Job:
        """Start ``work(progress, cancel) -> run_id`` in the background and return its job."""
        job = Job(id=uuid.uuid4().hex[:12], kind=kind)
        with self._lock:
            self._jobs[job.id] = job
            self._trim()
        self._pool.submit(self._run, job, work)
        return job

    def _trim(self) -> None:
        done = [j for j in self._jobs.values() if j.status in ("done", "failed", "cancelled")]
        for j in done[: max(0, len(done) - self._keep)]:
            self._jobs.pop(j.id, None)

    def _run(self, job: Job, work: Callable[..., str]) -> None:
        if job.cancel.is_set():
            job.status, job.message = "cancelled", "cancelled before it started"
            return
        job.status, job.message = "running", "starting"

        def progress(frac: float, message: str) -> None:
            if job.cancel.is_set():
                raise Cancelled()
            job.progress, job.message = max(job.progress, float(frac)), message

        try:
            job.run_id = work(progress, job.cancel)
        except Cancelled:
            job.status, job.message = "cancelled", "cancelled"
        except DetenteError as e:
            job.status, job.message = "failed", "the input has problems"
            job.problems = [p.to_dict() for p in e.problems]
        except Exception:
            log.exception("job %s failed", job.id)
            job.status, job.message, job.error = "failed", "internal error", "internal error (see the server log)"
        else:
            job.status, job.progress, job.message = "done", 1.0, "done"

    def get(self, job_id: str) -> Job | None:
        """The job, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        """Every remembered job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop; it stops at its next step."""
        job = self.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.cancel.set()
            if job.status == "queued":
                job.status, job.message = "cancelled", "cancelled before it started"
        return job

    def shutdown(self) -> None:
        """Cancel everything and stop the pool."""
        for j in self.list():
            j.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
