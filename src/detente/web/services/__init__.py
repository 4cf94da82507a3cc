"""What the web API does, as plain functions over the engine, analysis, report and serialise layers.

No FastAPI here: a service takes request bodies (:mod:`detente.web.schemas`),
the run store and the compute budget, and returns plain data or raises
:class:`~detente.errors.DetenteError` (bad input). The routers in
:mod:`detente.web.routes` turn HTTP into calls of these functions and run them
on the worker pool.
"""
