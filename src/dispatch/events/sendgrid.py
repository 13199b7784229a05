"""SendGrid's Event Webhook array → `ProviderEvent`s, through one table:

    bounce                  bounced       suppress the address; the delivery is `bounced`
    bounce (type=blocked)   blocked       recorded only: a soft block, the ISP may accept later
    dropped                 rejected      suppress the address
    spamreport              complained    unsubscribe from the list, suppress the address
    (group_)unsubscribe     unsubscribed  unsubscribe from the campaign's list
    anything else           (its type)    recorded only; unknown types are stored as `unknown`

An event finds its delivery through the ids our sender puts in `custom_args`
(`campaign_id`, `delivery_id`), or else through the provider message id and the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dispatch.events.types import Effect, EventType, ProviderEvent, row_id, text

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
    "spamreport": (EventType.COMPLAINED, Effect.COMPLAINT),
    "unsubscribe": (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE),
    "group_unsubscribe": (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE),
    "group_resubscribe": (EventType.SUBSCRIBED, Effect.RECORD),
}
UNKNOWN = (EventType.UNKNOWN, Effect.RECORD)


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
    name = text(item.get("event")) or ""
    kind, effect = EVENT_TYPES.get(f"{name}:{text(item.get('type'))}") or EVENT_TYPES.get(
        name, UNKNOWN
    )
    message_id = text(item.get("sg_message_id"))
    return ProviderEvent(
        provider="sendgrid",
        event_id=event_id,
        provider_type=name[:50],
        type=kind,
        effect=effect,
        email=(text(item.get("email")) or "").strip()[:320] or None,
        occurred_at=_timestamp(item.get("timestamp")),
        campaign_id=row_id(item.get("campaign_id")),
        delivery_id=row_id(item.get("delivery_id")),
        message_id=message_id.split(".", 1)[0][:255] if message_id else None,
        payload=item,
        detail=(text(item.get("reason")) or text(item.get("response")) or "")[:1000] or None,
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
