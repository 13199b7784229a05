"""Every /api route: 401 without a token, 403 with a token lacking its scope, allowed with
exactly its scope; errors are JSON `{"error": {"message", "field"}}` under /api only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dispatch.auth.tokens import SCOPES
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app
from support.api import SECRET, bearer, declared_routes, token

SCOPE_OF = {
    ("GET", "/api/whoami"): None,
    ("GET", "/api/articles"): "articles:read",
    ("POST", "/api/articles"): "articles:write",
    ("GET", "/api/articles/{ref}"): "articles:read",
    ("PATCH", "/api/articles/{ref}"): "articles:write",
    ("DELETE", "/api/articles/{ref}"): "articles:write",
    ("POST", "/api/articles/{ref}/publish"): "articles:write",
    ("POST", "/api/articles/{ref}/unpublish"): "articles:write",
    ("POST", "/api/articles/{ref}/schedule"): "articles:write",
    ("DELETE", "/api/articles/{ref}/schedule"): "articles:write",
    ("GET", "/api/articles/conflicts"): "articles:read",
    ("POST", "/api/articles/conflicts/{conflict_id}/accept"): "articles:write",
    ("POST", "/api/articles/conflicts/{conflict_id}/ignore"): "articles:write",
    ("POST", "/api/media"): "articles:write",
    ("GET", "/api/lists"): "lists:read",
    ("GET", "/api/lists/{slug}"): "lists:read",
    ("GET", "/api/lists/{slug}/subscribers"): "subscribers:read",
    ("POST", "/api/subscribers"): "subscribers:write",
    ("GET", "/api/subscribers/{ref}"): "subscribers:read",
    ("PATCH", "/api/subscribers/{ref}"): "subscribers:write",
    ("DELETE", "/api/subscribers/{ref}"): "subscribers:write",
    ("PUT", "/api/subscribers/{ref}/lists/{slug}"): "subscribers:write",
    ("DELETE", "/api/subscribers/{ref}/lists/{slug}"): "subscribers:write",
    ("GET", "/api/segments"): "subscribers:read",
    ("POST", "/api/segments"): "subscribers:write",
    ("POST", "/api/segments/count"): "subscribers:read",
    ("GET", "/api/segments/{segment_id}"): "subscribers:read",
    ("PATCH", "/api/segments/{segment_id}"): "subscribers:write",
    ("DELETE", "/api/segments/{segment_id}"): "subscribers:write",
    ("GET", "/api/campaigns"): "campaigns:read",
    ("POST", "/api/campaigns"): "campaigns:write",
    ("GET", "/api/campaigns/{campaign_id}"): "campaigns:read",
    ("GET", "/api/campaigns/{campaign_id}/preview"): "campaigns:read",
    ("POST", "/api/campaigns/{campaign_id}/test"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/send"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/schedule"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/pause"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/resume"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/retry-failed"): "campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/cancel"): "campaigns:write",
}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_scope_table_names_every_api_route() -> None:
    assert declared_routes() == set(SCOPE_OF)


def test_every_route_without_a_token_is_401(client: TestClient) -> None:
    for method, path in SCOPE_OF:
        response = client.request(method, concrete(path))
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
        error = response.json()["error"]
        assert "API token is required" in error["message"] and error["field"] is None


def test_every_route_checks_its_scope(client: TestClient, db: Database) -> None:
    tokens = {scope: bearer(token(db, scope, scope)) for scope in SCOPES}
    for (method, path), needed in SCOPE_OF.items():
        for scope, headers in tokens.items():
            response = client.request(method, concrete(path), headers=headers)
            allowed = needed is None or scope in (needed, "admin")
            if allowed:
                assert response.status_code not in (401, 403), (method, path, scope)
            else:
                assert response.status_code == 403, (method, path, scope, response.text)
                assert f"lacks the scope {needed}" in response.json()["error"]["message"]


def test_a_revoked_or_garbled_token_is_401(client: TestClient) -> None:
    response = client.get("/api/articles", headers=bearer("dispatch_deadbeef_nope"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_unknown_api_paths_and_methods_answer_json(client: TestClient, db: Database) -> None:
    headers = bearer(token(db, "all", "admin"))
    missing = client.get("/api/nothing", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"message": "Not Found", "field": None}
    wrong = client.put("/api/articles", headers=headers)
    assert wrong.status_code == 405 and wrong.json()["error"]["message"] == "Method Not Allowed"


def test_validation_errors_list_every_field(client: TestClient, db: Database) -> None:
    headers = bearer(token(db, "all", "admin"))
    response = client.post("/api/subscribers", headers=headers, json={"name": 5, "attributes": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "body.email"
    fields = {item["field"] for item in error["errors"]}
    assert {"body.email", "body.name", "body.attributes"} <= fields
    broken = client.post(
        "/api/subscribers",
        headers=headers | {"content-type": "application/json"},
        content=b"{not json",
    )
    assert broken.status_code == 422 and broken.json()["error"]["message"]


def test_pages_outside_the_api_keep_their_own_errors(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    admin = client.get("/admin")
    assert admin.status_code == 303 and admin.headers["location"].startswith("/admin/login")
    assert client.get("/api/docs").status_code == 200
