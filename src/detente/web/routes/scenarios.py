"""Scenarios: the shipped examples, validation and upload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi import Path as PathParam

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


@router.post("/upload", summary="Upload a scenario file (YAML, JSON, CSV) and validate it")
async def upload(request: Request, file: UploadFile = File(...)) -> dict:
    inp = service.from_upload(file.filename, await file.read())
    return await offload(request, lambda: service.validated(inp))
