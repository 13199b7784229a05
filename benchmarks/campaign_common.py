"""Shared set-up for the campaign benchmarks: a site folder with config, a migrated
SQLite store, N confirmed subscribers generated in SQL (no Python lists), one article,
and a started campaign to the list."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from dispatch import config
from dispatch.campaigns import create_article, start_campaign
from dispatch.config import Settings
from dispatch.lists import get_list, sync_lists
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus
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


def populate(settings: Settings, subscribers: int) -> None:
    """Migrate, sync lists, add `subscribers` confirmed people and one article."""
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
                body_html="<p>" + "A paragraph of the story. " * 40 + "</p>" * 1,
                body_text="A paragraph of the story. " * 40,
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
