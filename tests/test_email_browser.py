"""The preview emails in a real browser (Debian's chromium, headless, via Playwright).

A digest of several articles (one with a lead image, a wide image and a long unbroken
URL in its body, one with a 58-letter word in its title) and a single-article send are
written exactly as `dispatch preview` writes them, then loaded at 600 px (desktop
clients) and 375 px (a phone) wide. Images are PNGs (drawn by the browser itself)
served from a loopback HTTP server at absolute URLs, as in real mail; every other
request is refused and recorded, and none may happen (no remote fonts, trackers…).

Checked: no horizontal scroll, every image loaded and described (`alt` text, or
`alt=""` with `role="presentation"` for decoration), the unsubscribe link visible
inside the viewport once scrolled to. Full-page screenshots go to
`artifacts/screenshots/<test>/` (kept by CI) for a person to look at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.render.email import EmailRenderer
from dispatch.render.prepared import PreparedEmail
from dispatch.render.preview import write_preview
from dispatch.store.models import Article

WIDTHS = (600, 375)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
LONG_URL = "https://news.example/reports/2026/harbour-authority-annual-report-" + "x" * 80


@dataclass
class ImageServer:
    """Serves PNGs by path on 127.0.0.1 and records what was asked for."""

    images: dict[str, bytes]
    base: str = ""
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def images(browser: Any) -> Iterator[ImageServer]:
    page = browser.new_page(viewport={"width": 1200, "height": 600})
    drawn = {}
    for name, (width, height, colours) in {
        "/media/lead.png": (1200, 600, "#1d4e89, #6fa8dc"),
        "/media/wide-chart.png": (1400, 500, "#b3261e, #f4f1ea"),
        "/logo.png": (480, 96, "#1f1f1f, #5c574f"),
    }.items():
        page.set_content(
            f'<body style="margin:0"><div style="width:{width}px;height:{height}px;'
            f'background:linear-gradient(135deg, {colours})"></div></body>'
        )
        drawn[name] = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height})
    page.close()
    server_state = ImageServer(drawn)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            body = server_state.images.get(urlsplit(self.path).path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: ImageServer) -> Settings:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "browser-test-secret")
    replace = {
        r"^base_url = .*$": 'base_url = "https://news.example"',
        r"^# logo_url = .*$": f'logo_url = "{images.base}/logo.png"',
    }
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", replace))


def articles(image_base: str) -> list[Article]:
    when = datetime(2026, 7, 3, 18, 30, tzinfo=UTC)
    return [
        Article(
            slug="harbour-vote",
            title="Councils vote on the new harbour after two years of consultation",
            summary="The three councils agree on a plan to widen the northern channel.",
            body_html=(
                "<p>The vote was <strong>unanimous</strong>.</p>"
                f'<p><img src="{image_base}/media/wide-chart.png" alt="Votes by council" '
                'width="1400" height="500"></p>'
                f'<p>The full report: <a href="{LONG_URL}">{LONG_URL}</a></p>'
                "<blockquote><p>“A good day for the town.”</p></blockquote>"
            ),
            body_text=f"The vote was unanimous.\n\nThe full report: {LONG_URL}",
            author="Ada Lovelace",
            section="world",
            image=f"{image_base}/media/lead.png",
            image_caption="The harbour at dawn",
            published_at=when,
        ),
        Article(
            slug="chip-plant",
            title="Café owners welcome the chip plant",
            summary="Jobs, at last: 1,200 posts from 2028.",
            body_html="<p>Jobs, at last.</p>",
            body_text="Jobs, at last.",
            author="Grace Hopper",
            section="technology",
            published_at=when,
        ),
        Article(
            slug="rain-ahead",
            title="Rain ahead for Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
            summary="Bring an umbrella.",
            body_html="<p>Rain from Saturday noon.</p>",
            body_text="Rain from Saturday noon.",
            section="world",
            published_at=when,
        ),
    ]


def preview(settings: Settings, kind: str, folder: Path, image_base: str) -> str:
    renderer = EmailRenderer(settings)
    stories = articles(image_base)
    prepared: PreparedEmail = (
        renderer.digest("morning-briefing", stories, "2026-07-04")
        if kind == "digest"
        else renderer.article(stories[0], "morning-briefing", "harbour-vote")
    )
    files = write_preview(prepared, settings, settings.list("morning-briefing"), folder)
    return files.html.read_text(encoding="utf-8")


def check_page(page: Any, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"horizontal scroll at {width} px: {scroll_width} px wide"
    images = page.evaluate(
        """[...document.images].map(img => ({
            src: img.src, alt: img.getAttribute('alt'), role: img.getAttribute('role'),
            loaded: img.complete && img.naturalWidth > 0,
            right: img.getBoundingClientRect().right}))"""
    )
    assert images, "no images in the email"
    for image in images:
        assert image["loaded"], f"image did not load: {image['src']}"
        assert image["right"] <= width + 0.5, f"image wider than the screen: {image['src']}"
        if image["alt"] == "":
            assert image["role"] == "presentation", f'alt="" without role: {image["src"]}'
        else:
            assert image["alt"] and image["alt"].strip(), f"image without alt: {image['src']}"
    link = page.get_by_role("link", name="Unsubscribe", exact=True)
    assert link.count() == 1
    link.scroll_into_view_if_needed()
    assert link.is_visible()
    box = link.bounding_box()
    viewport = page.viewport_size
    assert box and box["width"] > 0 and box["height"] > 0
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
    assert link.get_attribute("href").startswith("https://news.example/unsubscribe/")


@pytest.mark.parametrize("kind", ["digest", "article"])
def test_preview_renders_cleanly_at_desktop_and_phone_widths(
    browser: Any,
    images: ImageServer,
    settings: Settings,
    screenshots: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    html = preview(settings, kind, tmp_path / kind, images.base)
    refused: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 800})
        try:
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.set_content(html, wait_until="load")
            shot = screenshots / f"{kind}-{width}px.png"
            page.screenshot(path=str(shot), full_page=True)
            check_page(page, width)
            assert shot.stat().st_size > 10_000
        finally:
            context.close()
    assert refused == [], f"requests to other hosts: {refused}"
    assert {"/media/lead.png", "/logo.png"} <= set(images.requests)
