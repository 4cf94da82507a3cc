"""The ``detente`` command line (typer + rich): ``app``, ``main`` and ``run``.

Each group of commands is a module of this package with a ``register(app)``; what they share
(consoles, writer, budget flags) is in :mod:`detente.cli._common`.

Bad input never shows a traceback: every user mistake is a
:class:`~detente.errors.DetenteError`, printed as a list of problems (file,
line, field, reason) with exit code 2.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer
from rich.markup import escape

from .._extras import missing_extra
from .._version import __version__
from ..errors import DetenteError
from ._common import FLAGSHIP, Format, err, out, parse_params  # noqa: F401  (names scripts use as detente.cli.X)

app = typer.Typer(
    name="detente",
    help="Forecast negotiations and collective decisions with the field's bargaining models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"detente {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Forecast negotiations and collective decisions."""


def _register_extensions() -> None:
    """Commands contributed by other modules of detente."""
    import importlib

    for mod in _EXTENSIONS:
        importlib.import_module(mod).register(app)


_EXTENSIONS: list[str] = ["detente.cli.forecast", "detente.cli.backtest", "detente.cli.analysis", "detente.cli.report",
                          "detente.cli.files", "detente.cli.record"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``detente`` console script."""
    from ._lazy import defer

    defer()  # typer's help imports rich's markdown and tracebacks, which detente's never shows
    _register_extensions()
    try:
        app(args=argv, prog_name="detente")
    except SystemExit as e:  # click's own exits: --help, usage errors (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except DetenteError as e:
        err.print(f"[bold red]error:[/bold red] {escape(e.report())}", highlight=False)
        return 2
    except KeyError as e:
        from ..models import UnknownModelError

        if not isinstance(e, UnknownModelError):
            return _internal_error(e)
        err.print(f"[bold red]error:[/bold red] {escape(str(e))}")
        return 2
    except KeyboardInterrupt as e:
        err.print(escape(str(e)) or "interrupted")  # how far it got, when the command says (a backtest)
        return 130
    except ImportError as e:
        message = missing_extra(e)
        if message is None:
            return _internal_error(e)
        err.print(f"[bold red]error:[/bold red] {escape(message)}")
        return 1
    except Exception as e:  # a genuine bug
        return _internal_error(e)
    return 0


def _internal_error(e: BaseException) -> int:
    if os.environ.get("DETENTE_DEBUG"):
        raise e
    err.print(f"[bold red]internal error:[/bold red] {type(e).__name__}: {escape(str(e))}\n"
              "(set DETENTE_DEBUG=1 for a traceback, and please report it)")
    return 1


def finish(code: int) -> NoReturn:
    """End the console script with exit ``code``, skipping the interpreter's teardown when that is safe.

    When a command returns, its output is written and its files closed; what is left is the interpreter
    freeing every module and object one by one, which after numba has run a kernel takes 0.3-0.4 CPU
    seconds (its LLVM JIT torn down piece by piece): a quarter of ``detente report``'s time (issue #17).
    So, when no other thread that is not a daemon still runs, the exit handlers run as at any exit
    (:mod:`atexit`: multiprocessing's, which ends the report's children, logging's, a Dask cluster's),
    the standard streams are flushed, and the process ends at once (:func:`os._exit`) with ``code``.
    Otherwise it exits as usual.
    """
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    run_exit_handlers = getattr(__import__("atexit"), "_run_exitfuncs", None)
    if others or run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to say on it
            pass
    os._exit(code)


def run() -> None:  # pragma: no cover - the console script goes through detente.__main__
    finish(main())


if __name__ == "__main__":  # pragma: no cover
    run()
