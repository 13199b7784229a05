"""What readers may see at a moment: the one rule every page, feed, digest and sitemap uses.

An article is live at `now` when it is published or scheduled and its `published_at`
has come. A scheduled article is therefore public at its time even if the scheduler
is late to mark it published (and the feeds and digests that run at that moment carry
it), and nothing dated ahead of the clock ever appears, so feed dates never run ahead
of it either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.sql import ColumnElement

from dispatch.store.models import Article, ArticleStatus

PUBLIC_STATUSES = (ArticleStatus.PUBLISHED, ArticleStatus.SCHEDULED)


def is_live(now: datetime) -> ColumnElement[bool]:
    """SQL: the article is public at `now`."""
    return (
        Article.status.in_(PUBLIC_STATUSES)
        & Article.published_at.is_not(None)
        & (Article.published_at <= now)
    )


def live(article: Article, now: datetime) -> bool:
    """The same rule for an article already loaded."""
    return (
        article.status in PUBLIC_STATUSES
        and article.published_at is not None
        and article.published_at <= now
    )
