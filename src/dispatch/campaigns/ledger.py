"""Writes of results to the `deliveries` ledger, and what is left to send.

`record` writes a group of results in one statement (the recorder commits them within
milliseconds of the provider's answer); a result is written only by the runner that
holds the row's claim, so a row taken over after its claim expired belongs to its new
runner. Permanent refusals that say the mailbox does not exist add a suppression.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.store.models import Delivery, DeliveryStatus, Suppression

D = Delivery.__table__.c
UPDATE_ROW = (
    update(Delivery.__table__)
    .where(D.id == bindparam("b_id"), D.claimed_by == bindparam("b_owner"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        provider_message_id=bindparam("b_pmid"),
        sent_at=bindparam("b_sent_at"),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_updated"),
        doubts=D.doubts + bindparam("b_doubt"),
        claimed_by=None,
        claim_expires_at=None,
        handed_at=None,
    )
)


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


def cancel_remaining(session: Session, campaign_id: int, now: datetime) -> int:
    """Every row not yet handed over → `cancelled` (pending ones, and claimed ones whose
    runner will find the campaign cancelled before its next hand-over); how many."""
    not_handed = (D.status == DeliveryStatus.PENDING) | (
        (D.status == DeliveryStatus.SENDING) & D.handed_at.is_(None)
    )
    result = session.execute(
        update(Delivery.__table__)
        .where(D.campaign_id == campaign_id, not_handed)
        .values(
            status=DeliveryStatus.CANCELLED,
            last_error="cancelled",
            updated_at=now,
            claimed_by=None,
            claim_expires_at=None,
        )
    )
    return int(result.rowcount or 0)


def retry_failed(session: Session, campaign_id: int, now: datetime) -> int:
    """Failed rows whose address is not suppressed → pending, due now, with a fresh count
    of attempts; how many. A recipient is re-queued once per call."""
    suppressed = select(Suppression.email).where(Suppression.email == D.email).exists()
    result = session.execute(
        update(Delivery.__table__)
        .where(D.campaign_id == campaign_id, D.status == DeliveryStatus.FAILED, ~suppressed)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)


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
