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
finished on the cluster and raise (:class:`~detente._cancel.Cancelled`, ``KeyboardInterrupt``); the
tasks already running stop at their next look at the run's stop event (:class:`_StopFlag`).

Threads: ``--workers N`` shares the machine's cores out between the N worker processes (each gets
``cores // N`` kernel threads, ``DETENTE_THREADS``: :func:`worker_environment`).
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
           "MIN_TASK_SECONDS", "TASKS_PER_THREAD", "Ticker", "PROGRESS_AFTER", "run_all"]

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

#: Show a progress bar when a run is expected to take longer than this (seconds).
PROGRESS_AFTER = 1.0

Progress = Callable[[int, int], None]
#: ``drop(i, result)``: the tasks not to run once task ``i`` gave ``result`` (:meth:`Executor.run`).
Drop = Callable[[int, Any], Sequence[int]]


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
        more than ``cap`` items (the memory chunk: then there are more tasks, as many as the worker threads
        times a whole number when the tasks stay long enough, so that no thread is left the last one alone)."""
        cap = max(1, int(cap))
        if not self.distributed or items <= 1:
            return cap
        slots = self.parallelism * TASKS_PER_THREAD
        balanced = math.ceil(items / slots)
        floor = math.ceil(MIN_TASK_SECONDS / max(item_seconds, 1e-12))
        size = max(1, min(cap, max(balanced, floor), items))
        n = math.ceil(items / size)
        if n > slots and n % slots:
            # whole waves (3 tasks on 2 workers would leave one worker the last task alone): a little smaller
            # tasks, as long as each stays long enough
            even = math.ceil(items / (math.ceil(n / slots) * slots))
            if even >= min(floor, size):
                size = even
        return size

    # -- sharing ------------------------------------------------------------------------------------
    def share(self, value: Any) -> Shared:
        """``value`` made available to every task (scattered once to every worker on a cluster)."""
        return value if isinstance(value, Shared) else Shared(value, None, self)

    def forget(self, shared: Shared) -> None:
        """Release a shared value on the cluster (nothing to do in process)."""

    # -- running ------------------------------------------------------------------------------------
    def run(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], *, shared: Any = None,
            weights: Sequence[int] | None = None, progress: Progress | None = None,
            cancel: threading.Event | None = None, name: str = "detente",
            drop: Drop | None = None) -> Iterator[tuple[int, Any]]:
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
        drop : callable(i, result) -> task indices, optional
            Called with each result as it comes; the tasks it names that have not finished are not run
            (on a cluster: cancelled; one already running finishes, its result unread) and yield
            nothing; ``progress`` counts them as done.
        """
        sh = self.share(shared)
        w = list(weights) if weights is not None else [1] * len(tasks)
        total, done = sum(w), 0
        flags = _flags(cancel)
        dropped: set[int] = set()
        for i in range(len(tasks)):
            if i in dropped:
                continue
            _check(flags)
            result = fn(tasks[i], sh.value)
            done += w[i]
            if drop is not None:
                more = {j for j in drop(i, result) if j > i and j not in dropped}
                dropped |= more
                done += sum(w[j] for j in more)
            if progress is not None:
                progress(done, total)
            yield i, result

    def map(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], **kw: Any) -> list[Any]:
        """:meth:`run`, with the results as a list in the tasks' order (None for a task ``drop`` named)."""
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
        #: what a user should know about the cluster (e.g. a worker setting that slows the models)
        self.notes: list[str] = []

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
            cancel: threading.Event | None = None, name: str = "detente",
            drop: Drop | None = None) -> Iterator[tuple[int, Any]]:
        import distributed
        from distributed import as_completed

        flags = _flags(cancel)
        _check(flags)
        mine = not isinstance(shared, Shared)
        sh = self.share(shared)
        w = list(weights) if weights is not None else [1] * len(tasks)
        total, done = sum(w), 0
        run_id = f"{name}-{uuid.uuid4().hex[:10]}"
        futures: list[Any] = []
        dropped: set[int] = set()
        try:
            for i in range(len(tasks)):
                futures.append(self.client.submit(_task, fn, tasks[i], sh.handle, run_id, key=f"{run_id}-{i}", pure=False,
                                                  retries=0))
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
                    if i in dropped:
                        continue  # finished before its cancel reached it: counted and not read
                    result = f.result()  # the task's own exception, if it raised
                    f.release()
                    remaining -= 1
                    done += w[i]
                    if drop is not None:
                        more = {j for j in drop(i, result) if j not in dropped and not futures[j].done()}
                        if more:
                            dropped |= more
                            self.client.cancel([futures[j] for j in more])
                            remaining -= len(more)
                            done += sum(w[j] for j in more)
                    if progress is not None:
                        progress(done, total)
                    yield i, result
        finally:
            # anything unfinished (cancel, Ctrl-C, an error, a caller that stopped reading) is cancelled
            pending = [f for f in futures if not f.done()]
            if pending:
                with contextlib.suppress(Exception):  # the tasks already running stop at their next look
                    distributed.Event(_stop_name(run_id), client=self.client).set()
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


