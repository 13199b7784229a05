"""Helpers for campaign tests and benchmarks: people and articles in bulk, fast."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from dispatch.store.database import Database
from dispatch.store.models import (
    Article,
    ArticleStatus,
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
