"""Merging a batch of incoming people into the store with a few bulk Core statements.

Per batch: one SELECT of the people already stored (with their subscription to the
list), one of the suppressions, then at most one executemany each for new subscribers,
changed subscribers, new subscriptions and pending subscriptions to confirm. Rows are
judged in file order against the store *and* the earlier rows of the batch, so each row
gets exactly one subscription outcome in the Tally. `now` is the same for every batch of
one import: it stamps the subscribers the import creates, so that a later batch knows
them as this import's own and does not count their merged repeats as updates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus, Suppression
from dispatch.subscribers.bulk_write import Person, write_people, write_suppressions
from dispatch.subscribers.driver_rows import one_of
from dispatch.subscribers.tags import apply_tags, tag_new_people

SUBSCRIBERS = Subscriber.__table__
SUBSCRIPTIONS = Subscription.__table__
SUPPRESSIONS = Suppression.__table__


class Incoming(NamedTuple):
    """One valid row: a normalised address, a clean name, attributes, its line.

    A tuple: a reader process sends them by the thousand (`file_rows`), and a tuple
    pickles and builds several times faster than a frozen dataclass. Read-only."""

    line: int
    email: str
    name: str = ""
    attributes: Mapping[str, Any] = {}  # the default is shared: rows are never written to
    unsubscribed: bool = False  # the file itself says so (an export's status column)
    tags: tuple[str, ...] = ()  # added to the person's tags (normalised)
    state: SubscriptionStatus | None = None  # pending/confirmed as the file says (services)
    suppress: str | None = None  # keep the address as a suppression, with this reason
    skip: bool = False  # the file says not to import this one (e.g. transactional only)
    since: datetime | None = None  # when they subscribed, as the file says
    confirmed_at: datetime | None = None


@dataclass
class Tally:
    """What happened to each row; every accepted row lands in exactly one of the last five."""

    created: int = 0  # new Subscriber rows
    updated: int = 0  # people stored before the import whose name or attributes changed
    subscribed: int = 0  # new subscriptions to the list
    confirmed: int = 0  # pending subscriptions confirmed by a --confirmed import
    already: int = 0  # already subscribed: nothing to do for the list
    suppressed: int = 0  # skipped: the address is suppressed
    unsubscribed: int = 0  # skipped: the person unsubscribed from the list
    kept_suppressed: int = 0  # unsubscribed or cleaned at the other service: now suppressed
    skipped: int = 0  # the file says not to import them (not subscribed to anything)


def merge_batch(
    connection: Connection,
    list_id: int,
    rows: Sequence[Incoming],
    *,
    confirmed: bool,
    now: datetime,
    tally: Tally,
    via: str | None = None,
) -> None:
    """Bring `rows` into the store (inside the caller's transaction) and count outcomes.

    `via` ("import" for a file) is recorded on the subscriptions this confirms: the
    welcome series leaves an imported audience alone."""
    emails = list(dict.fromkeys(row.email for row in rows))
    people = _load_people(connection, list_id, emails, now)
    suppressed = _load_suppressed(connection, emails)
    suppressing: dict[str, str] = {}
    for row in rows:
        if row.skip:
            tally.skipped += 1
        elif row.suppress and row.email not in suppressed:
            suppressing[row.email] = row.suppress
            suppressed.add(row.email)
            tally.kept_suppressed += 1
        else:
            _judge(row, people, suppressed, confirmed, tally)
    write_suppressions(connection, suppressing, now)
    for person in people.values():
        person.dirty = person.loaded is not None and person.loaded != (
            person.name,
            person.attributes,
        )
        tally.updated += person.dirty and not person.ours
    write_people(connection, list_id, list(people.values()), confirmed, now, via)
    tagged: dict[int, list[str]] = {}
    fresh: dict[int, list[str]] = {}  # people this batch created carry no tags yet
    for row in rows:  # an address twice in the file gets the tags of both rows
        person = people.get(row.email)  # every stored address of the batch is there
        if row.tags and person is not None and person.id is not None:
            into = fresh if person.loaded is None else tagged
            into.setdefault(person.id, []).extend(row.tags)
    tag_new_people(connection, fresh)
    apply_tags(connection, tagged)


def _load_people(
    connection: Connection, list_id: int, emails: list[str], now: datetime
) -> dict[str, Person]:
    joined = SUBSCRIBERS.outerjoin(
        SUBSCRIPTIONS,
        (SUBSCRIPTIONS.c.subscriber_id == SUBSCRIBERS.c.id) & (SUBSCRIPTIONS.c.list_id == list_id),
    )
    query = select(
        SUBSCRIBERS.c.id,
        SUBSCRIBERS.c.email,
        SUBSCRIBERS.c.name,
        SUBSCRIBERS.c.attributes,
        SUBSCRIBERS.c.created_at,
        SUBSCRIPTIONS.c.status,
    ).select_from(joined)
    found = connection.execute(query.where(one_of(connection, SUBSCRIBERS.c.email, emails)))
    people = {}
    for pid, email, name, attributes, created_at, status in found:
        details = dict(attributes or {})
        people[email] = Person(
            email, name, details, status, pid, loaded=(name, dict(details)), ours=created_at == now
        )
    return people


def _load_suppressed(connection: Connection, emails: list[str]) -> set[str]:
    query = select(SUPPRESSIONS.c.email).where(one_of(connection, SUPPRESSIONS.c.email, emails))
    found = connection.scalars(query)
    return set(found)


def _judge(
    row: Incoming,
    people: dict[str, Person],
    suppressed: set[str],
    confirmed: bool,
    tally: Tally,
) -> None:
    if row.email in suppressed:
        tally.suppressed += 1
        return
    person = people.get(row.email)
    if row.unsubscribed or (person and person.status is SubscriptionStatus.UNSUBSCRIBED):
        tally.unsubscribed += 1
        return
    if person is None:
        person = people[row.email] = Person(row.email, row.name, dict(row.attributes), None)
        tally.created += 1
    else:
        _merge_details(person, row)
    if row.state is not None:
        confirmed = row.state is SubscriptionStatus.CONFIRMED
    if person.status is None:
        person.status = SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING
        person.new_subscription = True
        person.since, person.confirmed_at = row.since, row.confirmed_at if confirmed else None
        tally.subscribed += 1
    elif confirmed and person.status is SubscriptionStatus.PENDING:
        person.status = SubscriptionStatus.CONFIRMED
        person.upgraded = True
        tally.confirmed += 1
    else:
        tally.already += 1


def _merge_details(person: Person, row: Incoming) -> None:
    """Fill a missing name; the row's non-empty attributes win; tags add up."""
    if row.name and not person.name:
        person.name = row.name
    tags = person.attributes.get("tags")
    person.attributes.update(row.attributes)
    if isinstance(tags, list) and "tags" in row.attributes:
        person.attributes["tags"] = list(dict.fromkeys([*tags, *row.attributes["tags"]]))