#: Seconds between two looks of a task running on a worker at its run's stop event.
STOP_POLL = 0.25


def _stop_name(run_id: str) -> str:
    """The name of the ``distributed.Event`` that tells the running tasks of run ``run_id`` to stop."""
    return f"{run_id}-stop"


class _StopFlag(threading.Event):
    """The cancel flag (:mod:`detente._cancel`) of a task running on a Dask worker: set once the client set its
    run's stop event (a cancel, Ctrl-C, an error). Dask cannot interrupt a running task; the models look at this
    flag between their pieces of work (every model call, every turn of a round-playing model, every piece of a
    kernel's rows, :func:`detente.models._jit.split_rows`) and raise :class:`~detente._cancel.Cancelled`.
    A look asks the scheduler at most every :data:`STOP_POLL` seconds."""

    def __init__(self, run_id: str):
        super().__init__()
        self.name = _stop_name(run_id)
        self._next = 0.0
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        import time

        if super().is_set():
            return True
        with self._lock:  # one look at a time (the kernels' threads look too)
            now = time.monotonic()
            if now >= self._next:
                self._next = now + STOP_POLL
                try:
                    from distributed import Event, get_client

                    if Event(self.name, client=get_client()).is_set():
                        self.set()
                except Exception:  # pragma: no cover - no scheduler to ask (it went away): keep computing
                    pass
        return super().is_set()


def _task(fn: Callable[[Any, Any], Any], task: Any, shared: Any, run_id: str) -> Any:
    """``fn(task, shared)`` on a worker, with the run's stop event as the cancel flag the models look at."""
    with _cancel.scope(_StopFlag(run_id)):
        return fn(task, shared)


def _import_distributed() -> Any:
    from ._extras import import_optional

    return import_optional("distributed")


def local(workers: int, threads_per_worker: int = 1, *, threads: int | None = None, **cluster_kw: Any) -> DaskExecutor:
    """A :class:`DaskExecutor` on a new ``LocalCluster`` of ``workers`` processes (closed with the executor).

    One Dask thread per worker by default: the models hold the GIL in their Python loops, so processes,
    not threads, run them side by side. ``threads`` is each worker's kernel threads (``DETENTE_THREADS``
    in the worker, :func:`detente.models._jit.threads`); by default the value of ``DETENTE_THREADS`` here
    when it is set, else the machine's cores shared out: ``cores // (workers x threads_per_worker)``, at
    least 1, so that N workers do not together start more threads than there are cores.
    """
    n = _count(workers, "workers")
    k = None if threads is None else _count(threads, "threads", "kernel threads per worker")
    distributed = _import_distributed()
    import dask

    kw: dict[str, Any] = {"n_workers": n, "threads_per_worker": int(threads_per_worker), "processes": True,
                          "dashboard_address": ":0", "host": "127.0.0.1"}
    kw.update(cluster_kw)
    with dask.config.set({**worker_environment(n * int(threads_per_worker), k), **QUIET}):
        cluster = distributed.LocalCluster(**kw)
    try:
        client = distributed.Client(cluster)
    except BaseException:
        cluster.close()
        raise
    return DaskExecutor(client, cluster=cluster, own=True)


