"""How the app answers errors: 422 problems, 429, 503, 507, and a generic 500 (no traceback)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import models
from .._cancel import Cancelled
from ..errors import DetenteError, Problem
from .pool import Busy, ShuttingDown
from .routes._common import ClientGone
from .store import StoreError

log = logging.getLogger("detente.web")

BODY_UNREADABLE = ("the JSON body could not be read: it is nested too deeply or holds an integer of more than 4,300 digits "
                   "(Python's JSON limits; a scenario sent as `text` is checked against detente's own, documented limits)")


def problem_response(e: DetenteError) -> JSONResponse:
    """422 with ``problems`` (and ``targets``, ``raw`` when the error carries them)."""
    body: dict[str, Any] = {"detail": "the input has problems", "problems": [p.to_dict() for p in e.problems]}
    if getattr(e, "targets", None) is not None:
        body["targets"] = e.targets  # type: ignore[attr-defined]
    if getattr(e, "raw", None) is not None:
        body["raw"] = e.raw  # type: ignore[attr-defined]
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    """Register the app's exception handlers."""

    @app.exception_handler(DetenteError)
    async def _detente_error(request: Any, exc: DetenteError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(models.UnknownModelError)
    async def _unknown_model(request: Any, exc: Exception) -> JSONResponse:
        return problem_response(DetenteError([Problem(None, None, "model", str(exc))]))

    @app.exception_handler(Busy)
    async def _busy(request: Any, exc: Busy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ShuttingDown)
    @app.exception_handler(Cancelled)
    async def _stopping(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "the server is shutting down; nothing was stored"}, status_code=503)

    @app.exception_handler(ClientGone)
    async def _gone(request: Any, exc: Exception) -> Response:
        return Response(status_code=499)  # nobody reads it: the client has gone

    @app.exception_handler(StoreError)
    async def _store(request: Any, exc: StoreError) -> JSONResponse:
        log.error("run store: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def _internal(request: Any, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Any, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 "There was an error parsing the body" when the JSON reader itself fails (nesting
        # past Python's recursion limit, an integer past its 4,300-digit limit): that is bad input, so 422.
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return problem_response(DetenteError([Problem(None, None, "body", BODY_UNREADABLE)]))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Any, exc: RequestValidationError) -> JSONResponse:
        probs = [Problem(None, None, ".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "invalid")))
                 for e in exc.errors()]
        return problem_response(DetenteError(probs))
