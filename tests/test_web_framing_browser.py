"""In Debian's chromium: a foreign page (another loopback origin, 127.0.0.2) frames Dispatch.
It cannot show /preferences/<token>, the admin or the home page (frame-ancestors 'none',
X-Frame-Options DENY); it can show /subscribe, which is opted in here
(`[web] embeddable_subscribe = true`). And our own pages, the offline Swagger UI
included, run under their CSP without a single violation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Subscriber
from dispatch.tokens import Tokens
from dispatch.web import create_app
from dispatch.web.server import uvicorn_options
from support.campaigns import add_article, add_subscribers
from support.live_server import free_port, live_server

SECRET = "framing-test-secret"
FOREIGN_HOST = "127.0.0.2"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The site's base URL and its one subscriber's preferences token."""
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'dispatch.db'}",
        {
            r"^base_url = .*$": f'base_url = "{base}"',
            r"^embeddable_subscribe = .*$": "embeddable_subscribe = true",
        },
    )
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    from dispatch.lists import sync_lists

    with database.session() as session:
        sync_lists(session, settings)
    add_article(database, "harbour-news")
    (email,) = add_subscribers(database, "morning-briefing", 1)
    with database.session() as session:
        person = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        token = Tokens(SECRET).preferences(person.id, person.token_key)
    with live_server(create_app(settings, database), port, **uvicorn_options(settings)) as url:
        yield url, token
    database.dispose()


@pytest.fixture
def site(served: tuple[str, str]) -> str:
    return served[0]


@pytest.fixture
def foreign(served: tuple[str, str]) -> Iterator[str]:
    """A page on another origin with one iframe per Dispatch page it tries to frame."""
    site, token = served
    targets = {
        "preferences": f"{site}/preferences/{token}",
        "admin": f"{site}/admin/login",
        "home": f"{site}/",
        "subscribe": f"{site}/subscribe",
    }
    frames = "".join(f'<iframe name="{n}" src="{u}"></iframe>' for n, u in targets.items())
    page = f"<!doctype html><title>Foreign</title>{frames}".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((FOREIGN_HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{FOREIGN_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_foreign_page_can_frame_only_the_opted_in_subscribe_form(
    browser: Any, foreign: str, site: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    page.goto(foreign, wait_until="load")
    page.wait_for_timeout(300)
    frames = {frame.name: frame for frame in page.frames if frame.name}
    assert set(frames) == {"preferences", "admin", "home", "subscribe"}
    subscribe = frames["subscribe"]
    assert subscribe.url == f"{site}/subscribe"
    assert subscribe.locator("form input[type=email]").count() == 1
    for name in ("preferences", "admin", "home"):
        blocked = frames[name]
        shown = blocked.evaluate("() => document.body ? document.body.innerText : ''")
        assert blocked.url.startswith("chrome-error://") or not shown.strip(), (name, blocked.url)
        assert "Sign in" not in shown and "preferences" not in shown.lower(), name
    assert any("frame-ancestors" in text for text in refusals), refusals
    context.close()


def test_our_pages_run_under_their_csp_without_violations(browser: Any, site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    for path in ("/", "/articles/harbour-news", "/subscribe", "/admin/login", "/archive"):
        page.goto(f"{site}{path}", wait_until="load")
        accent = page.evaluate(
            "() => getComputedStyle(document.documentElement).getPropertyValue('--accent')"
        )
        assert accent.strip(), f"{path}: the nonced <style> did not apply"
    page.goto(f"{site}/api/docs", wait_until="load")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    page.goto(f"{site}/api/redoc", wait_until="load")
    page.locator("redoc h1, [role=navigation], .api-content").first.wait_for(timeout=15_000)
    assert not violations, violations
    context.close()
