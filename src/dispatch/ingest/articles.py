"""Looking up and changing stored articles by slug (for the CLI, admin UI and API).

Every change here is an editor's decision: on an article imported from a file or a
feed it sticks (`decisions`): later changes of the source wait as conflicts, and a
deleted article is not brought back by its unchanged source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import NotFound, ScheduleError
from dispatch.ingest import decisions
from dispatch.store.models import Article, ArticleSlug, ArticleStatus
from dispatch.store.types import utcnow


def get_article(session: Session, slug: str) -> Article:
    """The article whose current slug is `slug`; NotFound says if it was renamed."""
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is not None:
        return article
    former = session.get(ArticleSlug, slug)
    if former is not None:
        raise NotFound(f'no article "{slug}": it was renamed to "{former.article.slug}"')
    raise NotFound(f'no article "{slug}" (see `dispatch articles list`)')


def resolve_article(session: Session, slug: str) -> Article:
    """The article `slug` names now or named before (a renamed article is followed)."""
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        former = session.get(ArticleSlug, slug)
        article = former.article if former is not None else None
    if article is None:
        raise NotFound(f'no article with slug "{slug}" (see `dispatch articles list`)')
    return article


def list_articles(
    session: Session, status: ArticleStatus | None = None, section: str | None = None
) -> Sequence[Article]:
    """Newest first; drafts that were never published come last."""
    query = select(Article).order_by(
        Article.published_at.desc().nulls_last(), Article.created_at.desc(), Article.id.desc()
    )
    if status is not None:
        query = query.where(Article.status == status)
    if section is not None:
        query = query.where(Article.section == section)
    return session.scalars(query).all()


def publish(session: Session, slug: str, now: datetime | None = None) -> Article:
    """Make an article public now; its first publication time is kept if it had one (a
    scheduled article published early is published now)."""
    now = now or utcnow()
    article = get_article(session, slug)
    if article.status is not ArticleStatus.PUBLISHED:
        article.status = ArticleStatus.PUBLISHED
        if article.published_at is None or article.published_at > now:
            article.published_at = now
        _changed(article, now)
    return article


def unpublish(session: Session, slug: str, now: datetime | None = None) -> Article:
    """Back to draft (a scheduled article is unscheduled); published_at is kept so that
    re-publishing keeps the date."""
    now = now or utcnow()
    article = get_article(session, slug)
    if article.status is not ArticleStatus.DRAFT:
        article.status = ArticleStatus.DRAFT
        _changed(article, now)
    return article


def schedule(session: Session, slug: str, at: datetime, now: datetime | None = None) -> Article:
    """Publish the article at `at` (scheduling again moves the time); never in the past."""
    now = now or utcnow()
    if at.tzinfo is None:
        raise ScheduleError("a publication time must carry its time zone")
    if at <= now:
        raise ScheduleError(
            f"cannot schedule for {at.isoformat()}: that is in the past (it is now "
            f"{now.replace(microsecond=0).isoformat()}); publish it now instead"
        )
    article = get_article(session, slug)
    if article.status is ArticleStatus.PUBLISHED:
        raise ScheduleError(
            f'"{slug}" is already published: unpublish it first to schedule it again'
        )
    article.status = ArticleStatus.SCHEDULED
    article.published_at = at
    _changed(article, now)
    return article


def unschedule(session: Session, slug: str, now: datetime | None = None) -> Article:
    """A scheduled article back to draft (its planned time is forgotten)."""
    now = now or utcnow()
    article = get_article(session, slug)
    if article.status is not ArticleStatus.SCHEDULED:
        raise ScheduleError(f'"{slug}" is not scheduled (it is {article.status.value})')
    article.status = ArticleStatus.DRAFT
    article.published_at = None
    _changed(article, now)
    return article


def delete_article(session: Session, slug: str, now: datetime | None = None) -> Article:
    """Remove the article and its slug history; an imported one stays deleted."""
    article = get_article(session, slug)
    decisions.remember_deletion(session, article, now or utcnow())
    session.delete(article)
    session.flush()
    return article


def _changed(article: Article, now: datetime) -> None:
    article.updated_at = now
    decisions.mark_edited(article, now)
