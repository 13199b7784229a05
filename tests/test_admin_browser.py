"""The editor's day in a real browser (Debian's chromium via Playwright), against real
uvicorn servers: log in → write an article → preview it → send a test to oneself →
send it to a list of 500 → watch the bar reach 100% → open a delivered message in the
outbox view. Screenshots of every step go to `artifacts/screenshots/<test>/`.

Two app configurations share one database and one secret key, because a deployment has
one delivery backend and this journey needs two: the "staging" app sends through SMTP
to an aiosmtpd server (the test arrives there and is read back), the main app uses the
default outbox sender (the 500 messages become .eml files the outbox view opens). The
session cookie is scoped to the host, not the port, so the editor logs in once and
moves between the two as between two tabs of the same admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.web import create_app
from support.auth import PASSWORD, add_editor
from support.campaigns import add_subscribers
from support.live_server import free_port, live_server
from support.smtp_server import SmtpServer

EDITOR = "editor@newsroom.example"
LIST = "morning-briefing"
PEOPLE = 500
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@dataclass(frozen=True)
class Sites:
    outbox: str  # base URL of the app with the outbox sender
    smtp: str  # base URL of the app sending through the aiosmtpd server
    mail: SmtpServer
    settings: Settings  # the outbox app's


def site_settings(folder: Path, database_url: str, port: int, smtp: SmtpServer | None) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    replace = {r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"'}
    if smtp is not None:
        replace |= {
            r'^backend = "outbox".*$': 'backend = "smtp"',
            r"^port = 25$": f"port = {smtp.port}",
            r'^security = "starttls".*$': 'security = "none"',
        }
    return config.load(write_config(folder, database_url, replace))


@pytest.fixture
def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sites]:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-browser-secret")
    url = f"sqlite:///{tmp_path / 'dispatch.db'}"
    main_port, staging_port = free_port(), free_port()
    with SmtpServer() as mail:
        main = site_settings(tmp_path / "main", url, main_port, None)
        staging = site_settings(tmp_path / "staging", url, staging_port, mail)
        main_db, staging_db = Database(main.database), Database(staging.database)
        migrate.upgrade(main_db.engine)
        with main_db.session() as session:
            sync_lists(session, main)
        add_editor(main_db, EDITOR, EditorRole.EDITOR)
        add_subscribers(main_db, LIST, PEOPLE)
        try:
            with (
                live_server(create_app(main, main_db), main_port) as outbox_url,
                live_server(create_app(staging, staging_db), staging_port) as smtp_url,
            ):
                yield Sites(outbox_url, smtp_url, mail, main)
        finally:
            main_db.dispose()
            staging_db.dispose()


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert page.evaluate(OVERFLOW) <= 0, f"{name}: the page scrolls sideways"


def test_write_preview_test_send_and_watch_it_go_out(
    browser: Any, screenshots: Path, sites: Sites
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Send … to 500 recipients now?"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Log in
    page.goto(f"{sites.outbox}/admin")
    assert "/admin/login" in page.url
    shot(page, screenshots, "01-login")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{sites.outbox}/admin")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert "500" in page.locator("table").first.inner_text()
    shot(page, screenshots, "02-dashboard")

    # Write an article and preview it
    page.click("text=Write an article")
    page.fill("#title", "Harbour reopens after the storm")
    page.fill("#section", "world")
    page.fill("#body", "The harbour **reopened** at dawn.\n\n- ferries run\n- the quay is dry\n")
    page.select_option("#status-field", "published")
    page.click("button[value=preview]")
    assert page.locator("#preview strong").inner_text() == "reopened"
    assert page.locator("#preview li").count() == 2
    shot(page, screenshots, "03-article-preview")
    page.click("button[value=save]")
    page.wait_for_url(re.compile(r"/admin/articles/harbour-reopens-after-the-storm/edit"))
    assert "Saved." in page.locator(".notice").first.inner_text()

    # Compose the campaign: desktop and phone previews of the email
    page.click("text=Send as a campaign…")
    page.select_option("#list", LIST)
    page.click("text=Create draft and preview")
    page.wait_for_url(re.compile(r"/admin/campaigns/\d+\?notice=created"))
    campaign_path = page.url.split("?")[0].removeprefix(sites.outbox)
    frames = page.locator("iframe")
    assert frames.count() == 2
    assert [frames.nth(i).get_attribute("width") for i in range(2)] == ["600", "375"]
    for index in range(2):
        frames.nth(index).scroll_into_view_if_needed()
        inner = page.frame_locator("iframe").nth(index)
        assert "Harbour reopens after the storm" in inner.locator("body").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    assert "reopened at dawn" in page.locator("pre.plain").inner_text()
    shot(page, screenshots, "04-campaign-preview")

    # Send a test to oneself through the staging app (SMTP → aiosmtpd)
    page.goto(f"{sites.smtp}{campaign_path}")
    page.click(f"button:has-text('Send a test to {EDITOR}')")
    page.wait_for_url(re.compile(r"notice=test-sent"))
    assert len(sites.mail.received) == 1
    arrived = sites.mail.received[0]
    assert arrived.rcpt_tos == [EDITOR]
    assert arrived.message()["Subject"] == "[TEST] Harbour reopens after the storm"
    shot(page, screenshots, "05-test-sent")

    # Send to the list of 500 with the outbox sender; the bar reaches 100 %
    page.goto(f"{sites.outbox}{campaign_path}")
    page.click("button:has-text('Send now to 500 recipients')")
    page.wait_for_url(re.compile(r"notice=started"))
    bar = page.locator("[role=progressbar]")
    bar.wait_for()
    page.wait_for_function(
        "() => document.querySelector('[role=progressbar]')"
        "?.getAttribute('aria-valuenow') === '100'",
        timeout=60_000,
    )
    page.wait_for_selector("text=sent 500", timeout=10_000)
    # once final, the page reloads itself to show the final state and controls
    page.wait_for_selector("[data-field=status-line]:text-is('sent')", timeout=10_000)
    assert bar.get_attribute("aria-valuenow") == "100"
    assert page.locator("button:has-text('Pause')").count() == 0
    shot(page, screenshots, "06-sent-100-percent")
    outbox = sites.settings.delivery.outbox.dir
    campaign_id = campaign_path.rsplit("/", 1)[1]
    assert len(list((outbox / campaign_id).glob("*.eml"))) == PEOPLE
    assert len(sites.mail.received) == 1  # the list send never touched the SMTP server

    # Open one delivered message as a subscriber would see it
    page.click("text=Messages in the outbox")
    page.locator("table a").nth(1).click()
    page.wait_for_url(re.compile(rf"/admin/outbox/{campaign_id}/\d+$"))
    assert "List-Unsubscribe" in page.locator(".headers").inner_text()
    message = page.frame_locator("iframe").first
    assert "Harbour reopens after the storm" in message.locator("body").inner_text()
    assert message.locator("a:has-text('Unsubscribe')").count() >= 1
    shot(page, screenshots, "07-outbox-message")

    # The same pages on a phone
    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, storage_state=context.storage_state()
    )
    small = phone.new_page()
    for name, path in (
        ("08-phone-dashboard", "/admin"),
        ("09-phone-campaign", campaign_path),
        ("10-phone-articles", "/admin/articles"),
    ):
        small.goto(f"{sites.outbox}{path}")
        shot(small, screenshots, name)
    phone.close()
    context.close()
    assert errors == []
