"""`dispatch subscribers export`: a list's people as CSV, streamed from the store.

Columns: email, name, status, subscribed_at, then every attribute key found among the
exported people, in order of first appearance. The file imports back as it is: the
import reads `status` (skipping `unsubscribed` rows) and ignores `subscribed_at`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dispatch.lists import get_list
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus

STATUSES = ("confirmed", "pending", "unsubscribed", "all")
FIXED = ["email", "name", "status", "subscribed_at"]
YIELD_PER = 2000


Progress = Callable[[int, int], None]  # (people written, people to write)


def export_subscribers(
    session: Session,
    list_slug: str,
    out: IO[str],
    status: str = "all",
    on_progress: Progress | None = None,
) -> int:
    """Write the CSV to `out`; returns the number of people written."""
    query = _query(get_list(session, list_slug).id, status)
    keys = _attribute_keys(session, query)
    total = _count(session, query) if on_progress is not None else 0
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIXED, *keys])
    count = 0
    for row in _stream(session, query):
        email, name, state, subscribed_at, attributes = row
        values = [_cell((attributes or {}).get(key)) for key in keys]
        writer.writerow([email, name, state.value, subscribed_at.isoformat(), *values])
        count += 1
        if on_progress is not None and count % YIELD_PER == 0:
            on_progress(count, total)
    if on_progress is not None:
        on_progress(count, max(count, total))
    return count


def export_to_file(
    session: Session,
    list_slug: str,
    path: Path,
    status: str = "all",
    on_progress: Progress | None = None,
) -> int:
    """Write the CSV to `path` atomically (a temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as out:
            count = export_subscribers(session, list_slug, out, status, on_progress)
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
    return [key for key in keys if key not in FIXED]


def _count(session: Session, query: Select[Any]) -> int:
    counted = query.order_by(None).with_only_columns(func.count(), maintain_column_froms=True)
    return int(session.scalar(counted) or 0)


def _stream(session: Session, query: Select[Any]) -> Iterator[Any]:
    result = session.execute(query.execution_options(yield_per=YIELD_PER))
    yield from result


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
