"""Who a campaign goes to, frozen once when sending starts.

Confirmed subscribers of the list (of its segment, when the campaign targets one) minus
suppressed addresses become one `deliveries` row
each, in ONE `INSERT … SELECT` (a million recipients never pass through Python). Anyone
who confirms later is not included; anyone who leaves or is suppressed later is skipped
by the runner just before their batch (see `ledger.claim`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, insert, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from dispatch.segments import compile_segment, parse
from dispatch.store.models import (
    Campaign,
    CampaignKind,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    WelcomeSend,
)
from dispatch.store.types import utcnow

DELIVERIES = Delivery.__table__


def audience(list_id: int, where: ColumnElement[bool] | None = None):  # type: ignore[no-untyped-def]
    """SELECT subscriber id, email of the list's confirmed, unsuppressed subscribers
    (those a segment's condition `where` selects, when given)."""
    suppressed = exists().where(Suppression.email == Subscriber.email)
    query = (
        select(Subscriber.id, Subscriber.email)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.list_id == list_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            ~suppressed,
        )
    )
    return query if where is None else query.where(where)


def count_audience(
    session: Session, list_id: int, segment: str | None = None, now: datetime | None = None
) -> int:
    """How many people a campaign to this list (and `segment` expression) would reach
    if it started now."""
    where = segment_condition(session, segment, now or utcnow()) if segment else None
    query = select(func.count()).select_from(audience(list_id, where).subquery())
    return int(session.scalar(query) or 0)


def count_campaign_audience(session: Session, campaign: Campaign, now: datetime) -> int:
    """How many people this campaign would reach if it started now (1 for a test)."""
    if campaign.test_to:
        return 1
    return count_audience(session, campaign.list_id, campaign.segment_expression, now)


def segment_condition(session: Session, expression: str, now: datetime) -> ColumnElement[bool]:
    """The compiled condition of a segment expression for this session's store."""
    return compile_segment(parse(expression), session.get_bind().dialect.name, now)


def count_pending(session: Session, list_id: int) -> int:
    """Subscribers of the list who have not confirmed yet."""
    query = select(func.count()).where(
        Subscription.list_id == list_id, Subscription.status == SubscriptionStatus.PENDING
    )
    return int(session.scalar(query) or 0)


def freeze_recipients(session: Session, campaign: Campaign, now: datetime) -> int:
    """Insert the campaign's ledger rows (one per recipient); returns how many."""
    if campaign.test_to:
        return _freeze_test(session, campaign, now)
    where = (
        segment_condition(session, campaign.segment_expression, now)
        if campaign.segment_expression
        else None
    )
    people = _people(campaign, where).subquery()
    rows = select(
        literal(campaign.id),
        people.c.id,
        people.c.email,
        literal(DeliveryStatus.PENDING, DELIVERIES.c.status.type),
        literal(0),
        literal(now, DELIVERIES.c.updated_at.type),
    ).order_by(people.c.id)
    columns = ["campaign_id", "subscriber_id", "email", "status", "attempts", "updated_at"]
    session.execute(insert(DELIVERIES).from_select(columns, rows))
    total = session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
    )
    campaign.recipients_total = int(total or 0)
    return campaign.recipients_total


def _people(campaign: Campaign, where: ColumnElement[bool] | None = None):  # type: ignore[no-untyped-def]
    """The list's audience (in the campaign's segment); for a welcome step, those the step
    was given to in this run."""
    people = audience(campaign.list_id, where)
    if campaign.kind == CampaignKind.WELCOME:
        people = people.join(
            WelcomeSend,
            (WelcomeSend.subscriber_id == Subscriber.id) & (WelcomeSend.campaign_id == campaign.id),
        )
    return people


def _freeze_test(session: Session, campaign: Campaign, now: datetime) -> int:
    """A test send: one row for the test address, no subscriber, the list untouched."""
    assert campaign.test_to is not None
    session.add(
        Delivery(
            campaign_id=campaign.id,
            subscriber_id=None,
            email=campaign.test_to,
            status=DeliveryStatus.PENDING,
            attempts=0,
            updated_at=now,
        )
    )
    campaign.recipients_total = 1
    return 1
