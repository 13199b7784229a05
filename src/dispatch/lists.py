"""Mailing lists: config.toml is the source of truth, mirrored into the `lists` table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import NotFound
from dispatch.store.models import MailingList, Subscription, SubscriptionStatus


def sync_lists(session: Session, settings: Settings) -> list[MailingList]:
    """Create or update one row per configured list; rows of removed lists are kept."""
    existing = {row.slug: row for row in session.scalars(select(MailingList))}
    synced = []
    for item in settings.lists:
        row = existing.get(item.slug) or MailingList(slug=item.slug)
        row.name = item.name
        row.description = item.description
        row.sections = list(item.sections)
        row.schedule = item.schedule
        row.timezone = settings.list_timezone(item)
        row.from_name = item.from_name
        row.from_email = item.from_email
        row.reply_to = item.reply_to
        row.double_opt_in = item.double_opt_in
        session.add(row)
        synced.append(row)
    session.flush()
    return synced


def get_list(session: Session, slug: str) -> MailingList:
    row = session.scalar(select(MailingList).where(MailingList.slug == slug))
    if row is None:
        known = ", ".join(session.scalars(select(MailingList.slug))) or "none"
        raise NotFound(f'no list "{slug}" in the store (known: {known}; run `dispatch init`?)')
    return row


@dataclass(frozen=True)
class ListCounts:
    slug: str
    name: str
    pending: int = 0
    confirmed: int = 0
    unsubscribed: int = 0


def list_counts(session: Session) -> list[ListCounts]:
    rows = session.execute(
        select(MailingList.slug, Subscription.status, func.count())
        .join(Subscription, Subscription.list_id == MailingList.id)
        .group_by(MailingList.slug, Subscription.status)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for slug, status, count in rows:
        counts.setdefault(slug, {})[SubscriptionStatus(status).value] = count
    lists = session.scalars(select(MailingList).order_by(MailingList.slug))
    return [ListCounts(row.slug, row.name, **counts.get(row.slug, {})) for row in lists]
