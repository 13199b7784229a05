"""`subscribers:read` and `subscribers:write` are separate: a write-only token changes a
person without seeing them (PATCH → 204, no body), cannot GET them, and cannot use an
empty PATCH to learn who exists; a token with both scopes (or admin) gets the body."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app
from support.api import SECRET, bearer, token


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def test_a_write_only_token_cannot_read_a_subscriber(settings: Settings, db: Database) -> None:
    writer = bearer(token(db, "writer", "subscribers:write"))
    both = bearer(token(db, "both", "subscribers:read", "subscribers:write"))
    with TestClient(create_app(settings, db)) as client:
        made = client.post(
            "/api/subscribers",
            json={"email": "ada@example.org", "name": "Ada", "attributes": {"plan": "gold"}},
            headers=writer,
        )
        assert made.status_code == 201
        assert client.get("/api/subscribers/ada@example.org", headers=writer).status_code == 403
        for ref in ("ada@example.org", "nobody@example.org"):
            empty = client.patch(f"/api/subscribers/{ref}", json={}, headers=writer)
            assert empty.status_code == 422 and "nothing to change" in empty.text
            nulls = client.patch(f"/api/subscribers/{ref}", json={"name": None}, headers=writer)
            assert nulls.status_code == 422
        changed = client.patch(
            "/api/subscribers/ada@example.org", json={"name": "Ada L."}, headers=writer
        )
        assert changed.status_code == 204 and changed.content == b""
        assert "gold" not in changed.text
        seen = client.patch(
            "/api/subscribers/ada@example.org", json={"name": "Ada Lovelace"}, headers=both
        )
        assert seen.status_code == 200
        assert seen.json()["name"] == "Ada Lovelace" and seen.json()["attributes"] == {
            "plan": "gold"
        }
        reader = bearer(token(db, "reader", "subscribers:read"))
        refused = client.patch(
            "/api/subscribers/ada@example.org", json={"name": "X"}, headers=reader
        )
        assert refused.status_code == 403
