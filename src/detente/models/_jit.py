"""numba when it is installed (the ``fast`` extra), else the same functions run as plain Python.

The compiled kernels (``_bdm_kernel.py``) are written in the subset of Python
that numba compiles, with plain loops over the actors. Without numba,
:func:`jit` leaves each function as it is, and CPython runs the very same
bodies: the same floating-point operations in the same order on IEEE doubles
(numba compiles without fast-math, and both call libm's ``pow``), so the
numbers are identical bit for bit, only slower (``tests/test_bdm.py`` runs
both on random scenarios and compares with ``==``).

``DETENTE_NO_NUMBA=1`` in the environment forces the pure-Python path even
when numba is installed.

A kernel module opts in with::

    from ._jit import compiling, guard_cache, jit

    COMPILED = compiling(__name__)
    _jit = jit(COMPILED, cache=True, nogil=True)   # decorate every kernel function with @_jit
    ...
    if COMPILED:
        guard_cache(__file__, some_kernel)          # at the end of the module (after it: the files
                                                    # of modules it takes constants from)

and its model picks the module with ``_jit.pure_module(name)`` for small
batches or without numba (see ``bdm._kernel``), passes arrays C-contiguous and
writable (one numba signature), and defines ``warmup()`` for ``detente warmup``.

numba keeps compiled kernels in its on-disk cache (``cache=True``: beside the
source in ``__pycache__`` when that is writable, else in the user's cache
folder, or in ``$NUMBA_CACHE_DIR``); ``detente warmup`` fills it once after
installing. numba discards a cache entry when the source file's time stamp or
size, the function's bytecode, the numba version or the CPU differ;
:func:`guard_cache` adds a check of the source's content, so that an edited
kernel with the same size and time stamp cannot load stale machine code.

Threads: a model's batch is a set of independent rows (draws x issues), and
:func:`split_rows` shares them out to :func:`threads` threads (the compiled
kernels release the GIL). ``DETENTE_THREADS`` sets that number for every model
(default: ``min(2, cores)``); a Dask worker started by ``--workers N`` gets the
machine's cores divided by N (:func:`detente.executor.worker_environment`).
Every row is computed by the same code whichever thread takes it, so the
numbers do not depend on the thread count.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .. import _cancel

F = TypeVar("F", bound=Callable[..., Any])

DISABLE_ENV = "DETENTE_NO_NUMBA"
#: The environment variable that sets the models' kernel threads (:func:`threads`).
THREADS_ENV = "DETENTE_THREADS"
#: The most kernel threads ``DETENTE_THREADS`` may ask for (a bound on a setting read from outside).
MAX_THREADS = 1024
#: The suffix of the name under which :func:`pure_module` loads a plain-Python copy.
PURE_SUFFIX = "_pure"

_load_lock = threading.Lock()


def numba_available() -> bool:
    """Is numba importable (and not disabled by ``DETENTE_NO_NUMBA``)? Within a :func:`shared_threads` block,
    read once, at the block's first call (a model asks before each of a turn's ~25 kernel calls, and reading
    the environment costs about 1.5 us)."""
    shared = _shared.get()
    if shared is None:
        return _numba_available()
    if shared.numba is None:
        shared.numba = _numba_available()
    return shared.numba


def _numba_available() -> bool:
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return False
    return importlib.util.find_spec("numba") is not None


def compiling(module_name: str) -> bool:
    """Should the kernel module called ``module_name`` be compiled (numba there, not a plain copy)?"""
    return not module_name.endswith(PURE_SUFFIX) and numba_available()


def jit(compiled: bool, **options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)`` when ``compiled``, else the identity."""

    def decorate(f: F) -> F:
        if not compiled:
            return f
        import numba

        return numba.njit(**options)(f)

    return decorate


def pure_module(name: str) -> ModuleType:
    """A copy of the kernel module ``name`` whose functions stay plain Python.

    Loaded from the module's source without importing the compiled module
    (so without importing numba); cached in ``sys.modules`` as ``name + "_pure"``.
    """
    pure_name = name + PURE_SUFFIX
    with _load_lock:  # one copy, even when threads (the web app's) ask at once
        if pure_name not in sys.modules:
            found = importlib.util.find_spec(name)
            assert found is not None and found.origin is not None
            spec = importlib.util.spec_from_file_location(pure_name, found.origin)
            assert spec is not None and spec.loader is not None
            copy = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(copy)
            sys.modules[pure_name] = copy
        return sys.modules[pure_name]


