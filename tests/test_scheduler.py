"""The scheduler service with a controlled clock (time-machine): digests fire at the
list's local time across a DST change, a digest missed while down is sent once on
restart within the grace period and skipped beyond it, restarts duplicate nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text

from dispatch.config import Settings
from dispatch.logs import FIELDS
from dispatch.scheduler import SchedulerService
from dispatch.store.database import Database
from support.campaigns import add_article, add_subscribers
from support.scheduling import campaigns, job_context, wait_for

LIST = "morning-briefing"  # "0 7 * * *" in Europe/London
PERSISTENT = {"digest:morning-briefing", "digest:weekly-review", "feeds:refresh", "upstream:poll"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "scheduler-test-secret")


@pytest.fixture
def services(db: Database, settings: Settings) -> Iterator[list[SchedulerService]]:
    """Started services, each like a new process; all stopped at the end."""
    started: list[SchedulerService] = []
    yield started
    for service in started:
        service.stop(timeout=30)


def start(services: list[SchedulerService], db: Database, settings: Settings) -> SchedulerService:
    for running in services:
        running.stop(timeout=30)  # a restart: the previous "process" is gone
    service = SchedulerService(job_context(db, settings))
    service.start()
    services.append(service)
    return service


def stored_jobs(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, count(*) FROM apscheduler_jobs GROUP BY id"))
        return {job_id: count for job_id, count in rows}


def next_run(service: SchedulerService, job_id: str) -> datetime | None:
    job = service.scheduler.get_job(job_id)
    return job.next_run_time if job is not None else None


def test_restarts_keep_exactly_one_stored_job_per_id(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    first = start(services, db, settings)
    expected = next_run(first, f"digest:{LIST}")
    start(services, db, settings)
    third = start(services, db, settings)
    assert stored_jobs(db) == dict.fromkeys(PERSISTENT, 1)
    assert next_run(third, f"digest:{LIST}") == expected
    assert {job.id for job in third.scheduler.get_jobs(jobstore="memory")} == {
        "campaigns:run-due",
        "feeds:watch",
    }
    health = third.health()
    assert health["state"] == "running" and health["jobs"] == 6


def test_the_digest_fires_at_seven_london_time_on_the_day_clocks_go_forward(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    people = add_subscribers(db, LIST, 20)
    with time_machine.travel(datetime(2026, 3, 29, 5, 59, 57, tzinfo=UTC), tick=True):
        add_article(db, "spring-forward")
        service = start(services, db, settings)
        assert next_run(service, f"digest:{LIST}") == datetime(2026, 3, 29, 6, tzinfo=UTC)
        key = f"digest:{LIST}:2026-03-29T07:00:00+01:00"
        wait_for(lambda: campaigns(db) == [(key, "sent")], what="the 06:00 UTC digest")
        assert next_run(service, f"digest:{LIST}") == datetime(2026, 3, 30, 6, tzinfo=UTC)
    assert service.context.sender_factory.recipients() == {p: 1 for p in people}  # type: ignore[attr-defined]


def test_a_digest_missed_within_the_grace_period_is_sent_once_on_restart(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    people = add_subscribers(db, LIST, 15)
    with time_machine.travel(datetime(2026, 3, 27, 6, 0, tzinfo=UTC), tick=True):
        start(services, db, settings)  # next digest: 07:00 GMT; then the process stops
        services[-1].stop(timeout=30)
    with time_machine.travel(datetime(2026, 3, 27, 9, 0, tzinfo=UTC), tick=True):  # 2 h late
        add_article(db, "while-you-were-down")
        service = start(services, db, settings)
        key = f"digest:{LIST}:2026-03-27T07:00:00+00:00"
        wait_for(lambda: campaigns(db) == [(key, "sent")], what="the missed digest")
        assert next_run(service, f"digest:{LIST}") == datetime(2026, 3, 28, 7, tzinfo=UTC)
        recipients = service.context.sender_factory.recipients()  # type: ignore[attr-defined]
        service = start(services, db, settings)  # and again: nothing more
        wait_for(lambda: next_run(service, "campaigns:run-due") is not None)
        assert campaigns(db) == [(key, "sent")]
    assert recipients == {p: 1 for p in people}
    assert stored_jobs(db) == dict.fromkeys(PERSISTENT, 1)


def test_a_digest_missed_beyond_the_grace_period_is_skipped_and_logged(
    db: Database,
    settings: Settings,
    services: list[SchedulerService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_subscribers(db, LIST, 5)
    caplog.set_level(logging.INFO)
    with time_machine.travel(datetime(2026, 3, 27, 6, 0, tzinfo=UTC), tick=True):
        start(services, db, settings)
        services[-1].stop(timeout=30)
    grace = timedelta(hours=settings.scheduler.misfire_grace_hours)
    late = datetime(2026, 3, 27, 7, tzinfo=UTC) + grace + timedelta(minutes=1)
    with time_machine.travel(late, tick=True):
        add_article(db, "too-late")
        service = start(services, db, settings)
        tomorrow = datetime(2026, 3, 28, 7, tzinfo=UTC)
        wait_for(lambda: next_run(service, f"digest:{LIST}") == tomorrow, what="skip")
        missed = wait_for(
            lambda: [
                getattr(r, FIELDS)
                for r in caplog.records
                if getattr(r, FIELDS, {}).get("event") == "digest.missed"
            ],
            what="digest.missed",
        )
    assert campaigns(db) == []
    assert missed[0]["job"] == f"digest:{LIST}"  # type: ignore[index]
    assert missed[0]["scheduled_for"] == datetime(2026, 3, 27, 7, tzinfo=UTC)  # type: ignore[index]


def test_a_list_removed_from_the_configuration_loses_its_job(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    start(services, db, settings)
    fewer = settings.model_copy(update={"lists": settings.lists[:1]})
    services[-1].stop(timeout=30)
    service = SchedulerService(job_context(db, fewer))
    service.start()
    services.append(service)
    assert f"digest:{LIST}" in stored_jobs(db)
    assert "digest:weekly-review" not in stored_jobs(db)
    with db.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(text("apscheduler_jobs")))
        assert total.scalar() == len(PERSISTENT) - 1


def test_the_bounce_mailbox_is_polled_only_when_configured(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    imap = settings.bounces.imap.model_copy(update={"host": "127.0.0.1", "user": "bounces"})
    bounces = settings.bounces.model_copy(update={"imap": imap})
    polling = settings.model_copy(update={"bounces": bounces})
    service = start(services, db, polling)
    job = service.scheduler.get_job("bounces:poll")
    assert job is not None and job.trigger.interval == timedelta(minutes=5)
    assert stored_jobs(db) == dict.fromkeys(PERSISTENT | {"bounces:poll"}, 1)
    start(services, db, settings)  # the mailbox is removed from the configuration
    assert stored_jobs(db) == dict.fromkeys(PERSISTENT, 1)
