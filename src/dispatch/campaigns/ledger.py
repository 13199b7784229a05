"""Reads and writes of the `deliveries` ledger for the runner.

`claim` takes the next due pending rows (by id), skips those who left the list or were
suppressed since freezing (status `skipped`, reason in `last_error`), and marks the rest
`sending`. `record` writes a group of results in one short transaction. `recover` turns
rows a crash left in `sending` back into `pending` and counts them as in doubt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.store.models import (
    Campaign,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

D = Delivery.__table__.c
UPDATE_ROW = (
    update(Delivery.__table__)
    .where(D.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        provider_message_id=bindparam("b_pmid"),
        sent_at=bindparam("b_sent_at"),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_updated"),
    )
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """One ledger row handed to the sender, with the subscriber's personal values."""

    id: int
    subscriber_id: int | None
    email: str
    name: str
    attributes: dict[str, Any]
    attempts: int


def claim(
    session: Session, campaign: Campaign, limit: int, now: datetime
) -> tuple[list[Claimed], int]:
    """(rows now `sending`, how many were skipped) — the caller commits."""
    rows = session.execute(_due(campaign, limit, now)).all()
    batch: list[Claimed] = []
    skipped: dict[str, list[int]] = {}
    for row in rows:
        reason = _skip_reason(row)
        if reason:
            skipped.setdefault(reason, []).append(row.id)
        else:
            name, attributes = row.name or "", row.attrs or {}
            batch.append(
                Claimed(row.id, row.subscriber_id, row.email, name, attributes, row.attempts)
            )
    for reason, ids in skipped.items():
        _set_status(session, ids, DeliveryStatus.SKIPPED, now, error=reason)
    _set_status(session, [c.id for c in batch], DeliveryStatus.SENDING, now)
    return batch, sum(len(ids) for ids in skipped.values())


def _due(campaign: Campaign, limit: int, now: datetime):  # type: ignore[no-untyped-def]
    on_list = and_(
        Subscription.subscriber_id == D.subscriber_id, Subscription.list_id == campaign.list_id
    )
    return (
        select(
            D.id,
            D.subscriber_id,
            D.email,
            D.attempts,
            Subscriber.name,
            Subscriber.attributes.label("attrs"),
            Subscription.status.label("membership"),
            Suppression.email.label("suppressed"),
        )
        .select_from(Delivery.__table__)
        .outerjoin(Subscriber, Subscriber.id == D.subscriber_id)
        .outerjoin(Subscription, on_list)
        .outerjoin(Suppression, Suppression.email == D.email)
        .where(
            D.campaign_id == campaign.id,
            D.status == DeliveryStatus.PENDING,
            or_(D.next_attempt_at.is_(None), D.next_attempt_at <= now),
        )
        .order_by(D.id)
        .limit(limit)
    )


def _skip_reason(row: Any) -> str | None:
    if row.suppressed is not None:
        return "suppressed"
    if row.subscriber_id is not None and row.membership != SubscriptionStatus.CONFIRMED:
        return "unsubscribed"
    return None


def _set_status(
    session: Session,
    ids: list[int],
    status: DeliveryStatus,
    now: datetime,
    error: str | None = None,
) -> None:
    if ids:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if error is not None:
            values["last_error"] = error
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(**values))


def record(session: Session, rows: list[dict[str, Any]], suppress: Iterable[str]) -> None:
    """Write result rows (`outcomes.row_values`) and new suppressions; the caller commits."""
    if rows:
        session.execute(UPDATE_ROW, rows)
    add_suppressions(session, suppress, "bounce")


def add_suppressions(session: Session, emails: Iterable[str], reason: str) -> None:
    values = [{"email": email, "reason": reason} for email in dict.fromkeys(emails)]
    if not values:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(Suppression).on_conflict_do_nothing(index_elements=["email"])
    session.execute(statement, values)


def recover(session: Session, campaign_id: int, now: datetime) -> int:
    """Rows a dead runner left in `sending` → `pending`; returns how many (in doubt)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.PENDING, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def skip_remaining(session: Session, campaign_id: int, reason: str, now: datetime) -> int:
    """Every pending row → `skipped` with `reason` (cancel)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, last_error=reason, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def waiting(session: Session, campaign_id: int, now: datetime) -> tuple[int, datetime | None]:
    """(pending rows left, when the next one is due: `now` if one is due already)."""
    pending = (D.campaign_id == campaign_id, D.status == DeliveryStatus.PENDING)
    count, first, undated = session.execute(
        select(
            func.count(),
            func.min(D.next_attempt_at),
            func.sum(case((D.next_attempt_at.is_(None), 1), else_=0)),
        ).where(*pending)
    ).one()
    if not count:
        return 0, None
    return int(count), now if undated or first is None or first <= now else first
