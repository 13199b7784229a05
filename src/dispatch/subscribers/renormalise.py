"""Stored addresses brought to today's normal form (migration 0011a).

- `subscribers.email`: rewritten in place; a subscriber whose address becomes another
  one's is merged into it (`combine`). Their ledger rows (`deliveries.email`) follow,
  since retries and bounce matching read them.
- `suppressions.email`: rewritten; two that become one keep the older row's reason.
- Test-send deliveries (no subscriber) are rewritten too. `events.email` is left: it
  is what the provider reported.
- A row that is not a usable address at all (or reads as another one) is left as it is
  and reported: an operator decides (`dispatch subscribers delete` erases it; the
  sender fails it alone, saying why).

Subscribers are read in id order a chunk at a time and suppressions by key, so memory
stays flat however large the tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from dispatch.errors import InvalidAddress
from dispatch.store.types import UTCDateTime
from dispatch.subscribers.addresses import normalise_address
from dispatch.subscribers.combine import DELIVERIES, SUBSCRIBERS, combine, readdress

log = logging.getLogger(__name__)

CHUNK = 1000
SUPPRESSIONS = sa.table(
    "suppressions",
    sa.column("email", sa.String),
    sa.column("reason", sa.String),
    sa.column("created_at", UTCDateTime),
)


@dataclass
class Renormalised:
    """What changed. Each row left alone is logged (warning) as it is found."""

    rewritten: int = 0  # subscribers whose address was rewritten
    merged: int = 0  # subscribers merged into another
    suppressions_rewritten: int = 0
    suppressions_merged: int = 0
    deliveries_rewritten: int = 0  # test sends (a subscriber's rows follow them silently)
    left: int = 0  # rows that are not usable addresses

    def summary(self) -> str:
        return (
            f"addresses normalised: {self.rewritten} subscribers rewritten, {self.merged}"
            f" merged into another; {self.suppressions_rewritten} suppressions rewritten,"
            f" {self.suppressions_merged} merged; {self.deliveries_rewritten} test-send"
            f" deliveries rewritten; {self.left} rows left as they were (not usable addresses)"
        )


def renormalise(connection: Connection, now: datetime) -> Renormalised:
    """Bring every stored address to the normal form, inside the caller's transaction."""
    report = Renormalised()
    _subscribers(connection, now, report)
    _suppressions(connection, report)
    _test_sends(connection, report)
    log.info(report.summary())
    return report


def _normal(table: str, value: str, report: Renormalised) -> str | None:
    try:
        return normalise_address(value)
    except InvalidAddress as exc:
        report.left += 1
        log.warning("left %s row %r as it is: %s", table, value, exc.reason)
        return None


def _subscribers(connection: Connection, now: datetime, report: Renormalised) -> None:
    table, last = SUBSCRIBERS, 0
    while rows := connection.execute(
        sa.select(table.c.id, table.c.email)
        .where(table.c.id > last)
        .order_by(table.c.id)
        .limit(CHUNK)
    ).all():
        last = rows[-1].id
        changes = [
            (pid, new)
            for pid, old in rows
            if (new := _normal("subscribers", old, report)) is not None and new != old
        ]
        wanted = [new for _, new in changes]
        held = (
            dict(
                connection.execute(
                    sa.select(table.c.email, table.c.id).where(table.c.email.in_(wanted))
                ).all()
            )
            if wanted
            else {}
        )
        for pid, new in changes:
            _take(connection, pid, new, held, now, report)


def _take(
    connection: Connection,
    pid: int,
    new: str,
    held: dict[str, int],
    now: datetime,
    report: Renormalised,
) -> None:
    """Subscriber `pid` takes the address `new`, merging with whoever holds it."""
    holder = held.get(new)
    if holder is None:
        connection.execute(SUBSCRIBERS.update().where(SUBSCRIBERS.c.id == pid).values(email=new))
        readdress(connection, pid, new)
        held[new] = pid
        report.rewritten += 1
        return
    keep, drop = max(holder, pid), min(holder, pid)
    combine(connection, keep, drop, new, now)
    held[new] = keep
    report.merged += 1


def _suppressions(connection: Connection, report: Renormalised) -> None:
    table, last = SUPPRESSIONS, None
    while True:
        query = sa.select(table.c.email).order_by(table.c.email).limit(CHUNK)
        if last is not None:
            query = query.where(table.c.email > last)
        emails = connection.scalars(query).all()
        if not emails:
            return
        last = emails[-1]
        for old in emails:
            new = _normal("suppressions", old, report)
            if new is not None and new != old:
                _resuppress(connection, old, new, report)


def _resuppress(connection: Connection, old: str, new: str, report: Renormalised) -> None:
    table = SUPPRESSIONS
    rows = connection.execute(sa.select(table).where(table.c.email.in_([old, new]))).all()
    by_email = {row.email: row for row in rows}
    if new not in by_email:
        connection.execute(table.update().where(table.c.email == old).values(email=new))
        report.suppressions_rewritten += 1
        return
    first = min(rows, key=lambda row: row.created_at)
    connection.execute(table.delete().where(table.c.email == old))
    connection.execute(
        table.update()
        .where(table.c.email == new)
        .values(reason=first.reason, created_at=first.created_at)
    )
    report.suppressions_merged += 1


def _test_sends(connection: Connection, report: Renormalised) -> None:
    table = DELIVERIES
    emails = connection.scalars(
        sa.select(table.c.email).where(table.c.subscriber_id.is_(None)).distinct()
    ).all()
    for old in emails:
        new = _normal("deliveries", old, report)
        if new is not None and new != old:
            done = connection.execute(
                table.update()
                .where(table.c.subscriber_id.is_(None), table.c.email == old)
                .values(email=new)
            )
            report.deliveries_rewritten += int(done.rowcount or 0)
