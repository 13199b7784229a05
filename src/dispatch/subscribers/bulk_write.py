"""Writing a batch's people to the store: a few executemany statements.

New subscribers (INSERT … RETURNING their ids), changed subscribers, new subscriptions
(pending, confirmed, and those with another service's dates), pending subscriptions to
confirm, and suppressions kept from another service's export. Values that are the same
for the whole batch (timestamps, status, list) are converted once, not once per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Column, Connection, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import UserDefinedType

from dispatch.store.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    new_token_keys,
)
from dispatch.subscribers.driver_rows import DriverStatement, one_of
from dispatch.subscribers.stamps import keep_stamps

SUBSCRIBERS = Subscriber.__table__
SUBSCRIPTIONS = Subscription.__table__
SUPPRESSIONS = Suppression.__table__


@dataclass(slots=True)
class Person:
    """One address of a batch: as stored (if it is) and as the batch leaves it."""

    email: str
    name: str
    attributes: dict[str, Any]
    status: SubscriptionStatus | None
    id: int | None = None
    loaded: tuple[str, dict[str, Any]] | None = None  # as found in the store
    ours: bool = True  # created by this import (in this batch or an earlier one)
    dirty: bool = False
    new_subscription: bool = False
    upgraded: bool = False
    since: datetime | None = None  # the subscription's start as the file gives it
    confirmed_at: datetime | None = None


def write_people(
    connection: Connection,
    list_id: int,
    people: list[Person],
    confirmed: bool,
    now: datetime,
    via: str | None = None,
) -> None:
    """Write the batch; subscriptions it confirms record `via` (`confirmed_via`)."""
    _insert_new(connection, [p for p in people if p.id is None and p.status is not None], now)
    _update_changed(connection, [p for p in people if p.dirty], now)
    joining = [p for p in people if p.new_subscription]
    for state in (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED):
        group = [p for p in joining if p.status is state]
        undated = [p for p in group if p.since is None and p.confirmed_at is None]
        confirmed_now = state is SubscriptionStatus.CONFIRMED
        _subscribe(connection, list_id, undated, confirmed_now, now, via)
        dated = [p for p in group if p.since is not None or p.confirmed_at is not None]
        _subscribe_dated(connection, list_id, dated, state, now, via)
    _confirm(connection, list_id, [p for p in people if p.upgraded], now, via)


def write_suppressions(connection: Connection, reasons: dict[str, str], now: datetime) -> None:
    """Suppress these addresses (one executemany); one already suppressed keeps its reason."""
    if not reasons:
        return
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(SUPPRESSIONS)
        .values(created_at=_once(connection, SUPPRESSIONS.c.created_at, now))
        .on_conflict_do_nothing(index_elements=["email"])
    )
    connection.execute(statement, [{"email": e, "reason": r} for e, r in reasons.items()])


class _Converted(UserDefinedType[Any]):
    """A value already converted for the driver: SQLAlchemy binds it untouched."""

    cache_ok = True


def _once(connection: Connection, column: Column[Any], value: Any) -> BindParameter[Any]:
    """`value` converted by the column's type once, bound as is for every row of a batch.

    Converting the same timestamp again for each row costs a third of a bulk insert.
    """
    dialect = connection.dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return literal(processor(value) if processor else value, _Converted())


def _insert_new(connection: Connection, fresh: list[Person], now: datetime) -> None:
    """Insert through the driver, then read the new ids back by address (one SELECT):
    SQLite's executemany cannot return them."""
    if not fresh:
        return
    columns = ["email", "name", "attributes", "created_at", "updated_at", "token_key"]
    statement = DriverStatement(connection, SUBSCRIBERS, columns)
    stamp = statement.convert(3, now)
    keys = new_token_keys(len(fresh))
    rows = [
        (p.email, p.name, p.attributes, stamp, stamp, key)
        for p, key in zip(fresh, keys, strict=True)
    ]
    statement.run(rows, converted=(3, 4))
    emails = [p.email for p in fresh]
    found = connection.execute(
        select(SUBSCRIBERS.c.id, SUBSCRIBERS.c.email).where(
            one_of(connection, SUBSCRIBERS.c.email, emails)
        )
    )
    ids = {email: pid for pid, email in found}
    for person in fresh:
        person.id = ids[person.email]


def _update_changed(connection: Connection, changed: list[Person], now: datetime) -> None:
    if not changed:
        return
    statement = DriverStatement(
        connection, SUBSCRIBERS, ["name", "attributes", "updated_at"], where="id"
    )
    stamp = statement.convert(2, now)
    statement.run([(p.name, p.attributes, stamp, p.id) for p in changed], converted=(2,))


SUBSCRIPTION_COLUMNS = [
    "subscriber_id",
    "list_id",
    "status",
    "created_at",
    "updated_at",
    "confirmed_at",
    "confirmed_via",
]


def _subscribe(
    connection: Connection,
    list_id: int,
    people: list[Person],
    confirmed: bool,
    now: datetime,
    via: str | None,
) -> None:
    if not people:
        return
    statement = DriverStatement(connection, SUBSCRIPTIONS, SUBSCRIPTION_COLUMNS)
    status = SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING
    shared = (
        statement.convert(2, status),
        stamp := statement.convert(3, now),
        stamp,
        stamp if confirmed else None,
        via if confirmed else None,
    )
    statement.run([(p.id, list_id, *shared) for p in people], converted=(2, 3, 4, 5, 6))


def _subscribe_dated(
    connection: Connection,
    list_id: int,
    people: list[Person],
    state: SubscriptionStatus,
    now: datetime,
    via: str | None,
) -> None:
    """New subscriptions with the dates another service recorded (per-row stamps)."""
    if not people:
        return
    statement = DriverStatement(connection, SUBSCRIPTIONS, SUBSCRIPTION_COLUMNS)
    confirmed = state is SubscriptionStatus.CONFIRMED
    status, stamp = statement.convert(2, state), statement.convert(4, now)
    marked = via if confirmed else None
    seen: dict[datetime, Any] = {}  # an export's two dates are mostly the same instant

    def converted(value: datetime) -> Any:
        if value not in seen:
            seen[value] = statement.convert(3, value)
        return seen[value]

    rows = [
        (
            p.id,
            list_id,
            status,
            converted(p.since or p.confirmed_at or now),
            stamp,
            converted(p.confirmed_at or p.since or now) if confirmed else None,
            marked,
        )
        for p in people
    ]
    statement.run(rows, converted=(2, 3, 4, 5, 6))


def _confirm(
    connection: Connection, list_id: int, people: list[Person], now: datetime, via: str | None
) -> None:
    if not people:
        return
    ids = [p.id for p in people]
    keep_stamps(
        connection,
        "subscribed",
        SUBSCRIPTIONS.c.subscriber_id.in_(ids),
        SUBSCRIPTIONS.c.list_id == list_id,
        SUBSCRIPTIONS.c.status == SubscriptionStatus.PENDING,
    )
    statement = (
        update(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.subscriber_id == bindparam("person"))
        .where(SUBSCRIPTIONS.c.list_id == list_id)
        .where(SUBSCRIPTIONS.c.status == SubscriptionStatus.PENDING)
        .values(
            status=SubscriptionStatus.CONFIRMED,
            confirmed_at=now,
            confirmed_via=via,
            updated_at=now,
        )
    )
    connection.execute(statement, [{"person": p.id} for p in people])
