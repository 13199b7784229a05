"""Scheduled articles whose time has come: marked published, and their sends made.

An article is public from its `published_at` on whatever its status says
(`dispatch.visibility`); this is the bookkeeping the scheduler does right after: the
status becomes `published` (the admin and API show it so) and each list in the
article's `send_to` gets a one-off campaign of it, started at once. The campaign's
`period_key` (`article:{uid}:{list}`) is unique, so however often this runs, and
even if it runs twice at once, a list gets the article once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.errors import DispatchError
from dispatch.logs import event
from dispatch.store.models import Article, ArticleStatus, Campaign

log = logging.getLogger(__name__)


@dataclass
class Published:
    slugs: list[str] = field(default_factory=list)
    campaigns: list[int] = field(default_factory=list)  # started; the caller submits them


def publish_due(session: Session, settings: Settings, now: datetime) -> Published:
    """Mark every scheduled article whose time has come as published; start its sends."""
    due = session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.SCHEDULED, Article.published_at <= now)
        .order_by(Article.published_at, Article.id)
    ).all()
    done = Published()
    for article in due:
        article.status = ArticleStatus.PUBLISHED
        done.slugs.append(article.slug)
        for list_slug in article.send_to or []:
            campaign_id = _send(session, settings, article, list_slug, now)
            if campaign_id is not None:
                done.campaigns.append(campaign_id)
    session.flush()
    return done


def period_key(article: Article, list_slug: str) -> str:
    return f"article:{article.uid}:{list_slug}"


def _send(
    session: Session, settings: Settings, article: Article, list_slug: str, now: datetime
) -> int | None:
    """Create and start the one-off campaign of `article` to `list_slug` (once ever)."""
    key = period_key(article, list_slug)
    if session.scalar(select(Campaign.id).where(Campaign.period_key == key)) is not None:
        return None
    try:
        with session.begin_nested():
            created = create_article(
                session, settings, article.slug, list_slug, now, Options(period_key=key)
            )
            start_campaign(session, created.campaign, settings, now)
            return created.campaign.id
    except (IntegrityError, DispatchError) as exc:
        # One list's trouble (gone from config.toml, a render error) never holds back the
        # article or its other lists; the log says what happened.
        event(
            log,
            "article.send_failed",
            logging.ERROR,
            article=article.slug,
            list=list_slug,
            error=str(exc),
        )
        return None
