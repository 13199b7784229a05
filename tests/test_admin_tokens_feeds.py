"""Admin tokens (create shown once, works on the API, revoke), the feeds page with its
rebuild button, and the dashboard's lists, campaigns, feed build and next digests."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.store.database import Database
from support.admin import ADMIN, EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_article, add_subscribers


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-tokens-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as test_client:
        yield test_client


def test_an_admin_creates_uses_and_revokes_a_token(client: TestClient) -> None:
    boss = Admin(client, ADMIN)
    page = boss.post("/admin/tokens", {"name": "newsroom", "scopes": ["articles:read"]})
    assert page.status_code == 200 and "shown only once" in page.text
    token = re.search(r'id="issued" class="mono" readonly value="(dispatch_[^"]+)"', page.text)
    assert token
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert client.get("/api/whoami", headers=bearer).json()["name"] == "newsroom"
    listing = boss.get("/admin/tokens")
    assert "newsroom" in listing.text and token.group(1) not in listing.text
    duplicate = boss.post("/admin/tokens", {"name": "newsroom", "scopes": ["admin"]})
    assert duplicate.status_code == 400 and "already exists" in duplicate.text
    unknown = boss.post("/admin/tokens", {"name": "other"})
    assert unknown.status_code == 400 and "at least one scope" in unknown.text
    assert boss.post("/admin/tokens/revoke", {"name": "newsroom"}).status_code == 303
    assert client.get("/api/whoami", headers=bearer).status_code == 401


def test_feeds_page_lists_feeds_and_rebuilds(
    client: TestClient, db: Database, settings: Settings
) -> None:
    add_article(db, "storm", section="world")
    editor = Admin(client, EDITOR)
    before = editor.get("/admin/feeds")
    assert before.status_code == 200 and "not built" in before.text
    assert "sections/world/rss.xml" in before.text
    done = editor.post("/admin/feeds/rebuild")
    assert done.headers["location"] == "/admin/feeds?notice=rebuilt"
    assert (settings.feeds.public_dir / "rss.xml").is_file()
    after = editor.get("/admin/feeds")
    assert "not built" not in after.text and "out of date" not in after.text
    assert 'href="http://127.0.0.1:8000/feeds/rss.xml"' in after.text
    assert client.get("/feeds/rss.xml").status_code == 200
    assert "Last build: <time" in editor.get("/admin").text


def test_the_dashboard_shows_lists_campaigns_and_next_digests(
    client: TestClient, db: Database
) -> None:
    add_subscribers(db, "morning-briefing", 7)
    editor = Admin(client, EDITOR)
    created = editor.post(
        "/admin/campaigns/new", {"list": "morning-briefing", "subject": "Hello", "body": "Hi."}
    )
    assert created.status_code == 303
    page = editor.get("/admin")
    assert page.status_code == 200
    assert re.search(r"Morning Briefing</a></td>\s*<td>7</td>", page.text)
    assert "Hello" in page.text and "Nothing is sending." in page.text
    assert "Last build: never" in page.text
    assert re.search(r"Morning Briefing</strong>:\s*<time datetime=\"[^\"]+T07:00:00", page.text)
    assert "Computed from each list's schedule" in page.text
