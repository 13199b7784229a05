"""Looking up and changing stored articles by slug (for the CLI, admin UI and API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
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
    """Make an article public; its first publication time is kept if it had one."""
    now = now or utcnow()
    article = get_article(session, slug)
    if article.status is not ArticleStatus.PUBLISHED:
        article.status = ArticleStatus.PUBLISHED
        article.published_at = article.published_at or now
        article.updated_at = now
    return article


def unpublish(session: Session, slug: str, now: datetime | None = None) -> Article:
    """Back to draft; published_at is kept so that re-publishing keeps the date."""
    article = get_article(session, slug)
    if article.status is not ArticleStatus.DRAFT:
        article.status = ArticleStatus.DRAFT
        article.updated_at = now or utcnow()
    return article


def delete_article(session: Session, slug: str) -> Article:
    """Remove the article and its slug history."""
    article = get_article(session, slug)
    session.delete(article)
    session.flush()
    return article
