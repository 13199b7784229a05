"""Who may send which ledger rows: claims with an owner and an expiry.

A runner (an inline run, a Celery batch task) claims the next due pending rows of a
campaign: they become `sending` with `claimed_by` = the runner and `claim_expires_at`, and
the runner renews its claims while it lives. Just before a message is handed to the
provider, `handover` commits `handed_at` — refused when the campaign is no longer sending
(paused, cancelled) or the claim was taken over. Any number of runners can share a
campaign: `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL keeps their claims apart
(SQLite has one writer at a time).

Recovery touches only claims that expired (or whose runner, on this host, is a process
that is gone), never those of a live runner: a row that was handed over has an unknown
outcome, so it goes back to pending counted in `doubts` (the only possible duplicates);
a row that never was goes back to pending as if untouched.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from dispatch.store.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

D = Delivery.__table__.c
UNCLAIMED = {"claimed_by": None, "claim_expires_at": None, "handed_at": None}
UNKNOWN_AFTER_STOP = "outcome unknown: its runner stopped after handing it over (in doubt)"


@dataclass(frozen=True, slots=True)
class Claimed:
    """One ledger row claimed for sending, with the subscriber's personal values."""

    id: int
    subscriber_id: int | None
    email: str
    name: str
    attributes: dict[str, Any]
    attempts: int
    token_key: str | None = None  # the subscriber's link key (None: no subscriber)


def claim(
    session: Session, campaign: Campaign, owner: str, limit: int, now: datetime, ttl: timedelta
) -> tuple[list[Claimed], int]:
    """(rows now claimed by `owner`, how many were skipped as unsubscribed or suppressed);
    the caller commits."""
    query = _due(campaign, limit, now)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Delivery.__table__)
    batch: list[Claimed] = []
    skipped: dict[str, list[int]] = {}
    for row in session.execute(query).all():
        reason = _skip_reason(row)
        if reason:
            skipped.setdefault(reason, []).append(row.id)
        else:
            attributes = row.attrs or {}
            batch.append(
                Claimed(
                    row.id,
                    row.subscriber_id,
                    row.email,
                    row.name or "",
                    attributes,
                    row.attempts,
                    row.token_key,
                )
            )
    for reason, ids in skipped.items():
        _set(session, ids, status=DeliveryStatus.SKIPPED, last_error=reason, updated_at=now)
    ids = [c.id for c in batch]
    expires = now + ttl
    _set(session, ids, status=DeliveryStatus.SENDING, claimed_by=owner, claim_expires_at=expires)
    return batch, sum(len(ids) for ids in skipped.values())


def expire_dead_owners(session: Session, campaign_id: int, now: datetime) -> int:
    """Claims whose owner was a process on this host that no longer runs (killed) expire
    now rather than at `claim_expires_at`: a resume right after a crash carries on at once.
    Owners on other hosts are judged by their expiry alone. How many rows."""
    owners = session.scalars(
        select(D.claimed_by)
        .where(D.campaign_id == campaign_id, D.status == DeliveryStatus.SENDING)
        .distinct()
    ).all()
    dead = [owner for owner in owners if owner and not owner_alive(owner)]
    if not dead:
        return 0
    result = session.execute(
        update(Delivery.__table__)
        .where(D.campaign_id == campaign_id, D.claimed_by.in_(dead))
        .values(claim_expires_at=now - timedelta(microseconds=1))
    )
    return int(result.rowcount or 0)


def owner_alive(owner: str) -> bool:
    """Whether the process named by a claim owner ("host:pid:nonce") may still run: True
    for another host (its expiry decides), False for a gone or zombie pid on this one."""
    host_pid, _, _nonce = owner.rpartition(":")
    host, _, pid = host_pid.rpartition(":")
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def recover_expired(session: Session, campaign_id: int, now: datetime) -> tuple[int, int]:
    """Expired claims → pending: (rows recovered, of which in doubt); the caller commits."""
    expire_dead_owners(session, campaign_id, now)
    stale = (
        D.campaign_id == campaign_id,
        D.status == DeliveryStatus.SENDING,
        or_(D.claim_expires_at.is_(None), D.claim_expires_at < now),
    )
    doubtful = session.execute(
        update(Delivery.__table__)
        .where(*stale, D.handed_at.is_not(None))
        .values(
            status=DeliveryStatus.PENDING,
            doubts=D.doubts + 1,
            last_error=UNKNOWN_AFTER_STOP,
            updated_at=now,
            **UNCLAIMED,
        )
    ).rowcount
    untouched = session.execute(
        update(Delivery.__table__)
        .where(*stale, D.handed_at.is_(None))
        .values(status=DeliveryStatus.PENDING, updated_at=now, **UNCLAIMED)
    ).rowcount
    return int(doubtful or 0) + int(untouched or 0), int(doubtful or 0)


def renew(session: Session, owner: str, now: datetime, ttl: timedelta) -> int:
    """Push back the expiry of every claim `owner` holds; how many it holds."""
    result = session.execute(
        update(Delivery.__table__)
        .where(D.claimed_by == owner, D.status == DeliveryStatus.SENDING)
        .values(claim_expires_at=now + ttl)
    )
    return int(result.rowcount or 0)


def release(session: Session, campaign_id: int, owner: str, ids: list[int], now: datetime) -> int:
    """Claimed rows that were not handed over (or were refused as a whole) → pending again,
    or `cancelled` when the campaign was cancelled meanwhile; how many."""
    if not ids:
        return 0
    status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    values: dict[str, Any] = {"status": DeliveryStatus.PENDING, "updated_at": now, **UNCLAIMED}
    if status == CampaignStatus.CANCELLED:
        values.update(status=DeliveryStatus.CANCELLED, last_error="cancelled")
    result = session.execute(
        update(Delivery.__table__)
        .where(D.id.in_(ids), D.claimed_by == owner, D.status == DeliveryStatus.SENDING)
        .values(**values)
    )
    return int(result.rowcount or 0)


def live_claims(session: Session, campaign_id: int, now: datetime) -> int:
    """Rows a live runner holds (claimed, not expired)."""
    return int(
        session.scalar(
            select(func.count()).where(
                D.campaign_id == campaign_id,
                D.status == DeliveryStatus.SENDING,
                D.claim_expires_at >= now,
            )
        )
        or 0
    )


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
            Subscriber.token_key,
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


def _set(session: Session, ids: list[int], **values: Any) -> None:
    if ids:
        session.execute(update(Delivery.__table__).where(D.id.in_(ids)).values(**values))
