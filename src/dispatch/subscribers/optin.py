"""Opting in and out by the subscribers themselves (web pages now, the REST API later).

Each function runs inside the caller's transaction (keep it short: no mail is sent
here) and returns the `Mail`s the caller must send afterwards (`transactional.Mailer`).

- `sign_up`: a suppressed address gets nothing and nothing is stored. A new
  subscription to a double opt-in list is pending and gets a confirmation mail; to a
  list without double opt-in it is confirmed at once and gets a welcome mail. An
  address that unsubscribed from a list must confirm by mail to come back, whatever
  the list's setting (anyone can type anyone's address). A confirmed subscription is
  left alone. Confirmation mails go out at most once an hour per address and list
  (`transactional.claim_confirmation`); addresses are normalised, so `Ann@` and
  `ann@` are one subscriber and one mailbox.
  An existing subscriber's name is never changed by a sign-up form.
  Several lists chosen at once get ONE confirmation mail (one link naming them all)
  and ONE welcome mail (for the lists without double opt-in), not one per list.
- `confirm`: pending → confirmed for every list the link names, with one welcome mail
  for those it confirmed, exactly once; `confirm_state` tells a page that the link was
  already used (so it says so instead of offering the button again).
- `unsubscribe`: → unsubscribed at once; idempotent (`unsubscribe_state` likewise).
- `load_preferences` / `save_preferences` / `leave_all`: the person holding a
  preferences link proved they read that mailbox, so lists they tick are confirmed
  at once (with a welcome mail) and lists they untick are left.
Links name a subscriber id and carry their key (`dispatch.tokens`): `link_holder` finds
the subscriber a link acts on, or none when the link no longer applies (the person was
erased; ids are never reused, and a key never matches anybody else). One merged into
another (`subscriber_merges`) acts on the subscriber it became (`current_id`).
Concurrent requests for the same address are safe: rows are created with INSERT … ON
CONFLICT DO NOTHING and every status change is one conditional UPDATE of the one row.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
from dispatch.lists import get_list
from dispatch.store.models import (
    Campaign,
    MailingList,
    Subscriber,
    SubscriberMerge,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Unsubscribe,
)
from dispatch.subscribers.addresses import clean_name, normalise_address
from dispatch.subscribers.stamps import keep_stamps
from dispatch.subscribers.transactional import Mail, claim_confirmation
from dispatch.tokens import LEGACY, ListClaim, PersonClaim

NAME_MAX = 200
PENDING, CONFIRMED = SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED
UNSUBSCRIBED = SubscriptionStatus.UNSUBSCRIBED


def sign_up(
    session: Session, email: str, name: str, list_slugs: Sequence[str], now: datetime
) -> list[Mail]:
    """Subscribe `email` to the lists; InvalidAddress or NotFound (unknown list) on bad input."""
    address = normalise_address(email)
    rows = [get_list(session, slug) for slug in dict.fromkeys(list_slugs)]
    if not rows or is_suppressed(session, address):
        return []
    _insert_ignore(
        session,
        Subscriber,
        {"email": address, "name": clean_name(name)[:NAME_MAX], "attributes": {}},
        ["email"],
        now,
    )
    person = session.execute(
        select(Subscriber.id, Subscriber.name, Subscriber.token_key).where(
            Subscriber.email == address
        )
    ).one()
    joined: dict[str, list[MailingList]] = {"confirm": [], "welcome": []}
    for row in rows:
        kind, _ = _join(session, person.id, row, now)
        if kind:
            joined[kind].append(row)
    return [
        _one_mail(
            kind,
            person.id,
            address,
            person.name,
            lists,
            now if kind == "confirm" else None,
            token_key=person.token_key,
        )
        for kind, lists in joined.items()
        if lists
    ]


def _one_mail(
    kind: str,
    subscriber_id: int,
    email: str,
    name: str,
    lists: Sequence[MailingList],
    claimed_at: datetime | None = None,
    *,
    token_key: str,
) -> Mail:
    """One mail of `kind` covering every list in `lists` (the first names the sender)."""
    first, *others = lists
    more = tuple((row.slug, row.id) for row in others)
    return Mail(kind, subscriber_id, email, name, first.slug, first.id, claimed_at, token_key, more)


def _join(
    session: Session, subscriber_id: int, row: MailingList, now: datetime
) -> tuple[str | None, datetime | None]:
    status = PENDING if row.double_opt_in else CONFIRMED
    values = {"subscriber_id": subscriber_id, "list_id": row.id, "status": status}
    if status is CONFIRMED:
        values["confirmed_at"] = now
    if _insert_ignore(session, Subscription, values, ["subscriber_id", "list_id"], now):
        if status is CONFIRMED:
            return "welcome", None
    else:
        _set_status(session, subscriber_id, [row.id], PENDING, now, only_from=UNSUBSCRIBED)
    if claim_confirmation(session, subscriber_id, row.id, now):
        return "confirm", now
    return None, None


@dataclass(frozen=True)
class Confirmation:
    outcome: str  # "confirmed" | "already" (confirmed before) | "left" (unsubscribed) | "gone"
    mail: Mail | None = None  # the welcome mail to send


def confirm(session: Session, claim: ListClaim, now: datetime) -> Confirmation:
    """Confirm the subscriptions a confirmation token names; one welcome for them all."""
    rows = _claimed_lists(session, claim)
    if not rows:
        return Confirmation("gone")
    subscriber_id = link_holder(session, claim.subscriber_id, claim.key)
    if subscriber_id is None:
        return Confirmation("gone")
    done = [
        row
        for row in rows
        if _set_status(session, subscriber_id, [row.id], CONFIRMED, now, only_from=PENDING)
    ]
    if done:
        person = session.get_one(Subscriber, subscriber_id)
        if is_suppressed(session, person.email):
            return Confirmation("confirmed")
        return Confirmation(
            "confirmed",
            _one_mail(
                "welcome",
                person.id,
                person.email,
                person.name,
                done,
                token_key=person.token_key,
            ),
        )
    return Confirmation(_settled(session, subscriber_id, rows) or "gone")


def confirm_state(session: Session, claim: ListClaim) -> str | None:
    """What a confirmation link's page should say before anything is pressed: None while
    a list it names is still pending (show the button), else "already", "left" or "gone"."""
    rows = _claimed_lists(session, claim)
    if not rows:
        return "gone"
    subscriber_id = link_holder(session, claim.subscriber_id, claim.key)
    if subscriber_id is None:
        return "gone"
    if any(_status(session, subscriber_id, row.id) is PENDING for row in rows):
        return None
    return _settled(session, subscriber_id, rows) or "gone"


def _claimed_lists(session: Session, claim: ListClaim) -> list[MailingList]:
    """The lists a token names that still exist, in the token's order."""
    found = session.scalars(select(MailingList).where(MailingList.slug.in_(claim.list_slugs)))
    by_slug = {row.slug: row for row in found}
    return [by_slug[slug] for slug in dict.fromkeys(claim.list_slugs) if slug in by_slug]


