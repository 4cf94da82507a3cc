"""What happened: ``POST /api/score`` and ``POST /api/explain`` (the web app's "What happened" panel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ..schemas import RecordRequest
from ..services import record as service
from ._common import Context, context, offload

router = APIRouter(prefix="/api", tags=["what happened"])


@router.post("/score", summary="Every model's forecast against the scenario's record (or a given outcome)")
async def run_score(req: RecordRequest, request: Request, ctx: Context = Depends(context)) -> Any:
    return await offload(request, lambda: service.score(req, ctx.budget))


@router.post("/explain", summary="The smallest change to the inputs that makes the model reproduce the outcome")
async def run_explain(req: RecordRequest, request: Request, ctx: Context = Depends(context)) -> Any:
    return await offload(request, lambda: service.explain(req, ctx.budget))
