"""Modules typer imports for its help screens but that ``detente`` never uses there, loaded on first use.

typer's rich help (``typer.rich_utils``) imports ``rich.markdown`` (which pulls
markdown-it and pygments) for ``rich_markup_mode="markdown"``, and
``rich.traceback`` for pretty exceptions; detente's help uses the ``"rich"``
mode and turns pretty exceptions off, yet the two imports were a third of the
imports of ``detente --help`` (issue #17). :func:`defer` puts a stand-in for
each such module into ``sys.modules``: importing a name from it gives a
stand-in class, and the real module is imported the first time anything is
done with that class (called, an attribute read, an ``isinstance``), so code
that does use them works as before, only later.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Modules deferred, and the names imported from them (``from rich.markdown import Markdown``).
DEFERRED: dict[str, tuple[str, ...]] = {"rich.markdown": ("Markdown",), "rich.traceback": ("Traceback",)}


def real(module: str) -> types.ModuleType:
    """The real module, imported now if its stand-in is in ``sys.modules``."""
    mod = sys.modules.get(module)
    if mod is None or getattr(mod, "_detente_deferred", False):
        sys.modules.pop(module, None)
        mod = importlib.import_module(module)
    return mod


class _Deferred(type):
    """The metaclass of a stand-in class: every use goes to the real class."""

    _module: str
    _name: str

    def _real(cls) -> Any:
        return getattr(real(cls._module), cls._name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):  # typing's probes (a | b, list[a]) are no use
            raise AttributeError(attr)
        return getattr(cls._real(), attr)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls._real())

    def __subclasscheck__(cls, sub: Any) -> bool:
        return issubclass(sub, cls._real())


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    mod = types.ModuleType(module, f"stand-in for {module} (see detente.cli._lazy)")
    mod._detente_deferred = True  # type: ignore[attr-defined]
    for name in names:
        setattr(mod, name, _Deferred(name, (), {"_module": module, "_name": name}))

    def __getattr__(attr: str) -> Any:  # any other name: the real module's
        if attr.startswith("__") and attr.endswith("__"):  # the import system's probes (__path__, ...)
            raise AttributeError(attr)
        return getattr(real(module), attr)

    mod.__getattr__ = __getattr__  # type: ignore[method-assign]
    return mod


def defer() -> None:
    """Put the stand-ins of :data:`DEFERRED` into ``sys.modules`` (a module already imported stays)."""
    for module, names in DEFERRED.items():
        if module not in sys.modules:
            sys.modules[module] = _stand_in(module, names)