def _settled(session: Session, subscriber_id: int, rows: Sequence[MailingList]) -> str | None:
    """ "already" when a named list is confirmed, else "left" when one was left, else None."""
    statuses = {_status(session, subscriber_id, row.id) for row in rows}
    if CONFIRMED in statuses:
        return "already"
    return "left" if UNSUBSCRIBED in statuses else None


def unsubscribe_state(session: Session, claim: ListClaim) -> str | None:
    """ "already" when the link's subscription is already left, "gone" when there is none."""
    row = session.scalar(select(MailingList).where(MailingList.slug == claim.list_slug))
    if row is None:
        return "gone"
    subscriber_id = link_holder(session, claim.subscriber_id, claim.key)
    if subscriber_id is None:
        return "gone"
    current = _status(session, subscriber_id, row.id)
    if current is None:
        return "gone"
    return "already" if current is UNSUBSCRIBED else None


def unsubscribe(session: Session, claim: ListClaim, now: datetime) -> str:
    """Leave the list an unsubscribe token names: "unsubscribed", "already" or "gone"."""
    row = session.scalar(select(MailingList).where(MailingList.slug == claim.list_slug))
    if row is None:
        return "gone"
    subscriber_id = link_holder(session, claim.subscriber_id, claim.key)
    if subscriber_id is None:
        return "gone"
    if _leave(session, subscriber_id, [row.id], claim.campaign_id, now):
        return "unsubscribed"
    return "already" if _status(session, subscriber_id, row.id) else "gone"


