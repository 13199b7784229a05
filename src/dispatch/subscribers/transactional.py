"""One-off mails to one subscriber (confirm, welcome) through the configured `Sender`.

A welcome is the welcome series' steps due at once (`campaigns.welcome`): a campaign,
its ledger and the engine, like every other mailing. A confirmation has no campaign row
and no ledger: a `Mail` (what `optin` decided to send) becomes a
`CampaignMessage` built from the list's `PreparedEmail` (rendered once per list and
kind, then only filled) and one `Envelope` with campaign id 0, so the outbox backend
writes them to `<outbox>/0/<random id>.eml`. Confirmation mails are throttled in the
store: `claim_confirmation` atomically stamps `subscriptions.confirmation_sent_at` when
none went to that mailbox in the last `CONFIRM_INTERVAL`; only the request that stamped it sends,
and a send that fails gives the claim back (`release_confirmation`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.delivery.base import Envelope, Outcome, Sender, deliver_one
from dispatch.delivery.factory import make_sender
from dispatch.delivery.message import CampaignMessage, ListIdentity, message_id
from dispatch.delivery.mime import Mailbox
from dispatch.lists import live_settings
from dispatch.render.email import EmailRenderer
from dispatch.render.prepared import PreparedEmail
from dispatch.render.recipients import signed_recipient
from dispatch.store.database import Database
from dispatch.store.models import Subscription, SubscriptionStatus
from dispatch.store.types import utcnow
from dispatch.subscribers.addresses import wire_address
from dispatch.subscribers.membership import suppress_address
from dispatch.tokens import Tokens
from dispatch.urls import Urls

log = logging.getLogger(__name__)

CONFIRM_INTERVAL = timedelta(hours=1)
TRANSACTIONAL_CAMPAIGN = 0  # the campaign id of every one-off mail (outbox folder "0")
KINDS = ("confirm", "welcome")


@dataclass(frozen=True)
class Mail:
    """A confirm or welcome mail `optin` decided to send to one subscriber for one list."""

    kind: str  # one of KINDS
    subscriber_id: int
    email: str
    name: str
    list_slug: str
    list_id: int
    claimed_at: datetime | None = None  # confirm: the stamp to give back if sending fails
    token_key: str = ""  # the subscriber's link key, which every link in the mail carries
    # Other lists this one mail covers, as (slug, id): several lists chosen at one
    # sign-up get one confirmation (one link) and one welcome.
    more: tuple[tuple[str, int], ...] = ()

    @property
    def list_slugs(self) -> tuple[str, ...]:
        return (self.list_slug, *(slug for slug, _ in self.more))

    @property
    def list_ids(self) -> tuple[int, ...]:
        return (self.list_id, *(list_id for _, list_id in self.more))


def claim_confirmation(session: Session, subscriber_id: int, list_id: int, now: datetime) -> bool:
    """Stamp a pending subscription's confirmation as sent now, unless one went to this
    address for this list less than an hour ago; True when this caller won the stamp
    (and must send the mail).

    One conditional UPDATE: concurrent sign-ups for one row stamp it once. Addresses
    are normalised, so every spelling of a mailbox is this one row."""
    cutoff = now - CONFIRM_INTERVAL
    stamped = session.execute(
        update(Subscription)
        .where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.list_id == list_id,
            Subscription.status == SubscriptionStatus.PENDING,
            or_(
                Subscription.confirmation_sent_at.is_(None),
                Subscription.confirmation_sent_at <= cutoff,
            ),
        )
        .values(confirmation_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(stamped.rowcount)  # type: ignore[attr-defined]


def release_confirmation(session: Session, mail: Mail) -> None:
    """Forget a stamp whose mail was not sent, so that the next sign-up can try again."""
    session.execute(
        update(Subscription)
        .where(
            Subscription.subscriber_id == mail.subscriber_id,
            Subscription.list_id.in_(mail.list_ids),
            Subscription.confirmation_sent_at == mail.claimed_at,
        )
        .values(confirmation_sent_at=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Attempt:
    accepted: bool
    bad_address: bool = False  # the provider says the mailbox does not exist


class Mailer:
    """Sends `Mail`s for one configuration. With no `sender`, each delivery opens the
    configured backend (`make_sender`) and closes it; a given sender is the caller's."""

    def __init__(
        self,
        settings: Settings,
        sender: Sender | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.renderer = EmailRenderer(settings)
        self.tokens = Tokens(settings.secret_key)
        self.urls = Urls(settings.site.base_url)
        self._prepared: dict[tuple[str, tuple[str, ...]], PreparedEmail] = {}

    def deliver(self, database: Database, mails: Sequence[Mail]) -> int:
        """Send every mail; returns how many were accepted. A confirmation that was not
        gets its stamp back; an address the provider says does not exist is suppressed."""
        self.follow_lists(database)
        sent = 0
        for mail in mails:
            if mail.kind == "welcome":
                sent += self.welcome(database, mail)
                continue
            attempt = self.send(mail)
            sent += attempt.accepted
            if attempt.accepted or (mail.claimed_at is None and not attempt.bad_address):
                continue
            with database.session() as session:
                if mail.claimed_at is not None:
                    release_confirmation(session, mail)
                if attempt.bad_address:
                    suppress_address(session, mail.email, reason="bounce")
        return sent

    def follow_lists(self, database: Database) -> None:
        """Use the lists' sender and names as stored now (an editor may have changed them)."""
        with database.session() as session:
            fresh = live_settings(session, self.settings)
        if fresh.lists != self.settings.lists:
            self.settings = fresh
            self.renderer = EmailRenderer(fresh)
            self._prepared = {}

    def welcome(self, database: Database, mail: Mail) -> int:
        """The welcome series' steps due at once for this person (`campaigns.welcome`),
        sent now through the engine; how many went out. What cannot go now (a provider
        down) stays in the ledger for the scheduler's run-due."""
        from dispatch.campaigns.engine import Engine, EngineOptions, Next
        from dispatch.campaigns.envelopes import RecipientLinks
        from dispatch.campaigns.welcome import run_series

        now, slugs = self.clock(), mail.list_slugs
        plain = [s for s in slugs if not self.settings.list(s).welcome]  # the built-in welcome
        sent = 0
        try:
            if len(plain) > 1:
                # Several lists chosen at one sign-up get ONE built-in welcome naming them
                # all: recorded as their welcome step, then sent like the confirmation.
                sent += self._one_welcome(database, mail, plain, now)
            ids: list[int] = []
            for slug in slugs:  # series of their own, and a single list's built-in welcome
                ids += run_series(
                    database,
                    self.settings,
                    now,
                    list_slug=slug,
                    subscriber_id=mail.subscriber_id,
                    at_once_only=True,
                )
        except Exception as exc:  # the store is down: the scheduler's welcome job makes it
            log.warning("welcome to %s not made now: %s: %s", mail.email, type(exc), exc)
            return sent
        if not ids:
            return sent
        sender = self.sender or make_sender(self.settings)
        links = RecipientLinks.from_settings(self.settings)
        options = EngineOptions.from_settings(self.settings)
        engine = Engine(database, sender, links, options=options, clock=self.clock)
        try:
            for campaign_id in ids:
                while True:
                    step = engine.step(campaign_id)
                    sent += step.sent
                    if step.next is not Next.MORE:
                        break
        except Exception as exc:  # the ledger keeps it: run-due sends it later
            log.warning("welcome mail to %s not sent now: %s: %s", mail.email, type(exc), exc)
        finally:
            if self.sender is None:
                sender.close()
        return sent

    def _one_welcome(
        self, database: Database, mail: Mail, plain: Sequence[str], now: datetime
    ) -> int:
        """The one built-in welcome for several lists; 1 if it was accepted. Not sent
        (a refusal, the provider down): the record is taken back, so the welcome job
        sends each list's welcome later. A mailbox that does not exist is suppressed."""
        from dispatch.campaigns.welcome import cover_built_in_welcome, uncover_built_in_welcome

        covered = cover_built_in_welcome(database, self.settings, plain, mail.subscriber_id, now)
        if not covered:
            return 0  # another request recorded (and sends) it
        ids_of = dict(zip(mail.list_slugs, mail.list_ids, strict=True))
        first, *more = plain
        one = replace(
            mail,
            list_slug=first,
            list_id=ids_of[first],
            more=tuple((slug, ids_of[slug]) for slug in more),
        )
        attempt = self.send(one)
        if attempt.bad_address:
            with database.session() as session:
                suppress_address(session, mail.email, reason="bounce")
        elif not attempt.accepted:
            uncover_built_in_welcome(database, covered, mail.subscriber_id, now)
        return int(attempt.accepted)

    def send(self, mail: Mail) -> Attempt:
        """Hand one mail to the sender; a refusal is logged with its reason, not raised."""
        sender = self.sender or make_sender(self.settings)
        try:
            message, envelope = self.message(mail)
            results = [deliver_one(sender, message, envelope)]
        except Exception as exc:  # a broken backend must not break the page that asked
            log.warning("%s mail to %s not sent: %s: %s", mail.kind, mail.email, type(exc), exc)
            return Attempt(accepted=False)
        finally:
            if self.sender is None:
                sender.close()
        if any(result.outcome is Outcome.SENT for result in results):
            return Attempt(accepted=True)
        reasons = "; ".join(str(result.error) for result in results) or "no result"
        log.warning("%s mail to %s not accepted: %s", mail.kind, mail.email, reasons)
        return Attempt(accepted=False, bad_address=any(r.suppress for r in results))

    def message(self, mail: Mail) -> tuple[CampaignMessage, Envelope]:
        """The complete message for `mail`, and its envelope."""
        item = self.settings.list(mail.list_slug)
        identity = ListIdentity(
            slug=item.slug,
            name=item.name,
            site_url=self.settings.site.base_url,
            unsubscribe_mailto=self.settings.delivery.unsubscribe_mailto,
        )
        message = CampaignMessage(
            self._prepare(mail.kind, mail.list_slugs),
            Mailbox(item.from_email, item.from_name),
            identity,
            self.clock(),
            reply_to=item.reply_to,
        )
        recipient = signed_recipient(
            subscriber_id=mail.subscriber_id,
            token_key=mail.token_key,
            email=mail.email,
            name=mail.name,
            list_slug=mail.list_slug,
            tokens=self.tokens,
            urls=self.urls,
            with_confirm=mail.kind == "confirm",
            confirm_also=mail.list_slugs[1:],
        )
        serial = uuid.uuid4().int >> 66  # 62 random bits: unique file name in the outbox
        domain = wire_address(item.from_email).address.rpartition("@")[2]  # A-labels
        mid = message_id(f"{mail.kind}-{mail.list_slug}", serial, domain)
        return message, Envelope(serial, TRANSACTIONAL_CAMPAIGN, recipient, mid)

    def _prepare(self, kind: str, list_slugs: tuple[str, ...]) -> PreparedEmail:
        key = (kind, list_slugs)
        prepared = self._prepared.get(key)
        if prepared is None:
            render = self.renderer.confirm if kind == "confirm" else self.renderer.welcome
            prepared = self._prepared[key] = render(list_slugs[0], list_slugs[1:])
        return prepared
