"""Subscribing and leaving in a real browser (Debian's chromium through Playwright),
against a real uvicorn, with mail going over SMTP to a real aiosmtpd server: the links
the test follows are the ones in the mail that server received."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.campaigns import add_article, add_subscribers, progress
from support.live_server import free_port, live_server
from support.smtp_server import SmtpServer

LIST = "morning-briefing"
READER = "reader@example.com"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "browser-subscribe-secret")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def site(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> Iterator[tuple[str, Settings, Database]]:
    port = free_port()
    path = write_config(
        tmp_path,
        database_url,
        {
            r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"',
            r'^backend = "outbox".*$': 'backend = "smtp"',
            r"^port = 25$": f"port = {smtp.port}",
            r'^security = "starttls".*$': 'security = "none"',
        },
    )
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    with live_server(create_app(settings, database), port) as url:
        yield url, settings, database
    database.dispose()


def next_mail(smtp: SmtpServer, seen: int, timeout: float = 15) -> EmailMessage:
    """The mail the SMTP server accepts after the first `seen` ones."""
    deadline = time.monotonic() + timeout
    while len(smtp.received) <= seen:
        assert time.monotonic() < deadline, f"no mail #{seen + 1} reached the SMTP server"
        time.sleep(0.05)
    return message_from_bytes(smtp.received[seen].data, policy=default)  # type: ignore[return-value]


def link(message: EmailMessage, kind: str) -> str:
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return re.search(rf'href="(https?://[^"]+/{kind}/[^"]+)"', html).group(1)  # type: ignore[union-attr]


def status(database: Database, email: str) -> SubscriptionStatus | None:
    with database.session() as session:
        return session.scalar(
            select(Subscription.status).join(Subscriber).where(Subscriber.email == email)
        )


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 5_000


def test_subscribe_confirm_unsubscribe_in_a_browser(
    browser: Any, screenshots: Path, site: tuple[str, Settings, Database], smtp: SmtpServer
) -> None:
    url, settings, database = site
    context = browser.new_context(
        viewport={"width": 1000, "height": 800}, java_script_enabled=False
    )
    page = context.new_page()

    page.goto(f"{url}/subscribe?list={LIST}")
    assert page.locator("h1").inner_text() == "Subscribe to Morning Briefing"
    page.get_by_label("Email address").fill(READER)
    page.get_by_label("Name").fill("Rita Reader")
    shot(page, screenshots, "1-subscribe-form")
    page.get_by_role("button", name="Subscribe").click()
    assert page.locator("h1").inner_text() == "Check your inbox"
    shot(page, screenshots, "2-check-your-inbox")

    confirmation = next_mail(smtp, 0)
    assert confirmation["To"] == f"Rita Reader <{READER}>"
    page.goto(link(confirmation, "confirm"))
    assert page.locator("h1").inner_text() == "Confirm your subscription"
    shot(page, screenshots, "3-confirm")
    assert status(database, READER) is SubscriptionStatus.PENDING
    page.get_by_role("button", name="Yes, subscribe me").click()
    assert page.locator("h1").inner_text() == "You are subscribed"
    shot(page, screenshots, "4-subscribed")
    assert status(database, READER) is SubscriptionStatus.CONFIRMED

    welcome = next_mail(smtp, 1)
    assert welcome["Subject"] == "Welcome to Morning Briefing"
    page.goto(link(welcome, "preferences"))
    assert page.get_by_label("Morning Briefing").is_checked()
    shot(page, screenshots, "5-preferences")
    page.goto(link(welcome, "unsubscribe"))
    assert page.locator("main button").count() == 1
    shot(page, screenshots, "6-unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    shot(page, screenshots, "7-unsubscribed")
    assert status(database, READER) is SubscriptionStatus.UNSUBSCRIBED
    assert context.cookies() == []

    phone = browser.new_page(viewport={"width": 375, "height": 740})
    phone.goto(f"{url}/subscribe")
    shot(phone, screenshots, "8-subscribe-375px")
    phone.close()
    context.close()

    # The next send reaches the other subscriber, not the one who left.
    (other,) = add_subscribers(database, LIST, 1)
    add_article(database, "after-leaving")
    with database.session() as session:
        created = create_article(session, settings, "after-leaving", LIST, utcnow(), Options())
        start_campaign(session, created.campaign, settings, utcnow())
        campaign_id = created.campaign.id
    InlineExecutor(EngineContext(database, settings)).run(campaign_id)
    done = progress(database, campaign_id)
    assert done.status == "sent" and done.sent == 1
    assert smtp.handler.recipients() == {READER: 2, other: 1}  # confirm + welcome, then nothing
