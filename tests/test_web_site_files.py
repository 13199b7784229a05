"""Pages as browsers, monitors and crawlers use them: HEAD everywhere GET works, a
favicon, a sitemap and robots.txt, API docs that work offline, no repeated standfirst,
no empty follow box."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from PIL import Image

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.campaigns import add_article


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "site-files-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_article(db, "harbour-news", title="Harbour news")
    add_article(db, "later", published_at=utcnow() + timedelta(days=1))  # not live yet
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def test_head_answers_every_get_route_without_a_body(client: TestClient) -> None:
    paths = ["/", "/articles/harbour-news", "/archive", "/subscribe", "/healthz", "/favicon.ico"]
    paths += ["/sitemap.xml", "/robots.txt", "/api/openapi.json", "/api/docs", "/admin/login"]
    for path in paths:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == str(len(got.content)), path
    assert client.head("/articles/nope").status_code == 404


def test_favicon(client: TestClient, settings: Settings) -> None:
    icon = client.get("/favicon.ico")
    assert icon.headers["content-type"] == "image/x-icon"
    image = Image.open(io.BytesIO(icon.content))
    assert image.format == "ICO" and (32, 32) in image.info["sizes"]
    image.size = (32, 32)
    red, green, blue, _alpha = image.convert("RGBA").getpixel((1, 1))
    assert f"#{red:02x}{green:02x}{blue:02x}" == settings.branding.accent_color
    assert '<link rel="icon" href="http://127.0.0.1:8000/favicon.ico"' in client.get("/").text


def test_sitemap_lists_live_articles_only(client: TestClient, settings: Settings) -> None:
    response = client.get("/sitemap.xml")
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    base = settings.site.base_url
    assert locations == [f"{base}/", f"{base}/archive", f"{base}/articles/harbour-news"]
    robots = client.get("/robots.txt").text
    assert "Disallow: /admin" in robots and f"Sitemap: {base}/sitemap.xml" in robots


def test_api_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    for path in ("/api/docs", "/api/redoc"):
        page = client.get(path).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert client.get(source).status_code == 200, source
        assert "cdn" not in page.lower() and "fonts.googleapis" not in page


def test_no_repeated_standfirst_and_no_empty_follow_box(db: Database, client: TestClient) -> None:
    add_article(db, "plain", section=None, title="Plain story", body="<p>Body of the story.</p>")
    with db.session() as session:
        from sqlalchemy import update

        from dispatch.store.models import Article

        session.execute(
            update(Article).where(Article.slug == "plain").values(summary="Body of the story.")
        )
    page = client.get("/articles/plain").text
    assert page.count("Body of the story.") == 1 + page.count('content="Body of the story.')
    assert 'class="dek"' not in page
    assert "Get stories like this" not in page  # no list carries it, no section feed
    written = client.get("/articles/harbour-news").text
    assert '<p class="dek">Summary of harbour-news</p>' in written
    assert "Get stories like this" in written
