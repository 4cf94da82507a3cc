"""The detente web app: a REST API (documented at ``/docs``) and a browser UI.

Build it with :func:`create_app`; ``detente serve`` runs it with uvicorn.
Every asset is served by the app itself: nothing loads from the network.

Errors: bad input answers 422 with ``{"problems": [{file, line, field,
reason}], ...}`` (the CLI's report), a body over 5 MB 413, an unknown run or
job 404, a full work queue 429 (with ``Retry-After``), a full disk 507, a
read-only store 503, and an internal error a generic 500 (logged, no
traceback in the response). Every computation runs on a bounded worker pool
(:mod:`detente.web.pool`) and stops when its client goes away; the checks in
front of the app (host names, access token, cross-site writes, body size,
security headers) are in :mod:`detente.web.guard`. docs/web.md has the threat
model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import _cancel, models
from .._cancel import Cancelled
from .._parse import short
from .._version import __version__
from ..budget import Budget, resolve_budget
from ..errors import DetenteError, Problem
from ..report import build as report_build
from ..report.html import render as render_html
from ..serialize import draws_csv, dumps, history_csv, jsonable
from .guard import LOOPBACK_HOSTS, CatchAll, Guard
from .jobs import JobManager
from .pool import Busy, ShuttingDown, WorkPool
from .store import RunStore, StoreError

log = logging.getLogger("detente.web")

BODY_UNREADABLE = ("the JSON body could not be read: it is nested too deeply or holds an integer of more than 4,300 digits "
                   "(Python's JSON limits; a scenario sent as `text` is checked against detente's own, documented limits)")

#: Largest request body (bytes); ``detente serve --max-body``.
MAX_BODY = 5 * 1024 * 1024
#: Most bytes of a refused body read and discarded so that the client can read the refusal.
DRAIN_MAX = 64 * 1024 * 1024
#: Most variants one forecast compares with.
MAX_VARIANTS = 10
#: Most rows one list request returns.
MAX_LIST = 1000
#: A stored report shown in the browser: its own inline style, nothing loaded, no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'"
STATIC = Path(__file__).resolve().parent / "static"
FLAGSHIP = "korea-2019"


# ----------------------------------------------------------------------------- request bodies


class ScenarioInput(BaseModel):
    """A scenario: a shipped example's ``name``, a ``scenario`` dict, or a file's ``text``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="A shipped example, e.g. korea-2019.")
    scenario: dict[str, Any] | None = Field(None, description="A scenario in the schema, as JSON.")
    text: str | None = Field(None, description="A scenario file's content (YAML, JSON or CSV).")
    format: Literal["yaml", "json", "csv"] | None = Field(None, description="The format of `text` (default: from `filename`, else yaml).")
    filename: str | None = Field(None, max_length=255,
                                 description="The file name `text` came from (used in problem reports).")


class RunRequest(ScenarioInput):
    """A forecast: a scenario, a model and its parameters, seed and Monte Carlo draws."""

    model: str | None = Field(None, description="Model name (default: the scenario's own choice, else compromise).")
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed (0 to 2**63-1).")
    draws: int = Field(0, ge=0, le=100_000, description="Monte Carlo draws (0: none).")
    sensitivity: bool = Field(False, description="Also run the sensitivity analysis.")
    compare: list[ScenarioInput] = Field(default_factory=list, max_length=MAX_VARIANTS,
                                         description=f"Variants to compare with (at most {MAX_VARIANTS}).")


