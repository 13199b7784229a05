from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.render.digest import default_since, previous_fire_times, select_articles
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus

NOW = datetime(2026, 7, 4, 10, 0, tzinfo=UTC)


def add(
    db: Database,
    slug: str,
    hours_ago: float,
    section: str | None = "world",
    status: ArticleStatus = ArticleStatus.PUBLISHED,
) -> None:
    with db.session() as session:
        session.add(
            Article(
                slug=slug,
                title=slug.title(),
                section=section,
                status=status,
                published_at=NOW - timedelta(hours=hours_ago),
                source="test",
                source_id=slug,
                content_hash=slug.ljust(64, "0"),
            )
        )


def slugs(
    db: Database, sections: tuple[str, ...], since: datetime, until: datetime = NOW
) -> list[str]:
    with db.session() as session:
        return [a.slug for a in select_articles(session, sections, since, until)]


def test_selects_published_articles_of_the_sections_since_newest_first(db: Database) -> None:
    add(db, "old", 30)
    add(db, "world-news", 5)
    add(db, "tech-news", 2, section="technology")
    add(db, "culture-news", 3, section="culture")
    add(db, "draft", 1, status=ArticleStatus.DRAFT)
    add(db, "future", -2)
    since = NOW - timedelta(hours=24)
    assert slugs(db, ("world", "technology"), since) == ["tech-news", "world-news"]
    assert slugs(db, (), since) == ["tech-news", "culture-news", "world-news"]
    assert slugs(db, ("sport",), since) == []


def test_since_is_exclusive(db: Database) -> None:
    add(db, "edge", 24)
    assert slugs(db, (), NOW - timedelta(hours=24)) == []
    assert slugs(db, (), NOW - timedelta(hours=24, seconds=1)) == ["edge"]


def test_default_since_is_one_daily_period_back() -> None:
    since = default_since("0 7 * * *", "Europe/London", NOW)  # 10:00 UTC = 11:00 BST
    assert since == datetime(2026, 7, 3, 7, 0, tzinfo=ZoneInfo("Europe/London"))
    early = datetime(2026, 7, 4, 5, 0, tzinfo=UTC)  # before today's 07:00 BST run
    assert default_since("0 7 * * *", "Europe/London", early).day == 2


def test_default_since_for_a_weekly_schedule() -> None:
    since = default_since("0 8 * * sat", "Europe/London", NOW)  # 2026-07-04 is a Saturday
    assert since.astimezone(UTC) == datetime(2026, 6, 27, 7, 0, tzinfo=UTC)


def test_previous_fire_times_cross_a_dst_change() -> None:
    after_change = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # clocks went forward at 01:00
    first, second = previous_fire_times("0 7 * * *", "Europe/London", after_change)
    assert first.astimezone(UTC) == datetime(2026, 3, 28, 7, 0, tzinfo=UTC)  # 07:00 GMT
    assert second.astimezone(UTC) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 07:00 BST
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=23)


def test_yearly_schedule_and_impossible_counts() -> None:
    fires = previous_fire_times("0 0 1 1 *", "UTC", NOW)
    assert [f.year for f in fires] == [2025, 2026]
    with pytest.raises(ValueError, match="did not fire"):
        previous_fire_times("0 0 29 2 *", "UTC", NOW, count=3)
