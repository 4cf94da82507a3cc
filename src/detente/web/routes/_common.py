"""What every router shares: the app's parts, the worker pool's offload, a 404."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from ..jobs import JobManager
from ..pool import ShuttingDown, WorkPool
from ..store import RunStore

log = logging.getLogger("detente.web")

#: Seconds between two looks at whether a waiting request's client is still there.
POLL = 0.25


class ClientGone(Exception):
    """The client disconnected while its request was computing (the work was cancelled)."""


@dataclass(frozen=True)
class Context:
    """The parts of one app: its run store, background jobs, worker pool and compute budget."""

    runs: RunStore
    jobs: JobManager
    pool: WorkPool
    budget: Any


def context(request: Request) -> Context:
    """The app's :class:`Context` (a FastAPI dependency)."""
    return request.app.state.ctx


async def offload(request: Request, fn: Callable[[], Any]) -> Any:
    """Run ``fn()`` on the pool; stop it when the client goes away or the server stops."""
    pool: WorkPool = request.app.state.ctx.pool
    cancel = threading.Event()
    fut = asyncio.wrap_future(pool.submit(fn, cancel))
    try:
        while True:
            done, _ = await asyncio.wait({fut}, timeout=POLL)
            if done:
                return fut.result()
            if pool.stopping.is_set():
                cancel.set()
                raise ShuttingDown("the server is shutting down")
            if await request.is_disconnected():
                cancel.set()
                log.info("client gone: cancelled %s %s", request.method, request.url.path)
                raise ClientGone()
    except asyncio.CancelledError:
        cancel.set()
        raise


def not_found(what: str, key: str) -> JSONResponse:
    """A 404 naming what was not found."""
    return JSONResponse({"detail": f"no {what} {key!r}"}, status_code=404)