class CompareRequest(BaseModel):
    """Several scenarios forecast with one model."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[ScenarioInput] = Field(..., min_length=2, max_length=MAX_VARIANTS + 1)
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed (0 to 2**63-1).")


class AdviceRequest(RunRequest):
    """Advice for one actor: which lever moves the forecast most toward it."""

    actor: str = Field(..., description="The actor advised (its key).")
    issue: str | None = Field(None, description="One issue (default: every issue).")


class JobRequest(RunRequest):
    """A background run."""

    kind: Literal["forecast", "sensitivity", "compare"] = "forecast"


# ----------------------------------------------------------------------------- scenarios from requests


def _safe_name(name: str | None, fmt: str) -> str:
    # at most 100 characters: the name becomes a file in a temporary folder (a file system allows 255 bytes)
    base = (re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(name or "").name).strip("._") or "scenario")[-100:].lstrip("._")
    suffix = {"yaml": ".yaml", "json": ".json", "csv": ".csv"}[fmt]
    if not base.lower().endswith((".yaml", ".yml", ".json", ".csv")):
        base += suffix
    return base


def _fmt_of(inp: ScenarioInput) -> str:
    if inp.format:
        return inp.format
    suf = Path(inp.filename or "").suffix.lower()
    return {".json": "json", ".csv": "csv", ".txt": "csv", ".tsv": "csv"}.get(suf, "yaml")  # .txt/.tsv: Decide files


def _plain(x: Any) -> Any:
    """A raw scenario value as plain JSON: non-finite numbers become null, dates text, lone surrogates escapes."""
    if isinstance(x, dict):
        return {_plain_key(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, str):
        return x.encode("utf-8", "backslashreplace").decode("utf-8")
    if x is None or isinstance(x, int | float):
        return x
    return _plain(str(x))


def _plain_key(k: Any) -> str:
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    return _plain(k if isinstance(k, str) else str(k))


def _safe_raw(raw: Any) -> Any:
    """What a 422 may send back of the user's own input: plain JSON, and no colour that is not a colour
    (the browser UI shows an invalid upload in its editor)."""
    from ..scenario.schema import is_color

    out = _plain(raw)
    if isinstance(out, dict) and isinstance(out.get("actors"), list):
        for a in out["actors"]:
            if isinstance(a, dict) and "color" in a and not is_color(a["color"]):
                del a["color"]
    return out


def _public_problems(problems: list[Problem], path: Path | None, fname: str | None) -> list[Problem]:
    """Problems with every file named as the user knows it: their own file by its name, a shipped
    scenario by its file name, nothing of the server's paths."""
    from ..scenario.io import shipped_dir

    ships = shipped_dir().resolve()
    out = []
    for p in problems:
        f = p.file
        if f is not None:
            fp = Path(f)
            if path is not None and fp == path:
                f = fname
            elif fp.resolve().parent == ships:
                f = fp.name
            else:
                f = None
        out.append(Problem(f, p.line, p.field, p.reason))
    return out


def load_input(inp: ScenarioInput) -> tuple[Any, Any]:
    """The validated scenario of a request and the raw dict it came from.

    Input over the web is sandboxed: ``extends:`` may name only a shipped
    scenario, never a path; problems name the user's own file (or a shipped
    file by its name), never a path of the server.

    Raises
    ------
    DetenteError
        With ``.raw`` (the user's own unvalidated content, when it could be
        parsed; never a base file's) and ``.targets`` (for each problem, the
        table cell it names).
    """
    from .._parse import check_text
    from ..api import load
    from ..scenario.io import read_document, resolve_extends, resolve_path, shipped
    from ..scenario.validate import validate as validate_raw

    given = [x for x in (inp.name, inp.scenario, inp.text) if x is not None]
    if len(given) != 1:
        raise DetenteError([Problem(None, None, "scenario", "give exactly one of `name`, `scenario` or `text`")])
    if inp.name is not None:
        names = {p.stem for p in shipped()}
        if inp.name not in names:
            raise DetenteError([Problem(None, None, "name",
                                        f"no shipped scenario {short(inp.name)}; available: {', '.join(sorted(names))}")])
        path = resolve_path(inp.name)
        return load(path), None
    if inp.scenario is not None:
        try:
            return load(inp.scenario), inp.scenario  # a dict may extend only a shipped scenario
        except DetenteError as e:
            err = DetenteError(_public_problems(e.problems, None, None))
            err.raw = _safe_raw(inp.scenario)  # type: ignore[attr-defined]
            err.targets = [_target(p, inp.scenario) for p in err.problems]  # type: ignore[attr-defined]
            raise err from None
    fmt = _fmt_of(inp)
    fname = _safe_name(inp.filename, fmt)
    check_text(inp.text or "", fname)
    with tempfile.TemporaryDirectory(prefix="detente-upload-") as tmp:
        path = Path(tmp) / fname
        path.write_text(inp.text or "", encoding="utf-8")
        own = None
        try:
            own = read_document(path)
            scen = validate_raw(resolve_extends(own, path, sandbox="shipped"), str(path))
        except DetenteError as e:
            probs = _public_problems(e.problems, path, fname)
            err = DetenteError(probs)
            err.raw = _safe_raw(own) if own is not None else None  # type: ignore[attr-defined]
            err.targets = [_target(p, own) if p.file == fname else None for p in probs]  # type: ignore[attr-defined]
            raise err from None
        return scen.with_changes(source_file=fname), _safe_raw(own)


