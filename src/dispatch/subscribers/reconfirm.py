"""Confirmation mails for a list's pending subscribers (people imported without
`--confirmed`, or sign-ups whose mail went astray): at most one per mailbox and list an
hour, never to a suppressed address, through the configured sender, paced by the
delivery rate (`delivery.rate_per_second`, `hourly_limit`: the same windows as sends).
`only_new` sends only to those who never got one (the admin's button): pressing it
twice sends nothing twice.

Each mail is claimed (`claim_confirmation` stamps the subscription) in its own
transaction just before it is handed to the sender, after the pacing wait, and a mail
not accepted gives its claim back. So a process killed mid-run leaves at most one mail
in doubt (claimed, perhaps sent); everyone after it is still "never got one" and the
button reaches them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, true

from dispatch.config import Settings
from dispatch.delivery.base import Sender
from dispatch.delivery.factory import make_sender
from dispatch.delivery.pacing import Pacer
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus, Suppression
from dispatch.store.types import utcnow
from dispatch.subscribers.transactional import Mail, Mailer, claim_confirmation

BATCH = 500


@dataclass
class Reconfirmed:
    pending: int = 0  # pending subscriptions looked at
    sent: int = 0  # confirmation mails the sender accepted
    recent: int = 0  # skipped: one went to that mailbox less than an hour ago
    failed: int = 0  # claimed but not accepted (the claim was given back)


def send_pending_confirmations(
    database: Database,
    settings: Settings,
    list_slug: str,
    sender: Sender | None = None,
    clock: Callable[[], datetime] = utcnow,
    *,
    only_new: bool = False,
    pacer: Pacer | None = None,
) -> Reconfirmed:
    """Read the pending people a batch at a time; claim and send one mail at a time."""
    report = Reconfirmed()
    own = sender is None
    sender = sender or make_sender(settings)
    mailer = Mailer(settings, sender, clock=clock)
    pacer = pacer or Pacer.from_settings(settings, key="dispatch")
    try:
        after = 0
        while batch := _pending(database, list_slug, after, only_new):
            after = batch[-1][0]
            report.pending += len(batch)
            for person in batch:
                pacer.wait(1)
                mail = _claim(database, list_slug, person, clock())
                if mail is None:
                    report.recent += 1
                    continue
                sent = mailer.deliver(database, [mail])
                report.sent += sent
                report.failed += 1 - sent
    finally:
        if own:
            sender.close()
    return report


Pending = tuple[int, str, str, int, str]  # id, email, name, list id, token key


def _pending(
    database: Database, list_slug: str, after: int, only_new: bool = False
) -> list[Pending]:
    never = Subscription.confirmation_sent_at.is_(None) if only_new else true()
    with database.session() as session:
        mailing_list = get_list(session, list_slug)
        suppressed = select(Suppression.email).where(Suppression.email == Subscriber.email)
        rows = session.execute(
            select(
                Subscriber.id,
                Subscriber.email,
                Subscriber.name,
                Subscription.list_id,
                Subscriber.token_key,
            )
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .where(
                Subscription.list_id == mailing_list.id,
                Subscription.status == SubscriptionStatus.PENDING,
                Subscriber.id > after,
                ~suppressed.exists(),
                never,
            )
            .order_by(Subscriber.id)
            .limit(BATCH)
        ).all()
    return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]


def _claim(database: Database, list_slug: str, person: Pending, now: datetime) -> Mail | None:
    """The confirmation mail for `person`, claimed (committed) now; None when one went to
    that mailbox for this list less than an hour ago."""
    subscriber_id, email, name, list_id, key = person
    with database.session() as session:
        if not claim_confirmation(session, subscriber_id, list_id, now):
            return None
    return Mail("confirm", subscriber_id, email, name, list_slug, list_id, now, key)
