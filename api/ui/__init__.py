"""Screens served by the API under /ui/: worklist, episode timeline, audit
dashboard and the physician view, rendered on the server from the same read
models, access checks and access log as the API (DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.ui.pages import audit, episode, login, physician, worklist

STATIC = Path(__file__).parent / "static"


def install_ui(app: FastAPI) -> None:
    """Serve the screens and their assets (shipped in this package, no CDN)."""
    for module in (login, worklist, episode, audit, physician):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
