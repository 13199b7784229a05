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

from dispatch import schedlock
from dispatch.config import Settings
from dispatch.logs import FIELDS
from dispatch.scheduler import SchedulerService
from dispatch.store.database import Database
from support.campaigns import add_article, add_subscribers
from support.scheduling import campaigns, job_context, senders, wait_for

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
        "articles:publish",
        "welcome:send",
        "feeds:watch",
        "lists:watch",
    }
    health = third.health()
    assert health["state"] == "running" and health["jobs"] == 9


def test_a_list_edited_or_created_in_the_store_gets_its_digest_job(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    from dispatch.list_editing import create_list, edit_list

    service = start(services, db, settings)
    now = datetime.now(UTC)
    with db.session() as session:
        edit_list(
            session, settings, LIST, {"schedule": "15 9 * * *", "timezone": "Asia/Tokyo"}, now
        )
        values = {"slug": "lisbon", "name": "Lx", "from_name": "Lx", "from_email": "lx@x.example"}
        create_list(session, settings, values | {"schedule": "0 6 * * 1"}, now)
    service._watch_lists()  # what the lists:watch job does every run_due_seconds
    trigger = service.scheduler.get_job(f"digest:{LIST}").trigger
    assert str(trigger.timezone) == "Asia/Tokyo" and "hour='9'" in str(trigger)
    assert service.scheduler.get_job("digest:lisbon") is not None
    assert stored_jobs(db)["digest:lisbon"] == 1


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
    assert senders(service.context).recipients() == {p: 1 for p in people}


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
        recipients = senders(service.context).recipients()
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
    assert missed[0]["list"] == LIST  # type: ignore[index]
    assert missed[0]["period"] == f"digest:{LIST}:2026-03-27T07:00:00+00:00"  # type: ignore[index]
    assert "grace period" in missed[0]["reason"]  # type: ignore[index]


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


def test_a_period_lost_to_a_kill_just_after_its_fire_time_is_sent_at_restart(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    """APScheduler stores the next run time before the job runs: a process killed in
    between loses the period. The next start finds it (no `digest_runs` record) and
    sends it once."""
    people = add_subscribers(db, LIST, 6)
    with time_machine.travel(datetime(2026, 3, 26, 6, 0, tzinfo=UTC), tick=True):
        start(services, db, settings)  # registered: periods before now are not owed
        services[-1].stop(timeout=30)
    with db.engine.begin() as connection:  # the 07:00 fire time came; the job was stored
        connection.execute(  # as run (next: tomorrow), and the process died there
            text("UPDATE apscheduler_jobs SET next_run_time = :at WHERE id = :job"),
            {"at": datetime(2026, 3, 27, 7, tzinfo=UTC).timestamp(), "job": f"digest:{LIST}"},
        )
    with time_machine.travel(datetime(2026, 3, 26, 7, 0, 3, tzinfo=UTC), tick=True):
        add_article(db, "lost-in-the-crash", published_at=datetime(2026, 3, 26, 6, 30, tzinfo=UTC))
        service = start(services, db, settings)
        key = f"digest:{LIST}:2026-03-26T07:00:00+00:00"
        wait_for(lambda: campaigns(db) == [(key, "sent")], what="the lost period")
        recipients = senders(service.context).recipients()
        service = start(services, db, settings)  # once: the period is recorded now
        wait_for(lambda: next_run(service, "campaigns:run-due") is not None)
    assert campaigns(db) == [(key, "sent")] and recipients == {p: 1 for p in people}


def test_a_lost_lock_stops_the_firing_until_it_is_taken_again(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    service = start(services, db, settings)
    assert service.holds_lock()
    lose(service)
    assert not service.holds_lock()
    service.check_lock()  # it notices, pauses, and takes the lock again at once
    assert service.holds_lock() and service.health()["state"] == "running"


def test_a_second_scheduler_that_took_the_lock_makes_the_first_stop_for_good(
    db: Database, settings: Settings, services: list[SchedulerService]
) -> None:
    first = start(services, db, settings)
    lose(first)
    second = SchedulerService(job_context(db, settings))
    second.start()  # the lock was free: the second takes it
    services.append(second)
    first.check_lock()
    assert first.lost_to is not None and "another scheduler" in first.lost_to
    assert not first.holds_lock() and first.health()["state"] == "stopped"
    assert second.holds_lock()


def lose(service: SchedulerService) -> None:
    """Take the lock away as the world can: its connection killed, its file replaced."""
    lock = service.lock
    if isinstance(lock, schedlock.AdvisorySchedulerLock):
        lock.release()  # the session ends: PostgreSQL drops the advisory lock with it
    else:
        assert isinstance(lock, schedlock.FileSchedulerLock)
        lock.path.unlink()
        lock.release()


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
