"""What bounced and who complained, for people and for campaigns: the events kept by
the policy, read back for `dispatch subscribers show`, `dispatch campaigns show` and the
admin pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.events.types import EventType
from dispatch.store.models import Campaign, Delivery, DeliveryStatus, Event
from dispatch.subscribers.addresses import stored_form

SHOWN = (
    EventType.BOUNCED,
    EventType.SOFT_BOUNCED,
    EventType.COMPLAINED,
    EventType.DEFERRED,
    EventType.REJECTED,
    EventType.UNSUBSCRIBED,
)
KINDS = [kind.value for kind in SHOWN]
LIMIT = 50


@dataclass(frozen=True)
class Feedback:
    """One bounce, complaint or similar event, as people read it."""

    email: str
    kind: str
    when: datetime
    campaign_id: int | None
    campaign_subject: str | None
    provider: str
    detail: str | None


@dataclass(frozen=True)
class CampaignFeedback:
    bounced: int  # deliveries marked bounced (hard or soft)
    complained: int  # complaint events


def for_addresses(session: Session, emails: Sequence[str], limit: int = LIMIT) -> list[Feedback]:
    """The newest events about these addresses, by subscriber or by address."""
    if not emails:
        return []
    forms = sorted({stored_form(email) or email for email in emails})
    query = (
        select(Event, Campaign.subject)
        .outerjoin(Campaign, Campaign.id == Event.campaign_id)
        .where(Event.type.in_(KINDS), Event.email.in_(forms))
        .order_by(func.coalesce(Event.occurred_at, Event.created_at).desc(), Event.id.desc())
        .limit(limit)
    )
    return [_feedback(event, subject) for event, subject in session.execute(query)]


def for_subscriber(session: Session, subscriber_id: int, email: str) -> list[Feedback]:
    query = (
        select(Event, Campaign.subject)
        .outerjoin(Campaign, Campaign.id == Event.campaign_id)
        .where(
            Event.type.in_(KINDS),
            or_(Event.subscriber_id == subscriber_id, Event.email == email),
        )
        .order_by(func.coalesce(Event.occurred_at, Event.created_at).desc(), Event.id.desc())
        .limit(LIMIT)
    )
    return [_feedback(event, subject) for event, subject in session.execute(query)]


def campaign_feedback(session: Session, campaign_id: int) -> CampaignFeedback:
    bounced = session.scalar(
        select(func.count()).where(
            Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.BOUNCED
        )
    )
    complained = session.scalar(
        select(func.count()).where(
            Event.campaign_id == campaign_id, Event.type == EventType.COMPLAINED.value
        )
    )
    return CampaignFeedback(int(bounced or 0), int(complained or 0))


def _feedback(event: Event, subject: str | None) -> Feedback:
    return Feedback(
        email=event.email or "",
        kind=event.type.replace("_", " "),
        when=event.occurred_at or event.created_at,
        campaign_id=event.campaign_id,
        campaign_subject=subject,
        provider=event.provider,
        detail=event.detail,
    )
