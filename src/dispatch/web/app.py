"""The FastAPI app factory: one app per `Settings`, nothing global.

`app.state` carries `settings`, `database` and `clock` for the routers. Routers come one
per audience (webhooks now; public pages, admin and the API later).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dispatch import metrics
from dispatch.config import Settings
from dispatch.executor.context import EngineContext
from dispatch.jobs import JobContext
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.web import (
    admin,
    admin_auth,
    api,
    clicks,
    feeds,
    media,
    public,
    site_files,
    store_faults,
    subscribe,
    webhooks,
)
from dispatch.web import metrics as metrics_route
from dispatch.web.audit import AuditMiddleware
from dispatch.web.head import HeadAsGet
from dispatch.web.health import healthz
from dispatch.web.limits import BodyLimits, RequestLimits
from dispatch.web.live_lists import LiveLists
from dispatch.web.pages import STATIC_PREFIX, Pages, static_folder
from dispatch.web.security_headers import SecurityHeaders
from dispatch.web.sending import build_sending


def create_app(
    settings: Settings,
    database: Database | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    jobs: JobContext | None = None,
    http_client: httpx.Client | None = None,
) -> FastAPI:
    """The web app, with the services it needs built here: the metrics, the engine context
    and the executor (or `jobs`' when `dispatch serve` shares its scheduler's). On shutdown
    it closes what it built: background sends stop before their next message.

    `http_client` makes the app's own outgoing requests (SNS certificates); tests pass
    one that trusts their loopback servers."""
    owned = database is None
    database = database if database is not None else Database(settings.database)
    registry = jobs.metrics if jobs is not None else metrics.Metrics(database)
    engines = EngineContext(database, settings, metrics=registry, clock=clock)
    sending = build_sending(engines, jobs)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        sending.close()
        if owned:
            database.dispose()

    app = FastAPI(
        title=settings.site.title,
        lifespan=lifespan,
        openapi_url=api.OPENAPI_URL,
        docs_url=None,  # served by `api.docs`, with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.metrics = registry
    app.state.sending = sending
    app.state.pages = Pages(settings)
    app.state.favicon = site_files.favicon_bytes(settings)
    app.include_router(webhooks.build_router(settings, http_client), include_in_schema=False)
    admin_auth.install(app)
    admin.install(app)
    app.include_router(feeds.router, include_in_schema=False)
    app.include_router(subscribe.router, include_in_schema=False)
    app.include_router(clicks.router, include_in_schema=False)
    app.include_router(public.router, include_in_schema=False)
    app.include_router(site_files.router)
    app.add_exception_handler(404, public.not_found)
    app.mount(STATIC_PREFIX, StaticFiles(directory=static_folder()), name="static")
    media.install(app, settings)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    metrics_route.mount(app, registry, settings)  # GET /metrics, to the token's holder
    store_faults.install(app)  # a locked or unreachable store: 503, not 500
    api.install(app)  # last: its JSON error handlers wrap the others for /api paths
    app.add_middleware(AuditMiddleware)
    app.add_middleware(LiveLists)  # settings.lists as stored (the admin edits lists)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(RequestLimits, limits=BodyLimits.of(settings.web))  # outermost
    return app
