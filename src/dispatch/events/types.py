"""The one neutral event type every provider's events become, and what it does.

A provider module (`sendgrid`, `ses`, `dispatch.bounces` for DSN and ARF mail) turns
its own shapes into `ProviderEvent`s through a table, as django-anymail does; `policy`
turns each `Effect` into store changes, the same for every provider.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MAX_ID = 2**31 - 1  # ids are INTEGER columns; anything larger cannot name a row


class EventType(enum.StrEnum):
    """Our normalised event types (stored in `events.type`)."""

    QUEUED = "queued"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"  # permanent: the address does not work
    SOFT_BOUNCED = "soft_bounced"  # not delivered for now (full mailbox, policy block, …)
    BLOCKED = "blocked"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    SUBSCRIBED = "subscribed"
    UNMATCHED = "unmatched"  # a report naming no delivery we can verify: kept, no effect
    UNKNOWN = "unknown"


class Effect(enum.Enum):
    RECORD = "record"  # stored and counted, nothing else
    SUPPRESS = "suppress"  # the address is never mailed again
    BOUNCE = "bounce"  # suppress; the delivery is `bounced`
    SOFT_BOUNCE = "soft_bounce"  # the delivery is `bounced`; suppress after too many
    COMPLAINT = "complaint"  # unsubscribe from the campaign's list, and suppress
    UNSUBSCRIBE = "unsubscribe"  # unsubscribe from the campaign's list


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One provider event, normalised; `payload` is what was received, as JSON."""

    provider: str
    event_id: str
    provider_type: str
    type: EventType
    effect: Effect
    email: str | None
    occurred_at: datetime | None
    campaign_id: int | None  # as claimed by the event; checked against the store
    delivery_id: int | None
    message_id: str | None  # the provider's message id (SendGrid X-Message-Id)
    payload: dict[str, Any]
    detail: str | None = None  # diagnostic text
    original_message_id: str | None = None  # our Message-ID, "<campaign key.delivery@…>"
    # Mail-borne reports can be sent by anybody: without a verified delivery they are
    # kept as `unmatched` and change nothing. Signed webhooks name addresses we trust.
    needs_match: bool = False


@dataclass
class Tally:
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0  # entries that were not events (no event id, not an object)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def row_id(value: Any) -> int | None:
    """An id naming a row: providers send strings; anything else names nothing."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None
