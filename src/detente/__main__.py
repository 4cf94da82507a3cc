"""``python -m detente`` and the ``detente`` console script.

The command line needs typer and rich (the ``cli`` extra); without them this
says which extra to install instead of failing with an ImportError.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``detente`` command line; exit code 1 with a message when an extra is missing."""
    try:
        from .cli import main as cli_main
    except ImportError as e:
        from ._extras import missing_extra

        message = missing_extra(e)
        if message is None:
            raise
        sys.stderr.write(f"error: the detente command line {message.removeprefix('this ')}\n")
        return 1
    return cli_main(argv)


def run() -> None:  # pragma: no cover - the console script
    code = main()
    cli = sys.modules.get("detente.cli")
    if cli is None:  # the command line could not start (a missing extra)
        sys.exit(code)
    cli.finish(code)  # without the interpreter's teardown when that is safe


if __name__ == "__main__":  # pragma: no cover
    run()
