"""The browser UI's pages (the static files are mounted by the app)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

#: The UI's files: HTML, JavaScript, CSS, all served by the app itself.
STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/docs")
def docs() -> FileResponse:
    return FileResponse(STATIC / "docs.html", media_type="text/html")
