"""The parsed form of a segment expression: small frozen nodes, no SQL in sight.

`parser.parse` builds them; `compiler.compile_segment` turns them into a SQLAlchemy
condition. Times stay symbolic (`Ago`, `Today`) until compiled against a clock, so a
saved segment like `subscribed after 30 days ago` always means the last 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

Scalar = str | int | float | bool

ACTIVITIES = ("bounced", "complained", "opened", "clicked")
UNITS = {"hour": 1 / 24, "day": 1, "week": 7}


@dataclass(frozen=True)
class DateLit:
    day: date


@dataclass(frozen=True)
class InstantLit:
    at: datetime  # UTC-aware


@dataclass(frozen=True)
class Ago:
    amount: int
    unit: str  # hour | day | week

    def resolve(self, now: datetime) -> datetime:
        return now - timedelta(days=self.amount * UNITS[self.unit])


@dataclass(frozen=True)
class Today:
    pass


When = DateLit | InstantLit | Ago | Today


def day_of(when: When, now: datetime) -> date:
    """The UTC day a time names (attributes hold days)."""
    if isinstance(when, DateLit):
        return when.day
    if isinstance(when, Today):
        return now.astimezone(UTC).date()
    at = when.at if isinstance(when, InstantLit) else when.resolve(now)
    return at.astimezone(UTC).date()


def bounds(when: When, now: datetime) -> tuple[datetime, datetime]:
    """(before-limit, after-limit): `before` means earlier than the first, `after` means
    at or later than the second. A day excludes itself on both sides: before 2026-11-01
    ends at its midnight, after 2026-11-01 starts the next midnight (UTC)."""
    if isinstance(when, DateLit | Today):
        day = day_of(when, now)
        start = datetime.combine(day, time(), UTC)
        return start, start + timedelta(days=1)
    at = when.at if isinstance(when, InstantLit) else when.resolve(now)
    return at, at + timedelta(microseconds=1)


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class HasTag:
    """Carries any of `tags` (lower-cased)."""

    tags: tuple[str, ...]


@dataclass(frozen=True)
class AttrCompare:
    name: str
    op: str  # = != < <= > >=
    value: Scalar


@dataclass(frozen=True)
class AttrContains:
    name: str
    text: str


@dataclass(frozen=True)
class AttrDate:
    name: str
    op: str  # before | after
    when: When


@dataclass(frozen=True)
class AttrExists:
    name: str


@dataclass(frozen=True)
class Subscribed:
    op: str  # before | after
    when: When


@dataclass(frozen=True)
class Activity:
    kind: str  # one of ACTIVITIES
    ever: bool  # True: at least once; False: never


Node = And | Or | Not | HasTag | AttrCompare | AttrContains | AttrDate | AttrExists
Node = Node | Subscribed | Activity
