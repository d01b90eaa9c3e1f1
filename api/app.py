"""create_app(settings): the FastAPI application; the lifespan wires everything."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.auth import load_token_registry
from api.errors import install_error_handlers
from api.middleware import BodyGuardMiddleware, RequestContextMiddleware
from api.routes import access_log, episodes, ops
from infra.access_log import AccessLog
from infra.eventstore import build_application
from infra.settings import Settings, get_settings

logger = logging.getLogger("care.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The HTTP API for `settings`; it connects to the store only when it starts."""
    settings = settings or get_settings()
    tokens = load_token_registry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.episodes = build_application(settings)
        try:
            app.state.access_log = AccessLog(app.state.episodes)
            logger.info("serving care episodes from %s", settings.backend)
            yield
        finally:
            app.state.episodes.close()

    app = FastAPI(
        title="Care episodes",
        version="0.1.0",
        summary="Event-sourced care episodes for spine and back-pain care.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = tokens
    install_error_handlers(app)
    app.add_middleware(BodyGuardMiddleware)
    app.add_middleware(RequestContextMiddleware)
    for module in (episodes, access_log, ops):
        app.include_router(module.router)
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings from CARE_* variables."""
    from infra.cli import configure_logging

    configure_logging()
    return create_app(get_settings())
