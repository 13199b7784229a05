"""The polling state of upstream feeds: rows per configured feed and how answers move them.

- 200 and 304: polled fine; next poll `interval_minutes` later, failures reset. A 200
  whose document was malformed is `degraded`, the parser's message in `last_error`.
- 301/308 at the start of the redirect chain: the stored URL becomes the new one.
- 410: retired; never polled on schedule again (polling it by name still tries).
- anything else (5xx, 4xx, timeouts, unparsable): `failures` grows and the next poll
  waits `interval_minutes * 2**failures`, at most `max_backoff_hours` (a Retry-After
  header can ask for longer, within the same bound).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import UpstreamSettings, UpstreamSourceSettings
from dispatch.ingest.upstream_fetch import Fetched, Validators
from dispatch.store.models import UpstreamSource, UpstreamStatus

MAX_EXPONENT = 20  # 2^20 intervals is far beyond any sensible max_backoff_hours
MAX_RETRY_AFTER = 10**8  # seconds; larger values are capped by max_backoff_hours anyway


def ensure_row(session: Session, source: UpstreamSourceSettings) -> UpstreamSource:
    """The state row of `source`; a URL changed in config.toml starts it afresh."""
    row = session.scalar(select(UpstreamSource).where(UpstreamSource.key == source.key))
    if row is None:
        row = UpstreamSource(
            key=source.key,
            config_url=source.url,
            url=source.url,
            status=UpstreamStatus.ACTIVE,
            failures=0,
        )
        session.add(row)
        session.flush()
    elif row.config_url != source.url:
        row.config_url = row.url = source.url
        row.etag = row.last_modified = row.last_error = None
        row.status = UpstreamStatus.ACTIVE
        row.failures = 0
        row.next_poll_at = None
    return row


def rows_by_key(session: Session, keys: Iterable[str]) -> dict[str, UpstreamSource]:
    rows = session.scalars(select(UpstreamSource).where(UpstreamSource.key.in_(list(keys))))
    return {row.key: row for row in rows}


def is_due(row: UpstreamSource | None, now: datetime) -> bool:
    """Never polled, or active and its time has come."""
    if row is None:
        return True
    if row.status is UpstreamStatus.RETIRED:
        return False
    return row.next_poll_at is None or row.next_poll_at <= now


def validators(row: UpstreamSource) -> Validators:
    return Validators(etag=row.etag, last_modified=row.last_modified)


def mark_polled(
    row: UpstreamSource,
    fetched: Fetched,
    now: datetime,
    settings: UpstreamSettings,
    degraded: str | None = None,
) -> None:
    """A 200 or a 304: keep the validators the answer gave (a 304 may omit them)."""
    _moved(row, fetched)
    if fetched.status != 304 or fetched.validators.etag or fetched.validators.last_modified:
        row.etag = fetched.validators.etag
        row.last_modified = fetched.validators.last_modified
    if fetched.status != 304 or row.status is not UpstreamStatus.DEGRADED:
        # a 304 is the same document: a degraded feed stays degraded until it is fixed
        row.status = UpstreamStatus.DEGRADED if degraded else UpstreamStatus.ACTIVE
        row.last_error = degraded
    row.failures = 0
    row.last_polled_at = now
    row.next_poll_at = now + timedelta(minutes=settings.interval_minutes)


def mark_retired(row: UpstreamSource, fetched: Fetched, now: datetime) -> None:
    _moved(row, fetched)
    row.status = UpstreamStatus.RETIRED
    row.last_error = f"{fetched.url} answered 410 Gone: the feed is retired"
    row.last_polled_at = now
    row.next_poll_at = None


def mark_failed(
    row: UpstreamSource,
    reason: str,
    now: datetime,
    settings: UpstreamSettings,
    fetched: Fetched | None = None,
) -> None:
    """Count the failure and wait longer before the next try."""
    if fetched is not None:
        _moved(row, fetched)
    row.failures += 1
    row.last_error = reason
    row.last_polled_at = now
    wait = backoff(row.failures, settings)
    asked = retry_after(fetched.retry_after, now) if fetched is not None else None
    if asked is not None:
        wait = min(max(wait, asked), timedelta(hours=settings.max_backoff_hours))
    row.next_poll_at = now + wait


def backoff(failures: int, settings: UpstreamSettings) -> timedelta:
    """interval * 2**failures, capped at max_backoff_hours."""
    delay = timedelta(minutes=settings.interval_minutes) * 2 ** min(failures, MAX_EXPONENT)
    return min(delay, timedelta(hours=settings.max_backoff_hours))


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a wait from `now`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def _moved(row: UpstreamSource, fetched: Fetched) -> None:
    if fetched.moved_to is not None:
        row.url = fetched.moved_to
