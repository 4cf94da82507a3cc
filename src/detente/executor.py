"""Where batched work runs: in this process (the default), or on a Dask cluster.

Every batched workload (the chunks of draws of Monte Carlo and sensitivity, advice, comparison,
the decisions of a backtest) is a list of independent *tasks*: ``fn(task, shared)`` for each task,
where ``shared`` is what every task reads (the scenario, the model and its parameters). An
:class:`Executor` runs them and gives back each task's result:

* :class:`Executor` (the default) runs the tasks one after another in this process, exactly as
  before there were executors; it never imports dask.
* :class:`DaskExecutor` sends them to a ``dask.distributed`` cluster: a ``LocalCluster`` of worker
  processes on this machine (:func:`local`, ``--workers N``) or a running scheduler
  (:func:`connect`, ``--scheduler tcp://HOST:PORT``). ``shared`` is scattered to every worker once
  per call (or once for many calls, :meth:`Executor.share`); each task's own payload travels with it,
  and only its result comes back.

A result never depends on where it ran: a task is a pure function of its payload and ``shared``
(each draw's random numbers are keyed by the draw's index, not by the task or the worker), so any
backend, any number of workers and any task size give the same numbers bit for bit. A worker that
dies mid-run has its tasks rerun elsewhere by the scheduler, with the same result.

Choosing the executor: an analysis takes ``scheduler=`` (an address, an :class:`Executor` or a
``distributed.Client``) and ``workers=`` (start a LocalCluster); without them it uses
:func:`current` (set by :func:`use`, e.g. by the web app for its jobs), else runs in process.

Progress and cancel: :meth:`Executor.run` calls ``progress(done, total)`` in the calling thread as
tasks finish (``done`` and ``total`` in the tasks' weights: draws, decisions); a set ``cancel``
event, the web job's cancel flag (:mod:`detente._cancel`) or Ctrl-C cancel every task not yet
finished on the cluster and raise (:class:`~detente._cancel.Cancelled`, ``KeyboardInterrupt``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import uuid
from typing import Any, Callable, Iterator, Sequence

from . import _cancel
from .errors import DetenteError, Problem

__all__ = ["Executor", "DaskExecutor", "Shared", "InProcess", "local", "connect", "resolve", "use", "current",
           "MIN_TASK_SECONDS", "TASKS_PER_THREAD"]

#: A task on a cluster should compute at least this long, so that scheduling (a few ms a task) stays under 5 %.
MIN_TASK_SECONDS = 0.25
#: Tasks per worker thread a cluster's workload is cut into (more when the memory chunk asks). One: a batched
#: model call has a large fixed cost (an smp call of 2 runs of a 100-actor scenario costs 85 % of a call of
#: 12), so fewer, bigger tasks beat finer balancing.
TASKS_PER_THREAD = 1
#: Seconds to wait for a scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 15.0
#: Seconds between two looks at the cancel flag while waiting for a cluster's tasks.
POLL = 0.02

Progress = Callable[[int, int], None]


class Shared:
    """What every task of one or more :meth:`Executor.run` calls reads (:meth:`Executor.share`).

    In process it is the object itself; on a cluster, the future of its copy scattered to every worker.
    """

    def __init__(self, value: Any, handle: Any = None, owner: "Executor | None" = None):
        self.value, self.handle, self.owner = value, handle, owner


class Executor:
    """Runs tasks one after another in this process (the default backend, as before executors)."""

    #: True for an executor whose tasks run in other processes (sizes tasks for scheduling, pickles them).
    distributed: bool = False

    @property
    def parallelism(self) -> int:
        """Tasks that run at the same time (worker threads of the cluster; 1 in process)."""
        return 1

    def describe(self) -> str:
        """Where the work runs, for notes and messages."""
        return "in process"

    # -- sizing -------------------------------------------------------------------------------------
    def task_size(self, items: int, item_seconds: float, cap: int) -> int:
        """Items (draws, runs) per task: ``cap`` in process (one model call per memory chunk); on a cluster,
        just enough tasks to keep every worker thread busy (:data:`TASKS_PER_THREAD` each), each long enough
        (:data:`MIN_TASK_SECONDS` by the estimate ``item_seconds``) for scheduling to stay cheap, and never
        more than ``cap`` items (the memory chunk: then there are more tasks)."""
        cap = max(1, int(cap))
        if not self.distributed or items <= 1:
            return cap
        balanced = math.ceil(items / (self.parallelism * TASKS_PER_THREAD))
        floor = math.ceil(MIN_TASK_SECONDS / max(item_seconds, 1e-12))
        return max(1, min(cap, max(balanced, floor), items))

    # -- sharing ------------------------------------------------------------------------------------
    def share(self, value: Any) -> Shared:
        """``value`` made available to every task (scattered once to every worker on a cluster)."""
        return value if isinstance(value, Shared) else Shared(value, None, self)

    def forget(self, shared: Shared) -> None:
        """Release a shared value on the cluster (nothing to do in process)."""

    # -- running ------------------------------------------------------------------------------------
    def run(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], *, shared: Any = None,
            weights: Sequence[int] | None = None, progress: Progress | None = None,
            cancel: threading.Event | None = None, name: str = "detente") -> Iterator[tuple[int, Any]]:
        """Run ``fn(tasks[i], shared)`` for every task; yield ``(i, result)`` as each finishes.

        In process the tasks run in order, one at a time, each built (``tasks[i]``) just before it runs;
        on a cluster they run at once and finish in any order (see :meth:`map` for results in order).

        Parameters
        ----------
        fn : callable(task, shared) -> result
            A module-level function (a cluster pickles it by reference: the workers import it).
        tasks : sequence
            Each task's own payload (on a cluster it is pickled and sent with the task).
        shared : object or Shared, optional
            What every task reads (:meth:`share`); scattered once to every worker.
        weights : sequence of int, optional
            Each task's size for ``progress`` (default 1 each).
        progress : callable(done, total), optional
            Called after each task finishes, in the calling thread; raising from it stops the run
            (the cluster's remaining tasks are cancelled).
        cancel : threading.Event, optional
            When set (or the web job's flag, :func:`detente._cancel.current`), the remaining tasks are
            cancelled and :class:`~detente._cancel.Cancelled` is raised.
        name : str
            A prefix of the tasks' keys on the cluster (what its dashboard shows).
        """
        sh = self.share(shared)
        w = list(weights) if weights is not None else [1] * len(tasks)
        total, done = sum(w), 0
        flags = _flags(cancel)
        for i in range(len(tasks)):
            _check(flags)
            result = fn(tasks[i], sh.value)
            done += w[i]
            if progress is not None:
                progress(done, total)
            yield i, result

    def map(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], **kw: Any) -> list[Any]:
        """:meth:`run`, with the results as a list in the tasks' order."""
        out: list[Any] = [None] * len(tasks)
        for i, r in self.run(fn, tasks, **kw):
            out[i] = r
        return out

    def close(self) -> None:
        """Release what the executor opened (a LocalCluster it started, a client it connected)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


InProcess = Executor
_IN_PROCESS = Executor()


def _flags(cancel: threading.Event | None) -> list[threading.Event]:
    return [e for e in (cancel, _cancel.current()) if e is not None]


def _check(flags: list[threading.Event]) -> None:
    if any(e.is_set() for e in flags):
        raise _cancel.Cancelled()


class DaskExecutor(Executor):
    """Runs tasks on a ``dask.distributed`` cluster through a ``Client``.

    Parameters
    ----------
    client : distributed.Client
    cluster : distributed.LocalCluster, optional
        A cluster this executor started (closed with it).
    own : bool
        Close the client with the executor (it was opened for it).
    """

    distributed = True

    def __init__(self, client: Any, cluster: Any = None, own: bool = False):
        self.client, self.cluster, self.own = client, cluster, own

    @property
    def parallelism(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # pragma: no cover - a scheduler that went away: size as for one thread
            return 1

    def describe(self) -> str:
        where = "a local cluster" if self.cluster is not None else f"the dask scheduler at {self.client.scheduler.address}"
        return f"on {where} ({self.parallelism} worker thread{'s' if self.parallelism != 1 else ''})"

    def share(self, value: Any) -> Shared:
        if isinstance(value, Shared):
            return value
        # broadcast: every worker gets a copy now (and a worker that joins later, from its peers)
        fut = self.client.scatter(value, broadcast=True, hash=False)
        return Shared(value, fut, self)

    def forget(self, shared: Shared) -> None:
        if shared.handle is not None:
            shared.handle.release()

    def run(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], *, shared: Any = None,
            weights: Sequence[int] | None = None, progress: Progress | None = None,
            cancel: threading.Event | None = None, name: str = "detente") -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        flags = _flags(cancel)
        _check(flags)
        mine = not isinstance(shared, Shared)
        sh = self.share(shared)
        w = list(weights) if weights is not None else [1] * len(tasks)
        total, done = sum(w), 0
        run_id = f"{name}-{uuid.uuid4().hex[:10]}"
        futures: list[Any] = []
        try:
            for i in range(len(tasks)):
                futures.append(self.client.submit(fn, tasks[i], sh.handle, key=f"{run_id}-{i}", pure=False, retries=0))
            index = {f.key: i for i, f in enumerate(futures)}
            ac = as_completed(futures, loop=self.client.loop)
            wait = flags[0] if flags else threading.Event()
            remaining = len(futures)
            while remaining:
                _check(flags)
                if not ac.has_ready():
                    wait.wait(POLL)
                    continue
                for f in ac.next_batch(block=False):
                    i = index[f.key]
                    result = f.result()  # the task's own exception, if it raised
                    f.release()
                    remaining -= 1
                    done += w[i]
                    if progress is not None:
                        progress(done, total)
                    yield i, result
        finally:
            # anything unfinished (cancel, Ctrl-C, an error, a caller that stopped reading) is cancelled
            pending = [f for f in futures if not f.done()]
            if pending:
                with contextlib.suppress(Exception):
                    self.client.cancel(pending, force=True)
            for f in futures:
                with contextlib.suppress(Exception):
                    f.release()
            if mine:
                with contextlib.suppress(Exception):
                    self.forget(sh)

    def close(self) -> None:
        if self.own:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _import_distributed() -> Any:
    from ._extras import import_optional

    return import_optional("distributed")


def local(workers: int, threads_per_worker: int = 1, **cluster_kw: Any) -> DaskExecutor:
    """A :class:`DaskExecutor` on a new ``LocalCluster`` of ``workers`` processes (closed with the executor).

    One thread per worker by default: the models hold the GIL in their Python loops, so processes,
    not threads, run them side by side.
    """
    n = _count(workers, "workers")
    distributed = _import_distributed()
    kw: dict[str, Any] = {"n_workers": n, "threads_per_worker": int(threads_per_worker), "processes": True,
                          "dashboard_address": ":0", "host": "127.0.0.1"}
    kw.update(cluster_kw)
    cluster = distributed.LocalCluster(**kw)
    try:
        client = distributed.Client(cluster)
    except BaseException:
        cluster.close()
        raise
    return DaskExecutor(client, cluster=cluster, own=True)


def connect(address: str, timeout: float | None = None) -> DaskExecutor:
    """A :class:`DaskExecutor` on the running scheduler at ``address`` (``tcp://HOST:PORT``).

    A scheduler that cannot be reached, or has no workers with detente installed, is a
    :class:`~detente.errors.DetenteError` naming the address (exit code 2 on the command line).
    """
    field = "--scheduler"
    timeout = CONNECT_TIMEOUT if timeout is None else float(timeout)
    text = str(address).strip()
    if not text or any(c.isspace() for c in text):
        raise DetenteError([Problem(None, None, field, f"expected a scheduler address such as tcp://HOST:8786, got {address!r}")])
    if "://" not in text:
        text = "tcp://" + text
    distributed = _import_distributed()
    try:
        client = distributed.Client(text, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise DetenteError([Problem(None, None, field, f"cannot reach the dask scheduler at {text} within {timeout:g} s "
                                    f"({e.__class__.__name__}); start one with `dask scheduler` and workers with "
                                    f"`dask worker {text}` (see docs/scale.md)")]) from None
    ex = DaskExecutor(client, own=True)
    try:
        check_workers(client, text)
    except BaseException:
        ex.close()
        raise
    return ex


def check_workers(client: Any, where: str) -> None:
    """Every worker runs this version of detente (a model that differs would give other numbers)."""
    from ._version import __version__

    try:
        versions = client.run(_worker_version)
    except Exception as e:  # pragma: no cover - a worker lost while asking
        raise DetenteError([Problem(None, None, "--scheduler", f"cannot ask the workers of {where} for their version: {e}")]) from None
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        listed = ", ".join(f"{w}: {v or 'detente not installed'}" for w, v in sorted(wrong.items()))
        raise DetenteError([Problem(None, None, "--scheduler", f"the workers of {where} must run detente {__version__} "
                                    f"(the same version as here, else the numbers could differ); {listed}")])


def _worker_version() -> str | None:
    try:
        from detente._version import __version__
    except ImportError:  # pragma: no cover - a worker without detente
        return None
    return __version__


def _count(n: Any, field: str) -> int:
    try:
        k = int(n)
    except (TypeError, ValueError):
        k = 0
    if k < 1 or k != n:
        raise DetenteError([Problem(None, None, field, f"expected a whole number >= 1 of worker processes, got {n!r}")])
    return k


# -- which executor an analysis uses ------------------------------------------------------------------
_current: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("detente_executor", default=None)


def current() -> Executor:
    """The executor set by :func:`use` in this context, else the in-process one."""
    ex = _current.get()
    return ex if ex is not None else _IN_PROCESS


@contextlib.contextmanager
def use(executor: Executor | None) -> Iterator[Executor]:
    """Run the body with ``executor`` as :func:`current` (None: unchanged)."""
    if executor is None:
        yield current()
        return
    token = _current.set(executor)
    try:
        yield executor
    finally:
        _current.reset(token)


@contextlib.contextmanager
def resolve(scheduler: Any = None, workers: Any = None) -> Iterator[Executor]:
    """The executor of an analysis's ``scheduler=`` / ``workers=`` arguments, closed after the body when
    opened here.

    ``scheduler`` is an address (``"tcp://HOST:PORT"``), an :class:`Executor` or a ``distributed.Client``;
    ``workers`` starts a LocalCluster of that many processes. Neither: :func:`current`. Both: a problem.
    """
    if scheduler is not None and workers is not None:
        raise DetenteError([Problem(None, None, "--workers", "give either a scheduler (a running cluster) or a number of "
                                    "local workers, not both")])
    if scheduler is None and workers is None:
        yield current()
        return
    if isinstance(scheduler, Executor):
        yield scheduler
        return
    if scheduler is not None and not isinstance(scheduler, str) and hasattr(scheduler, "submit"):
        yield DaskExecutor(scheduler)  # a distributed.Client the caller owns
        return
    ex = connect(scheduler) if scheduler is not None else local(workers)
    try:
        yield ex
    finally:
        ex.close()


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``size`` items covering ``0 .. total``."""
    size = max(1, int(size))
    return [(a, min(total, a + size)) for a in range(0, total, size)]