_ACTOR_FIELD = re.compile(r"^actors\[(?P<key>[^\]]+)\]\.(?P<rest>capability|name|color|positions\.[^.]+|salience\.[^.]+)")
_ACTOR_AT = re.compile(r"^actors(\[(?P<i>\d+)\])?\.(?P<rest>capability|name|color|positions\.[^.]+|salience\.[^.]+|positions|salience)")


def _target(p: Problem, raw: Any) -> str | None:
    """The stakeholder-table cell a problem names, as ``actors[KEY].field``, or None."""
    m = _ACTOR_FIELD.match(p.field or "")
    if m:
        return f"actors[{m.group('key')}].{m.group('rest')}"
    m = _ACTOR_AT.match(p.field or "")
    if not m or not isinstance(raw, dict) or not isinstance(raw.get("actors"), list):
        return None
    actors = raw["actors"]
    idx = None
    if m.group("i") is not None:
        idx = int(m.group("i"))
    elif p.line is not None:
        locs = getattr(actors, "locs", {})
        starts = sorted((loc[1], i) for i, loc in locs.items() if loc and loc[1] is not None)
        for line, i in starts:
            if line <= p.line:
                idx = i
    if idx is None or idx >= len(actors) or not isinstance(actors[idx], dict):
        return None
    key = actors[idx].get("key")
    return f"actors[{key}].{m.group('rest')}" if key else None


def _describe(scen: Any) -> dict[str, Any]:
    return {"name": scen.name, "actors": len(scen.actors), "issues": len(scen.issues), "events": len(scen.events)}


def _problem_response(e: DetenteError) -> JSONResponse:
    body: dict[str, Any] = {"detail": "the input has problems", "problems": [p.to_dict() for p in e.problems]}
    if getattr(e, "targets", None) is not None:
        body["targets"] = e.targets  # type: ignore[attr-defined]
    if getattr(e, "raw", None) is not None:
        body["raw"] = e.raw  # type: ignore[attr-defined]
    return JSONResponse(body, status_code=422)


# ----------------------------------------------------------------------------- the app


class ClientGone(Exception):
    """The client disconnected while its request was computing (the work was cancelled)."""


#: Seconds between two looks at whether a waiting request's client is still there.
POLL = 0.25


