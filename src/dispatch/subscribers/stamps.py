"""Keeping a subscription's earlier confirmation and unsubscribe times.

`subscriptions.confirmed_at` and `unsubscribed_at` hold the latest of each. Whatever
changes a subscription's status calls `keep_stamps` first, with the same conditions as
its UPDATE, so a time about to be overwritten (a reader who left and came back, then
left again) is copied to `subscription_stamps`: one INSERT … SELECT, nothing when no
row has one. Growth charts (`stats.growth`) count the row's times and the kept ones.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, insert, literal, select
from sqlalchemy.orm import Session

from dispatch.store.models import Subscription, SubscriptionStamp

Kind = Literal["subscribed", "unsubscribed"]
COLUMNS = {"subscribed": Subscription.confirmed_at, "unsubscribed": Subscription.unsubscribed_at}


def keep_stamps(store: Session | Connection, kind: Kind, *where: ColumnElement[Any]) -> None:
    """Copy the `kind` time of the subscriptions matching `where` that have one."""
    column = COLUMNS[kind]
    rows = select(
        Subscription.subscriber_id,
        Subscription.list_id,
        literal(kind),
        column,
    ).where(*where, column.is_not(None))
    store.execute(
        insert(SubscriptionStamp).from_select(["subscriber_id", "list_id", "kind", "at"], rows)
    )
