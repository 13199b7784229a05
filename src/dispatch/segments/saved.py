"""Saved segments: create, change, find, delete and count, one list at a time.

A segment's expression is parsed before it is stored, so a stored segment always
compiles; its name is unique within its list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns.recipients import count_audience
from dispatch.errors import NotFound, SegmentError
from dispatch.lists import get_list
from dispatch.segments.parser import parse
from dispatch.store.models import MailingList, Segment

NAME_MAX = 100


@dataclass(frozen=True)
class SegmentView:
    id: int
    list_slug: str
    name: str
    expression: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Segment) -> SegmentView:
        return cls(
            row.id,
            row.mailing_list.slug,
            row.name,
            row.expression,
            row.created_at,
            row.updated_at,
        )


def clean_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise SegmentError("a segment needs a name")
    if len(clean) > NAME_MAX:
        raise SegmentError(f"a segment name has at most {NAME_MAX} characters")
    if any(not char.isprintable() for char in clean):
        raise SegmentError("a segment name cannot contain control characters")
    return clean


def create_segment(
    session: Session, list_slug: str, name: str, expression: str, now: datetime
) -> Segment:
    mailing_list = get_list(session, list_slug)
    clean = clean_name(name)
    parse(expression)
    if _named(session, mailing_list, clean) is not None:
        raise SegmentError(f'the list {list_slug} already has a segment "{clean}"')
    row = Segment(
        list_id=mailing_list.id,
        mailing_list=mailing_list,
        name=clean,
        expression=expression.strip(),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update_segment(
    session: Session,
    row: Segment,
    now: datetime,
    name: str | None = None,
    expression: str | None = None,
) -> Segment:
    if expression is not None:
        parse(expression)
        row.expression = expression.strip()
    if name is not None:
        clean = clean_name(name)
        other = _named(session, row.mailing_list, clean)
        if other is not None and other.id != row.id:
            raise SegmentError(f'the list {row.mailing_list.slug} already has a segment "{clean}"')
        row.name = clean
    row.updated_at = now
    session.flush()
    return row


def list_segments(session: Session, list_slug: str | None = None) -> list[Segment]:
    query = select(Segment).join(MailingList).order_by(MailingList.slug, Segment.name)
    if list_slug is not None:
        query = query.where(MailingList.id == get_list(session, list_slug).id)
    return list(session.scalars(query))


def find_segment(session: Session, name: str, list_slug: str | None = None) -> Segment:
    """The segment called `name` (in `list_slug` when given; else it must be the only one
    of that name). `name` may also be `LIST/NAME`."""
    if list_slug is None and "/" in name:
        list_slug, name = name.split("/", 1)
    query = select(Segment).join(MailingList).where(Segment.name == " ".join(name.split()))
    if list_slug is not None:
        query = query.where(MailingList.slug == list_slug)
    found = list(session.scalars(query))
    if not found:
        where = f" in the list {list_slug}" if list_slug else ""
        raise NotFound(f'no segment "{name}"{where}')
    if len(found) > 1:
        lists = ", ".join(sorted(row.mailing_list.slug for row in found))
        raise SegmentError(f'several lists have a segment "{name}" ({lists}): name the list')
    return found[0]


def delete_segment(session: Session, row: Segment) -> None:
    session.delete(row)
    session.flush()


def count_segment(session: Session, row: Segment, now: datetime) -> int:
    """How many of the list's confirmed, unsuppressed subscribers it selects now."""
    return count_audience(session, row.list_id, row.expression, now)


def _named(session: Session, mailing_list: MailingList, name: str) -> Segment | None:
    return session.scalar(
        select(Segment).where(Segment.list_id == mailing_list.id, Segment.name == name)
    )
