"""Provider events (webhooks, bounce and complaint mail) → one neutral type → one policy.

One module per provider (`sendgrid`, `ses`; DSN and ARF mail in `dispatch.bounces`)
turns its shapes into `ProviderEvent`s; `store.record_events` stores each once, matches
it to the ledger (`matching`) and applies `policy`.
"""

from __future__ import annotations

from dispatch.events.matching import Match
from dispatch.events.policy import BounceRules
from dispatch.events.sendgrid import EVENT_TYPES, sendgrid_event, sendgrid_events
from dispatch.events.store import event_counts, record_events, store_events
from dispatch.events.types import Effect, EventType, ProviderEvent, Tally

__all__ = [
    "EVENT_TYPES",
    "BounceRules",
    "Effect",
    "EventType",
    "Match",
    "ProviderEvent",
    "Tally",
    "event_counts",
    "record_events",
    "sendgrid_event",
    "sendgrid_events",
    "store_events",
]
