from __future__ import annotations

from collections.abc import Iterator, Sequence
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select, update

from dispatch.campaigns import CampaignRunner, Hooks, Options, RecipientLinks, RunOptions
from dispatch.campaigns.create import create_article
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.base import Envelope, OutgoingMessage, SendResult
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from support.campaigns import FakeClock, add_article, add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "campaign-test-secret")


def started(db: Database, settings: Settings, clock: FakeClock, test_to: str | None = None) -> int:
    add_article(db, "big-story")
    with db.session() as session:
        created = create_article(
            session, settings, "big-story", LIST, clock(), Options(test_to=test_to)
        )
        start_campaign(session, created.campaign, settings, clock())
        return created.campaign.id


def runner(
    db: Database, settings: Settings, sender: object, clock: FakeClock, **options: object
) -> CampaignRunner:
    return CampaignRunner(
        db,
        sender,  # type: ignore[arg-type]
        RecipientLinks.from_settings(settings),
        RunOptions(**options),  # type: ignore[arg-type]
        clock=clock,
        hooks=Hooks(sleep=clock.sleep),
    )


def ledger(db: Database, campaign_id: int) -> dict[str, Delivery]:
    with db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))
        return {row.email: row for row in rows}


def test_campaign_reaches_every_confirmed_subscriber_once(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 250)
    add_subscribers(db, LIST, 5, start=1000, status=SubscriptionStatus.PENDING)
    campaign_id = started(db, settings, clock)
    sender = MemorySender(max_batch=60)

    progress = runner(db, settings, sender, clock, batch_size=100).run(campaign_id)

    assert sender.recipients() == {email: 1 for email in people}
    assert max(sender.batches) == 60  # the sender's limit wins over batch_size
    assert progress.status == "sent" and progress.sent == 250 and progress.total == 250
    rows = ledger(db, campaign_id)
    assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
    assert all(row.provider_message_id and row.sent_at for row in rows.values())
    message = message_from_bytes(sender.sent[0].data, policy=default)
    assert message["Message-ID"].endswith("@dispatch.example>")
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    assert len({item.envelope.message_id for item in sender.sent}) == 250
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.status == CampaignStatus.SENT and campaign.finished_at is not None
        assert campaign.recipients_total == 250 and campaign.in_doubt == 0


def test_recipients_are_frozen_when_sending_starts(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 10)
    campaign_id = started(db, settings, clock)
    late = add_subscribers(db, LIST, 3, start=500)  # confirmed after the start
    sender = MemorySender()
    runner(db, settings, sender, clock).run(campaign_id)
    assert len(sender.sent) == 10
    assert not set(late) & set(sender.recipients())


def test_suppressed_addresses_are_never_frozen(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 5)
    with db.session() as session:
        session.add(Suppression(email=people[2], reason="complaint"))
    campaign_id = started(db, settings, clock)
    sender = MemorySender()
    runner(db, settings, sender, clock).run(campaign_id)
    assert set(sender.recipients()) == set(people) - {people[2]}
    assert people[2] not in ledger(db, campaign_id)


class Meddling(MemorySender):
    """Runs `act` after its first batch, like an editor or a subscriber elsewhere."""

    def __init__(self, act: object, max_batch: int = 10) -> None:
        super().__init__(max_batch=max_batch)
        self.act = act

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        yield from super().send(message, batch)
        if len(self.batches) == 1:
            self.act()  # type: ignore[operator]


