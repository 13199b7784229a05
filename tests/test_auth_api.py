"""/api authentication: bearer tokens, 401 with WWW-Authenticate, 403 for a missing scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from dispatch.auth.deps import api_principal
from dispatch.auth.tokens import ApiPrincipal, create_token, revoke_token
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from support.auth import Sleeps, add_editor, auth_app, post_login


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "api-auth-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = auth_app(settings, db, Sleeps())

    @app.post("/api/test-subscribers")
    async def needs_write(
        principal: ApiPrincipal = Depends(api_principal("subscribers:write")),
    ) -> dict[str, str]:
        return {"ok": principal.name}

    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def token(db: Database, name: str, *scopes: str) -> str:
    with db.session() as session:
        return create_token(session, name, scopes).token


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_no_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic YWRhOnB3"}, {"Authorization": "Bearer"}):
        response = client.get("/api/whoami", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="dispatch"'
        assert "API token is required" in response.json()["detail"]


def test_a_valid_token_says_who_it_is(client: TestClient, db: Database) -> None:
    value = token(db, "cms-sync", "articles:read", "articles:write")
    response = client.get("/api/whoami", headers=bearer(value))
    assert response.status_code == 200
    assert response.json() == {
        "name": "cms-sync",
        "prefix": value.split("_")[1],
        "scopes": ["articles:read", "articles:write"],
    }


def test_unknown_and_revoked_tokens_are_401_invalid_token(client: TestClient, db: Database) -> None:
    value = token(db, "old", "admin")
    with db.session() as session:
        revoke_token(session, "old")
    for presented in (value, value[:-1] + "Z", "dispatch_deadbeef_nope", "random"):
        response = client.get("/api/whoami", headers=bearer(presented))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "was revoked" in client.get("/api/whoami", headers=bearer(value)).json()["detail"]


def test_a_token_without_the_scope_is_403(client: TestClient, db: Database) -> None:
    reader = token(db, "reader", "subscribers:read")
    response = client.post("/api/test-subscribers", headers=bearer(reader))
    assert response.status_code == 403
    assert response.json()["detail"] == "this token lacks the scope subscribers:write"
    assert response.json()["error"]["message"] == "this token lacks the scope subscribers:write"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    writer = token(db, "writer", "subscribers:write")
    assert client.post("/api/test-subscribers", headers=bearer(writer)).json() == {"ok": "writer"}
    admin = token(db, "root", "admin")
    assert client.post("/api/test-subscribers", headers=bearer(admin)).status_code == 200


def test_an_admin_session_cookie_does_not_open_the_api(client: TestClient, db: Database) -> None:
    add_editor(db, "ada@example.com", EditorRole.ADMIN)
    logged_in = post_login(client, "ada@example.com", "correct horse battery")
    assert logged_in.status_code == 303
    assert client.get("/api/whoami").status_code == 401


def test_the_openapi_schema_declares_bearer_auth(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/api/whoami"]["get"]["security"] == [{"bearer": []}]
    assert not any(path.startswith("/admin") for path in schema["paths"])


def test_a_route_cannot_ask_for_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="unknown API scope"):
        api_principal("articles:delete")
