"""The detente web app: a REST API (documented at ``/docs``) and a browser UI.

Build it with :func:`create_app`; ``detente serve`` runs it with uvicorn.
Every asset is served by the app itself: nothing loads from the network.

Layout: :mod:`detente.web.routes` holds the routers (HTTP only),
:mod:`detente.web.services` the work they call (plain functions over the
engine, analysis, report and serialise layers), :mod:`detente.web.schemas` the
request bodies, :mod:`detente.web.errors` how errors are answered; this module
only assembles them.

Errors: bad input answers 422 with ``{"problems": [{file, line, field,
reason}], ...}`` (the CLI's report), a body over 5 MB 413, an unknown run or
job 404, a full work queue 429 (with ``Retry-After``), a full disk 507, a
read-only store 503, and an internal error a generic 500 (logged, no
traceback in the response). Every computation runs on a bounded worker pool
(:mod:`detente.web.pool`) and stops when its client goes away; the checks in
front of the app (host names, access token, cross-site writes, body size,
security headers) are in :mod:`detente.web.guard`. docs/web.md has the threat
model.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from ..budget import Budget, resolve_budget
from . import errors
from .guard import LOOPBACK_HOSTS, CatchAll, Guard
from .jobs import JobManager
from .pool import WorkPool
from .routes import ROUTERS
from .routes._common import Context
from .routes.pages import STATIC
from .store import RunStore

#: Largest request body (bytes); ``detente serve --max-body``.
MAX_BODY = 5 * 1024 * 1024
#: Most bytes of a refused body read and discarded so that the client can read the refusal.
DRAIN_MAX = 64 * 1024 * 1024


def create_app(store: str | Path, *, workers: int = 2, queue: int = 8, max_body: int = MAX_BODY,
               drain: int = DRAIN_MAX, allow_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
               token: str | None = None, retry_after: int = 5, keep_jobs: int = 1000,
               budget: Budget | None = None, executor: Any = None) -> Any:
    """Build the web app.

    Parameters
    ----------
    store : path
        The SQLite run store (runs and jobs).
    workers : int
        Computations (requests and background jobs) running at once.
    queue : int
        Computations waiting for a worker at most; beyond it a request answers 429.
    max_body : int
        Largest request body, bytes (413 beyond it).
    drain : int
        Most bytes of a refused body read and discarded before answering it.
    allow_hosts : iterable of str or None
        ``Host`` names answered (default: the loopback names); None answers any.
    token : str, optional
        An access token every API request must carry as ``Authorization: Bearer``.
    retry_after : int
        Seconds a client refused with 429 is told to wait.
    keep_jobs : int
        Finished background jobs remembered.
    budget : Budget, optional
        The compute budget of every request (default
        :class:`detente.budget.Budget()`); a request over it answers 422 with
        the estimate and the limit before any work starts.
    executor : detente.executor.Executor, optional
        Where the model runs of every computation run (``detente serve --scheduler``: a Dask
        cluster; the caller closes it); default: in the server's worker threads.

    Returns
    -------
    ASGI application
        The FastAPI app behind :class:`~detente.web.guard.Guard` and the
        catch-all error handler. Attributes: ``api`` (the FastAPI app),
        ``pool`` (the :class:`~detente.web.pool.WorkPool`) and ``stop()``
        (cancel every computation and take no more: call it on SIGTERM).

    Raises
    ------
    StoreError
        When the store cannot be opened or written.
    """
    runs = RunStore(store)
    pool = WorkPool(workers=workers, queue=queue, retry_after=retry_after, executor=executor)
    jobs = JobManager(runs, pool, keep=keep_jobs)

    def stop() -> None:
        jobs.shutdown()
        pool.stop()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        yield
        stop()

    app = FastAPI(
        lifespan=lifespan,
        title="detente",
        version=__version__,
        description="Forecast negotiations with bargaining models. Bad input answers 422 with a list of "
                    f"`{{file, line, field, reason}}` problems; bodies over {max_body / 2**20:g} MB answer 413; "
                    "a full server 429 (Retry-After); state-changing requests need the header `X-Detente: 1` "
                    "(or to come from the app's own pages).",
        docs_url=None, redoc_url=None,
    )
    app.state.ctx = Context(runs=runs, jobs=jobs, pool=pool, budget=resolve_budget(budget))
    app.state.runs, app.state.jobs, app.state.pool = runs, jobs, pool
    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)

    wrapped = Guard(CatchAll(app), max_body=max_body, drain=drain, allow_hosts=allow_hosts, token=token)
    wrapped.api = app  # type: ignore[attr-defined]
    wrapped.pool = pool  # type: ignore[attr-defined]
    wrapped.stop = stop  # type: ignore[attr-defined]
    return wrapped
