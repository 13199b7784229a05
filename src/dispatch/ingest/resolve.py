"""An editor settles a conflict: accept the source's version, or ignore it (`decisions`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from dispatch.ingest import decisions
from dispatch.ingest.fields import ArticleFields
from dispatch.ingest.importer import apply
from dispatch.ingest.slugs import choose_slug, record_slug_change
from dispatch.store.models import Article

__all__ = ["accept", "ignore"]

ignore = decisions.ignore


def accept(session: Session, conflict_id: int, now: datetime) -> Article:
    """The source's version replaces the article (a deleted one comes back, under its
    old source id, with a new uid: its old feed entries are gone); the source is then
    followed again until an editor changes the article once more."""
    conflict = decisions.get_conflict(session, conflict_id)
    fields = ArticleFields.from_json(conflict.fields)
    fields = fields.with_slug(choose_slug(session, fields.slug, conflict.article))
    article = conflict.article or Article(
        source=conflict.source, source_id=conflict.source_id, created_at=now
    )
    old_slug = article.slug
    where = Path(conflict.source_path or conflict.source_id)
    apply(article, fields, conflict.source_hash, now, where)
    session.add(article)
    article.source_hash = conflict.source_hash
    article.source_path = conflict.source_path or article.source_path
    article.edited_at = None
    session.flush()
    if old_slug is not None:
        record_slug_change(session, article, old_slug)
    tombstone = decisions.tombstone_of(session, conflict.source, conflict.source_id)
    if tombstone is not None:
        session.delete(tombstone)
    session.delete(conflict)
    session.flush()
    return article
