"""Helpers for campaign tests and benchmarks: people and articles in bulk, fast."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from dispatch.campaigns import EngineOptions, Options, Progress
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.base import Sender
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import drive
from dispatch.store.database import Database
from dispatch.store.models import (
    Article,
    ArticleStatus,
    Campaign,
    Delivery,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from dispatch.store.types import utcnow

CHUNK = 20_000


def add_subscribers(
    db: Database,
    list_slug: str,
    count: int,
    *,
    start: int = 0,
    status: SubscriptionStatus = SubscriptionStatus.CONFIRMED,
    domain: str = "example.com",
) -> list[str]:
    """`count` people user<start..>@domain subscribed to `list_slug`; returns addresses."""
    now = utcnow()
    emails = [f"user{i}@{domain}" for i in range(start, start + count)]
    with db.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == list_slug))
        for low in range(0, count, CHUNK):
            chunk = emails[low : low + CHUNK]
            rows = [
                {
                    "email": e,
                    "name": f"User {e.split('@')[0][4:]}",
                    "attributes": {"city": "Lisbon"},
                    "created_at": now,
                    "updated_at": now,
                }
                for e in chunk
            ]
            session.execute(insert(Subscriber), rows)
            ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(chunk)))
            session.execute(
                insert(Subscription),
                [
                    {
                        "subscriber_id": i,
                        "list_id": list_id,
                        "status": status,
                        "created_at": now,
                        "updated_at": now,
                        "confirmed_at": now,
                    }
                    for i in ids
                ],
            )
    return emails


def add_article(
    db: Database,
    slug: str,
    *,
    section: str | None = "world",
    published_at: datetime | None = None,
    title: str | None = None,
    body: str = "<p>Body of the story.</p>",
) -> int:
    when = published_at or utcnow() - timedelta(minutes=5)
    with db.session() as session:
        article = Article(
            slug=slug,
            title=title or slug.replace("-", " ").title(),
            summary=f"Summary of {slug}",
            body_html=body,
            body_text="Body of the story.",
            section=section,
            status=ArticleStatus.PUBLISHED,
            published_at=when,
            created_at=when,
            updated_at=when,
            source="test",
            source_id=slug,
            content_hash=slug,
        )
        session.add(article)
        session.flush()
        return article.id


class FakeClock:
    """A clock tests move by hand; `sleep` advances it instead of waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=max(seconds, 0.001))


def started_article(
    db: Database,
    settings: Settings,
    clock: FakeClock,
    *,
    test_to: str | None = None,
    slug: str = "big-story",
    list_slug: str = "morning-briefing",
) -> int:
    """A one-off campaign of a new article, started (recipients frozen); its id."""
    add_article(db, slug, title="Original title")
    with db.session() as session:
        created = create_article(
            session, settings, slug, list_slug, clock(), Options(test_to=test_to)
        )
        start_campaign(session, created.campaign, settings, clock())
        return created.campaign.id


def engine_context(
    db: Database, settings: Settings, clock: FakeClock | None = None, **options: Any
) -> EngineContext:
    """An engine context on a fake clock (waits advance it) with `EngineOptions(**options)`."""
    clock = clock or FakeClock()
    return EngineContext(
        db,
        settings,
        clock=clock,
        sleep=clock.sleep,
        options=EngineOptions(**{"flush_seconds": 0.0, **options}),
    )


def run(context: EngineContext, sender: Sender, campaign_id: int, wait: bool = False) -> Progress:
    """Drive the engine like the inline executor (the sender stays open); the progress."""
    drive(context, context.engine(sender), campaign_id, wait)
    return progress(context.db, campaign_id, context.clock())


def progress(db: Database, campaign_id: int, now: datetime | None = None) -> Progress:
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id, populate_existing=True)
        assert campaign is not None
        return Progress.read(session, campaign, now or utcnow())


def ledger(db: Database, campaign_id: int) -> dict[str, Delivery]:
    """The campaign's ledger rows by address."""
    with db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))
        return {row.email: row for row in rows}