def test_unsubscribed_or_suppressed_during_send_are_not_reached(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 30)
    campaign_id = started(db, settings, clock)

    def leave() -> None:
        with db.session() as session:
            who = session.scalar(select(Subscriber.id).where(Subscriber.email == people[25]))
            session.execute(
                update(Subscription)
                .where(Subscription.subscriber_id == who)
                .values(status=SubscriptionStatus.UNSUBSCRIBED)
            )
            session.add(Suppression(email=people[26], reason="bounce"))

    sender = Meddling(leave)
    progress = runner(db, settings, sender, clock, batch_size=10).run(campaign_id)

    assert people[25] not in sender.recipients() and people[26] not in sender.recipients()
    rows = ledger(db, campaign_id)
    assert (rows[people[25]].status, rows[people[25]].last_error) == (
        DeliveryStatus.SKIPPED,
        "unsubscribed",
    )
    assert rows[people[26]].last_error == "suppressed"
    assert progress.sent == 28 and progress.skipped == 2 and progress.status == "sent"


def test_temporary_failures_retry_with_backoff_then_fail(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 6)
    campaign_id = started(db, settings, clock)
    sender = MemorySender()
    sender.fail_temporarily(people[0], times=1)
    sender.fail_temporarily(people[1], times=99)
    begin = clock()
    options = {"policy": RetryPolicy(max_attempts=3, backoff_seconds=60)}

    first = runner(db, settings, sender, clock, **options).run(campaign_id)
    assert first.status == "sending" and first.waiting == 2  # retries not yet due: returns
    assert first.next_retry_at == begin + (first.next_retry_at - begin)
    assert (first.next_retry_at - begin).total_seconds() == pytest.approx(60)

    progress = runner(db, settings, sender, clock, wait_for_retries=True, **options).run(
        campaign_id
    )

    rows = ledger(db, campaign_id)
    assert rows[people[0]].status == DeliveryStatus.SENT and rows[people[0]].attempts == 2
    assert rows[people[1]].status == DeliveryStatus.FAILED and rows[people[1]].attempts == 3
    assert "gave up after 3 attempts: 451" in (rows[people[1]].last_error or "")
    assert progress.status == "sent"
    # 60 s after the first failure, then 120 s after the second
    assert (clock() - begin).total_seconds() == pytest.approx(180, abs=2)


def test_permanent_failure_with_suppress_adds_a_suppression(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 4)
    campaign_id = started(db, settings, clock)
    sender = MemorySender()
    sender.fail(people[1], "550 5.1.1 No such user", suppress=True)
    sender.fail(people[2], "554 5.7.1 Rejected", suppress=False)
    progress = runner(db, settings, sender, clock).run(campaign_id)
    rows = ledger(db, campaign_id)
    assert rows[people[1]].status == DeliveryStatus.FAILED and rows[people[1]].attempts == 1
    assert rows[people[1]].last_error == "550 5.1.1 No such user"
    with db.session() as session:
        assert set(session.scalars(select(Suppression.email))) == {people[1]}
    assert progress.failed == 2 and progress.suppressed == 1 and progress.status == "sent"


def test_campaign_pauses_itself_after_consecutive_errors(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 40)
    campaign_id = started(db, settings, clock)
    sender = MemorySender()
    for email in people[:12]:
        sender.fail(email, "554 5.7.1 Blocked", suppress=False)
    progress = runner(db, settings, sender, clock, batch_size=5, max_consecutive_errors=8).run(
        campaign_id
    )
    assert progress.status == "paused"
    assert progress.pause_reason is not None
    assert "10 consecutive failures" in progress.pause_reason  # checked per batch of 5
    assert "554 5.7.1 Blocked" in progress.pause_reason
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == CampaignStatus.PAUSED
        assert campaign.pause_reason == progress.pause_reason
    assert len(sender.sent) == 0


def test_test_send_goes_only_to_the_test_address(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 20)
    campaign_id = started(db, settings, clock, test_to="Editor@Dispatch.example")
    sender = MemorySender()
    progress = runner(db, settings, sender, clock).run(campaign_id)
    assert list(sender.recipients()) == ["editor@dispatch.example"]
    message = message_from_bytes(sender.sent[0].data, policy=default)
    assert message["Subject"].startswith("[TEST] ")
    rows = ledger(db, campaign_id)
    assert [row.subscriber_id for row in rows.values()] == [None]
    assert progress.status == "sent" and progress.total == 1
