"""Cooperative cancellation of a computation running in a worker thread.

The web app runs each request's work under :func:`scope` with a
:class:`threading.Event`; long loops (every model call of an analysis, every
round of the round-playing models) call :func:`check`, which raises
:class:`Cancelled` once the event is set. Outside a scope :func:`check` costs
one context-variable lookup and never raises, so the CLI and library calls are
unaffected.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Iterator

_current: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("detente_cancel", default=None)


class Cancelled(Exception):
    """The run was cancelled (a job cancel, a client that went away, a server shutting down)."""


def check() -> None:
    """Raise :class:`Cancelled` when the current scope's event is set."""
    ev = _current.get()
    if ev is not None and ev.is_set():
        raise Cancelled()


def current() -> threading.Event | None:
    """The cancel flag of the current scope, or None."""
    return _current.get()


@contextlib.contextmanager
def scope(event: threading.Event | None) -> Iterator[None]:
    """Run the body with ``event`` as the cancel flag that :func:`check` reads."""
    token = _current.set(event)
    try:
        yield
    finally:
        _current.reset(token)
