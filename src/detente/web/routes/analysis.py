"""The analyses: sensitivity and comparison (stored as runs with their report), and advice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ..._cancel import current
from ..schemas import AdviceRequest, CompareRequest, RunRequest
from ..services import runs as service
from ._common import Context, context, offload

router = APIRouter(prefix="/api", tags=["analysis"])


@router.post("/sensitivity", status_code=201, summary="Sensitivity analysis (tornado) of a scenario")
async def run_sensitivity(req: RunRequest, request: Request, ctx: Context = Depends(context)) -> Any:
    return await offload(request, lambda: service.stored(ctx.runs, req, "sensitivity", ctx.budget, cancel=current()))


@router.post("/advice", summary="Advice: which moves would shift the forecast")
async def run_advice(req: AdviceRequest, request: Request, ctx: Context = Depends(context)) -> Any:
    return await offload(request, lambda: service.advice(req, ctx.budget))


@router.post("/compare", status_code=201, summary="Forecast several scenarios with one model and compare")
async def run_compare(req: CompareRequest, request: Request, ctx: Context = Depends(context)) -> dict:
    first, *rest = req.scenarios
    rr = RunRequest(**first.given(), model=req.model, params=req.params, seed=req.seed, compare=rest)
    return await offload(request, lambda: service.stored(ctx.runs, rr, "compare", ctx.budget, cancel=current()))
