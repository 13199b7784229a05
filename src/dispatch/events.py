"""Provider events (webhooks) → store changes.

A provider's event types map to ours through one table, as django-anymail does; each
entry also names the one effect the event has on the store:

    bounce                  bounced       suppress the address; the delivery is `bounced`
    bounce (type=blocked)   blocked       recorded only: a soft block, the ISP may accept later
    dropped                 rejected      suppress the address
    spamreport              complained    suppress the address
    (group_)unsubscribe     unsubscribed  unsubscribe from the campaign's list
    anything else           (its type)    recorded only; unknown types are stored as `unknown`

Every event is stored once per provider event id, so a redelivered batch changes nothing.
It finds its delivery through the ids our sender puts in `custom_args` (`campaign_id`,
`delivery_id`), or else through the provider message id and the address.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.errors import InvalidAddress
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    Delivery,
    DeliveryStatus,
    Event,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from dispatch.subscribers.addresses import stored_form
from dispatch.subscribers.membership import suppress_address

log = logging.getLogger(__name__)

MAX_ID = 2**31 - 1  # ids are INTEGER columns; anything larger cannot name a row
CHUNK = 500  # ids per IN (…) query


class EventType(enum.StrEnum):
    """Our normalised event types (stored in `events.type`)."""

    QUEUED = "queued"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    BLOCKED = "blocked"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    SUBSCRIBED = "subscribed"
    UNKNOWN = "unknown"


class Effect(enum.Enum):
    RECORD = "record"
    SUPPRESS = "suppress"
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"


# SendGrid `event` (or `event:type`, which wins) → (our type, effect on the store).
EVENT_TYPES: dict[str, tuple[EventType, Effect]] = {
    "processed": (EventType.QUEUED, Effect.RECORD),
    "dropped": (EventType.REJECTED, Effect.SUPPRESS),
    "deferred": (EventType.DEFERRED, Effect.RECORD),
    "delivered": (EventType.DELIVERED, Effect.RECORD),
    "bounce": (EventType.BOUNCED, Effect.BOUNCE),
    "bounce:blocked": (EventType.BLOCKED, Effect.RECORD),
    "open": (EventType.OPENED, Effect.RECORD),
    "click": (EventType.CLICKED, Effect.RECORD),
    "spamreport": (EventType.COMPLAINED, Effect.SUPPRESS),
    "unsubscribe": (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE),
    "group_unsubscribe": (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE),
    "group_resubscribe": (EventType.SUBSCRIBED, Effect.RECORD),
}
UNKNOWN = (EventType.UNKNOWN, Effect.RECORD)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One provider event, normalised; `payload` is the event exactly as received."""

    provider: str
    event_id: str
    provider_type: str
    type: EventType
    effect: Effect
    email: str | None
    occurred_at: datetime | None
    campaign_id: int | None  # as claimed by the event; checked against the store
    delivery_id: int | None
    message_id: str | None
    payload: dict[str, Any]


@dataclass
class Tally:
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0  # entries that were not events (no event id, not an object)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Match:
    campaign_id: int | None
    delivery: Delivery | None


def sendgrid_events(items: Sequence[Any]) -> tuple[list[ProviderEvent], int]:
    """SendGrid's webhook array → its usable events, and how many entries were not."""
    events = [event for event in map(sendgrid_event, items) if event is not None]
    return events, len(items) - len(events)


def sendgrid_event(item: Any) -> ProviderEvent | None:
    if not isinstance(item, dict):
        return None
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        return None
    name = _text(item.get("event")) or ""
    kind, effect = EVENT_TYPES.get(f"{name}:{_text(item.get('type'))}") or EVENT_TYPES.get(
        name, UNKNOWN
    )
    message_id = _text(item.get("sg_message_id"))
    return ProviderEvent(
        provider="sendgrid",
        event_id=event_id,
        provider_type=name[:50],
        type=kind,
        effect=effect,
        email=(_text(item.get("email")) or "").strip()[:320] or None,
        occurred_at=_timestamp(item.get("timestamp")),
        campaign_id=_row_id(item.get("campaign_id")),
        delivery_id=_row_id(item.get("delivery_id")),
        message_id=message_id.split(".", 1)[0][:255] if message_id else None,
        payload=item,
    )


def store_events(
    database: Database, events: Sequence[ProviderEvent], now: datetime, attempts: int = 3
) -> Tally:
    """Record `events` in one transaction; retried when a concurrent delivery raced us."""
    for _ in range(attempts - 1):
        try:
            with database.session() as session:
                return record_events(session, events, now)
        except IntegrityError:
            log.info("events: a concurrent request stored some of these events; looking again")
    with database.session() as session:
        return record_events(session, events, now)


def record_events(session: Session, events: Sequence[ProviderEvent], now: datetime) -> Tally:
    fresh = _unseen(session, events)
    _prefetch_deliveries(session, fresh)
    for event in fresh:
        match = _match(session, event)
        session.add(
            Event(
                provider=event.provider,
                provider_event_id=event.event_id,
                type=event.type.value,
                email=event.email,
                campaign_id=match.campaign_id,
                delivery_id=match.delivery.id if match.delivery else None,
                occurred_at=event.occurred_at,
                payload=event.payload,
                created_at=now,
            )
        )
        EFFECTS[event.effect](session, event, match, now)
    return Tally(stored=len(fresh), duplicates=len(events) - len(fresh))


