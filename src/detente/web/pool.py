"""The bounded worker pool every computation of the web app runs on.

``workers`` daemon threads take work from a queue that holds at most
``queue`` waiting items; :meth:`WorkPool.submit` raises :class:`Busy` (HTTP
429) when it is full, so no request blocks the event loop or piles up threads.
Each item carries a :class:`threading.Event`: setting it (a job cancel, a
client that went away, the server shutting down) makes the computation stop at
its next check (:func:`detente._cancel.check`). The threads are daemons, so a
computation that is between two checks never keeps the process from exiting.
"""

from __future__ import annotations

import queue as _queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from .. import _cancel
from ..executor import Executor, use


class Busy(Exception):
    """The pool's queue is full (HTTP 429)."""

    def __init__(self, workers: int, waiting: int, retry_after: int):
        super().__init__(f"the server is busy: {workers} computations running and {waiting} waiting "
                         f"(the most it queues); try again in {retry_after} s, or start it with more "
                         f"--workers / --queue")
        self.retry_after = retry_after


class ShuttingDown(Exception):
    """The server is stopping and takes no more work (HTTP 503)."""


class WorkPool:
    """A fixed number of daemon worker threads behind a bounded queue.

    Parameters
    ----------
    workers : int
        Computations running at once.
    queue : int
        Computations waiting for a worker at most; one more is refused with :class:`Busy`.
    retry_after : int
        Seconds a refused client is told to wait (``Retry-After``).
    executor : Executor, optional
        Where the computations' model runs run (:func:`detente.executor.use`): a Dask cluster
        (``detente serve --scheduler``); default in the worker thread itself.
    """

    def __init__(self, workers: int = 2, queue: int = 8, retry_after: int = 5, executor: Executor | None = None):
        if workers < 1 or queue < 0:
            raise ValueError("workers must be >= 1 and queue >= 0")
        self.workers, self.queue_size, self.retry_after = workers, queue, retry_after
        self.executor = executor
        self._q: _queue.SimpleQueue = _queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(workers + queue)  # running + waiting
        self._busy = 0
        self._live: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"detente-worker-{k}", daemon=True)
                         for k in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[], Any], cancel: threading.Event | None = None) -> Future:
        """Queue ``fn()`` (run under ``cancel``) and return its future.

        Raises
        ------
        Busy
            When ``queue`` items are already waiting.
        ShuttingDown
            When the pool is stopping.
        """
        if self.stopping.is_set():
            raise ShuttingDown("the server is shutting down")
        cancel = cancel or threading.Event()
        fut: Future = Future()
        if not self._slots.acquire(blocking=False):
            raise Busy(self.workers, self.queue_size, self.retry_after)
        with self._lock:
            self._live.add(cancel)
            self._busy += 1
        self._q.put((fn, fut, cancel))
        fut.add_done_callback(lambda _f: self._forget(cancel))
        return fut

    def _forget(self, cancel: threading.Event) -> None:
        with self._lock:
            self._live.discard(cancel)

    def _work(self) -> None:
        while True:
            fn, fut, cancel = self._q.get()
            try:
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    with _cancel.scope(cancel), use(self.executor):
                        result = fn()
                except BaseException as e:
                    fut.set_exception(e)
                else:
                    fut.set_result(result)
            finally:
                with self._lock:
                    self._busy -= 1
                self._slots.release()

    def stop(self) -> None:
        """Take no more work and ask every queued or running computation to stop."""
        self.stopping.set()
        with self._lock:
            live = list(self._live)
        for ev in live:
            ev.set()

    def load(self) -> dict[str, int]:
        """Workers, the queue's size and how many computations are queued or running."""
        with self._lock:
            return {"workers": self.workers, "queue": self.queue_size, "busy": self._busy}
