"""Sign-up that reads well: several lists, one confirmation and one welcome; a
confirmation mail that does not claim a subscription; used links that say so."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import write_config
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import SubscriptionStatus
from dispatch.web import create_app
from support.campaigns import FakeClock
from test_web_subscribe import HIGH, link, mails, main, path, status, subscribe

MORNING, WEEKLY = "morning-briefing", "weekly-review"  # both double opt-in by default


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "reads-well-secret")


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(
        tmp_path,
        database_url,
        {
            r"^subscribe_rate_per_ip = .*$": f"subscribe_rate_per_ip = {HIGH}",
            r"^subscribe_rate_per_address = .*$": f"subscribe_rate_per_address = {HIGH}",
        },
    )


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, clock=FakeClock())) as test_client:
        yield test_client


def test_two_lists_one_confirmation_one_link_one_welcome(
    client: TestClient, db: Database, settings: Settings
) -> None:
    assert subscribe(client, "Ann@Example.com", MORNING, WEEKLY).status_code == 200
    (confirmation,) = mails(settings)
    assert (
        confirmation["Subject"] == "Confirm your subscription to Morning Briefing and Weekly Review"
    )
    text = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # it never says they are subscribed or receive anything yet (nor the footer text
    # configured for issues: "You receive this because you subscribed…")
    assert "You receive" not in text and "You are not subscribed yet" in text
    html = confirmation.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "You receive" not in html and "Nothing more is sent unless you confirm" in html

    url = path(link(confirmation, "confirm"))
    page = client.get(url)
    assert "Morning Briefing and Weekly Review" in page.text
    assert main(page.text).count("<button") == 1
    done = client.post(url)
    assert "You are subscribed" in done.text
    for slug in (MORNING, WEEKLY):
        assert status(db, "ann@example.com", slug) is SubscriptionStatus.CONFIRMED
    welcomes = mails(settings)[1:]
    assert [m["Subject"] for m in welcomes] == ["Welcome to Morning Briefing and Weekly Review"]

    # the link, used: it says so, and offers no button
    again = client.get(url)
    assert again.status_code == 200 and "You already confirmed" in again.text
    assert "<button" not in main(again.text)
    assert "You already confirmed" in client.post(url).text
    assert len(mails(settings)) == 2  # no second welcome


def test_an_unsubscribe_link_already_used_says_so(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "bo@example.com", MORNING)
    client.post(path(link(mails(settings)[0], "confirm")))
    welcome = mails(settings)[1]
    url = path(str(welcome["List-Unsubscribe"]).strip("<>"))
    assert main(client.get(url).text).count("<button") == 1
    assert "You are unsubscribed" in client.post(url).text
    used = client.get(url)
    assert "You are already unsubscribed" in used.text and "<button" not in main(used.text)
    assert "You are already unsubscribed" in client.post(url).text
    assert status(db, "bo@example.com", MORNING) is SubscriptionStatus.UNSUBSCRIBED
    # the confirmation link of someone who left since says they left, with no button
    left = client.get(path(link(mails(settings)[0], "confirm")))
    assert "You left this newsletter" in left.text and "<button" not in main(left.text)


def test_a_failed_confirmation_gives_back_every_lists_claim(
    client: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.delivery import outbox

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(outbox.OutboxSender, "deliver", refuse)
    subscribe(client, "cy@example.com", MORNING, WEEKLY)
    monkeypatch.undo()
    assert mails(settings) == []
    # both claims were given back: a new sign-up gets its one confirmation at once
    subscribe(client, "cy@example.com", MORNING, WEEKLY)
    (confirmation,) = mails(settings)
    assert "Morning Briefing and Weekly Review" in str(confirmation["Subject"])


def test_a_welcome_for_several_lists_refused_by_the_provider_is_sent_later_by_the_engine(
    client: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one welcome naming both lists fails at confirmation (the backend raises): it
    is not recorded as given but left to each list's welcome step in the engine's
    ledger, which the scheduler's run-due sends once the provider is back."""
    from datetime import timedelta

    from dispatch import jobs
    from dispatch.delivery import outbox
    from dispatch.jobs import Run
    from support.scheduling import job_context, senders, settle

    subscribe(client, "dee@example.com", MORNING, WEEKLY)
    (confirmation,) = mails(settings)
    real = outbox.OutboxSender.deliver

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(outbox.OutboxSender, "deliver", refuse)
    assert "You are subscribed" in client.post(path(link(confirmation, "confirm"))).text
    monkeypatch.setattr(outbox.OutboxSender, "deliver", real)
    assert len(mails(settings)) == 1  # no welcome yet
    clock = FakeClock()
    clock.now += timedelta(hours=1)
    welcomes: list[str] = []
    for _ in range(2):  # the second run finds nothing more to send
        context = job_context(db, settings, clock)
        try:
            jobs.run_due_campaigns(run=Run(context, clock()))
            jobs.send_welcome(run=Run(context, clock()))
            settle(context)
        finally:
            context.executor.close()
        for sender in senders(context).made:
            for sent in sender.sent:
                welcomes.append(str(message_from_bytes(sent.data, policy=default)["Subject"]))
    assert sorted(welcomes) == ["Welcome to Morning Briefing", "Welcome to Weekly Review"]
