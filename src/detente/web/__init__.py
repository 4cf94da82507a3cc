"""The detente web app: REST API, browser UI and run store (``detente serve``).

See ``docs/web.md``.
"""

from __future__ import annotations

from .app import create_app
from .store import RunStore, default_store_path

__all__ = ["create_app", "RunStore", "default_store_path"]
