"""The reading pages in a real browser, served by a real uvicorn on a loopback port.

A reader goes home → an article → the archive → a list → an issue's web version, by
clicking links (no JavaScript on our side). On every page at 1200 px and 375 px wide:
`<html lang>` is set, every form control has a label (accessible name), there is one
`<main>` landmark and no horizontal scroll. Screenshots go to
`artifacts/screenshots/<test>/`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import write_config
from dispatch import config
from dispatch.campaigns import create_article, start_campaign
from dispatch.campaigns.lifecycle import move
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, CampaignStatus
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.campaigns import add_article

WIDTHS = (1200, 375)
LONG_WORD = "Supercalifragilisticexpialidociousness" * 2

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden')
  .filter(el => {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
    return !named;
  }).map(el => el.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Settings]]:
    """A store with articles, feeds and a sent issue, served by uvicorn in a thread."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path = write_config(tmp_path, database_url, {r"^base_url = .*$": f'base_url = "{base}"'})
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    seed(database, settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield base, settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


def seed(database: Database, settings: Settings) -> None:
    with database.session() as session:
        sync_lists(session, settings)
    for number in range(4):
        add_article(
            database,
            f"harbour-report-{number}",
            title=f"Harbour authority publishes report number {number}",
            body=f"<p>The harbour report {number} runs to forty pages.</p><p>{LONG_WORD}</p>",
        )
    with database.session() as session:
        now = utcnow()
        campaign = create_article(
            session, settings, "harbour-report-3", "morning-briefing", now
        ).campaign
        start_campaign(session, campaign, settings, now, allow_empty=True)
        move(campaign, CampaignStatus.SENT)
        session.add(campaign)
        article = session.get(Article, campaign.article_ids[0])
        assert article is not None
        publish_feeds(settings, build_feeds(session, settings), ping=False)


def check(page: Any, folder: Path, name: str) -> None:
    """The page's accessibility basics at every width, with a screenshot of each."""
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator("main").count() == 1
    assert page.evaluate(UNLABELLED) == []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(OVERFLOW) <= 0, f"{name} scrolls sideways at {width} px"
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


def test_home_article_archive_in_a_browser(
    browser: Any, screenshots: Path, site: tuple[str, Settings]
) -> None:
    base, _settings = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        assert page.goto(f"{base}/").status == 200
        check(page, screenshots, "home")
        assert page.get_by_role("link", name="Subscribe to Morning Briefing").count() == 1

        page.get_by_role("link", name="Harbour authority publishes report number 2").click()
        assert page.url == f"{base}/articles/harbour-report-2"
        assert page.locator("h1").inner_text() == "Harbour authority publishes report number 2"
        feeds = page.locator('link[rel="alternate"]').evaluate_all("ls => ls.map(l => l.href)")
        assert f"{base}/feeds/lists/morning-briefing/rss.xml" in feeds
        check(page, screenshots, "article")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Archive").click()
        assert page.url == f"{base}/archive"
        check(page, screenshots, "archive")
        page.get_by_role("link", name="Morning Briefing", exact=True).click()
        assert page.url == f"{base}/archive/morning-briefing"
        check(page, screenshots, "archive-list")

        page.get_by_role("link", name="Harbour authority publishes report number 3").click()
        assert page.url.startswith(f"{base}/archive/morning-briefing/")
        assert "forty pages" in page.locator("main").inner_text()
        check(page, screenshots, "archive-issue")

        missing = page.goto(f"{base}/articles/no-such-story")
        assert missing is not None and missing.status == 404
        check(page, screenshots, "not-found")
        feed = page.goto(f"{base}/feeds/rss.xml")
        assert feed is not None and feed.status == 200
        assert feed.headers["content-type"] == "application/rss+xml; charset=utf-8"
    finally:
        context.close()


def test_dispatch_serve_prints_its_url_and_serves(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    path = write_config(tmp_path, database_url)
    database = Database(config.load(path).database)
    migrate.upgrade(database.engine)
    database.dispose()
    command = [sys.executable, "-m", "dispatch", "--config", str(path), "serve"]
    command += ["--no-scheduler", "--port", str(port)]
    env = os.environ | {"DISPATCH_SECRET_KEY": "serve-test-secret"}  # checked at start
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode()
        assert first.strip() == f"Dispatch is serving The Dispatch at http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
        assert "Latest stories" in response.text
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_dispatch_serve_refuses_an_unmigrated_database(cli: Any) -> None:
    result = cli("serve", "--no-scheduler")
    assert result.exit_code == 2
    assert "run `dispatch init` first" in result.output
