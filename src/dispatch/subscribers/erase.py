"""Erasing a person for a privacy request: everything the store holds about an address.

`erase_subscriber` is the one place that knows every table holding personal data; a
table that starts to hold some (deliveries, events, …) adds its DELETE here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Delete, delete, select
from sqlalchemy.orm import Session

from dispatch.errors import InvalidAddress, NotFound
from dispatch.store.models import Event, Subscriber, Subscription, Suppression
from dispatch.subscribers.addresses import stored_form, wire_address


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

    Both are found by the stored form of `email`; input that is no address at all is
    looked up as typed (a row kept by migration 0011a because it was not one).
    """
    address = _stored_form(email)
    subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    subscriptions = 0
    if subscriber_id is not None:
        subscriptions = _count(
            session, delete(Subscription).where(Subscription.subscriber_id == subscriber_id)
        )
        _count(session, delete(Subscriber).where(Subscriber.id == subscriber_id))
    suppressions = _count(session, delete(Suppression).where(Suppression.email == address))
    # Bounces and complaints name the address as the provider wrote it (those matched to
    # the subscriber went with it): its stored and its wire form.
    session.execute(delete(Event).where(Event.email.in_(_forms(address))))
    erasure = Erasure(address, int(subscriber_id is not None), subscriptions, suppressions)
    if not erasure.total:
        raise NotFound(f"no subscriber or suppression for {address}")
    return erasure


def _stored_form(email: str) -> str:
    return stored_form(email) or email.strip()


def _forms(address: str) -> set[str]:
    try:
        return {address, wire_address(address).address}
    except InvalidAddress:
        return {address}


def _count(session: Session, statement: Delete) -> int:
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
