"""Feeds follow the articles: rebuild once the articles have stopped changing.

Every few seconds the scheduler reads a cheap fingerprint of the `articles` table
(rows, published rows, latest `updated_at`): publishing, editing, unpublishing or
deleting an article changes it, whichever process or command did it. `FeedWatcher`
asks for a rebuild once the fingerprint differs from the last build's and has stayed
the same for `quiet` seconds (a burst of imports gives one build, not one per article).
A watcher that has seen no build yet asks for one, so feeds are fresh after start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dispatch.store.models import Article, ArticleStatus

Fingerprint = tuple[int, int, datetime | None]


def fingerprint(session: Session) -> Fingerprint:
    published = func.sum(case((Article.status == ArticleStatus.PUBLISHED, 1), else_=0))
    rows, live, latest = session.execute(
        select(func.count(Article.id), published, func.max(Article.updated_at))
    ).one()
    return int(rows), int(live or 0), latest


@dataclass
class FeedWatcher:
    quiet: timedelta
    built: Fingerprint | None = None  # what the last build saw
    seen: Fingerprint | None = None  # what the last check saw
    changed_at: datetime | None = field(default=None)

    def observe(self, current: Fingerprint, now: datetime) -> bool:
        """Record a check; True when the feeds should be rebuilt now."""
        if current != self.seen:
            self.seen, self.changed_at = current, now
            return False
        if current == self.built or self.changed_at is None:
            return False
        return now - self.changed_at >= self.quiet

    def mark_built(self, current: Fingerprint) -> None:
        self.built = self.seen = current
