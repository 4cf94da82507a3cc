"""The web API's routers, one module per group of endpoints (``/docs`` shows them by tag).

A router turns HTTP into a call of a service (:mod:`detente.web.services`) and
runs every computation on the worker pool (:func:`._common.offload`); the app's
parts (run store, jobs, pool, budget) reach it as :class:`._common.Context`.
"""

from __future__ import annotations

from . import analysis, jobs, pages, reference, runs, scenarios

#: Every router, in the order the app includes them.
ROUTERS = (pages.router, reference.router, scenarios.router, runs.router, analysis.router, jobs.router)
