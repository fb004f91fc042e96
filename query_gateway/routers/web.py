"""The web page at ``/`` and its assets, all served by the gateway (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
ASSETS = {"app.js": "text/javascript", "charts.js": "text/javascript", "style.css": "text/css"}

router = APIRouter(tags=["Web page"], include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    """The page: find a project, its metrics and charts, compare projects, a SQL box."""
    return FileResponse(WEB_DIR / "index.html", media_type="text/html")


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    """One of the page's scripts or style sheets."""
    if name not in ASSETS:
        raise HTTPException(status_code=404)
    return FileResponse(WEB_DIR / name, media_type=ASSETS[name])
