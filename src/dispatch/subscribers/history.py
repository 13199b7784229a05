"""One subscriber's history for the admin: subscriptions (list, status, dates, and the
earlier confirmations and unsubscribes those dates replaced), the mails
the ledger says they were sent (with each delivery's status), their suppression and the
suppressions lifted before. Bounces and complaints are `events.history.for_subscriber`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
from dispatch.store.models import (
    Campaign,
    Delivery,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStamp,
    Suppression,
    SuppressionLift,
)
from dispatch.subscribers.unsuppress import is_complaint, lifts_of

MAILS_SHOWN = 200


@dataclass(frozen=True)
class Membership:
    list_slug: str
    list_name: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    # Earlier confirmations and unsubscribes the row's times replaced, oldest first:
    # ("subscribed" | "unsubscribed", when) — a reader who left and came back.
    earlier: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True)
class Received:
    campaign_id: int
    subject: str
    list_slug: str
    kind: str
    status: str
    sent_at: datetime | None
    updated_at: datetime
    attempts: int
    error: str | None


@dataclass(frozen=True)
class Suppressed:
    reason: str
    since: datetime
    complaint: bool


@dataclass(frozen=True)
class History:
    id: int
    email: str
    name: str
    created_at: datetime
    attributes: dict[str, Any]
    memberships: list[Membership]
    mails: list[Received]
    suppressed: Suppressed | None
    lifts: list[SuppressionLift]


def subscriber_history(session: Session, subscriber_id: int) -> History:
    person = session.get(Subscriber, subscriber_id)
    if person is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    suppression = session.get(Suppression, person.email)
    suppressed = None
    if suppression is not None:
        complaint = is_complaint(session, suppression)
        suppressed = Suppressed(suppression.reason, suppression.created_at, complaint)
    lifts = lifts_of(session, person.email)
    for lift in lifts:
        session.expunge(lift)
    return History(
        person.id,
        person.email,
        person.name,
        person.created_at,
        dict(person.attributes or {}),
        _memberships(session, person.id),
        _mails(session, person.id),
        suppressed,
        lifts,
    )


def _memberships(session: Session, subscriber_id: int) -> list[Membership]:
    rows = session.execute(
        select(Subscription, MailingList.slug, MailingList.name)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(Subscription.subscriber_id == subscriber_id)
        .order_by(MailingList.slug)
    )
    earlier: dict[int, list[tuple[str, datetime]]] = {}
    stamps = session.execute(
        select(SubscriptionStamp.list_id, SubscriptionStamp.kind, SubscriptionStamp.at)
        .where(SubscriptionStamp.subscriber_id == subscriber_id)
        .order_by(SubscriptionStamp.at, SubscriptionStamp.id)
    )
    for list_id, kind, at in stamps:
        earlier.setdefault(list_id, []).append((kind, at))
    return [
        Membership(
            slug,
            name,
            str(sub.status),
            sub.created_at,
            sub.confirmed_at,
            sub.unsubscribed_at,
            tuple(earlier.get(sub.list_id, ())),
        )
        for sub, slug, name in rows
    ]


def _mails(session: Session, subscriber_id: int) -> list[Received]:
    rows = session.execute(
        select(Delivery, Campaign.subject, Campaign.kind, MailingList.slug)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .join(MailingList, MailingList.id == Campaign.list_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(MAILS_SHOWN)
    )
    return [
        Received(
            row.campaign_id,
            subject,
            slug,
            str(kind),
            str(row.status),
            row.sent_at,
            row.updated_at,
            row.attempts,
            row.last_error,
        )
        for row, subject, kind, slug in rows
    ]
