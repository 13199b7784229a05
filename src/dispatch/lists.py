"""Mailing lists: config.toml seeds them, the `lists` table is the truth.

`dispatch init` (`sync_lists`) creates a row for every configured list that has none,
and keeps rows nobody edited (`edited_at` NULL) in step with config.toml. Once an editor
changes a list (the admin, `dispatch lists create|edit`), `edited_at` is set and config
edits to that list are ignored from then on (`init` says so).

Which lists are live (scheduled, offered, sendable): every list editors created or
edited, and every configured one. A list only ever seeded from config.toml and then
removed from it is retired: its row stays for history (campaigns, archive), as before.

Everything that needs a list's settings (sender, schedule, time zone, double opt-in)
reads them through `stored_lists` / `live_settings`, never from `settings.lists`
directly; the list's key (its slug) names it everywhere (CLI `--list`, API, forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.config import ListSettings, Settings
from dispatch.errors import NotFound
from dispatch.store.models import MailingList, Subscription, SubscriptionStatus


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by an editor: config ignored


def sync_lists(session: Session, settings: Settings) -> list[MailingList]:
    """Seed the configured lists (see the module docstring); every configured row."""
    rows, _ = seed_lists(session, settings)
    return rows


def seed_lists(session: Session, settings: Settings) -> tuple[list[MailingList], SyncReport]:
    existing = {row.slug: row for row in session.scalars(select(MailingList))}
    report, rows = SyncReport(), []
    for item in settings.lists:
        row = existing.get(item.slug)
        if row is not None and row.edited_at is not None:
            report.kept.append(item.slug)
        else:
            (report.updated if row is not None else report.created).append(item.slug)
            row = row or MailingList(slug=item.slug)
            apply_settings(row, item, settings.list_timezone(item))
            session.add(row)
        rows.append(row)
    session.flush()
    return rows, report


def apply_settings(row: MailingList, item: ListSettings, timezone: str) -> None:
    row.name = item.name
    row.description = item.description
    row.sections = list(item.sections)
    row.schedule = item.schedule
    row.timezone = timezone
    row.from_name = item.from_name
    row.from_email = item.from_email
    row.reply_to = item.reply_to
    row.double_opt_in = item.double_opt_in


def as_settings(row: MailingList, configured: ListSettings | None = None) -> ListSettings:
    """A stored list as the settings object the renderers and the scheduler take. What the
    store does not keep (digest editions, preference tags, the welcome series, click
    tracking) comes from the list's entry in config.toml, when it has one."""
    stored = {
        "slug": row.slug,
        "name": row.name,
        "description": row.description or "",
        "sections": tuple(row.sections or ()),
        "schedule": row.schedule,
        "timezone": row.timezone or None,
        "from_name": row.from_name,
        "from_email": row.from_email,
        "reply_to": row.reply_to,
        "double_opt_in": bool(row.double_opt_in),
    }
    if configured is not None:
        return configured.model_copy(update=stored)
    return ListSettings.model_construct(**stored)


def stored_lists(session: Session, settings: Settings) -> tuple[ListSettings, ...]:
    """Every live list as stored (oldest first), then configured lists `init` has not
    stored yet (they cannot be subscribed to before, but their pages and previews work)."""
    configured = {item.slug: item for item in settings.lists}
    rows = session.scalars(select(MailingList).order_by(MailingList.id))
    stored = tuple(
        as_settings(row, configured.get(row.slug))
        for row in rows
        if row.edited_at is not None or row.slug in configured
    )
    known = {item.slug for item in stored}
    return stored + tuple(item for item in settings.lists if item.slug not in known)


def live_settings(session: Session, settings: Settings) -> Settings:
    """`settings` with `lists` as the store has them now: pass this to anything that
    reads `settings.lists` or `settings.list(slug)`."""
    return settings.model_copy(update={"lists": stored_lists(session, settings)})


def mark_edited(row: MailingList, now: datetime) -> None:
    row.edited_at = now


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
