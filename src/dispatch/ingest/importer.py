"""Sources → articles in the store, one transaction per source, with a report.

Identity (`identity`): the front matter `id`, the canonical URL, the path, then a
fingerprint of title and date for a file that moved. An unchanged source (same hash as
the version last seen) writes nothing; a changed one updates the same row, so uid and
published_at stay while updated_at moves, unless an editor changed or deleted the
article since: then the change waits as a conflict (`decisions`).

Publication: `status: scheduled`, or a `date` in the future on a published article,
stores the article as scheduled for that date (`dispatch.visibility` keeps it out of
sight until then); a scheduled date in the past is an error, unless the article went
out at that date already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest import decisions, identity
from dispatch.ingest.document import IngestWarning
from dispatch.ingest.fields import ArticleFields, build_fields, source_date
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
    MOVED = "moved"  # the same article from another path (content may have changed too)
    CONFLICT = "conflict"  # changed source of an article an editor changed: waits for them
    DELETED = "deleted"  # an editor deleted it; the unchanged source does not bring it back


ALWAYS_COUNTED = (Action.CREATED, Action.UPDATED, Action.UNCHANGED)


@dataclass(frozen=True)
class Imported:
    path: Path
    action: Action
    slug: str
    uid: str
    warnings: tuple[IngestWarning, ...] = ()


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for item in self.imported if item.action is action)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def warnings(self) -> list[IngestWarning]:
        return [warning for item in self.imported for warning in item.warnings]

    def summary(self) -> str:
        shown = [a for a in Action if a in ALWAYS_COUNTED or self.count(a)]
        counts = [f"{self.count(action)} {action.value}" for action in shown]
        return ", ".join([*counts, f"{len(self.failed)} failed"])


@dataclass(frozen=True)
class Origin:
    """Where a source comes from: its kind and id, and for files the path and a way to
    tell whether the article's previous file still exists (to recognise a move)."""

    kind: str
    source_id: str
    path: str | None = None
    path_exists: identity.PathExists | None = None
    keep_published_at: bool = False  # upstream: an entry's first publication time stays


def import_paths(
    sessions: Sessions,
    settings: Settings,
    paths: Iterable[Path | str],
    now: Clock = utcnow,
    prepare: Callable[[Source, Path], Source] | None = None,
) -> ImportReport:
    """Import every article file under `paths`; one bad file never stops the others.

    `prepare(source, root)` may rework a parsed file before it is stored (the media
    step copies its images); `root` is the folder named on the command line (or the
    file's own folder), which its relative references may not leave."""
    found = discover(paths)
    report = ImportReport(failed=list(found.errors))
    claimed_ids: dict[str, Path] = {}
    claimed_rows: set[int] = set()
    for path, root in found.rooted():
        try:
            source = load_file(path, settings)
            if prepare is not None:
                source = prepare(source, root)
            origin = file_origin(source, claimed_ids)
            with sessions.session() as session:
                done = upsert(session, settings, source, origin, now(), claimed_rows)
            report.imported.append(done)
        except IngestError as exc:
            report.failed.append(exc)
        except SQLAlchemyError as exc:
            reason = f"not saved, database error: {getattr(exc, 'orig', None) or exc}"
            report.failed.append(IngestError(path, reason.splitlines()[0]))
    return report


def file_origin(source: Source, claimed: dict[str, Path]) -> Origin:
    """A file's origin: its front matter id, else its absolute path, as source id."""
    where = str(source.path.resolve())
    source_id = source.source_id or where
    if source_id in claimed:
        other = claimed[source_id]
        raise IngestError(source.path, f'front matter: id "{source_id}" is also used by {other}')
    claimed[source_id] = source.path
    return Origin(FILE_SOURCE, source_id, where, lambda p: Path(p).exists())


def upsert(
    session: Session,
    settings: Settings,
    source: Source,
    origin: Origin,
    now: datetime,
    claimed: set[int] | None = None,
) -> Imported:
    """Create or update the article for `source` inside the caller's transaction."""
    date = source_date(source, settings.site.timezone)
    match = identity.find(
        session,
        origin.kind,
        origin.source_id,
        canonical_url=source.meta.canonical_url or source.extracted.canonical_url,
        source_path=origin.path,
        fingerprint=identity.fingerprint(source.title, date),
        path_exists=origin.path_exists,
        claimed=claimed or (),
    )
    article = match.article
    if article is not None and claimed is not None:
        claimed.add(article.id)
    fields, digest = _fields(session, settings, source, article)
    if article is None:
        return _new(session, source, origin, fields, digest, now)
    moved = match.moved(origin.path)
    if digest == (article.source_hash or article.content_hash):
        decisions.drop_conflict(session, origin.kind, article.source_id)
        action = Action.MOVED if moved else Action.UNCHANGED
        _follow(article, origin, source, date)
        return _imported(source, action, article)
    if article.edited_at is not None:
        decisions.record_conflict(
            session, article, origin.kind, article.source_id, origin.path, fields, digest, now
        )
        _follow(article, origin, source, date)
        return _imported(source, Action.CONFLICT, article)
    old_slug = article.slug
    apply(article, fields, digest, now, source.path, keep_published_at=origin.keep_published_at)
    article.source_hash = digest
    _follow(article, origin, source, date)
    session.flush()
    record_slug_change(session, article, old_slug)
    return _imported(source, Action.MOVED if moved else Action.UPDATED, article)


