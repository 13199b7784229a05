"""Security headers on every response (`dispatch.web.security_headers`): a CSP whose
nonce is the one on the page's inline <style>/<script> (and no inline script or handler
without it), no framing except an opted-in /subscribe, nosniff, Referrer-Policy, HSTS
only on https. The browser's view is in test_web_framing_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Subscriber
from dispatch.tokens import Tokens
from dispatch.web import create_app
from dispatch.web.security_headers import style_hash
from support.api import SECRET
from support.campaigns import add_article, add_subscribers

PAGES = ["/", "/archive", "/subscribe", "/admin/login", "/api/docs", "/articles/harbour-news"]
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def app_with(tmp_path: Path, database_url: str, db: Database, **lines: str) -> TestClient:
    replace = {f"^{key} = .*$": f"{key} = {value}" for key, value in lines.items()}
    settings = config.load(write_config(tmp_path, database_url, replace))
    return TestClient(create_app(settings, db), follow_redirects=False)


def test_every_page_has_the_headers_and_its_inline_code_the_nonce(
    settings: Settings, db: Database
) -> None:
    add_article(db, "harbour-news")
    add_subscribers(db, "morning-briefing", 1)
    with db.session() as session:
        key = session.scalars(select(Subscriber.token_key)).one()
    prefs = f"/preferences/{Tokens(SECRET).preferences(1, key)}"
    with TestClient(create_app(settings, db)) as client:
        for path in [*PAGES, prefs]:
            response = client.get(path)
            assert response.status_code == 200, path
            headers = response.headers
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] in ("same-origin", "no-referrer"), path
            assert "strict-transport-security" not in headers
            if path == "/api/docs":
                assert "'unsafe-inline'" not in csp.split("style-src-attr")[0]
            nonces = set(NONCE.findall(csp))
            assert len(nonces) <= 1, (path, csp)
            check_inline(response.text, next(iter(nonces), None), csp, path)
            if not nonces:  # nothing inline but hashed styles: the same bytes every time
                again = client.get(path)
                fresh = {"set-cookie", "date"}  # the login form's CSRF cookie is new each time
                same = [(k, v) for k, v in again.headers.items() if k not in fresh]
                assert again.text == response.text
                assert same == [(k, v) for k, v in response.headers.items() if k not in fresh]


def check_inline(text: str, nonce: str | None, csp: str, path: str) -> None:
    """Every inline <script>/<style> carries the response's nonce or is allowed by hash."""
    document = lxml_html.fromstring(text)
    for element in document.iter("script", "style"):
        if element.tag == "script" and element.get("src"):
            continue
        if element.get("nonce") is None and element.tag == "style":
            assert style_hash(element.text or "") in csp, (path, element.text)
            continue
        assert nonce and element.get("nonce") == nonce, (path, lxml_html.tostring(element)[:120])
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        handlers = [name for name in element.attrib if name.lower().startswith("on")]
        assert not handlers, (path, element.tag, handlers)
        assert not element.get("href", "").lower().startswith("javascript:"), path


def test_nonces_differ_per_request(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db)) as client:
        first, second = (client.get("/api/docs") for _ in range(2))
    one, two = ({*NONCE.findall(r.headers["content-security-policy"])} for r in (first, second))
    assert len(one) == len(two) == 1  # the same nonce for scripts and styles
    one, two = one.pop(), two.pop()
    assert one != two and f'nonce="{one}"' in first.text and f'nonce="{two}"' in second.text


def test_json_and_redirects_carry_them_too(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        for response in (client.get("/healthz"), client.get("/admin")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"


def test_subscribe_is_embeddable_only_when_opted_in(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    with app_with(tmp_path, database_url, db) as closed:
        assert closed.get("/subscribe").headers["x-frame-options"] == "DENY"
    with app_with(tmp_path, database_url, db, embeddable_subscribe="true") as client:
        form = client.get("/subscribe")
        assert "x-frame-options" not in form.headers
        assert "frame-ancestors *" in form.headers["content-security-policy"]
        for path in ("/", "/admin/login", "/archive"):
            assert client.get(path).headers["x-frame-options"] == "DENY", path


def test_hsts_when_the_site_is_https(tmp_path: Path, database_url: str, db: Database) -> None:
    with app_with(tmp_path, database_url, db, base_url='"https://news.example"') as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
