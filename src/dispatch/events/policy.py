"""The one policy: what each event does to the store, whichever provider reported it.

    hard bounce   suppress the address; the delivery is `bounced` with the diagnostic
    soft bounce   the delivery is `bounced`; the address is suppressed once it has had
                  `soft_limit` soft bounces within `soft_days` ([bounces])
    complaint     unsubscribe from the campaign's list, and suppress
    unsubscribe   unsubscribe from the campaign's list
    suppress      suppress the address (SendGrid's `dropped`)
    record        nothing but the stored event

The address acted on is the matched delivery's when there is one (a VERP bounce names
the delivery, whatever address the report shows), else the one the event names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import InvalidAddress
from dispatch.events.matching import Match, subscriber_id
from dispatch.events.types import Effect, EventType, ProviderEvent
from dispatch.store.models import (
    Campaign,
    DeliveryStatus,
    Event,
    Subscription,
    SubscriptionStamp,
    SubscriptionStatus,
)
from dispatch.subscribers.addresses import stored_form
from dispatch.subscribers.membership import suppress_address

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BounceRules:
    soft_limit: int = 3
    soft_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> BounceRules:
        return cls(settings.bounces.soft_limit, settings.bounces.soft_days)


@dataclass(frozen=True)
class Applied:
    """One event about to take effect, with what it matched."""

    session: Session
    event: ProviderEvent
    match: Match
    now: datetime
    rules: BounceRules

    @property
    def address(self) -> str | None:
        """The delivery's address, else the event's in stored form (as typed if none)."""
        reported = self.event.email
        return self.match.email or (stored_form(reported) or reported if reported else None)


def apply(applied: Applied) -> None:
    EFFECTS[applied.event.effect](applied)


def _record(applied: Applied) -> None:
    """Stored, counted, no other effect."""


def _suppress(applied: Applied, reason: str | None = None) -> None:
    if not applied.address:
        return
    try:
        suppress_address(applied.session, applied.address, reason or applied.event.provider_type)
    except InvalidAddress as exc:
        event = applied.event
        log.warning("events: %s %s: not suppressed: %s", event.provider, event.event_id, exc)


def _mark_bounced(applied: Applied) -> None:
    delivery = applied.match.delivery
    if delivery is not None:
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_error = (applied.event.detail or "bounced")[:1000]
        delivery.updated_at = applied.now


def _bounce(applied: Applied) -> None:
    _suppress(applied)
    _mark_bounced(applied)


def _soft_bounce(applied: Applied) -> None:
    _mark_bounced(applied)
    address = applied.address
    if not address:
        return
    since = applied.now - timedelta(days=applied.rules.soft_days)
    when = func.coalesce(Event.occurred_at, Event.created_at)
    count = applied.session.scalar(
        select(func.count()).where(
            Event.type == EventType.SOFT_BOUNCED.value,
            Event.email == address,
            when >= since,
        )
    )
    if (count or 0) >= applied.rules.soft_limit:
        _suppress(applied, "soft-bounces")


def _complaint(applied: Applied) -> None:
    _unsubscribe(applied)
    _suppress(applied)


def _unsubscribe(applied: Applied) -> None:
    session, match = applied.session, applied.match
    campaign = session.get(Campaign, match.campaign_id) if match.campaign_id else None
    who = (
        match.delivery.subscriber_id if match.delivery else subscriber_id(session, applied.address)
    )
    if campaign is None or who is None:
        return
    subscription = session.get(Subscription, (who, campaign.list_id))
    if subscription is None or subscription.status is SubscriptionStatus.UNSUBSCRIBED:
        return
    if subscription.unsubscribed_at is not None:  # left before, came back: keep that time
        session.add(
            SubscriptionStamp(
                subscriber_id=who,
                list_id=campaign.list_id,
                kind="unsubscribed",
                at=subscription.unsubscribed_at,
            )
        )
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = applied.now
    subscription.updated_at = applied.now


EFFECTS: dict[Effect, Callable[[Applied], None]] = {
    Effect.RECORD: _record,
    Effect.SUPPRESS: _suppress,
    Effect.BOUNCE: _bounce,
    Effect.SOFT_BOUNCE: _soft_bounce,
    Effect.COMPLAINT: _complaint,
    Effect.UNSUBSCRIBE: _unsubscribe,
}
