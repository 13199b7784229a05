"""Helpers for /api tests: an app with a TestClient, tokens with scopes, bearer headers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from dispatch.auth.tokens import create_token
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app

SECRET = "api-test-secret"


def token(db: Database, name: str, *scopes: str) -> str:
    with db.session() as session:
        return create_token(session, name, scopes).token


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@contextmanager
def api_client(settings: Settings, db: Database, *scopes: str) -> Iterator[TestClient]:
    """A client whose requests carry a token with `scopes` (default: admin)."""
    app = create_app(settings, db)
    value = token(db, "tests", *(scopes or ("admin",)))
    with TestClient(app, headers=bearer(value), follow_redirects=False) as client:
        yield client


def declared_routes() -> set[tuple[str, str]]:
    """(method, path) of every /api route, from the routers themselves (not the schema)."""
    from fastapi.routing import APIRoute

    from dispatch.web import api_auth
    from dispatch.web.api import (
        article_conflicts,
        articles,
        campaigns,
        lists,
        media,
        segments,
        subscribers,
    )

    found = {(m, route.path) for route in api_auth.router.routes for m in route.methods}  # type: ignore[attr-defined]
    for module in (article_conflicts, articles, media, lists, subscribers, segments, campaigns):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            found |= {(method, f"/api{route.path}") for method in route.methods}
    return found