def guard_cache(source_file: str, kernel: Any, *also: str) -> None:
    """Drop numba's cached machine code for a kernel module whose source content changed.

    numba recognises a changed source by its time stamp and size; a file
    rewritten with both unchanged (a copy that keeps time stamps, a
    reproducible build) would load the old code. numba also never looks at
    the modules a kernel takes constants from, although it freezes their
    values into the machine code. This keeps the SHA-256 of the source and of
    the files ``also`` (those modules) beside the cache and empties the
    module's cache entries when it differs. Call it, with any one compiled
    function of the module, before the first call of any of them.
    """
    source = Path(source_file)
    h = hashlib.sha256(source.read_bytes())
    for extra in also:
        h.update(Path(extra).read_bytes())
    digest = h.hexdigest()
    folder = getattr(getattr(kernel, "_cache", None), "_cache_path", None)
    if folder is None:  # pragma: no cover - another numba layout: its own checks only
        return
    folder = Path(folder)  # one folder for every function of a source file
    stamp = folder / f"{source.stem}.sha256"
    try:
        if stamp.exists() and stamp.read_text().strip() == digest:
            return
        for f in folder.glob(f"{source.stem}.*.nb[ic]"):
            f.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest + "\n")
    except OSError:  # pragma: no cover - a read-only cache: numba's own checks still apply
        pass


_CPUS: list[int] = []


def default_threads() -> int:
    """Kernel threads when ``DETENTE_THREADS`` is not set: two, or one on a one-core machine.

    The core count is read once per process (``os.cpu_count`` reads a file of the kernel's each time: ~7 us,
    at each of the ~200 kernel calls of a 160-actor smp run)."""
    if not _CPUS:
        _CPUS.append(os.cpu_count() or 1)
    return max(1, min(2, _CPUS[0]))


def threads() -> int:
    """The models' kernel threads: ``$DETENTE_THREADS`` (a whole number from 1 to :data:`MAX_THREADS`), else
    :func:`default_threads`. Read at every call, so a process (a Dask worker) follows its own environment;
    within a :func:`shared_threads` block, once, at the block's first call (a run's setting holds for the run).

    Raises
    ------
    DetenteError
        The variable is set to anything else (named, with the value and how to fix it).
    """
    shared = _shared.get()
    if shared is None:
        return _threads()
    if shared.threads is None:
        shared.threads = _threads()  # (not kept when it raises: the next call raises the same)
    return shared.threads


def _threads() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return default_threads()
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if not 1 <= k <= MAX_THREADS:
        from ..errors import DetenteError, Problem

        raise DetenteError([Problem(None, None, THREADS_ENV, f"the environment variable {THREADS_ENV} must be a whole "
                                    f"number of threads from 1 to {MAX_THREADS}, got {raw!r}; unset it for the "
                                    f"default ({default_threads()} on this machine)")])
    return k


