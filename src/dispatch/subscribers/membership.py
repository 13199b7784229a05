"""One person at a time: add to a list, or suppress an address. Same rules as an import."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.lists import get_list
from dispatch.store.models import Suppression
from dispatch.store.types import utcnow
from dispatch.subscribers.addresses import clean_name, normalise_address
from dispatch.subscribers.merge import Incoming, Tally, merge_batch
from dispatch.subscribers.tags import normalise_tags

OUTCOMES = {
    "suppressed": "not subscribed: the address is suppressed",
    "unsubscribed": "not subscribed: they unsubscribed from this list",
    "subscribed": "subscribed",
    "confirmed": "subscription confirmed",
    "already": "already subscribed",
}


@dataclass(frozen=True)
class Added:
    email: str
    created: bool  # a new subscriber
    outcome: str  # a key of OUTCOMES

    @property
    def refused(self) -> bool:
        return self.outcome in ("suppressed", "unsubscribed")

    def describe(self) -> str:
        return OUTCOMES[self.outcome]


def add_subscriber(
    session: Session,
    list_slug: str,
    email: str,
    *,
    name: str = "",
    attributes: dict[str, Any] | None = None,
    confirmed: bool = False,
    tags: Sequence[str] = (),
) -> Added:
    """Subscribe one address (adding `tags` to theirs); suppressed or unsubscribed
    addresses are refused, not raised."""
    address = normalise_address(email)
    list_id = get_list(session, list_slug).id
    clean_tags = tuple(normalise_tags(tags))
    row = Incoming(0, address, clean_name(name), dict(attributes or {}), tags=clean_tags)
    tally = Tally()
    merge_batch(
        session.connection(), list_id, [row], confirmed=confirmed, now=utcnow(), tally=tally
    )
    outcome = next(key for key in OUTCOMES if getattr(tally, key))
    return Added(address, bool(tally.created), outcome)


def suppress_address(session: Session, email: str, reason: str = "operator") -> bool:
    """Record that `email` must never be mailed; False if it already was suppressed."""
    address = normalise_address(email)
    existing = session.scalar(select(Suppression).where(Suppression.email == address))
    if existing is not None:
        return False
    session.add(Suppression(email=address, reason=reason[:50] or "operator"))
    session.flush()
    return True