def _new(
    session: Session,
    source: Source,
    origin: Origin,
    fields: ArticleFields,
    digest: str,
    now: datetime,
) -> Imported:
    tombstone = decisions.tombstone_of(session, origin.kind, origin.source_id)
    if tombstone is not None:
        if tombstone.source_hash != digest:
            decisions.record_conflict(
                session, None, origin.kind, origin.source_id, origin.path, fields, digest, now
            )
            return Imported(source.path, Action.CONFLICT, fields.slug, "", source.warnings)
        return Imported(source.path, Action.DELETED, fields.slug, "", source.warnings)
    article = Article(source=origin.kind, source_id=origin.source_id, created_at=now)
    session.add(article)
    apply(article, fields, digest, now, source.path)
    article.source_hash = digest
    _follow(article, origin, source, fields.date)
    session.flush()
    return _imported(source, Action.CREATED, article)


def _follow(article: Article, origin: Origin, source: Source, date: datetime | None) -> None:
    """The article's source id, path and fingerprint follow the source as it is now."""
    article.source_id = origin.source_id
    article.source_path = origin.path
    article.fingerprint = identity.fingerprint(source.title, date)


def _imported(source: Source, action: Action, article: Article) -> Imported:
    return Imported(source.path, action, article.slug, article.uid, source.warnings)


def _fields(
    session: Session, settings: Settings, source: Source, article: Article | None
) -> tuple[ArticleFields, str]:
    """The fields to store (with the article's slug) and the hash of the source's version.

    The hash is taken with the slug the source asks for, not the one it was given (a
    `-2` when the wanted one is taken), so that it describes the source alone."""
    wanted = make_slug(source.meta.slug or source.title)
    fields = build_fields(source, wanted, settings)
    digest = fields.content_hash()
    slug = choose_slug(session, wanted, article)
    if slug != wanted:
        fields = build_fields(source, slug, settings)
    return fields, digest


def save_edit(
    session: Session, settings: Settings, source: Source, article: Article, now: datetime
) -> Imported:
    """An editor's new version of a stored article (admin form, API update)."""
    wanted = make_slug(source.meta.slug or source.title)
    fields = build_fields(source, choose_slug(session, wanted, article), settings)
    old_slug = article.slug
    apply(article, fields, fields.content_hash(), now, source.path)
    decisions.mark_edited(article, now)
    session.flush()
    record_slug_change(session, article, old_slug)
    return _imported(source, Action.UPDATED, article)


def apply(
    article: Article,
    fields: ArticleFields,
    digest: str,
    now: datetime,
    path: Path,
    *,
    keep_published_at: bool = False,
) -> None:
    """Write `fields` to the article; IngestError for `path` (nothing written) when the
    source schedules it in the past."""
    status = publication_status(fields, article, now, path)
    published_at = _published_at(article, fields, status, now, keep_published_at)
    article.slug = fields.slug
    article.title = fields.title
    article.summary = fields.summary
    article.body_html = fields.body_html
    article.body_text = fields.body_text
    article.author = fields.author
    article.section = fields.section
    article.tags = list(fields.tags)
    article.image = fields.image
    article.image_alt = fields.image_alt
    article.image_caption = fields.image_caption
    article.canonical_url = fields.canonical_url
    article.send_to = list(fields.send_to) or None
    article.published_at = published_at
    article.status = status
    article.content_hash = digest
    article.updated_at = now


def publication_status(
    fields: ArticleFields, article: Article | None, now: datetime, path: Path
) -> ArticleStatus:
    """What the source's status and date mean at `now` (see the module docstring)."""
    wanted, date = fields.status, fields.date
    if wanted is ArticleStatus.DRAFT:
        return wanted
    if date is not None and date > now:
        return ArticleStatus.SCHEDULED
    if wanted is not ArticleStatus.SCHEDULED:
        return wanted
    if date is None:
        raise IngestError(
            path, "front matter: status: scheduled needs a `date:` (when to publish it)"
        )
    went_out = article is not None and article.published_at == date
    if went_out and article is not None and article.status is not ArticleStatus.DRAFT:
        return ArticleStatus.PUBLISHED
    raise IngestError(
        path,
        f"front matter: date: {date.isoformat()} is in the past, so it cannot be scheduled "
        "(give a later date, or set status: published)",
    )


def _published_at(
    article: Article,
    fields: ArticleFields,
    status: ArticleStatus,
    now: datetime,
    keep: bool,
) -> datetime | None:
    """The source's date if it gives one; else first publication time, kept forever."""
    if keep and article.published_at is not None:
        return article.published_at
    if fields.date is not None:
        return fields.date
    if status is ArticleStatus.DRAFT:
        return article.published_at
    return article.published_at or now
