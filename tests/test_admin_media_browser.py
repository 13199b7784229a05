"""In Debian's chromium (Playwright), against a real uvicorn: an editor drops an image into
the article editor, is asked for its alt text, sees it in the preview, sets a feature
image from the file field, schedules the article an hour ahead and saves. The public
page is a 404 until the (injected) clock passes that hour and the scheduler's job runs;
then it shows, with its images served from /media. No request leaves the machine."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config, jobs
from dispatch.config import Settings
from dispatch.jobs import Run
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus, EditorRole
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.auth import PASSWORD, add_editor
from support.campaigns import FakeClock
from support.images import camera_jpeg, chart_png
from support.live_server import free_port, live_server
from support.scheduling import job_context

EDITOR = "editor@newsroom.example"
DROP = """async ([data, name, type]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const body = document.querySelector("#body");
  body.focus();
  body.setSelectionRange(body.value.length, body.value.length);
  for (const kind of ["dragenter", "dragover", "drop"]) {
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
    body.dispatchEvent(new DragEvent(kind, init));
  }
}"""


@pytest.fixture
def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Settings, Database, FakeClock]]:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "media-browser-secret")
    port = free_port()
    replace = {r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"'}
    settings = config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", replace))
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    add_editor(db, EDITOR, EditorRole.EDITOR)
    clock = FakeClock(utcnow().replace(second=0, microsecond=0))
    try:
        with live_server(create_app(settings, db, clock=clock), port) as url:
            yield url, settings, db, clock
    finally:
        db.dispose()


def test_drop_an_image_schedule_and_publish(browser: Any, screenshots: Path, site: Any) -> None:
    url, settings, db, clock = site
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if urlsplit(r.url).hostname not in ("127.0.0.1", None) else None
        ),
    )
    page.goto(f"{url}/admin")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{url}/admin")

    page.goto(f"{url}/admin/articles/new")
    page.fill("#title", "Fares since 2010")
    page.fill("#section", "world")
    page.fill("#body", "Fares have doubled in fifteen years.\n")
    chart = base64.b64encode(chart_png()).decode()
    page.evaluate(DROP, [chart, "fares.png", "image/png"])
    status = page.locator("#image-status")
    assert "write its alt text" in status.inner_text()
    page.fill("#image-alt-text", "A chart of ferry fares since 2010")
    page.click("#insert-image")
    page.wait_for_function("() => document.querySelector('#body').value.includes('![A chart')")
    body = page.input_value("#body")
    assert f"![A chart of ferry fares since 2010]({url}/media/" in body
    page.wait_for_selector("#preview img[srcset]")  # the live preview shows it
    shot = screenshots / "01-image-dropped.png"
    page.screenshot(path=str(shot), full_page=True)

    # The feature image: alt text is required before anything is uploaded.
    page.set_input_files(
        "#image-file",
        files=[{"name": "ferry.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}],
    )
    page.click("#use-as-feature")
    assert "alt text first" in status.inner_text()
    page.fill("#image-alt-text", "The evening ferry at the quay")
    page.click("#use-as-feature")
    page.wait_for_function("() => document.querySelector('#image').value.includes('/media/')")
    assert page.input_value("#image_alt") == "The evening ferry at the quay"

    when = clock.now + timedelta(hours=1)
    local = when.astimezone(ZoneInfo(settings.site.timezone)).strftime("%Y-%m-%dT%H:%M")
    page.select_option("#status-field", "scheduled")
    page.fill("#date", local)
    page.click("button[value='save']")
    page.wait_for_url(f"{url}/admin/articles/fares-since-2010/edit?notice=saved")
    assert "Scheduled for" in page.inner_text("main")
    assert page.input_value("#date") == local  # shown in the site's time zone
    page.screenshot(path=str(screenshots / "02-scheduled.png"), full_page=True)
    with db.session() as session:
        article = session.scalars(select(Article)).one()
        assert article.status is ArticleStatus.SCHEDULED and article.published_at == when

    public = page.goto(f"{url}/articles/fares-since-2010")
    assert public is not None and public.status == 404  # not before its time

    clock.now = when + timedelta(seconds=30)
    assert jobs.publish_scheduled(run=Run(job_context(db, settings, clock), clock.now)) == [
        "fares-since-2010"
    ]
    public = page.goto(f"{url}/articles/fares-since-2010")
    assert public is not None and public.status == 200
    for selector in ("figure img", ".body img"):
        image = page.locator(selector).first
        assert image.get_attribute("srcset")
        assert page.evaluate("(el) => el.complete && el.naturalWidth > 0", image.element_handle())
    assert page.locator("figure img").get_attribute("alt") == "The evening ferry at the quay"
    page.screenshot(path=str(screenshots / "03-published.png"), full_page=True)
    feed = feedparser.parse((settings.feeds.public_dir / "rss.xml").read_bytes())
    assert [entry.title for entry in feed.entries] == ["Fares since 2010"]
    assert feed.entries[0].enclosures[0].href.startswith(f"{url}/media/")
    assert errors == [] and outside == []
    context.close()
