"""Two subscribers whose addresses normalise alike become one (migration 0011a).

The higher id is kept and the other merged into it (SQLite, without AUTOINCREMENT,
hands a deleted highest id to the next new row, and a merged id must name nobody else):
- name: the most recently updated row's non-empty name, else the other's; attributes:
  both, the most recently updated row's value winning a shared key;
- subscriptions: a list only the merged one had moves over; on a list both had, the
  most protective status wins (unsubscribed over confirmed over pending), with its own
  confirmed/unsubscribed times. Suppression goes by address, so it covers both already;
- deliveries: the merged one's rows move over; in a campaign both were in, the row that
  went furthest stays (bounced, sent, in flight, failed, pending, skipped), events point
  at it, and the campaign counts one recipient less;
- `subscriber_merges` remembers the old id, so links in mail already sent keep working.

Core statements over the columns that exist at revision 0011a, so that later
migrations (which may add columns) never break it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from dispatch.store.types import JsonType, UTCDateTime

SUBSCRIBERS = sa.table(
    "subscribers",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("name", sa.Text),
    sa.column("attributes", JsonType),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
)
SUBSCRIPTIONS = sa.table(
    "subscriptions",
    sa.column("subscriber_id", sa.Integer),
    sa.column("list_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
    sa.column("confirmed_at", UTCDateTime),
    sa.column("unsubscribed_at", UTCDateTime),
    sa.column("confirmation_sent_at", UTCDateTime),
)
DELIVERIES = sa.table(
    "deliveries",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("subscriber_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("status", sa.String),
)
EVENTS = sa.table("events", sa.column("delivery_id", sa.Integer))
CAMPAIGNS = sa.table(
    "campaigns", sa.column("id", sa.Integer), sa.column("recipients_total", sa.Integer)
)
MERGES = sa.table(
    "subscriber_merges",
    sa.column("merged_id", sa.Integer),
    sa.column("subscriber_id", sa.Integer),
    sa.column("merged_at", UTCDateTime),
)

PROTECTION = {"pending": 0, "confirmed": 1, "unsubscribed": 2}
PROGRESS = {"skipped": 0, "pending": 1, "failed": 2, "sending": 3, "sent": 4, "bounced": 5}


def combine(connection: Connection, keep: int, drop: int, email: str, now: datetime) -> None:
    """Merge subscriber `drop` into `keep`, which ends up with the address `email`."""
    kept, dropped = (_person(connection, pid) for pid in (keep, drop))
    older, newer = sorted((kept, dropped), key=lambda row: (row["updated_at"], row is kept))
    values = {
        "name": newer["name"] or older["name"],
        "attributes": {**(older["attributes"] or {}), **(newer["attributes"] or {})},
        "created_at": min(kept["created_at"], dropped["created_at"]),
        # the last change either made, so that a third spelling is weighed fairly
        "updated_at": newer["updated_at"],
    }
    _subscriptions(connection, keep, drop, now)
    _deliveries(connection, keep, drop)
    where_merged_into = MERGES.c.subscriber_id == drop
    connection.execute(MERGES.update().where(where_merged_into).values(subscriber_id=keep))
    connection.execute(MERGES.insert().values(merged_id=drop, subscriber_id=keep, merged_at=now))
    connection.execute(SUBSCRIBERS.delete().where(SUBSCRIBERS.c.id == drop))
    connection.execute(
        SUBSCRIBERS.update().where(SUBSCRIBERS.c.id == keep).values(email=email, **values)
    )
    readdress(connection, keep, email)


def readdress(connection: Connection, subscriber_id: int, email: str) -> None:
    """The subscriber's ledger rows carry their address as stored now."""
    connection.execute(
        DELIVERIES.update()
        .where(DELIVERIES.c.subscriber_id == subscriber_id, DELIVERIES.c.email != email)
        .values(email=email)
    )


def _person(connection: Connection, subscriber_id: int) -> dict[str, Any]:
    row = connection.execute(sa.select(SUBSCRIBERS).where(SUBSCRIBERS.c.id == subscriber_id)).one()
    return dict(row._mapping)


def _subscriptions(connection: Connection, keep: int, drop: int, now: datetime) -> None:
    table = SUBSCRIPTIONS
    rows = connection.execute(sa.select(table).where(table.c.subscriber_id.in_([keep, drop])))
    by_list: dict[int, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_list.setdefault(row.list_id, {})[row.subscriber_id] = dict(row._mapping)
    for list_id, pair in by_list.items():
        on_list = table.c.list_id == list_id
        if keep not in pair:
            moved = table.update().where(table.c.subscriber_id == drop, on_list)
            connection.execute(moved.values(subscriber_id=keep))
        elif drop in pair:
            values = _merged_subscription(pair[keep], pair[drop], now)
            connection.execute(table.delete().where(table.c.subscriber_id == drop, on_list))
            connection.execute(
                table.update().where(table.c.subscriber_id == keep, on_list).values(values)
            )


def _merged_subscription(
    kept: dict[str, Any], dropped: dict[str, Any], now: datetime
) -> dict[str, Any]:
    winner = dropped if PROTECTION[dropped["status"]] > PROTECTION[kept["status"]] else kept
    sent = [row["confirmation_sent_at"] for row in (kept, dropped) if row["confirmation_sent_at"]]
    return {
        "status": winner["status"],
        "confirmed_at": winner["confirmed_at"],
        "unsubscribed_at": winner["unsubscribed_at"],
        "created_at": min(kept["created_at"], dropped["created_at"]),
        "confirmation_sent_at": max(sent, default=None),
        "updated_at": now,
    }


def _deliveries(connection: Connection, keep: int, drop: int) -> None:
    table = DELIVERIES
    rows = connection.execute(
        sa.select(table.c.id, table.c.campaign_id, table.c.subscriber_id, table.c.status).where(
            table.c.subscriber_id.in_([keep, drop])
        )
    )
    by_campaign: dict[int, dict[int, tuple[int, str]]] = {}
    for delivery_id, campaign_id, subscriber_id, status in rows:
        by_campaign.setdefault(campaign_id, {})[subscriber_id] = (delivery_id, status)
    for campaign_id, pair in by_campaign.items():
        if drop not in pair:
            continue
        if keep in pair:
            (loser, _), (winner, _) = sorted(
                (pair[keep], pair[drop]),
                key=lambda row: (PROGRESS.get(row[1], 0), row is pair[keep]),
            )
            _retire(connection, loser, winner, campaign_id)
            moved = winner
        else:
            moved = pair[drop][0]
        connection.execute(table.update().where(table.c.id == moved).values(subscriber_id=keep))


def _retire(connection: Connection, loser: int, winner: int, campaign_id: int) -> None:
    """One of two ledger rows for one person in one campaign goes; its events stay."""
    connection.execute(
        EVENTS.update().where(EVENTS.c.delivery_id == loser).values(delivery_id=winner)
    )
    connection.execute(DELIVERIES.delete().where(DELIVERIES.c.id == loser))
    total = CAMPAIGNS.c.recipients_total
    connection.execute(
        CAMPAIGNS.update()
        .where(CAMPAIGNS.c.id == campaign_id, total > 0)
        .values(recipients_total=total - 1)
    )
