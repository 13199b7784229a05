"""Editors' decisions about imported articles stick; the sources' changes wait for them.

An article that came from a file or an upstream feed can be changed by an editor
(edited, published, unpublished, scheduled in the admin or the API) or deleted. From
then on:

- an unchanged source (same hash as the last version seen) changes nothing, and a
  deleted article stays deleted (a tombstone remembers its source and hash);
- a changed source does not overwrite the editor's version: it is kept as a conflict
  (`ArticleConflict`) that an editor accepts (the source's version replaces the
  article, or brings a deleted one back) or ignores (the article stays as it is and
  that version counts as seen).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
from dispatch.ingest.fields import ArticleFields
from dispatch.store.models import Article, ArticleConflict, ArticleTombstone

IMPORTED_KINDS = frozenset({"file", "upstream"})


def is_imported(article: Article) -> bool:
    return article.source in IMPORTED_KINDS


def mark_edited(article: Article, now: datetime) -> None:
    """An editor changed the article: later source changes become conflicts."""
    if is_imported(article):
        article.edited_at = now


def remember_deletion(session: Session, article: Article, now: datetime) -> None:
    """Before an imported article is deleted: its unchanged source must not bring it back."""
    if not is_imported(article):
        return
    tombstone = tombstone_of(session, article.source, article.source_id)
    if tombstone is None:
        tombstone = ArticleTombstone(source=article.source, source_id=article.source_id)
        session.add(tombstone)
    tombstone.source_hash = article.source_hash or article.content_hash
    tombstone.title = article.title
    tombstone.deleted_at = now


def tombstone_of(session: Session, kind: str, source_id: str) -> ArticleTombstone | None:
    return session.scalar(
        select(ArticleTombstone).where(
            ArticleTombstone.source == kind, ArticleTombstone.source_id == source_id
        )
    )


def conflict_of(session: Session, kind: str, source_id: str) -> ArticleConflict | None:
    return session.scalar(
        select(ArticleConflict).where(
            ArticleConflict.source == kind, ArticleConflict.source_id == source_id
        )
    )


def record_conflict(
    session: Session,
    article: Article | None,
    kind: str,
    source_id: str,
    source_path: str | None,
    fields: ArticleFields,
    digest: str,
    now: datetime,
) -> ArticleConflict:
    """Keep the source's new version for an editor (the newest replaces an older one)."""
    conflict = conflict_of(session, kind, source_id)
    if conflict is None:
        conflict = ArticleConflict(source=kind, source_id=source_id)
        session.add(conflict)
    conflict.article_id = article.id if article is not None else None
    conflict.source_path = source_path
    conflict.source_hash = digest
    conflict.title = fields.title
    conflict.fields = fields.to_json()
    conflict.detected_at = now
    session.flush()
    return conflict


def drop_conflict(session: Session, kind: str, source_id: str) -> None:
    """The source went back to the version already seen: nothing waits any more."""
    conflict = conflict_of(session, kind, source_id)
    if conflict is not None:
        session.delete(conflict)


def pending(session: Session) -> list[ArticleConflict]:
    query = select(ArticleConflict).order_by(ArticleConflict.detected_at.desc())
    return list(session.scalars(query))


def get_conflict(session: Session, conflict_id: int) -> ArticleConflict:
    conflict = session.get(ArticleConflict, conflict_id)
    if conflict is None:
        raise NotFound(f"no conflict {conflict_id} (it was accepted or ignored already)")
    return conflict


def ignore(session: Session, conflict_id: int) -> ArticleConflict:
    """Keep the article as the editor left it; this source version counts as seen."""
    conflict = get_conflict(session, conflict_id)
    if conflict.article is not None:
        conflict.article.source_hash = conflict.source_hash
    else:
        tombstone = tombstone_of(session, conflict.source, conflict.source_id)
        if tombstone is not None:
            tombstone.source_hash = conflict.source_hash
    session.delete(conflict)
    session.flush()
    return conflict
