"""`campaigns.batches`: the claim-send-record step Celery batch tasks run, on both stores
(PostgreSQL: concurrent claims skip each other's locked rows)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.campaigns import Options, RecipientLinks
from dispatch.campaigns.batches import BatchOptions, Next, claim_locked, send_one_batch
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from support.campaigns import FakeClock, add_article, add_subscribers

LIST = "morning-briefing"
OPTIONS = BatchOptions(batch_size=10, claim_timeout=timedelta(minutes=5))


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "batches-test-secret")


def started(db: Database, settings: Settings, clock: FakeClock, people: int) -> int:
    add_subscribers(db, LIST, people)
    add_article(db, "big-story")
    with db.session() as session:
        created = create_article(session, settings, "big-story", LIST, clock(), Options())
        start_campaign(session, created.campaign, settings, clock())
        return created.campaign.id


def drain(db: Database, settings: Settings, sender: MemorySender, campaign_id: int, clock) -> int:  # type: ignore[no-untyped-def]
    """Batches until one does not say MORE; returns how many sent something."""
    links, batches = RecipientLinks.from_settings(settings), 0
    while send_one_batch(db, sender, links, campaign_id, OPTIONS, clock).next == Next.MORE:
        batches += 1
    return batches


def campaign(db: Database, campaign_id: int) -> Campaign:
    with db.session() as session:
        found = session.get(Campaign, campaign_id)
        assert found is not None
        return found


def test_batches_send_everybody_once_then_finish(db: Database, settings: Settings) -> None:
    clock, sender = FakeClock(), MemorySender()
    campaign_id = started(db, settings, clock, 35)
    assert drain(db, settings, sender, campaign_id, clock) == 4
    links = RecipientLinks.from_settings(settings)
    assert send_one_batch(db, sender, links, campaign_id, OPTIONS, clock).next == Next.STOP
    emails = Counter(s.envelope.recipient.email for s in sender.sent)
    assert len(emails) == 35 and set(emails.values()) == {1}
    assert campaign(db, campaign_id).status == CampaignStatus.SENT
    assert campaign(db, campaign_id).in_doubt == 0


def test_rows_stranded_in_sending_are_recovered_after_the_timeout(
    db: Database, settings: Settings
) -> None:
    clock, sender = FakeClock(), MemorySender()
    campaign_id = started(db, settings, clock, 25)
    with db.session() as session:  # a worker claims a batch, then dies
        stranded = claim_locked(session, session.get(Campaign, campaign_id), 10, clock())
    drain(db, settings, sender, campaign_id, clock)
    links = RecipientLinks.from_settings(settings)
    waiting = send_one_batch(db, sender, links, campaign_id, OPTIONS, clock)
    assert waiting.next == Next.LATER and len(sender.sent) == 15  # not yet: maybe alive
    clock.now += OPTIONS.claim_timeout + timedelta(seconds=1)
    drain(db, settings, sender, campaign_id, clock)
    assert len(sender.sent) == 25
    assert {s.envelope.delivery_id for s in sender.sent} >= {row.id for row in stranded}
    assert campaign(db, campaign_id).in_doubt == 10
    assert campaign(db, campaign_id).status == CampaignStatus.SENT


def test_a_paused_campaign_sends_nothing(db: Database, settings: Settings) -> None:
    clock, sender = FakeClock(), MemorySender()
    campaign_id = started(db, settings, clock, 5)
    with db.session() as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.PAUSED  # type: ignore[union-attr]
    links = RecipientLinks.from_settings(settings)
    assert send_one_batch(db, sender, links, campaign_id, OPTIONS, clock).next == Next.STOP
    assert sender.sent == []


def test_concurrent_claims_never_overlap(db: Database, settings: Settings) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one claimer at a time")
    clock = FakeClock()
    campaign_id = started(db, settings, clock, 30)
    with db.session() as first, db.session() as second:  # both transactions open at once
        a = claim_locked(first, first.get(Campaign, campaign_id), 20, clock())
        b = claim_locked(second, second.get(Campaign, campaign_id), 20, clock())
    ids_a, ids_b = {row.id for row in a}, {row.id for row in b}
    assert len(ids_a) == 20 and len(ids_b) == 10 and not ids_a & ids_b
    with db.session() as session:
        statuses = set(session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.SENDING}
