"""Scenarios: the shipped examples, validation and upload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response

from ..schemas import ScenarioInput
from ..services import scenarios as service
from ._common import not_found, offload

router = APIRouter(prefix="/api", tags=["scenarios"])


@router.get("/scenarios", summary="The shipped example scenarios")
def list_scenarios() -> list[dict]:
    return service.shipped_list()


@router.get("/scenarios/{name}", summary="One shipped scenario: its file and its resolved content")
def get_scenario(name: str = PathParam(..., max_length=200)) -> Any:
    one = service.shipped_one(name)
    return one if one is not None else not_found("shipped scenario", name)


@router.post("/validate", summary="Validate a scenario (422 lists every problem)")
async def validate(inp: ScenarioInput, request: Request) -> dict:
    return await offload(request, lambda: service.validated(inp))


@router.post("/upload", summary="Upload a scenario file (YAML, JSON, CSV/TSV table, KTAB CSV or XML, Decide) and validate it")
async def upload(request: Request, file: UploadFile = File(...)) -> dict:
    data = await file.read()  # bounded: the whole body is (see web/guard.py)
    return await offload(request, lambda: service.validated_upload(file.filename, data))


@router.post("/export", summary="A scenario as a file to download (YAML, JSON or CSV); 422 when it is not valid")
async def export(inp: ScenarioInput, request: Request,
                 format: str = Query("yaml", max_length=10, description=f"One of {', '.join(service.EXPORTS)}.")) -> Response:
    content, media, name = await offload(request, lambda: service.export(inp, format))
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
