"""Subscriber growth per day or week: confirmations (subscribed), unsubscribes, and net.

Periods are calendar days or ISO weeks (Monday first) in the site's time zone, the
newest last, and always `periods` of them (zeros included), so charts and tables have
no gaps. A subscription counts as subscribed in the period of its `confirmed_at` and as
unsubscribed in the period of its `unsubscribed_at`; the earlier times those overwrote
(a reader who left and came back) are kept in `subscription_stamps` and count too, so
each change is counted once, where it happened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, type_coerce, union_all
from sqlalchemy.orm import Session

from dispatch.store.models import MailingList, Subscription, SubscriptionStamp
from dispatch.store.types import UTCDateTime

By = Literal["day", "week"]
MAX_PERIODS = 366


@dataclass(frozen=True)
class GrowthRow:
    start: date  # the period's first day
    subscribed: int
    unsubscribed: int

    @property
    def net(self) -> int:
        return self.subscribed - self.unsubscribed

    @property
    def label(self) -> str:
        return self.start.isoformat()


def period_start(day: date, by: By) -> date:
    return day - timedelta(days=day.weekday()) if by == "week" else day


def growth(
    session: Session,
    now: datetime,
    zone: str,
    by: By = "day",
    periods: int = 30,
    list_slug: str | None = None,
) -> list[GrowthRow]:
    """`periods` rows, oldest first, the last one holding `now`."""
    if by not in ("day", "week"):
        raise ValueError(f'by: "{by}" is not "day" or "week"')
    if not 1 <= periods <= MAX_PERIODS:
        raise ValueError(f"periods: {periods} is not between 1 and {MAX_PERIODS}")
    tz = ZoneInfo(zone)
    step = timedelta(days=7 if by == "week" else 1)
    last = period_start(now.astimezone(tz).date(), by)
    starts = [last - step * n for n in range(periods - 1, -1, -1)]
    since = datetime.combine(starts[0], time(), tz)
    subscribed = _counted(session, "subscribed", since, tz, by, list_slug)
    unsubscribed = _counted(session, "unsubscribed", since, tz, by, list_slug)
    return [GrowthRow(s, subscribed[s], unsubscribed[s]) for s in starts]


def _counted(
    session: Session, kind: str, since: datetime, tz: ZoneInfo, by: By, list_slug: str | None
) -> Counter[date]:
    column = Subscription.confirmed_at if kind == "subscribed" else Subscription.unsubscribed_at
    current = select(column.label("at"), Subscription.list_id.label("list_id")).where(
        column >= since
    )
    kept = select(SubscriptionStamp.at, SubscriptionStamp.list_id).where(
        SubscriptionStamp.kind == kind, SubscriptionStamp.at >= since
    )
    both = union_all(current, kept).subquery()
    query = select(type_coerce(both.c.at, UTCDateTime))  # SQLite's union loses the type
    if list_slug is not None:
        query = query.join(MailingList, MailingList.id == both.c.list_id).where(
            MailingList.slug == list_slug
        )
    return Counter(period_start(when.astimezone(tz).date(), by) for when in session.scalars(query))