class _SharedThreads:
    """The pool of :func:`shared_threads`: started at its first use, grown when more threads are asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pools: list[ThreadPoolExecutor] = []  # the last is in use (an earlier one may still finish a call)
        self.size = 0
        # the block's settings from the environment, read at their first use (:func:`threads`, :func:`numba_available`)
        self.threads: int | None = None
        self.numba: bool | None = None

    def get(self, T: int) -> ThreadPoolExecutor:
        with self.lock:  # a chunk's report asks from its own thread while the turn does
            if self.size < T:
                self.pools.append(ThreadPoolExecutor(T, thread_name_prefix="detente-kernel"))
                self.size = T
            return self.pools[-1]

    def close(self) -> None:
        with self.lock:
            for pool in self.pools:
                pool.shutdown()
            self.pools, self.size = [], 0


_shared: contextvars.ContextVar[_SharedThreads | None] = contextvars.ContextVar("detente_threads", default=None)


@contextmanager
def shared_threads() -> Iterator[None]:
    """Within the block, :func:`split_rows` hands its pieces to one pool of threads, started at its first use
    and stopped at the end, instead of starting threads at every call (a model's turn makes several calls:
    starting threads costs about as much as a small call's work); and :func:`threads` and
    :func:`numba_available` read the environment once. A context variable: threads started in a copy of this
    context (``contextvars.copy_context``) share the pool and the settings too."""
    shared = _SharedThreads()
    token = _shared.set(shared)
    try:
        yield
    finally:
        _shared.reset(token)
        shared.close()


_alone: contextvars.ContextVar[bool] = contextvars.ContextVar("detente_alone", default=False)


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, :func:`split_rows` runs every piece in the calling thread: for work done while the other
    kernel threads are busy with other rows (a ``meanwhile`` of :func:`split_rows`), whose pieces would otherwise
    go to an idle thread of the pool (more threads at work than cores). A context variable: it holds for this
    thread's context only."""
    token = _alone.set(True)
    try:
        yield
    finally:
        _alone.reset(token)


#: The code of the ``fill`` functions :func:`warm_once` has called (a call site's lambda has one code object).
_WARMED: set[Any] = set()


def warm_once(fill: Callable[[int, int], None]) -> None:
    """``fill(0, 0)`` in this thread, the first time a function with ``fill``'s code comes here: its numba kernel
    is then compiled, or loaded from numba's cache, by this thread before others call it. (numba compiles under
    one lock and looks again for the compiled code inside it, so a kernel reached without this is still compiled
    once; the call only spares the other threads the wait. Later calls would cost a dispatch, ~5-10 us, each.)"""
    code = getattr(fill, "__code__", None)
    if code is None or code not in _WARMED:
        fill(0, 0)
        if code is not None:
            _WARMED.add(code)


def split_rows(rows: int, fill: Callable[[int, int], None], *, parallel: bool = True, per_thread: int = 4,
               max_rows: int | None = None, warm: bool = False, executor: Executor | None = None,
               meanwhile: Callable[[], None] | None = None, before: Callable[[], None] | None = None) -> None:
    """``fill(lo, hi)`` over the rows ``0 .. rows`` in pieces, shared out to :func:`threads` threads.

    Each row must be independent of the others (``fill`` writes its own rows only), so the split
    changes no number. Before each piece the cancel flag of the calling context
    (:func:`detente._cancel.current`: a web job's cancel, a cancelled task on a Dask worker) is read,
    and :class:`~detente._cancel.Cancelled` raised once it is set: a long batch stops within a piece.

    Parameters
    ----------
    rows : int
    fill : callable(lo, hi)
    parallel : bool
        False: one thread (the batch is too small to share, or the kernel is plain Python, which holds
        the GIL).
    per_thread : int
        Pieces per thread (more balance the threads better).
    max_rows : int, optional
        The most rows of one piece (so that a cancel is seen soon), however many threads.
    warm : bool
        Call ``fill(0, 0)`` in this thread before starting threads, the first time this ``fill``'s code
        comes (:func:`warm_once`).
    executor : Executor, optional
        Where the pieces run (with at least :func:`threads` workers); else the pool of the enclosing
        :func:`shared_threads` block, else threads started for this call.
    meanwhile : callable(), optional
        Other work for this thread: called once the other threads have started on the pieces, before
        this thread joins them (on one thread, before the pieces). Its exception is raised after every
        piece has ended.
    before : callable(), optional
        Work every piece needs done first (what ``fill`` reads): run once, by the first of the other threads
        to start, while this thread does ``meanwhile``, so that ``meanwhile`` starts at once (by this thread,
        if no other has started on it by the end of ``meanwhile``; on one thread, first). No piece starts
        before it has ended.
    """
    flag = _cancel.current()  # read here: the pool's threads do not share the caller's context
    if not parallel and before is None and meanwhile is None and max_rows is None:  # one piece, here (most calls)
        if rows > 0:
            if flag is not None and flag.is_set():
                raise _cancel.Cancelled()
            fill(0, rows)
        return
    T = min(threads(), rows) if parallel and not _alone.get() else 1
    step = rows if T <= 1 else -(-rows // (max(1, per_thread) * T))
    if max_rows is not None:
        step = min(step, int(max_rows))
    step = max(1, step)

    def piece(lo: int) -> None:
        if flag is not None and flag.is_set():
            raise _cancel.Cancelled()
        fill(lo, min(rows, lo + step))

    starts = range(0, rows, step)
    if T <= 1 or len(starts) <= 1:
        if before is not None:
            before()
        if meanwhile is not None:
            meanwhile()
        for lo in starts:
            piece(lo)
        return
    if warm:
        warm_once(fill)
    shared = _shared.get() if executor is None else None
    if executor is None and shared is not None:
        executor = shared.get(T)
    own = None
    if executor is None:  # no pool given or shared: threads for this call
        executor = own = ThreadPoolExecutor(T - 1)
    # this thread and T - 1 of the pool's take the pieces in turn, each the next one left: T threads at work,
    # not T + 1 on T cores (this thread would otherwise only wait), and a piece that took longer holds no one up
    todo = iter(starts)
    lock = threading.Lock()
    failed = threading.Event()
    ready = threading.Event() if before is not None else None  # (an Event costs a few us: only when needed)
    claimed = [False]

    def prepare() -> None:  # ``before``, by the first thread to get here; the others wait for it
        if before is None or ready is None:
            return
        with lock:
            mine = not claimed[0]
            claimed[0] = True
        if not mine:
            ready.wait()
            return
        try:
            before()
        except BaseException:
            failed.set()
            raise
        finally:
            ready.set()

    def work() -> None:
        prepare()
        while not failed.is_set():
            with lock:
                lo = next(todo, None)
            if lo is None:
                return
            try:
                piece(lo)
            except BaseException:
                failed.set()  # the others take no further piece
                raise

    futures = [executor.submit(work) for _ in range(min(T, len(starts)) - 1)]
    errors: list[BaseException] = []
    try:
        if meanwhile is not None:
            meanwhile()
        work()
    finally:  # every piece has ended before this returns or raises (none still writes the caller's arrays)
        for f in futures:
            if f.cancel():  # still queued behind another caller's pieces: none is left for it, it never runs
                continue
            try:
                f.result()
            except BaseException as e:  # raised below, after the others have ended
                errors.append(e)
        if own is not None:
            own.shutdown()
    if errors:
        raise errors[0]
