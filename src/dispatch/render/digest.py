"""Which articles a list's digest carries, and since when by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cron import cron_trigger
from dispatch.store.models import Article
from dispatch.visibility import is_live

# Look-back windows tried in turn to find the schedule's two latest fire times.
_WINDOWS = (
    timedelta(hours=2),
    timedelta(days=2),
    timedelta(days=9),
    timedelta(days=33),
    timedelta(days=367),
    timedelta(days=4 * 366 + 1),
)


def select_articles(
    session: Session, sections: Sequence[str], since: datetime, until: datetime
) -> list[Article]:
    """Articles of `sections` (empty: all) live at `until` and published after `since`,
    newest first (a scheduled article is in the first digest made after its time)."""
    query = select(Article).where(is_live(until), Article.published_at > since)
    if sections:
        query = query.where(Article.section.in_(list(sections)))
    return list(session.scalars(query.order_by(Article.published_at.desc(), Article.id.desc())))


def previous_fire_times(
    schedule: str, timezone: str, now: datetime, count: int = 2
) -> list[datetime]:
    """The `count` latest fire times of a crontab at or before `now`, oldest first."""
    trigger = cron_trigger(schedule, timezone)
    for window in _WINDOWS:
        fires = _fires_between(trigger, now - window, now)
        if len(fires) >= count:
            return fires[-count:]
    raise ValueError(f'schedule "{schedule}" did not fire {count} times in the last four years')


def default_since(schedule: str, timezone: str, now: datetime) -> datetime:
    """One schedule period back: the fire time before the latest one (preview's default)."""
    return previous_fire_times(schedule, timezone, now, count=2)[0]


def _fires_between(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return fires
