"""Every admin page: login required, CSRF enforced on every form, editors kept out of
admin-only pages, and HTML in an article title escaped on every page that shows it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import admin, admin_auth
from support.admin import ADMIN, EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_article, add_subscribers

HOSTILE = '<img src=x onerror="alert(1)">Storm'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Storm"
PUBLIC = {"/admin/login"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-security-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as test_client:
        yield test_client


def admin_routes(_client: TestClient) -> list[tuple[str, str]]:
    """(method, path with its parameters filled in) of every admin route."""
    found = []
    routes = [route for router in (*admin.ROUTERS, admin_auth.router) for route in router.routes]
    for route in routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/admin"):
            continue
        if route.path in PUBLIC:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("id") else "x", route.path)
        found.extend((method, path) for method in sorted(route.methods - {"HEAD"}))
    return found


def test_the_admin_has_the_expected_pages(client: TestClient) -> None:
    paths = {path for _method, path in admin_routes(client)}
    for page in ("/admin", "/admin/articles", "/admin/lists", "/admin/campaigns", "/admin/outbox"):
        assert page in paths
    assert {"/admin/feeds", "/admin/tokens", "/admin/editors"} <= paths
    assert len(paths) >= 30


def test_without_a_session_pages_redirect_and_forms_are_refused(client: TestClient) -> None:
    for method, path in admin_routes(client):
        response = client.request(method, path)
        if method == "GET":
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/admin/login?next="), path
        else:
            assert response.status_code == 401, (method, path)


def test_every_form_needs_the_csrf_token(client: TestClient) -> None:
    Admin(client, ADMIN)
    posts = [path for method, path in admin_routes(client) if method == "POST"]
    assert len(posts) >= 20
    for path in posts:
        response = client.post(path, data={"email": "x@example.com"})
        assert response.status_code == 403, path
        wrong = client.post(path, data={"csrf_token": "0" * 64})
        assert wrong.status_code == 403, path


def test_editors_cannot_reach_tokens_or_editors(client: TestClient) -> None:
    editor = Admin(client, EDITOR)
    for path in ("/admin/tokens", "/admin/editors"):
        assert editor.get(path, headers={"accept": "text/html"}).status_code == 403
    assert editor.post("/admin/tokens", {"name": "x", "scopes": "admin"}).status_code == 403
    assert editor.post("/admin/tokens/revoke", {"name": "x"}).status_code == 403
    assert 'href="/admin/tokens"' not in editor.get("/admin").text
    boss = Admin(client, ADMIN)
    assert boss.get("/admin/tokens").status_code == 200
    assert boss.get("/admin/editors").status_code == 200
    assert 'href="/admin/tokens"' in boss.get("/admin").text


def test_html_in_a_title_is_escaped_on_every_admin_page(client: TestClient, db: Database) -> None:
    add_article(db, "storm", title=HOSTILE)
    add_subscribers(db, "morning-briefing", 2)
    editor = Admin(client, EDITOR)
    created = editor.post("/admin/campaigns/new", {"list": "morning-briefing", "article": "storm"})
    page = created.headers["location"].split("?")[0]
    campaign_id = page.rsplit("/", 1)[1]
    editor.post(f"{page}/send")
    client.app.state.sending.inline.drain(60)  # type: ignore[attr-defined]
    for path in (
        "/admin",
        "/admin/articles",
        "/admin/articles/storm/edit",
        "/admin/campaigns",
        "/admin/campaigns/new",
        page,
        "/admin/campaigns/digests",
        "/admin/outbox",
        f"/admin/outbox/{campaign_id}",
    ):
        response = editor.get(path)
        assert response.status_code == 200, path
        assert HOSTILE not in response.text, path
        assert 'onerror="alert' not in response.text.replace("&#34;", "?"), path
    assert ESCAPED in editor.get("/admin/articles").text
