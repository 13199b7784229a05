"""Cancel means cancel, seen in a real browser (Debian's chromium via Playwright).

A campaign to 200 people goes out at `rate_per_second = 3` from a real uvicorn server to
a real SMTP server (aiosmtpd). The editor clicks Cancel a few seconds in: no message is
handed over after the cancel is committed (the engine checks at every hand-over, also
while it waits for the rate), the page keeps following the campaign until its runner
has stopped, then says how many went out before it stopped — the same number the SMTP
server received — and lists nobody under "Last errors"."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import write_config
from dispatch import config
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.web import create_app
from support.auth import PASSWORD, add_editor
from support.campaigns import add_article, add_subscribers, progress
from support.live_server import free_port, live_server
from support.smtp_server import SmtpServer

EDITOR = "editor@newsroom.example"
LIST = "morning-briefing"
PEOPLE = 200  # 67 s at 3 a second: the cancel always comes well before the end


def test_cancel_under_a_slow_rate_stops_at_once_and_says_what_went_out(
    browser: Any, screenshots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "cancel-browser-secret")
    port = free_port()
    with SmtpServer() as mail:
        settings = config.load(
            write_config(
                tmp_path,
                f"sqlite:///{tmp_path / 'dispatch.db'}",
                {
                    r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"',
                    r'^backend = "outbox".*$': 'backend = "smtp"',
                    r"^port = 25$": f"port = {mail.port}",
                    r'^security = "starttls".*$': 'security = "none"',
                    r"^rate_per_second = 0 .*$": "rate_per_second = 3",
                },
            )
        )
        db = Database(settings.database)
        migrate.upgrade(db.engine)
        with db.session() as session:
            sync_lists(session, settings)
        add_editor(db, EDITOR, EditorRole.EDITOR)
        add_subscribers(db, LIST, PEOPLE)
        add_article(db, "slow-news", title="Slow news")
        with live_server(create_app(settings, db), port) as site:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(f"{site}/admin/login")
            page.fill("#email", EDITOR)
            page.fill("#password", PASSWORD)
            page.click("button:has-text('Log in')")
            page.goto(f"{site}/admin/campaigns/new?article=slow-news")
            page.select_option("#list", LIST)
            page.click("text=Create draft and preview")
            page.wait_for_url(re.compile(r"/admin/campaigns/\d+\?notice=created"))
            campaign_id = int(page.url.split("?")[0].rsplit("/", 1)[1])
            page.click(f"button:has-text('Send now to {PEOPLE} recipients')")
            page.wait_for_function(
                "() => Number(document.querySelector('[data-field=sent]')"
                ".textContent.replace(/,/g, '')) >= 6",
                timeout=30_000,
            )
            page.click("button:has-text('Cancel')")
            cancelled_at = len(mail.received)
            clicked = time.monotonic()
            page.screenshot(path=str(screenshots / "01-cancelling.png"), full_page=True)
            # the page follows the campaign until its runner stopped, then reloads once
            page.wait_for_selector("text=sent before it stopped", timeout=30_000)
            waited = time.monotonic() - clicked
            page.screenshot(path=str(screenshots / "02-cancelled.png"), full_page=True)
            text = page.locator("main").inner_text()
            time.sleep(1.0)  # anything still coming would arrive at 3 a second
            received = len(mail.received)
    done = progress(db, campaign_id)
    db.dispose()
    assert done.status == "cancelled" and not done.running
    assert received <= cancelled_at + 1  # at most the one being handed over at the click
    assert done.sent == received and done.cancelled == PEOPLE - received
    assert f"Cancelled: {received:,} sent before it stopped" in text
    assert f"{PEOPLE - received:,} will not get it" in text
    assert "Last errors" not in text  # cancelled people are not errors
    print(f"\ncancel: {received} sent before it stopped; the page said so {waited:.1f} s later")