def create_app(store: str | Path, *, workers: int = 2, queue: int = 8, max_body: int = MAX_BODY,
               drain: int = DRAIN_MAX, allow_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
               token: str | None = None, retry_after: int = 5, keep_jobs: int = 1000,
               budget: Budget | None = None) -> Any:
    """Build the web app.

    Parameters
    ----------
    store : path
        The SQLite run store (runs and jobs).
    workers : int
        Computations (requests and background jobs) running at once.
    queue : int
        Computations waiting for a worker at most; beyond it a request answers 429.
    max_body : int
        Largest request body, bytes (413 beyond it).
    drain : int
        Most bytes of a refused body read and discarded before answering it.
    allow_hosts : iterable of str or None
        ``Host`` names answered (default: the loopback names); None answers any.
    token : str, optional
        An access token every API request must carry as ``Authorization: Bearer``.
    retry_after : int
        Seconds a client refused with 429 is told to wait.
    keep_jobs : int
        Finished background jobs remembered.
    budget : Budget, optional
        The compute budget of every request (default
        :class:`detente.budget.Budget()`); a request over it answers 422 with
        the estimate and the limit before any work starts.

    Returns
    -------
    ASGI application
        The FastAPI app behind :class:`~detente.web.guard.Guard` and the
        catch-all error handler. Attributes: ``api`` (the FastAPI app),
        ``pool`` (the :class:`~detente.web.pool.WorkPool`) and ``stop()``
        (cancel every computation and take no more: call it on SIGTERM).

    Raises
    ------
    StoreError
        When the store cannot be opened or written.
    """
    runs = RunStore(store)
    pool = WorkPool(workers=workers, queue=queue, retry_after=retry_after)
    jobs = JobManager(runs, pool, keep=keep_jobs)
    budget = resolve_budget(budget)

    def stop() -> None:
        jobs.shutdown()
        pool.stop()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        yield
        stop()

    app = FastAPI(
        lifespan=lifespan,
        title="detente",
        version=__version__,
        description="Forecast negotiations with bargaining models. Bad input answers 422 with a list of "
                    f"`{{file, line, field, reason}}` problems; bodies over {max_body / 2**20:g} MB answer 413; "
                    "a full server 429 (Retry-After); state-changing requests need the header `X-Detente: 1` "
                    "(or to come from the app's own pages).",
        docs_url=None, redoc_url=None,
    )
    app.state.runs, app.state.jobs, app.state.pool = runs, jobs, pool

    @app.exception_handler(DetenteError)
    async def _detente_error(request: Any, exc: DetenteError) -> JSONResponse:
        return _problem_response(exc)

    @app.exception_handler(models.UnknownModelError)
    async def _unknown_model(request: Any, exc: Exception) -> JSONResponse:
        return _problem_response(DetenteError([Problem(None, None, "model", str(exc))]))

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
            return _problem_response(DetenteError([Problem(None, None, "body", BODY_UNREADABLE)]))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Any, exc: RequestValidationError) -> JSONResponse:
        probs = [Problem(None, None, ".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "invalid")))
                 for e in exc.errors()]
        return _problem_response(DetenteError(probs))

    async def offload(request: Request, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the pool; stop it when the client goes away or the server stops."""
        cancel = threading.Event()
        fut = asyncio.wrap_future(pool.submit(fn, cancel))
        try:
            while True:
                done, _ = await asyncio.wait({fut}, timeout=POLL)
                if done:
                    return fut.result()
                if pool.stopping.is_set():
                    cancel.set()
                    raise ShuttingDown("the server is shutting down")
                if await request.is_disconnected():
                    cancel.set()
                    log.info("client gone: cancelled %s %s", request.method, request.url.path)
                    raise ClientGone()
        except asyncio.CancelledError:
            cancel.set()
            raise

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- pages ------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    # -- reference --------------------------------------------------------------------------
    @app.get("/api/health", tags=["reference"], summary="Is the app up")
    def health() -> dict:
        return {"ok": True, "version": __version__, "load": pool.load()}

    @app.get("/api/models", tags=["reference"], summary="The models, their parameters and citations")
    def list_models() -> list[dict]:
        out = []
        for name in models.names():
            m = models.get(name)
            out.append({"name": name, "summary": m.SUMMARY, "citation": m.CITATION,
                        "params": m.Params.model_json_schema().get("properties", {})})
        return out

    @app.get("/api/scenarios", tags=["scenarios"], summary="The shipped example scenarios")
    def list_scenarios() -> list[dict]:
        from ..api import load
        from ..scenario.io import shipped

        out = []
        for p in shipped():
            try:
                s = load(p)
            except DetenteError:
                continue
            out.append({**_describe(s), "name": p.stem, "title": s.name, "file": p.name,
                        "description": s.description, "flagship": p.stem == FLAGSHIP})
        return out

    @app.get("/api/scenarios/{name}", tags=["scenarios"], summary="One shipped scenario: its file and its resolved content")
    def get_scenario(name: str = PathParam(..., max_length=200)) -> dict:
        from ..scenario.io import shipped

        for p in shipped():
            if p.stem == name:
                scen, _ = load_input(ScenarioInput(name=name))
                return {"name": name, "file": p.name, "text": p.read_text(encoding="utf-8"),
                        "scenario": jsonable(scen.to_dict())}
        return JSONResponse({"detail": f"no shipped scenario {name!r}"}, status_code=404)  # type: ignore[return-value]

    # -- validation -------------------------------------------------------------------------
    def _validated(inp: ScenarioInput) -> dict:
        scen, raw = load_input(inp)
        return {"ok": True, **_describe(scen), "warnings": [w.to_dict() for w in _public_problems(scen.warnings(), None, None)],
                "scenario": jsonable(scen.to_dict())}

    @app.post("/api/validate", tags=["scenarios"], summary="Validate a scenario (422 lists every problem)")
    async def validate(inp: ScenarioInput, request: Request) -> dict:
        return await offload(request, lambda: _validated(inp))

    @app.post("/api/upload", tags=["scenarios"], summary="Upload a scenario file (YAML, JSON, CSV) and validate it")
    async def upload(request: Request, file: UploadFile = File(...)) -> dict:
        data = await file.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DetenteError([Problem(file.filename, None, "", "not UTF-8 text")]) from None
        return await offload(request, lambda: _validated(ScenarioInput(text=text, filename=(file.filename or "")[-255:] or None)))

    # -- runs ---------------------------------------------------------------------------------
    def _given(inp: ScenarioInput) -> dict:
        return inp.model_dump(exclude_none=True, include={"name", "scenario", "text", "format", "filename"})

    def execute(req: RunRequest, kind: str, progress: Any = None, cancel: threading.Event | None = None) -> dict:
        scen, _ = load_input(req)
        compare = [load_input(c)[0] for c in req.compare]
        data = report_build.compute(scen, req.model, dict(req.params), seed=req.seed, draws=req.draws,
                                    sensitivity=req.sensitivity or kind == "sensitivity", compare=compare,
                                    progress=progress, cancel=cancel, budget=budget, interface="web")
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        data["scenario_input"] = jsonable(scen.to_dict())
        given = _given(req)
        if req.compare:
            given["compare"] = [_given(c) for c in req.compare]
        m = data["meta"]
        return runs.add(kind=kind, name=scen.name, scenario=given, model=m["model"], params=m["params"],
                        seed=req.seed, draws=req.draws, version=__version__, results=data)

    def _full(summary: dict) -> dict:
        return runs.get(summary["id"])  # type: ignore[return-value]

    def _stored(req: RunRequest, kind: str) -> Callable[[], dict]:
        def work() -> dict:
            return _full(execute(req, kind, cancel=_cancel.current()))

        return work

    @app.post("/api/forecast", tags=["runs"], status_code=201, summary="Forecast a scenario now and store the run")
    async def run_forecast(req: RunRequest, request: Request) -> dict:
        return await offload(request, _stored(req, "forecast"))

    @app.post("/api/sensitivity", tags=["analysis"], status_code=201, summary="Sensitivity analysis (tornado) of a scenario")
    async def run_sensitivity(req: RunRequest, request: Request) -> Any:
        return await offload(request, _stored(req, "sensitivity"))

    @app.post("/api/advice", tags=["analysis"], summary="Advice: which moves would shift the forecast")
    async def run_advice(req: AdviceRequest, request: Request) -> Any:
        from ..analysis import advise

        def work() -> dict:
            scen, _ = load_input(req)
            res = advise(scen, req.actor, issue=req.issue, model=req.model or None, draws=req.draws or 200, seed=req.seed or 0,
                         params=dict(req.params), progress=False, budget=budget)
            return {"scenario": scen.name, "advice": jsonable(res.to_dict())}

        return await offload(request, work)

    @app.post("/api/compare", tags=["analysis"], status_code=201, summary="Forecast several scenarios with one model and compare")
    async def run_compare(req: CompareRequest, request: Request) -> dict:
        first, *rest = req.scenarios
        rr = RunRequest(**_given(first), model=req.model, params=req.params, seed=req.seed, compare=rest)
        return await offload(request, _stored(rr, "compare"))

    @app.get("/api/runs", tags=["runs"], summary="Stored runs, newest first")
    def list_runs(limit: int = Query(200, ge=1, le=MAX_LIST, description=f"How many (1 to {MAX_LIST}).")) -> list[dict]:
        return runs.list(limit)

    RunId = PathParam(..., max_length=64)

    def _run_or_404(run_id: str) -> dict | JSONResponse:
        r = runs.get(run_id)
        return r if r is not None else JSONResponse({"detail": f"no run {run_id!r}"}, status_code=404)

    @app.get("/api/runs/{run_id}", tags=["runs"], summary="One stored run, with everything it showed")
    def get_run(run_id: str = RunId) -> Any:
        return _run_or_404(run_id)

    @app.delete("/api/runs/{run_id}", tags=["runs"], summary="Delete a stored run")
    def delete_run(run_id: str = RunId) -> Any:
        if not runs.delete(run_id):
            return JSONResponse({"detail": f"no run {run_id!r}"}, status_code=404)
        return {"deleted": run_id}

    @app.get("/api/runs/{run_id}/report", tags=["runs"], summary="The run's self-contained HTML report")
    def run_report(run_id: str = RunId, download: bool = True) -> Any:
        r = _run_or_404(run_id)
        if isinstance(r, JSONResponse):
            return r
        head = {"Content-Security-Policy": REPORT_CSP}
        if download:
            head["Content-Disposition"] = f'attachment; filename="detente-{run_id}.html"'
        return HTMLResponse(render_html(r["results"]), headers=head)

    @app.get("/api/runs/{run_id}/json", tags=["runs"], summary="The run's forecast in detente's JSON contract")
    def run_json(run_id: str = RunId) -> Any:
        r = _run_or_404(run_id)
        if isinstance(r, JSONResponse):
            return r
        return Response(dumps(r["results"]["result"]), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="detente-{run_id}.json"'})

    @app.get("/api/runs/{run_id}/csv", tags=["runs"],
             summary="The run as CSV: every draw's forecast (a run with draws), else positions by round")
    def run_csv(run_id: str = RunId) -> Any:
        r = _run_or_404(run_id)
        if isinstance(r, JSONResponse):
            return r
        mc = r["results"].get("monte_carlo") or {}
        # a run with draws: every draw's forecast (the headline is their median); else the positions by round
        text = draws_csv(mc["finals"]) if mc.get("finals") else history_csv(r["results"]["result"])
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="detente-{run_id}.csv"'})

    # -- background jobs -------------------------------------------------------------------------
    @app.post("/api/jobs", tags=["jobs"], status_code=202, summary="Start a run in the background (poll /api/jobs/{id})")
    async def start_job(req: JobRequest, request: Request) -> dict:
        def check() -> None:  # bad input (and work over the budget) answers 422 now, not later
            scen, _ = load_input(req)
            compare = [load_input(c)[0] for c in req.compare]
            report_build.plan_report(scen, req.model, dict(req.params), draws=req.draws,
                                     sensitivity=req.sensitivity or req.kind == "sensitivity", compare=compare,
                                     budget=budget)

        await offload(request, check)
        # the job's row is written off the event loop (SQLite may wait for another writer)
        return await run_in_threadpool(jobs.submit, req.kind,
                                       lambda progress, cancel: execute(req, req.kind, progress, cancel)["id"])

    @app.get("/api/jobs", tags=["jobs"], summary="Background runs, newest first")
    def list_jobs(limit: int = Query(200, ge=1, le=MAX_LIST, description=f"How many (1 to {MAX_LIST}).")) -> list[dict]:
        return jobs.list(limit)

    JobId = PathParam(..., max_length=64)

    @app.get("/api/jobs/{job_id}", tags=["jobs"], summary="A background run's status and progress")
    def get_job(job_id: str = JobId) -> Any:
        j = jobs.get(job_id)
        return j if j else JSONResponse({"detail": f"no job {job_id!r}"}, status_code=404)

    @app.delete("/api/jobs/{job_id}", tags=["jobs"], summary="Cancel a background run")
    def cancel_job(job_id: str = JobId) -> Any:
        j = jobs.cancel(job_id)
        return j if j else JSONResponse({"detail": f"no job {job_id!r}"}, status_code=404)

    wrapped = Guard(CatchAll(app), max_body=max_body, drain=drain, allow_hosts=allow_hosts, token=token)
    wrapped.api = app  # type: ignore[attr-defined]
    wrapped.pool = pool  # type: ignore[attr-defined]
    wrapped.stop = stop  # type: ignore[attr-defined]
    return wrapped