def event_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """How many events of each type a campaign has had (every known type, zeros included)."""
    rows = session.execute(
        select(Event.type, func.count())
        .where(Event.campaign_id == campaign_id)
        .group_by(Event.type)
    )
    return {kind.value: 0 for kind in EventType} | {kind: count for kind, count in rows}


def _unseen(session: Session, events: Sequence[ProviderEvent]) -> list[ProviderEvent]:
    first: dict[tuple[str, str], ProviderEvent] = {}
    for event in events:
        first.setdefault((event.provider, event.event_id), event)
    ids = [event_id for _, event_id in first]
    for start in range(0, len(ids), CHUNK):
        query = select(Event.provider, Event.provider_event_id).where(
            Event.provider_event_id.in_(ids[start : start + CHUNK])
        )
        for provider, event_id in session.execute(query):
            first.pop((provider, event_id), None)
    return list(first.values())


def _prefetch_deliveries(session: Session, events: Sequence[ProviderEvent]) -> None:
    """Load the named deliveries in a few queries; `session.get` then finds them in memory."""
    ids = sorted({event.delivery_id for event in events if event.delivery_id is not None})
    for start in range(0, len(ids), CHUNK):
        session.scalars(select(Delivery).where(Delivery.id.in_(ids[start : start + CHUNK]))).all()


def _match(session: Session, event: ProviderEvent) -> Match:
    delivery = _by_ids(session, event) or _by_message_id(session, event)
    if delivery is not None:
        return Match(delivery.campaign_id, delivery)
    if event.campaign_id is not None and session.get(Campaign, event.campaign_id) is not None:
        return Match(event.campaign_id, None)
    return Match(None, None)


def _by_ids(session: Session, event: ProviderEvent) -> Delivery | None:
    if event.delivery_id is None:
        return None
    delivery = session.get(Delivery, event.delivery_id)
    if delivery is None or event.campaign_id not in (None, delivery.campaign_id):
        return None
    if event.email and not _same_address(delivery.email, event.email):
        return None
    return delivery


def _same_address(stored: str, reported: str) -> bool:
    if stored == reported:
        return True
    reported_form = stored_form(reported)
    return reported_form is not None and reported_form in (stored, stored_form(stored))


def _by_message_id(session: Session, event: ProviderEvent) -> Delivery | None:
    """SendGrid's `sg_message_id` starts with the X-Message-Id we stored for the batch.

    The provider reports the address as it went on the wire (A-label domain, maybe
    another letter case); deliveries hold it in stored form."""
    address = stored_form(event.email) if event.email else None
    if not event.message_id or address is None:
        return None
    query = select(Delivery).where(
        Delivery.provider_message_id == event.message_id, Delivery.email == address
    )
    return session.scalars(query.order_by(Delivery.id).limit(1)).first()


def _record(session: Session, event: ProviderEvent, match: Match, now: datetime) -> None:
    """Stored, counted, no other effect."""


def _suppress(session: Session, event: ProviderEvent, match: Match, now: datetime) -> None:
    if not event.email:
        return
    try:
        suppress_address(session, event.email, event.provider_type)
    except InvalidAddress as exc:
        log.warning("events: %s %s: not suppressed: %s", event.provider, event.event_id, exc)


def _bounce(session: Session, event: ProviderEvent, match: Match, now: datetime) -> None:
    _suppress(session, event, match, now)
    if match.delivery is not None:
        match.delivery.status = DeliveryStatus.BOUNCED
        match.delivery.last_error = (_text(event.payload.get("reason")) or "bounced")[:1000]
        match.delivery.updated_at = now


def _unsubscribe(session: Session, event: ProviderEvent, match: Match, now: datetime) -> None:
    campaign = session.get(Campaign, match.campaign_id) if match.campaign_id else None
    subscriber_id = match.delivery.subscriber_id if match.delivery else _subscriber(session, event)
    if campaign is None or subscriber_id is None:
        return
    subscription = session.get(Subscription, (subscriber_id, campaign.list_id))
    if subscription is None or subscription.status is SubscriptionStatus.UNSUBSCRIBED:
        return
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now
    subscription.updated_at = now


EFFECTS: dict[Effect, Callable[[Session, ProviderEvent, Match, datetime], None]] = {
    Effect.RECORD: _record,
    Effect.SUPPRESS: _suppress,
    Effect.BOUNCE: _bounce,
    Effect.UNSUBSCRIBE: _unsubscribe,
}


def _subscriber(session: Session, event: ProviderEvent) -> int | None:
    address = stored_form(event.email or "")
    if address is None:
        return None
    return session.scalar(select(Subscriber.id).where(Subscriber.email == address))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _row_id(value: Any) -> int | None:
    """A custom arg naming a row: SendGrid sends strings; anything else names nothing."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
