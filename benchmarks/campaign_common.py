"""Shared set-up for the campaign benchmarks: a site folder with config, a migrated
SQLite store, N confirmed subscribers generated in SQL (no Python lists), one article,
and a started campaign to the list."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text

from dispatch import config
from dispatch.campaigns import Progress, create_article, start_campaign
from dispatch.campaigns.claims import Claimed
from dispatch.campaigns.envelopes import EnvelopeMaker, RecipientLinks
from dispatch.campaigns.snapshot import thaw
from dispatch.config import Settings
from dispatch.delivery.base import Envelope, OutgoingMessage, Sender
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import drive
from dispatch.lists import get_list, sync_lists
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus, Campaign, Delivery, Subscriber
from dispatch.store.types import utcnow

LIST = "morning-briefing"
SECRET = "benchmark-secret"


def make_site(folder: Path, replace: dict[str, str] | None = None) -> Settings:
    os.environ.setdefault("DISPATCH_SECRET_KEY", SECRET)
    body = default_config_text()
    url = f"sqlite:///{folder / 'var' / 'dispatch.db'}"
    body = re.sub(r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{url}"', body)
    for pattern, line in (replace or {}).items():
        body = re.sub(f"(?m){pattern}", line, body)
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return config.load(path)


def populate(settings: Settings, subscribers: int, body_bytes: int = 1_000) -> None:
    """Migrate, sync lists, add `subscribers` confirmed people and one article whose body
    is about `body_bytes` long."""
    paragraphs = max(1, body_bytes // 1_000)
    paragraph = "A paragraph of the story, long enough to read like one. " * 17
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    now = utcnow()
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    with db.session() as session:
        sync_lists(session, settings)
        list_id = get_list(session, LIST).id
        session.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
                "INSERT INTO subscribers (email, name, attributes, created_at, updated_at) "
                "SELECT 'reader' || i || '@example.com', 'Reader ' || i, '{\"city\": \"Leeds\"}', "
                ":stamp, :stamp FROM n"
            ),
            {"last": subscribers - 1, "stamp": stamp},
        )
        session.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, "
                "updated_at, confirmed_at) SELECT id, :list, 'confirmed', :stamp, :stamp, :stamp "
                "FROM subscribers"
            ),
            {"list": list_id, "stamp": stamp},
        )
        session.add(
            Article(
                slug="benchmark-story",
                title="A benchmark story",
                summary="What happens when a campaign goes out.",
                body_html=f"<p>{paragraph}</p>" * paragraphs,
                body_text="\n\n".join([paragraph] * paragraphs),
                section="world",
                status=ArticleStatus.PUBLISHED,
                published_at=now - timedelta(minutes=5),
                source="benchmark",
                source_id="benchmark-story",
                content_hash="x",
            )
        )
    db.dispose()


def start(settings: Settings, db: Database) -> int:
    """Create and start (freeze) the article campaign; returns its id."""
    with db.session() as session:
        created = create_article(session, settings, "benchmark-story", LIST, utcnow())
        start_campaign(session, created.campaign, settings, utcnow())
        return created.campaign.id


def campaign_envelopes(
    settings: Settings, db: Database, campaign_id: int
) -> tuple[OutgoingMessage, list[Envelope]]:
    """The started campaign's message (thawed) and an envelope for every ledger row, as
    the runner builds them: a reference sender can send the very same bytes."""
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.snapshot is not None, campaign_id
        message = thaw(campaign.snapshot, campaign_id)
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.subscriber_id,
                Delivery.email,
                Subscriber.name,
                Subscriber.attributes,
            )
            .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.campaign_id == campaign_id)
            .order_by(Delivery.id)
        ).all()
        domain = message.from_email.rpartition("@")[2]
        maker = EnvelopeMaker(
            RecipientLinks.from_settings(settings),
            campaign_id,
            campaign.key,
            campaign.mailing_list.slug,
            domain,
        )
    claimed = [
        Claimed(r.id, r.subscriber_id, r.email, r.name or "", r.attributes or {}, 0) for r in rows
    ]
    return message, maker.make(claimed)


def prebuilt_messages(
    settings: Settings, db: Database, campaign_id: int
) -> tuple[str, list[tuple[str, bytes]]]:
    """(envelope sender, [(recipient, wire bytes)]) of every message of the campaign."""
    message, envelopes = campaign_envelopes(settings, db, campaign_id)
    built = [(e.recipient.email, message.as_bytes(e)) for e in envelopes]
    return message.from_email, built


def send_campaign(settings: Settings, db: Database, campaign_id: int, sender: Sender) -> Progress:
    """Send the started campaign through `sender` with the engine, as `dispatch send` does
    inline; the ledger's progress afterwards."""
    context = EngineContext(db, settings)
    drive(context, context.engine(sender), campaign_id, wait=False)
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return Progress.read(session, campaign, utcnow())
