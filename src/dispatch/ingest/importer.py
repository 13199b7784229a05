"""Files → articles in the store, one transaction per file, with a report.

Identity: (source, source_id), where source_id is the front matter `id` or the file's
absolute path. An unchanged file (same content hash) writes nothing; a changed one
updates the same row, so uid and published_at stay while updated_at moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.fields import ArticleFields, build_fields
from dispatch.ingest.files import discover
from dispatch.ingest.slugs import choose_slug, make_slug, record_slug_change
from dispatch.ingest.source import Source, load_file
from dispatch.store.models import Article, ArticleStatus
from dispatch.store.types import utcnow

FILE_SOURCE = "file"
Clock = Callable[[], datetime]


class Sessions(Protocol):
    """Anything that opens a committing session, such as `Database`."""

    def session(self) -> AbstractContextManager[Session]: ...


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Imported:
    path: Path
    action: Action
    slug: str
    uid: str


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for item in self.imported if item.action is action)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        counts = [f"{self.count(action)} {action.value}" for action in Action]
        return ", ".join([*counts, f"{len(self.failed)} failed"])


def import_paths(
    sessions: Sessions, settings: Settings, paths: Iterable[Path | str], now: Clock = utcnow
) -> ImportReport:
    """Import every article file under `paths`; one bad file never stops the others."""
    found = discover(paths)
    report = ImportReport(failed=list(found.errors))
    claimed: dict[str, Path] = {}
    for path in found.files:
        try:
            source = load_file(path, settings)
            source_id = _claim(source, claimed)
            with sessions.session() as session:
                report.imported.append(upsert(session, settings, source, source_id, now()))
        except IngestError as exc:
            report.failed.append(exc)
        except SQLAlchemyError as exc:
            reason = f"not saved, database error: {getattr(exc, 'orig', None) or exc}"
            report.failed.append(IngestError(path, reason.splitlines()[0]))
    return report


def _claim(source: Source, claimed: dict[str, Path]) -> str:
    source_id = source.source_id or str(source.path.resolve())
    if source_id in claimed:
        other = claimed[source_id]
        raise IngestError(source.path, f'front matter: id "{source_id}" is also used by {other}')
    claimed[source_id] = source.path
    return source_id


def upsert(
    session: Session,
    settings: Settings,
    source: Source,
    source_id: str,
    now: datetime,
    kind: str = FILE_SOURCE,
) -> Imported:
    """Create or update the article for `source` inside the caller's transaction.

    `kind` is the article's `source` column: "file" here, "upstream" for feed entries.
    """
    article = session.scalar(
        select(Article).where(Article.source == kind, Article.source_id == source_id)
    )
    slug = choose_slug(session, make_slug(source.meta.slug or source.title), article)
    fields = build_fields(source, slug, settings)
    digest = fields.content_hash()
    if article is not None and article.content_hash == digest:
        return Imported(source.path, Action.UNCHANGED, article.slug, article.uid)
    action = Action.UPDATED if article is not None else Action.CREATED
    if article is None:
        article = Article(source=kind, source_id=source_id, created_at=now)
        session.add(article)
    old_slug = article.slug
    _apply(article, fields, digest, now)
    session.flush()
    if old_slug is not None:
        record_slug_change(session, article, old_slug)
    return Imported(source.path, action, article.slug, article.uid)


def _apply(article: Article, fields: ArticleFields, digest: str, now: datetime) -> None:
    article.slug = fields.slug
    article.title = fields.title
    article.summary = fields.summary
    article.body_html = fields.body_html
    article.body_text = fields.body_text
    article.author = fields.author
    article.section = fields.section
    article.tags = list(fields.tags)
    article.image = fields.image
    article.canonical_url = fields.canonical_url
    article.published_at = _published_at(article, fields, now)
    article.status = fields.status
    article.content_hash = digest
    article.updated_at = now


def _published_at(article: Article, fields: ArticleFields, now: datetime) -> datetime | None:
    """The source's date if it gives one; else first publication time, kept forever."""
    if fields.date is not None:
        return fields.date
    if fields.status is ArticleStatus.DRAFT:
        return article.published_at
    return article.published_at or now
