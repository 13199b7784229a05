"""Which delivery an event is about, checked against the ledger.

In order: the ids the event carries (SendGrid `custom_args`, a verified VERP token),
then our own Message-ID of the original message (`<campaign key.delivery id@…>`, whose
key must match the delivery's campaign), then the provider's message id. Whenever the
event names an address, it must be the delivery's: a report about somebody else (a
forwarded copy, a forgery) matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.delivery.message import ledger_reference
from dispatch.events.types import ProviderEvent
from dispatch.store.models import Campaign, Delivery, Subscriber
from dispatch.subscribers.addresses import stored_form

CHUNK = 500  # ids per IN (…) query


@dataclass(frozen=True, slots=True)
class Match:
    campaign_id: int | None
    delivery: Delivery | None

    @property
    def email(self) -> str | None:
        return self.delivery.email if self.delivery is not None else None


def prefetch_deliveries(session: Session, events: Sequence[ProviderEvent]) -> None:
    """Load the named deliveries in a few queries; `session.get` then finds them in memory."""
    ids = sorted({event.delivery_id for event in events if event.delivery_id is not None})
    for start in range(0, len(ids), CHUNK):
        session.scalars(select(Delivery).where(Delivery.id.in_(ids[start : start + CHUNK]))).all()


def match(session: Session, event: ProviderEvent) -> Match:
    delivery = (
        _by_ids(session, event)
        or _by_our_message_id(session, event)
        or _by_message_id(session, event)
    )
    if delivery is not None:
        return Match(delivery.campaign_id, delivery)
    if event.campaign_id is not None and session.get(Campaign, event.campaign_id) is not None:
        return Match(event.campaign_id, None)
    return Match(None, None)


def subscriber_id(session: Session, email: str | None) -> int | None:
    """The subscriber an address names, in whatever form the provider reported it."""
    address = stored_form(email or "")
    if address is None:
        return None
    return session.scalar(select(Subscriber.id).where(Subscriber.email == address))


def _same_address(delivery: Delivery, event: ProviderEvent) -> bool:
    """Providers report the address as it went on the wire (A-label domain, maybe another
    letter case); deliveries hold it in stored form."""
    if not event.email or delivery.email == event.email:
        return True
    reported = stored_form(event.email)
    return reported is not None and reported in (delivery.email, stored_form(delivery.email))


def _by_ids(session: Session, event: ProviderEvent) -> Delivery | None:
    if event.delivery_id is None:
        return None
    delivery = session.get(Delivery, event.delivery_id)
    if delivery is None or event.campaign_id not in (None, delivery.campaign_id):
        return None
    return delivery if _same_address(delivery, event) else None


def _by_our_message_id(session: Session, event: ProviderEvent) -> Delivery | None:
    """Our Message-ID names the row; the campaign key is public, so an address must agree."""
    reference = ledger_reference(event.original_message_id)
    if reference is None or not event.email:
        return None
    key, delivery_id = reference
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or not _same_address(delivery, event):
        return None
    campaign = session.get(Campaign, delivery.campaign_id)
    return delivery if campaign is not None and campaign.key == key else None


def _by_message_id(session: Session, event: ProviderEvent) -> Delivery | None:
    """SendGrid's `sg_message_id` starts with the X-Message-Id we stored for the batch."""
    address = stored_form(event.email) if event.email else None
    if not event.message_id or address is None:
        return None
    query = select(Delivery).where(
        Delivery.provider_message_id == event.message_id, Delivery.email == address
    )
    return session.scalars(query.order_by(Delivery.id).limit(1)).first()
