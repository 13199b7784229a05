"""`[[lists.digests]]` editions: each has its own cron, segment and period tracking; the
scheduler registers one job per edition instead of the list's own schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config, jobs
from dispatch.errors import ConfigError
from dispatch.jobs import Run
from dispatch.lists import sync_lists
from dispatch.scheduler import SchedulerService
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Campaign, DigestRun, Subscriber
from dispatch.subscribers.tags import apply_tags
from support.campaigns import add_article, add_subscribers
from support.scheduling import job_context, senders, settle

LIST = "morning-briefing"
EDITIONS = """double_opt_in = true
preference_tags = ["weekly"]

[[lists.digests]]
name = "weekly"
schedule = "0 8 * * sat"
segment = 'tag = "weekly"'

[[lists.digests]]
name = "daily"
schedule = "0 7 * * *"
segment = 'not tag = "weekly"'
"""


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "digest-editions-secret")


@pytest.fixture
def edition_settings(tmp_path: Path, database_url: str) -> config.Settings:
    path = write_config(tmp_path, database_url, {r"^double_opt_in = true .*$": EDITIONS})
    return config.load(path)


@pytest.fixture
def edition_db(edition_settings: config.Settings) -> Iterator[Database]:
    database = Database(edition_settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, edition_settings)
    yield database
    database.dispose()


def test_each_edition_reaches_its_segment_once_per_period(
    edition_db: Database, edition_settings: config.Settings
) -> None:
    db, settings = edition_db, edition_settings
    people = add_subscribers(db, LIST, 4)
    with db.session() as session:
        ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(people[:2])))
        apply_tags(session, {person: ["weekly"] for person in ids})
    add_article(db, "harbour-news")
    context = job_context(db, settings)
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    weekly = jobs.send_digest(LIST, "weekly", run=Run(context, when))
    daily = jobs.send_digest(LIST, "daily", run=Run(context, when))
    assert jobs.send_digest(LIST, "weekly", run=Run(context, when)) is None  # handled
    settle(context)
    assert weekly is not None and daily is not None
    assert senders(context).recipients() == {p: 1 for p in people}  # each got one edition
    with db.session() as session:
        rows = {c.id: c for c in session.scalars(select(Campaign))}
        tracks = set(session.scalars(select(DigestRun.list_slug)))
    assert rows[weekly].segment_expression == 'tag = "weekly"'
    assert rows[weekly].recipients_total == 2 and rows[daily].recipients_total == 2
    assert rows[weekly].period_key.startswith(f"digest:{LIST}/weekly:")
    assert tracks == {f"{LIST}/weekly", f"{LIST}/daily"}
    # The next daily period carries only what is new since the daily edition, however
    # the weekly one stands.
    later = when + timedelta(days=1)
    assert jobs.send_digest(LIST, "daily", run=Run(context, later)) is None  # nothing new


def test_the_scheduler_registers_one_job_per_edition(
    edition_db: Database, edition_settings: config.Settings
) -> None:
    service = SchedulerService(job_context(edition_db, edition_settings))
    service.start()
    try:
        ids = {job.id for job in service.scheduler.get_jobs(jobstore="default")}
    finally:
        service.stop(timeout=30)
    assert {f"digest:{LIST}/weekly", f"digest:{LIST}/daily"} <= ids
    assert f"digest:{LIST}" not in ids  # editions replace the list's own schedule
    assert "digest:weekly-review" in ids


def test_a_bad_edition_segment_is_a_config_error_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    broken = EDITIONS.replace("""segment = 'tag = "weekly"'""", "segment = 'tag = weekly'")
    path = write_config(tmp_path, database_url, {r"^double_opt_in = true .*$": broken})
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "digests" in str(caught.value) and "column 7" in str(caught.value)
    twice = EDITIONS.replace('name = "daily"', 'name = "weekly"')
    path = write_config(tmp_path, database_url, {r"^double_opt_in = true .*$": twice})
    with pytest.raises(ConfigError, match="unique within a list: weekly"):
        config.load(path)
