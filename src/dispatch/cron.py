"""Schedules as cron expressions: the usual five fields, or six with seconds first.

    "0 7 * * *"       minute hour day-of-month month day-of-week   (07:00 every day)
    "30 0 7 * * *"    second minute hour day-of-month month day-of-week  (07:00:30)

Weekdays mean what they mean in cron: 0 or 7 = Sunday, 1 = Monday … 6 = Saturday, or
names (`mon`…`sun`). APScheduler 3 itself numbers weekdays from 0 = Monday, so numbers
(single, ranges, lists, steps) are translated to names before it sees them.
Fire times are computed in the schedule's time zone (`ZoneInfo`), so "07:00" stays
07:00 local time on both sides of a daylight-saving change. Around the changes
(`WallClockCronTrigger`): a time the clocks skip fires once, an hour later by the clock
(APScheduler's rule: 01:30 on the spring-forward day in London fires at 02:30 BST); a
time the clocks repeat fires once, at its first occurrence, like cron. APScheduler 3.11
alone fires it twice and then, asked for the next time from inside the repeated hour,
returns the same time again and again (a scheduler that never gets past it).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

FIELDS = ("minute", "hour", "day", "month", "day_of_week")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's 0…6 (7 is Sunday too)
_NUMERIC_TERM = re.compile(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?")
PROBE_STEP = timedelta(minutes=1)
MAX_PROBES = 3 * 24 * 60  # longer than any repeated period of wall-clock time


class WallClockCronTrigger(CronTrigger):
    """A CronTrigger that fires once per wall-clock time and always moves forward."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        probe = now
        for _ in range(MAX_PROBES):
            moved_on = previous_fire_time is None or fire is None or fire > previous_fire_time
            if fire is None or (moved_on and not repeated(fire)):
                return fire
            probe = max(probe, fire) + PROBE_STEP
            fire = super().get_next_fire_time(None, probe)
        raise ValueError(f"{self}: no next fire time after {previous_fire_time}")


def repeated(moment: datetime) -> bool:
    """Whether `moment` is the second occurrence of a wall-clock time (clocks went back)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def cron_trigger(expression: str, timezone: str) -> WallClockCronTrigger:
    """The trigger for a 5- or 6-field expression; ValueError says what is wrong."""
    values = expression.split()
    if len(values) not in (5, 6):
        raise ValueError(
            f"wrong number of fields: got {len(values)}, expected 5 (or 6, seconds first)"
        )
    second = values[0] if len(values) == 6 else None
    fields = dict(zip(FIELDS, values[-5:], strict=True))
    fields["day_of_week"] = cron_weekdays(fields["day_of_week"])
    if second is None:
        return WallClockCronTrigger(timezone=ZoneInfo(timezone), **fields)
    return WallClockCronTrigger(second=second, timezone=ZoneInfo(timezone), **fields)


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field with its numbers (0 or 7 = Sunday) turned into names."""
    terms: list[str] = []
    for term in field.split(","):
        match = _NUMERIC_TERM.fullmatch(term)
        if match is None or term == "*":
            terms.append(term)  # names ("mon-fri"), "*", or what APScheduler will judge
            continue
        base, step = match.group(1), int(match.group(2) or 1)
        first, _, last = base.partition("-")
        low = 0 if base == "*" else int(first)
        high = 6 if base == "*" or (not last and match.group(2)) else int(last or first)
        if high > 7 or low > high or step < 1:
            raise ValueError(f'day of week "{term}": expected 0-7 (0 and 7 are Sunday)')
        terms.extend(CRON_DAYS[day % 7] for day in range(low, high + 1, step))
    return ",".join(dict.fromkeys(terms))