def _leave(
    session: Session,
    subscriber_id: int,
    list_ids: Sequence[int] | None,
    campaign_id: int | None,
    now: datetime,
) -> int:
    """Unsubscribe from these lists (every list when None): one `unsubscribes` row per
    list actually left, counted for the campaign whose mail held the link (when it still
    exists; a deleted one leaves the unsubscribe counted for the list). How many left."""
    where = [Subscription.subscriber_id == subscriber_id, Subscription.status != UNSUBSCRIBED]
    if list_ids is not None:
        if not list_ids:
            return 0
        where.append(Subscription.list_id.in_(list_ids))
    keep_stamps(session, "unsubscribed", *where)
    left = session.scalars(
        update(Subscription)
        .where(*where)
        .values(status=UNSUBSCRIBED, unsubscribed_at=now, updated_at=now)
        .returning(Subscription.list_id)
        .execution_options(synchronize_session=False)
    ).all()
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        campaign_id = None
    session.add_all(
        Unsubscribe(
            subscriber_id=subscriber_id, list_id=list_id, campaign_id=campaign_id, created_at=now
        )
        for list_id in left
    )
    return len(left)


@dataclass(frozen=True)
class ListChoice:
    slug: str
    name: str
    description: str
    status: SubscriptionStatus | None

    @property
    def chosen(self) -> bool:
        return self.status in (PENDING, CONFIRMED)


@dataclass(frozen=True)
class Preferences:
    subscriber_id: int
    email: str
    name: str
    suppressed: bool
    lists: tuple[ListChoice, ...]


def load_preferences(session: Session, claim: PersonClaim, offered: Sequence[str]) -> Preferences:
    """What the preferences page shows; NotFound when the subscriber was erased."""
    person = _person(session, claim)
    subscriber_id = person.id
    on_list = (Subscription.list_id == MailingList.id) & (
        Subscription.subscriber_id == subscriber_id
    )
    found = session.execute(
        select(MailingList.slug, MailingList.name, MailingList.description, Subscription.status)
        .outerjoin(Subscription, on_list)
        .where(MailingList.slug.in_(offered))
    ).all()
    by_slug = {slug: ListChoice(slug, name, text, status) for slug, name, text, status in found}
    choices = tuple(by_slug[slug] for slug in offered if slug in by_slug)
    suppressed = is_suppressed(session, person.email)
    return Preferences(person.id, person.email, person.name, suppressed, choices)


def save_preferences(
    session: Session,
    claim: PersonClaim,
    name: str,
    chosen: Collection[str],
    offered: Sequence[str],
    now: datetime,
) -> list[Mail]:
    """Set the name; join the chosen lists, leave the other offered ones. Welcome mails."""
    person = _person(session, claim)
    subscriber_id = person.id
    cleaned = clean_name(name)[:NAME_MAX]
    if cleaned != person.name:
        person.name, person.updated_at = cleaned, now
    suppressed = is_suppressed(session, person.email)
    rows = session.scalars(select(MailingList).where(MailingList.slug.in_(offered))).all()
    left = [row.id for row in rows if row.slug not in chosen]
    _leave(session, subscriber_id, left, claim.campaign_id, now)
    joined = [
        row
        for row in rows
        if row.slug in chosen and not suppressed and _join_now(session, subscriber_id, row, now)
    ]
    session.flush()
    if not joined:
        return []
    return [
        _one_mail("welcome", person.id, person.email, cleaned, joined, token_key=person.token_key)
    ]


def _join_now(session: Session, subscriber_id: int, row: MailingList, now: datetime) -> bool:
    values = {"subscriber_id": subscriber_id, "list_id": row.id, "status": CONFIRMED}
    values["confirmed_at"] = now
    if _insert_ignore(session, Subscription, values, ["subscriber_id", "list_id"], now):
        return True
    return _set_status(session, subscriber_id, [row.id], CONFIRMED, now)


def leave_all(session: Session, claim: PersonClaim, now: datetime) -> int:
    """Unsubscribe from every list (configured or not); returns how many were left."""
    return _leave(session, _person(session, claim).id, None, claim.campaign_id, now)


