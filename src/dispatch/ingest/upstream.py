"""Upstream RSS/Atom feeds → articles: "blog feed in, email digest out" with no manual step.

`poll_all(db, settings)` is what the scheduler job calls: every enabled feed in
`[[upstream.sources]]` that is due is fetched (conditional GET), and its new or edited
entries become articles of the feed's section (source "upstream", source_id
"<feed key>:<guid or link>"). An edited entry updates its article: same uid, same
published_at, a new updated_at. Each feed is one transaction; a feed that fails (or
breaks in a way nobody foresaw) is recorded and backed off, and never stops the others.
One log line per poll: `upstream polled source=… status=… new=… updated=…`.

How answers move a feed's state is in `upstream_state`; fetching in `upstream_fetch`;
reading entries in `upstream_entries`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.config import Settings, UpstreamSourceSettings
from dispatch.errors import IngestError, NotFound, UpstreamError
from dispatch.ingest.importer import Action, Clock, Origin, Sessions, upsert
from dispatch.ingest.text import html_to_text
from dispatch.ingest.upstream_entries import FeedEntry, as_source
from dispatch.ingest.upstream_fetch import Fetched, fetch, http_client
from dispatch.ingest.upstream_read import read_feed
from dispatch.ingest.upstream_report import Outcome, PollReport, PollResult
from dispatch.ingest.upstream_state import (
    ensure_row,
    is_due,
    mark_failed,
    mark_polled,
    mark_retired,
    validators,
)
from dispatch.store.models import Article, UpstreamSource, UpstreamStatus
from dispatch.store.types import utcnow

__all__ = ["Outcome", "PollReport", "PollResult", "find_source", "poll_all", "poll_source"]

UPSTREAM_SOURCE = "upstream"
log = logging.getLogger(__name__)


def poll_all(
    db: Sessions,
    settings: Settings,
    client: httpx.Client | None = None,
    now: Clock = utcnow,
    *,
    due_only: bool = True,
) -> PollReport:
    """Poll the enabled feeds that are due (all active ones with `due_only=False`)."""
    enabled = [source for source in settings.upstream.sources if source.enabled]
    wanted = is_due if due_only else _is_active
    with db.session() as session:  # rows are created, or reset after a URL change, first
        moment = now()
        chosen = [source for source in enabled if wanted(ensure_row(session, source), moment)]
    report = PollReport()
    with http_client(settings.site.base_url, settings.upstream.timeout, client) as http:
        for source in chosen:
            report.results.append(_guarded_poll(db, settings, source, http, now()))
    return report


def poll_source(
    db: Sessions,
    settings: Settings,
    source: UpstreamSourceSettings,
    client: httpx.Client | None = None,
    now: Clock = utcnow,
) -> PollResult:
    """Poll one feed now, due or not, retired or not (a 200 makes it active again)."""
    with http_client(settings.site.base_url, settings.upstream.timeout, client) as http:
        return _guarded_poll(db, settings, source, http, now())


def find_source(settings: Settings, name_or_url: str) -> UpstreamSourceSettings:
    """The configured feed with this name or URL (as configured)."""
    for source in settings.upstream.sources:
        if name_or_url in (source.key, source.url):
            return source
    known = ", ".join(source.key for source in settings.upstream.sources) or "none configured"
    raise NotFound(f'no upstream feed "{name_or_url}" in [[upstream.sources]] (known: {known})')


def _is_active(row: UpstreamSource | None, moment: datetime) -> bool:
    return row is None or row.status is not UpstreamStatus.RETIRED


def _guarded_poll(
    db: Sessions,
    settings: Settings,
    source: UpstreamSourceSettings,
    http: httpx.Client,
    moment: datetime,
) -> PollResult:
    """`_poll`, with failures of any kind turned into a logged, recorded FAILED result."""
    try:
        result = _poll(db, settings, source, http, moment)
    except Exception as exc:  # one odd feed must never stop the others
        log.exception("upstream poll of %s broke unexpectedly", source.key)
        result = _fail(db, settings, source, source.url, f"unexpected error: {exc!r}", moment)
    level = logging.INFO if result.ok else logging.WARNING
    log.log(level, "upstream polled %s", result.line())
    return result


def _poll(
    db: Sessions,
    settings: Settings,
    source: UpstreamSourceSettings,
    http: httpx.Client,
    moment: datetime,
) -> PollResult:
    with db.session() as session:
        row = ensure_row(session, source)
        url, conditions = row.url, validators(row)
    try:
        fetched = fetch(http, url, conditions, settings.upstream.timeout)
    except UpstreamError as exc:
        return _fail(db, settings, source, url, exc.reason, moment)
    try:
        return _record(db, settings, source, url, fetched, moment)
    except UpstreamError as exc:
        return _fail(db, settings, source, url, exc.reason, moment, fetched)
    except SQLAlchemyError as exc:
        reason = f"not saved, database error: {getattr(exc, 'orig', None) or exc}"
        return _fail(db, settings, source, url, reason.splitlines()[0], moment, fetched)


def _record(
    db: Sessions,
    settings: Settings,
    source: UpstreamSourceSettings,
    url: str,
    fetched: Fetched,
    moment: datetime,
) -> PollResult:
    """Apply one answer in one transaction: the entries and the feed's new state."""
    feed = read_feed(fetched.body, fetched.content_type, fetched.url) if _ok(fetched) else None
    result = PollResult(source.key, url, Outcome.FETCHED, fetched.status, moved_to=fetched.moved_to)
    with db.session() as session:
        row = ensure_row(session, source)
        if feed is not None:
            counts = import_entries(
                session, settings, source, feed.entries, moment, shorten=not feed.degraded
            )
            mark_polled(row, fetched, moment, settings.upstream, degraded=feed.degraded)
            return _with(_counted(result, counts), degraded=feed.degraded)
        if fetched.status == 304:
            mark_polled(row, fetched, moment, settings.upstream)
            return _with(result, outcome=Outcome.NOT_MODIFIED)
        if fetched.status == 410:
            mark_retired(row, fetched, moment)
            return _with(result, outcome=Outcome.RETIRED)
        reason = f"{fetched.url} answered HTTP {fetched.status}"
        mark_failed(row, reason, moment, settings.upstream, fetched)
        return _with(result, outcome=Outcome.FAILED, error=reason)


