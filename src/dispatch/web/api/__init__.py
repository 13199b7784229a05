"""The JSON API under `/api`, described by the OpenAPI document at `/api/openapi.json`.

Every route needs an API token (`Authorization: Bearer …`) with its scope:
articles:read|write (media uploads too), lists:read, subscribers:read|write,
campaigns:read|write (`admin` allows all). Lists are paged (`pagination`), errors are
`{"error": {"message", "field"}}` (`errors`). `install(app)` mounts the routes and the
JSON error handlers. Campaigns sent from the API go through the app's executor, as the
admin's do (`web.sending`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request

from dispatch.web import api_auth
from dispatch.web.api import (
    article_conflicts,
    articles,
    campaigns,
    docs,
    errors,
    lists,
    media,
    segments,
    subscribers,
)
from dispatch.web.api.docs import DOCS_URL, REDOC_URL
from dispatch.web.api.errors import ApiProblem, responses

OPENAPI_URL = "/api/openapi.json"


async def single_query_values(request: Request) -> None:
    """Every query parameter of the API is one value: a repeated one is refused (422),
    not silently cut to its last value."""
    seen: set[str] = set()
    for name, _value in request.query_params.multi_items():
        if name in seen:
            raise ApiProblem(
                422, f"query parameter {name} is given more than once", f"query.{name}"
            )
        seen.add(name)


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/api",
        responses=responses(401, 403, 413, 422),
        dependencies=[Depends(single_query_values)],
    )
    for part in (article_conflicts, articles, media, lists, subscribers, segments, campaigns):
        router.include_router(part.router)
    return router


def install(app: FastAPI) -> None:
    """Call last in the app factory: the error handlers wrap those already installed."""
    app.include_router(api_auth.router, responses=responses(401))  # GET /api/whoami
    app.include_router(build_router())
    docs.install(app, OPENAPI_URL)
    errors.install(app)


__all__ = ["DOCS_URL", "OPENAPI_URL", "REDOC_URL", "build_router", "install"]
