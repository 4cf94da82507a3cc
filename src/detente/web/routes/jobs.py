"""Background jobs: a run with progress, polled and cancellable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from ..schemas import MAX_LIST, JobRequest
from ..services import runs as service
from ._common import Context, context, not_found, offload

router = APIRouter(prefix="/api", tags=["jobs"])

JobId = PathParam(..., max_length=64)


@router.post("/jobs", status_code=202, summary="Start a run in the background (poll /api/jobs/{id})")
async def start_job(req: JobRequest, request: Request, ctx: Context = Depends(context)) -> dict:
    # bad input (and work over the budget) answers 422 now, not later
    await offload(request, lambda: service.check(req, req.kind, ctx.budget))

    def work(progress: Any, cancel: Any) -> str:
        return service.execute(ctx.runs, req, req.kind, ctx.budget, progress=progress, cancel=cancel)["id"]

    # the job's row is written off the event loop (SQLite may wait for another writer)
    return await run_in_threadpool(ctx.jobs.submit, req.kind, work)


@router.get("/jobs", summary="Background runs, newest first")
def list_jobs(limit: int = Query(200, ge=1, le=MAX_LIST, description=f"How many (1 to {MAX_LIST})."),
              ctx: Context = Depends(context)) -> list[dict]:
    return ctx.jobs.list(limit)


@router.get("/jobs/{job_id}", summary="A background run's status and progress")
def get_job(job_id: str = JobId, ctx: Context = Depends(context)) -> Any:
    j = ctx.jobs.get(job_id)
    return j if j else not_found("job", job_id)


@router.delete("/jobs/{job_id}", summary="Cancel a background run")
def cancel_job(job_id: str = JobId, ctx: Context = Depends(context)) -> Any:
    j = ctx.jobs.cancel(job_id)
    return j if j else not_found("job", job_id)