def import_entries(
    session: Session,
    settings: Settings,
    source: UpstreamSourceSettings,
    entries: list[FeedEntry],
    now: datetime,
    *,
    shorten: bool = True,
) -> Counter[Action | str]:
    """Create or update one article per entry; an article keeps its first published_at,
    an undated one is dated when first seen, and one dated ahead of the clock is dated
    now (a feed cannot schedule here). Without `shorten` (a malformed feed), an entry
    whose text is shorter than its article's is not applied ("kept")."""
    counts: Counter[Action | str] = Counter()
    claimed: set[int] = set()  # an article is one entry's, even when two share a link
    for entry in entries:
        source_id = f"{source.key}:{entry.ident}"
        if not shorten and _would_shorten(session, source_id, entry):
            log.warning(
                "upstream %s: entry %s kept: the malformed feed has less of it than we do",
                source.key,
                entry.ident,
            )
            counts["kept"] += 1
            continue
        date = min(entry.date, now) if entry.date is not None else None
        origin = Origin(UPSTREAM_SOURCE, source_id, entry.link, keep_published_at=True)
        try:
            item = as_source(entry, source.section, date)
            imported = upsert(session, settings, item, origin, now, claimed)
        except (IngestError, ValueError) as exc:
            log.warning("upstream %s: entry %s skipped: %s", source.key, entry.ident, exc)
            counts["skipped"] += 1
            continue
        counts[imported.action] += 1
    return counts


def _would_shorten(session: Session, source_id: str, entry: FeedEntry) -> bool:
    stored = session.scalar(
        select(Article.body_text).where(
            Article.source == UPSTREAM_SOURCE, Article.source_id == source_id
        )
    )
    return stored is not None and len(html_to_text(entry.html)) < len(stored)


def _ok(fetched: Fetched) -> bool:
    return fetched.status == 200


def _counted(result: PollResult, counts: Counter[Action | str]) -> PollResult:
    return _with(
        result,
        new=counts[Action.CREATED],
        updated=counts[Action.UPDATED],
        unchanged=counts[Action.UNCHANGED],
        skipped=counts["skipped"],
        kept=counts["kept"],
    )


def _with(result: PollResult, **changes: Any) -> PollResult:
    return replace(result, **changes)


def _fail(
    db: Sessions,
    settings: Settings,
    source: UpstreamSourceSettings,
    url: str,
    reason: str,
    moment: datetime,
    fetched: Fetched | None = None,
) -> PollResult:
    """Record a failure and its back-off in a transaction of its own, if the store allows."""
    try:
        with db.session() as session:
            mark_failed(ensure_row(session, source), reason, moment, settings.upstream, fetched)
    except SQLAlchemyError as exc:
        log.warning("upstream %s: failure not recorded, database error: %s", source.key, exc)
    status = fetched.status if fetched is not None else None
    moved_to = fetched.moved_to if fetched is not None else None
    return PollResult(source.key, url, Outcome.FAILED, status, moved_to=moved_to, error=reason)
