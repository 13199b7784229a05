"""Recording events: once per provider event id, matched to the ledger, then the policy.

Every event is stored once per (provider, provider event id), so a redelivered batch
changes nothing. An event that must name a verified delivery (`needs_match`) and does
not is stored as `unmatched`, logged, and has no effect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.events.matching import Match, match, prefetch_deliveries, subscriber_id
from dispatch.events.policy import Applied, BounceRules, apply
from dispatch.events.types import Effect, EventType, ProviderEvent, Tally
from dispatch.logs import event as log_event
from dispatch.store.database import Database
from dispatch.store.models import Event
from dispatch.subscribers.addresses import stored_form

log = logging.getLogger(__name__)
CHUNK = 500  # ids per IN (…) query


def store_events(
    database: Database,
    events: Sequence[ProviderEvent],
    now: datetime,
    rules: BounceRules | None = None,
    attempts: int = 3,
) -> Tally:
    """Record `events` in one transaction; retried when a concurrent delivery raced us."""
    for _ in range(attempts - 1):
        try:
            with database.session() as session:
                return record_events(session, events, now, rules)
        except IntegrityError:
            log.info("events: a concurrent request stored some of these events; looking again")
    with database.session() as session:
        return record_events(session, events, now, rules)


def record_events(
    session: Session,
    events: Sequence[ProviderEvent],
    now: datetime,
    rules: BounceRules | None = None,
) -> Tally:
    fresh = _unseen(session, events)
    prefetch_deliveries(session, fresh)
    for item in fresh:
        found = match(session, item)
        if item.needs_match and found.delivery is None:
            item, found = _unmatched(item), Match(None, None)
        email = found.email or (stored_form(item.email) or item.email if item.email else None)
        session.add(
            Event(
                provider=item.provider,
                provider_event_id=item.event_id,
                type=item.type.value,
                email=email,
                campaign_id=found.campaign_id,
                delivery_id=found.delivery.id if found.delivery else None,
                subscriber_id=(
                    found.delivery.subscriber_id
                    if found.delivery
                    else subscriber_id(session, email)
                ),
                occurred_at=item.occurred_at,
                detail=item.detail,
                payload=item.payload,
                created_at=now,
            )
        )
        apply(Applied(session, item, found, now, rules or BounceRules()))
    return Tally(stored=len(fresh), duplicates=len(events) - len(fresh))


def _unmatched(item: ProviderEvent) -> ProviderEvent:
    log_event(
        log,
        "events.unmatched",
        provider=item.provider,
        event=item.event_id,
        kind=item.provider_type,
        email=item.email,
        detail=item.detail,
    )
    return replace(item, type=EventType.UNMATCHED, effect=Effect.RECORD)


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
    for item in events:
        first.setdefault((item.provider, item.event_id), item)
    ids = [event_id for _, event_id in first]
    for start in range(0, len(ids), CHUNK):
        query = select(Event.provider, Event.provider_event_id).where(
            Event.provider_event_id.in_(ids[start : start + CHUNK])
        )
        for provider, event_id in session.execute(query):
            first.pop((provider, event_id), None)
    return list(first.values())
