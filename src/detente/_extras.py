"""Optional dependencies: which extra of ``pip install detente[...]`` brings which library.

The core (``detente.load``, ``detente.forecast``) needs numpy, pydantic and
PyYAML only. A feature that needs more imports it when it runs; when the
library is missing, :func:`import_optional` (and the command line, through
:func:`missing_extra`) say which extra to install instead of showing an
``ImportError`` traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: top-level module name -> the extra that installs it
EXTRA_OF: dict[str, str] = {
    "typer": "cli",
    "click": "cli",
    "rich": "cli",
    "scipy": "analysis",
    "pandas": "analysis",
    "SALib": "analysis",
    "matplotlib": "report",
    "fastapi": "web",
    "starlette": "web",
    "uvicorn": "web",
    "multipart": "web",
    "python_multipart": "web",
    "platformdirs": "web",
    "openpyxl": "xlsx",
    "et_xmlfile": "xlsx",
    "numba": "fast",
    "llvmlite": "fast",
    "dask": "dask",
    "distributed": "dask",
}


class MissingExtraError(ImportError):
    """A feature needs a library that an extra of detente installs."""


def missing_extra(exc: BaseException) -> str | None:
    """The message for an :class:`ImportError` caused by a missing optional library, else None."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, ImportError) or not name:
        return None
    top = name.split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return (f"this needs the optional library {top!r}, which is not installed; "
            f"install it with: pip install 'detente[{extra}]' (or 'detente[all]')")


def import_optional(module: str) -> ModuleType:
    """Import ``module``; a missing optional library raises :class:`MissingExtraError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        message = missing_extra(e)
        if message is None:
            raise
        raise MissingExtraError(message, name=e.name) from e
