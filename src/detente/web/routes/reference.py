"""Reference: is the app up, which models it has."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ... import models
from ..._version import __version__
from ..services.scenarios import EXPORTS
from ._common import Context, context

router = APIRouter(prefix="/api", tags=["reference"])


@router.get("/health", summary="Is the app up")
def health(ctx: Context = Depends(context)) -> dict:
    return {"ok": True, "version": __version__, "load": ctx.pool.load(), "exports": list(EXPORTS)}


@router.get("/models", summary="The models, their parameters and citations")
def list_models() -> list[dict]:
    out = []
    for name in models.names():
        m = models.get(name)
        out.append({"name": name, "summary": m.SUMMARY, "citation": m.CITATION,
                    "params": m.Params.model_json_schema().get("properties", {})})
    return out
