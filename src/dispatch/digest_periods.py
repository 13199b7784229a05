"""Digest periods lost to a crash, found when the scheduler starts.

APScheduler stores a job's next run time when it hands the job to its executor, before
the job has run; a process killed in between (a few milliseconds after the fire time)
would lose that period without a word. `jobs.send_digest` writes what became of each
period in `digest_runs`, in the same transaction as its campaign, so at start every fire
time between the last handled period and the stored next run time that has no record is
known to be lost: the newest is sent now when it is within the misfire grace period, the
others are recorded and logged as missed (the newest digest carries their articles).

A list seen for the first time gets a `registered` record instead, so that a new install
(or a new list) never sends a digest for a period from before it was scheduled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import DigestRun

log = logging.getLogger(__name__)
MAX_PERIODS = 1000  # fire times looked at; a schedule this dense, down this long, is rare


@dataclass(frozen=True)
class Lost:
    list_slug: str
    send: datetime | None  # the period to send now (within the grace period)
    missed: list[datetime]  # periods recorded as missed


def find_lost(
    db: Database,
    list_slug: str,
    trigger: BaseTrigger,
    next_run: datetime | None,
    now: datetime,
    grace: timedelta,
    key: Callable[[datetime], str],
) -> Lost:
    """What was lost of `list_slug`'s periods; `key(fire time)` is a period's key."""
    with db.session() as session:
        last = session.scalar(
            select(func.max(DigestRun.scheduled_for)).where(DigestRun.list_slug == list_slug)
        )
        if last is None:
            session.add(
                _record(f"registered:{list_slug}:{now.isoformat()}", list_slug, now, "registered")
            )
            return Lost(list_slug, None, [])
        limit = min(next_run, now) if next_run is not None else now
        fires = [f for f in _fires(trigger, last, limit) if session.get(DigestRun, key(f)) is None]
    if not fires:
        return Lost(list_slug, None, [])
    newest = fires[-1]
    send = newest if now - newest <= grace else None
    missed = fires[:-1] if send is not None else fires
    for fire in missed:
        record_missed(db, list_slug, fire, key(fire), "found at start: the process had stopped")
    if send is not None:
        event(
            log,
            "digest.recovered",
            list=list_slug,
            period=key(send),
            reason="its run was lost when the process stopped; sending it now",
        )
    return Lost(list_slug, send, missed)


def record_missed(db: Database, list_slug: str, fire: datetime, key: str, reason: str) -> None:
    """Keep (and log) that a period was missed, so it is not looked at again."""
    event(log, "digest.missed", logging.WARNING, list=list_slug, period=key, reason=reason)
    try:
        with db.session() as session:
            session.add(_record(key, list_slug, fire, "missed"))
    except IntegrityError:
        pass  # handled meanwhile: nothing to record


def _fires(trigger: BaseTrigger, after: datetime, until: datetime) -> list[datetime]:
    """Fire times in (after, until), in order."""
    found: list[datetime] = []
    fire = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    while fire is not None and fire < until and len(found) < MAX_PERIODS:
        found.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return found


def _record(key: str, list_slug: str, when: datetime, outcome: str) -> DigestRun:
    return DigestRun(period_key=key, list_slug=list_slug, scheduled_for=when, outcome=outcome)