def _person(session: Session, claim: PersonClaim) -> Subscriber:
    subscriber_id = link_holder(session, claim.subscriber_id, claim.key)
    person = session.get(Subscriber, subscriber_id) if subscriber_id is not None else None
    if person is None:
        raise NotFound(f"no subscriber {claim.subscriber_id}: erased since the link was sent")
    return person


def link_holder(session: Session, subscriber_id: int, key: str) -> int | None:
    """The subscriber a link naming `subscriber_id` with `key` acts on, or None when the
    link no longer applies: nobody holds the id (erased), the key is not theirs, or it is
    a keyless token (`LEGACY`) and they were stored after keys came (migration 0015a)."""
    holder = link_claim(session, subscriber_id, key)
    return holder.subscriber_id if holder is not None else None


def link_claim(session: Session, subscriber_id: int, key: str) -> PersonClaim | None:
    """As `link_holder`, with the holder's own key (to sign fresh links for them)."""
    current = current_id(session, subscriber_id)
    found = session.execute(
        select(Subscriber.token_key, Subscriber.legacy_links).where(Subscriber.id == current)
    ).first()
    if found is None:
        return None
    if key == LEGACY:
        return PersonClaim(current, found.token_key) if found.legacy_links else None
    # Keys are only ever issued for a current id: a merged id with a key is not one.
    mine = hmac.compare_digest(found.token_key.encode(), key.encode())
    return PersonClaim(current, found.token_key) if mine and current == subscriber_id else None


def unsubscribe_by_link(
    session: Session, claim: ListClaim, now: datetime
) -> tuple[PersonClaim | None, str]:
    """Unsubscribe as a link asks: the holder (for a fresh preferences link) and the
    outcome ("unsubscribed", "already", "gone"); no holder when the link no longer
    applies (nothing changed)."""
    holder = link_claim(session, claim.subscriber_id, claim.key)
    if holder is None:
        return None, "gone"
    own = ListClaim(holder.subscriber_id, claim.list_slug, holder.key, claim.campaign_id)
    holder = PersonClaim(holder.subscriber_id, holder.key, claim.campaign_id)  # its page's link
    return holder, unsubscribe(session, own, now)


def current_id(session: Session, subscriber_id: int) -> int:
    """The subscriber a link's id names now: the one it was merged into, if it was
    (migration 0011a merged addresses that differ only in spelling)."""
    merged_into = session.scalar(
        select(SubscriberMerge.subscriber_id).where(SubscriberMerge.merged_id == subscriber_id)
    )
    return subscriber_id if merged_into is None else merged_into


def is_suppressed(session: Session, address: str) -> bool:
    """Whether the stored (normalised) `address` is suppressed: one primary-key lookup."""
    found = session.scalar(select(Suppression.email).where(Suppression.email == address))
    return found is not None


def _status(session: Session, subscriber_id: int, list_id: int) -> SubscriptionStatus | None:
    return session.scalar(
        select(Subscription.status).where(
            Subscription.subscriber_id == subscriber_id, Subscription.list_id == list_id
        )
    )


def _set_status(
    session: Session,
    subscriber_id: int,
    list_ids: Sequence[int],
    status: SubscriptionStatus,
    now: datetime,
    *,
    only_from: SubscriptionStatus | None = None,
) -> int:
    """One conditional UPDATE to PENDING or CONFIRMED (rows already in `status` are
    untouched); rows changed. Leaving a list is `_leave`, which records the unsubscribe."""
    if not list_ids:
        return 0
    where = [
        Subscription.subscriber_id == subscriber_id,
        Subscription.status != status,
        Subscription.list_id.in_(list_ids),
    ]
    if only_from is not None:
        where.append(Subscription.status == only_from)
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status is CONFIRMED:  # by the person themselves: no longer "confirmed by an import"
        keep_stamps(session, "subscribed", *where)
        values["confirmed_at"], values["confirmed_via"] = now, None
    result = session.execute(
        update(Subscription)
        .where(*where)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _insert_ignore(
    session: Session, model: type[Any], values: dict[str, Any], keys: list[str], now: datetime
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was inserted (judged by
    RETURNING: psycopg reports no rowcount for it)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(model).values(created_at=now, updated_at=now, **values)
    key = model.__table__.c[keys[0]]
    returned = session.execute(statement.on_conflict_do_nothing(index_elements=keys).returning(key))
    return returned.first() is not None