#: Dask settings of the clusters :func:`local` starts: its housekeeping made rarer. By default every worker samples
#: its running task's stack every 10 ms (the dashboard's profile), and the scheduler, every worker and every nanny
#: wake every 20 ms (event-loop tick), 100 ms (memory monitor) and 500 ms (system monitor): an idle LocalCluster of
#: 2 workers used 1.0-1.35 s of CPU per 10 s (0.35-0.6 s in this process, 0.32-0.38 s in each worker), with these
#: 0.13-0.17 s (0.08-0.09 s, 0.03-0.04 s), measured at 17:35 UTC on 2026-12-01, load 5-6. On 2 cores
#: that is CPU the 2 workers' tasks lose (a worker's housekeeping also waits for its task thread's GIL).
#: Nothing of detente reads those profiles or monitors; the nanny still restarts a worker that dies.
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def kernel_threads(threads: int) -> int:
    """The kernel threads of each of ``threads`` worker threads on this machine: ``DETENTE_THREADS`` when it
    is set (checked), else the cores shared out (``cores // threads``, at least 1)."""
    import os

    from .models import _jit

    if os.environ.get(_jit.THREADS_ENV, "").strip():
        return _jit.threads()
    return max(1, (os.cpu_count() or 1) // max(1, threads))


def worker_environment(threads: int, kernel: int | None = None) -> dict[str, Any]:
    """Dask config for the worker processes a LocalCluster of ``threads`` worker threads spawns: glibc's own
    memory trimming (dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536``, which also switches off glibc's
    adaptive mmap threshold, so every large numpy temporary is mapped and unmapped again: the smp model ran
    4x slower so), and the machine's cores shared out between the workers: ``kernel`` (default
    :func:`kernel_threads`) threads each for the models' kernels (``DETENTE_THREADS``) and for numpy's
    BLAS and OpenMP (dask's default is one each)."""
    from .models import _jit

    per = str(kernel if kernel is not None else kernel_threads(threads))
    env = "distributed.nanny.pre-spawn-environ."
    return {env + "MALLOC_TRIM_THRESHOLD_": None, env + "OMP_NUM_THREADS": per, env + "MKL_NUM_THREADS": per,
            env + "OPENBLAS_NUM_THREADS": per, env + _jit.THREADS_ENV: per}


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
        ex.notes += check_workers(client, text)
    except BaseException:
        ex.close()
        raise
    return ex


def check_workers(client: Any, where: str) -> list[str]:
    """Every worker runs this version of detente (a model that differs would give other numbers);
    notes on worker settings that slow the models down."""
    from ._version import __version__

    try:
        found = client.run(_worker_version)
    except Exception as e:  # pragma: no cover - a worker lost while asking
        raise DetenteError([Problem(None, None, "--scheduler", f"cannot ask the workers of {where} for their version: {e}")]) from None
    versions = {w: v for w, (v, _) in found.items()}
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        listed = ", ".join(f"{w}: {v or 'detente not installed'}" for w, v in sorted(wrong.items()))
        raise DetenteError([Problem(None, None, "--scheduler", f"the workers of {where} must run detente {__version__} "
                                    f"(the same version as here, else the numbers could differ); {listed}")])
    trimmed = sorted(w for w, (_, trim) in found.items() if trim is not None and trim.strip().isdigit()
                     and int(trim) < 1 << 25)
    if trimmed:
        return [f"{len(trimmed)} of the {len(found)} workers run with MALLOC_TRIM_THRESHOLD_ set low (dask's nanny "
                "does so), which makes the models several times slower on large scenarios; see docs/scale.md for "
                "starting workers without it"]
    return []


def _worker_version() -> tuple[str | None, str | None]:
    import os

    try:
        from detente._version import __version__
    except ImportError:  # pragma: no cover - a worker without detente
        return None, os.environ.get("MALLOC_TRIM_THRESHOLD_")
    return __version__, os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _count(n: Any, field: str, what: str = "worker processes") -> int:
    try:
        k = int(n)
    except (TypeError, ValueError):
        k = 0
    if k < 1 or k != n:
        raise DetenteError([Problem(None, None, field, f"expected a whole number >= 1 of {what}, got {n!r}")])
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


class Ticker:
    """A run's ``progress(done, total)`` for :meth:`Executor.run`: calls ``on_chunk(done, total)``, and shows a
    progress bar on stderr once the run looks like taking more than :data:`PROGRESS_AFTER` seconds (``progress``
    True: at once; False: never). ``done`` is kept for the message of an interruption."""

    def __init__(self, what: str, progress: bool | None = None, on_chunk: Callable[[int, int], None] | None = None):
        import time

        self.what, self.progress, self.on_chunk = what, progress, on_chunk
        self.bar: Any = None
        self.task: Any = None
        self.done = 0
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        import time

        self.done = done
        if self.on_chunk is not None:
            self.on_chunk(done, total)
        if self.bar is None and self.progress is not False and done < total:
            elapsed = time.perf_counter() - self.t0
            if self.progress or elapsed * total / max(done, 1) > PROGRESS_AFTER:
                self.bar, self.task = _start_bar(self.what, total)
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _start_bar(what: str, total: int) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    bar.start()
    task = bar.add_task(what, total=total)
    return bar, task


def run_all(fn: Callable[[Any, Any], Any], tasks: Sequence[Any], *, shared: Any, executor: Executor | None = None,
            weights: Sequence[int] | None = None, progress: bool | None = None, what: str = "analysis",
            on_chunk: Callable[[int, int], None] | None = None, name: str | None = None, subject: str | None = None,
            interrupted: type[KeyboardInterrupt] = KeyboardInterrupt, drop: Drop | None = None) -> list[Any]:
    """``fn(task, shared)`` for every task of a plan, in process or on a cluster, with a progress bar; the results in
    task order (:meth:`Executor.map`; None for a task ``drop`` named).

    ``executor`` defaults to :func:`current`; ``weights`` (model runs per task) drive the bar (:class:`Ticker`, titled
    ``what``) and ``on_chunk(done, total)``. A task's exception is raised here. Ctrl-C cancels the cluster's tasks and
    raises ``interrupted`` saying how many model runs were done (``"{subject} interrupted after X of Y model runs;
    nothing was kept"``, ``subject`` defaulting to ``what``).
    """
    ex = executor if executor is not None else current()
    w = list(weights) if weights is not None else [1] * len(tasks)
    tick = Ticker(what, progress, on_chunk)
    try:
        return ex.map(fn, tasks, shared=shared, weights=w, progress=tick,
                      name=name or f"detente-{what.split(' ')[0].lower()}", drop=drop)
    except KeyboardInterrupt:
        raise interrupted(f"{subject or what} interrupted after {tick.done:,} of {sum(w):,} model runs; "
                          "nothing was kept") from None
    finally:
        tick.stop()


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``size`` items covering ``0 .. total``."""
    size = max(1, int(size))
    return [(a, min(total, a + size)) for a in range(0, total, size)]
