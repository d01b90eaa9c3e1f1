"""create_app(settings): the FastAPI application; its lifespan opens the container."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.deps import WaitSlots
from api.docs import install_docs
from api.errors import install_error_handlers
from api.feed_stream import FeedStreams
from api.middleware import (
    BodyGuardMiddleware,
    RequestContextMiddleware,
    StoreDownMiddleware,
)
from api.observe import ObserveMiddleware
from api.openapi import API_DESCRIPTION, TAGS, install_openapi
from api.routes import (
    access_log,
    audit,
    audit_replay,
    bulk_export,
    episodes,
    feeds,
    fhir,
    ops,
    patients,
    projections,
    quality_measures,
    subscriptions,
    worklist,
)
from api.ui import install_ui
from api.url_guard import UrlGuardMiddleware
from infra.bootstrap import bootstrap_when_reachable
from infra.collector import tune_collector
from infra.interop import start_background
from infra.logs import configure_logging
from infra.projection import EngineHandle
from infra.settings import Settings, load_settings
from infra.tokens import load_token_registry
from infra.watch import PositionWatcher

logger = logging.getLogger("care.api")


def create_app(settings: Settings) -> FastAPI:
    """The HTTP API for `settings`; it connects to the store only when it starts."""
    tokens = load_token_registry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = bootstrap_when_reachable(settings)
        # One watcher of projection positions per process: feed streams wait on it.
        watcher = PositionWatcher.of(container.read_models)
        engine = None
        # The bulk export worker, and in embedded mode the webhook sender.
        interop = start_background(
            container,
            exports=settings.exports_in_process,
            webhooks=settings.runs_webhooks_in_process,
        )
        try:
            if settings.runs_projections_in_process:
                # Embedded mode: the projections run in this process. With several
                # workers each starts one; their locks keep one active per projection.
                engine = EngineHandle(container.engine()).start()
            app.state.container = container
            app.state.engine = engine
            app.state.watcher = watcher
            app.state.feed_streams = FeedStreams(settings, watcher)
            app.state.read_waits = WaitSlots(settings.read_wait_max_waiters)
            logger.info(
                "serving care episodes from %s (projections %s)",
                settings.backend,
                "in process" if engine else "in `care-episodes project`",
            )
            yield
        finally:
            watcher.close()
            interop.close()
            if engine is not None:
                engine.stop()
            container.close()

    app = FastAPI(
        title="Care episodes",
        version="0.1.0",
        summary="Event-sourced care episodes for spine and back-pain care.",
        description=API_DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Served by api/docs.py from installed assets, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tokens = tokens
    install_error_handlers(app)
    app.add_middleware(UrlGuardMiddleware)
    app.add_middleware(BodyGuardMiddleware)
    app.add_middleware(StoreDownMiddleware)
    app.add_middleware(ObserveMiddleware)
    app.add_middleware(RequestContextMiddleware)
    for module in (
        episodes,
        audit,
        audit_replay,
        worklist,
        feeds,
        subscriptions,
        fhir,
        bulk_export,
        quality_measures,
        access_log,
        patients,
        projections,
        ops,
    ):
        app.include_router(module.router)
    install_ui(app)
    install_docs(app)
    install_openapi(app)
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings from CARE_* variables; the worker's
    garbage collector is set for a long-running process."""
    configure_logging()
    settings = load_settings()
    app = create_app(settings)
    tune_collector(settings.gc_young_threshold)
    return app
