"""`dispatch subscribers export`: a list's people as CSV, streamed from the store.

Columns: email, name, status, subscribed_at, `tags` (`;`-separated; only when somebody
exported carries a tag), then every attribute key found among the exported people, in
order of first appearance. The file imports back as it is: the
import reads `status` (skipping `unsubscribed` rows) and ignores `subscribed_at`.

Cells a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+SUM`, `@cmd`, `-2+3`)
get a leading `'` (`csv_safe`), unless `raw`; the import takes the quote off again.
The CSV comes out in pieces (`CsvExport.chunks`) for a response to stream.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.orm import Session

from dispatch.lists import get_list
from dispatch.store.models import Subscriber, SubscriberTag, Subscription, SubscriptionStatus
from dispatch.subscribers.csv_safe import safe_row

STATUSES = ("confirmed", "pending", "unsubscribed", "all")
FIXED = ["email", "name", "status", "subscribed_at"]
YIELD_PER = 2000


Progress = Callable[[int, int], None]  # (people written, people to write)
CHUNK = 64 * 1024  # characters per piece handed to a writer or a response


@dataclass
class CsvExport:
    """One list's CSV, produced piece by piece; `count` is the people written so far."""

    session: Session
    list_slug: str
    status: str = "all"
    raw: bool = False
    on_progress: Progress | None = None
    count: int = 0

    def chunks(self) -> Iterator[str]:
        query = _query(get_list(self.session, self.list_slug).id, self.status)
        keys = _attribute_keys(self.session, query)
        tagged = _any_tags(self.session, query)
        total = _count(self.session, query) if self.on_progress is not None else 0
        if tagged:
            query = query.add_columns(_tags_column())
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
        writer.writerow(self._row([*FIXED, *(["tags"] if tagged else []), *keys]))
        rows = _stream(self.session, query)
        with closing(rows):
            for row in rows:
                email, name, state, subscribed_at, attributes = row[:5]
                tags = [";".join(sorted((row[5] or "").split(";"))).strip(";")] if tagged else []
                values = [_cell((attributes or {}).get(key)) for key in keys]
                cells = [email, name, state.value, subscribed_at.isoformat(), *tags, *values]
                writer.writerow(self._row(cells))
                self.count += 1
                if self.on_progress is not None and self.count % YIELD_PER == 0:
                    self.on_progress(self.count, total)
                if buffer.tell() >= CHUNK:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        if self.on_progress is not None:
            self.on_progress(self.count, max(self.count, total))
        yield buffer.getvalue()

    def _row(self, cells: list[str]) -> list[str]:
        return cells if self.raw else safe_row(cells)


def export_subscribers(
    session: Session,
    list_slug: str,
    out: IO[str],
    status: str = "all",
    on_progress: Progress | None = None,
    *,
    raw: bool = False,
) -> int:
    """Write the CSV to `out`; returns the number of people written."""
    export = CsvExport(session, list_slug, status, raw, on_progress)
    for chunk in export.chunks():
        out.write(chunk)
    return export.count


def export_to_file(
    session: Session,
    list_slug: str,
    path: Path,
    status: str = "all",
    on_progress: Progress | None = None,
    *,
    raw: bool = False,
) -> int:
    """Write the CSV to `path` atomically (a temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as out:
            count = export_subscribers(session, list_slug, out, status, on_progress, raw=raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def _query(list_id: int, status: str) -> Select[Any]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = (
        select(
            Subscriber.email,
            Subscriber.name,
            Subscription.status,
            Subscription.created_at,
            Subscriber.attributes,
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == list_id)
        .order_by(Subscriber.id)
    )
    if status != "all":
        query = query.where(Subscription.status == SubscriptionStatus(status))
    return query


def _attribute_keys(session: Session, query: Select[Any]) -> list[str]:
    keys: dict[str, None] = {}
    attributes_only = query.with_only_columns(Subscriber.attributes)
    for (attributes,) in _stream(session, attributes_only):
        keys.update(dict.fromkeys(attributes or {}))
    return [key for key in keys if key not in (*FIXED, "tags")]


def _count(session: Session, query: Select[Any]) -> int:
    counted = query.order_by(None).with_only_columns(func.count(), maintain_column_froms=True)
    return int(session.scalar(counted) or 0)


def _stream(session: Session, query: Select[Any]) -> Iterator[Any]:
    result = session.execute(query.execution_options(yield_per=YIELD_PER))
    try:
        yield from result
    finally:
        result.close()  # a download stopped midway: PostgreSQL's server cursor goes now


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _tags_column() -> ScalarSelect[Any]:
    """The person's tags joined by `;` (string_agg / group_concat)."""
    return (
        select(func.aggregate_strings(SubscriberTag.tag, ";"))
        .where(SubscriberTag.subscriber_id == Subscriber.id)
        .scalar_subquery()
    )


def _any_tags(session: Session, query: Select[Any]) -> bool:
    people = query.with_only_columns(Subscriber.id).order_by(None).subquery()
    found = select(SubscriberTag.subscriber_id).where(
        SubscriberTag.subscriber_id.in_(select(people.c.id))
    )
    return session.scalar(found.limit(1)) is not None
