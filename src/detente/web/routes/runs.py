"""Runs: a forecast now, the run store, and a run's downloads (the report built on demand)."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from ..._cancel import current
from ...report.html import render as render_html
from ...serialize import draws_csv, dumps, history_csv
from ..schemas import MAX_LIST, RunRequest
from ..services import runs as service
from ._common import Context, context, not_found, offload

#: A stored report shown in the browser: its own inline style, nothing loaded, no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'"

router = APIRouter(prefix="/api", tags=["runs"])

RunId = PathParam(..., max_length=64)


@router.post("/forecast", status_code=201, summary="Forecast a scenario now and store the run (the report: /api/runs/{id}/report)")
async def run_forecast(req: RunRequest, request: Request, ctx: Context = Depends(context)) -> dict:
    return await offload(request, lambda: service.stored(ctx.runs, req, "forecast", ctx.budget, figures=False,
                                                         cancel=current()))


@router.get("/runs", summary="Stored runs, newest first")
def list_runs(limit: int = Query(200, ge=1, le=MAX_LIST, description=f"How many (1 to {MAX_LIST})."),
              ctx: Context = Depends(context)) -> list[dict]:
    return ctx.runs.list(limit)


@router.get("/runs/{run_id}", summary="One stored run, with everything it showed")
def get_run(run_id: str = RunId, ctx: Context = Depends(context)) -> Any:
    r = ctx.runs.get(run_id)
    return r if r is not None else not_found("run", run_id)


@router.delete("/runs/{run_id}", summary="Delete a stored run")
def delete_run(run_id: str = RunId, ctx: Context = Depends(context)) -> Any:
    if not ctx.runs.delete(run_id):
        return not_found("run", run_id)
    return {"deleted": run_id}


@router.get("/runs/{run_id}/report", summary="The run's self-contained HTML report (built now for a run stored without it)")
async def run_report(request: Request, run_id: str = RunId, download: bool = True, ctx: Context = Depends(context)) -> Any:
    r = ctx.runs.get(run_id)
    if r is None:
        return not_found("run", run_id)
    data = r["results"]
    if data.get("kind") == "detente-forecast":
        data = await offload(request, lambda: service.report_of(r, ctx.budget, cancel=current()))
    head = {"Content-Security-Policy": REPORT_CSP}
    if download:
        head["Content-Disposition"] = f'attachment; filename="detente-{run_id}.html"'
    return HTMLResponse(render_html(data), headers=head)


def _download(ctx: Context, run_id: str, ext: str, media: str, body: Callable[[dict], str]) -> Any:
    r = ctx.runs.get(run_id)
    if r is None:
        return not_found("run", run_id)
    return Response(body(r["results"]["result"]), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="detente-{run_id}.{ext}"'})


@router.get("/runs/{run_id}/json", summary="The run's forecast in detente's JSON contract")
def run_json(run_id: str = RunId, ctx: Context = Depends(context)) -> Any:
    return _download(ctx, run_id, "json", "application/json", dumps)


@router.get("/runs/{run_id}/csv", summary="The run as CSV: every draw's forecast (a run with draws), else positions by round")
def run_csv(run_id: str = RunId, ctx: Context = Depends(context)) -> Any:
    r = ctx.runs.get(run_id)
    if r is None:
        return not_found("run", run_id)
    mc = r["results"].get("monte_carlo") or {}
    # a run with draws: every draw's forecast (the headline is their median); else the positions by round
    text = draws_csv(mc["finals"]) if mc.get("finals") else history_csv(r["results"]["result"])
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="detente-{run_id}.csv"'})
