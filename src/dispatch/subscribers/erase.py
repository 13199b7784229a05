"""Erasing a person for a privacy request: everything the store holds about an address.

`erase_subscriber` is the one place that knows every table holding personal data; a
table that starts to hold some (deliveries, events, …) adds its DELETE here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Delete, delete, func, select
from sqlalchemy.orm import Session

from dispatch.errors import InvalidAddress, NotFound
from dispatch.store.models import Event, Subscriber, Subscription, Suppression
from dispatch.subscribers.addresses import normalise_address


@dataclass(frozen=True)
class Erasure:
    """What was removed for one address."""

    email: str
    subscriber: int  # 0 or 1
    subscriptions: int
    suppressions: int

    @property
    def total(self) -> int:
        return self.subscriber + self.subscriptions + self.suppressions


def erase_subscriber(session: Session, email: str) -> Erasure:
    """Delete the subscriber, their subscriptions and suppressions; NotFound if none exist.

    Suppressions match case-insensitively: other code may have stored them as reported.
    """
    address = _stored_form(email)
    subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    subscriptions = 0
    if subscriber_id is not None:
        subscriptions = _count(
            session, delete(Subscription).where(Subscription.subscriber_id == subscriber_id)
        )
        _count(session, delete(Subscriber).where(Subscriber.id == subscriber_id))
    suppressions = _count(
        session, delete(Suppression).where(func.lower(Suppression.email) == address.lower())
    )
    # Bounces and complaints name the address (those of the subscriber went with it).
    session.execute(delete(Event).where(func.lower(Event.email) == address.lower()))
    erasure = Erasure(address, int(subscriber_id is not None), subscriptions, suppressions)
    if not erasure.total:
        raise NotFound(f"no subscriber or suppression for {address}")
    return erasure


def _stored_form(email: str) -> str:
    try:
        return normalise_address(email)
    except InvalidAddress:
        return email.strip()  # cannot be a subscriber, may still be a suppression


def _count(session: Session, statement: Delete) -> int:
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
