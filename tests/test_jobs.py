"""The scheduler's jobs, called directly: digest idempotency, due campaigns, stopping
between batches, debounced feed rebuilds."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from dispatch import jobs
from dispatch.campaigns import Options, create_article
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.jobs import Run
from dispatch.logs import FIELDS
from dispatch.store.database import Database
from dispatch.store.models import (
    Article,
    Campaign,
    CampaignStatus,
    DigestRun,
    SubscriptionStatus,
)
from dispatch.store.types import utcnow
from support.campaigns import FakeClock, add_article, add_subscribers
from support.scheduling import campaigns, job_context, senders, settle

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "scheduler-test-secret")


def fired(settings: Settings) -> datetime:
    """A plausible fire time of the list's schedule: this morning (or yesterday's)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def runs(db: Database) -> list[tuple[str, str, int | None]]:
    with db.session() as session:
        rows = session.execute(
            select(DigestRun.period_key, DigestRun.outcome, DigestRun.campaign_id).where(
                DigestRun.period_key.startswith("digest:")
            )
        )
        return [(key, outcome, campaign) for key, outcome, campaign in rows]


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    return [
        getattr(r, FIELDS) for r in caplog.records if getattr(r, FIELDS, {}).get("event") == name
    ]


def test_a_digest_period_is_sent_once_however_often_it_fires(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    people = add_subscribers(db, LIST, 30)
    add_article(db, "harbour-news")
    context = job_context(db, settings)
    when = fired(settings)
    caplog.set_level(logging.INFO)
    first = jobs.send_digest(LIST, run=Run(context, when))
    again = jobs.send_digest(LIST, run=Run(context, when))
    settle(context)
    assert first is not None and again is None
    key = jobs.period_key(LIST, when, "Europe/London")
    assert campaigns(db) == [(key, "sent")]
    assert runs(db) == [(key, "created", first)]
    assert senders(context).recipients() == {p: 1 for p in people}
    assert events(caplog, "digest.skipped")[0]["reason"] == "already handled"
    assert events(caplog, "campaign.started")[0]["recipients"] == 30


def test_two_runs_racing_for_one_period_create_one_campaign(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 40)
    add_article(db, "harbour-news")
    when = fired(settings)
    contexts = [job_context(db, settings) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[int | None] = []

    def race(context: jobs.JobContext) -> None:
        barrier.wait()
        results.append(jobs.send_digest(LIST, run=Run(context, when)))

    threads = [threading.Thread(target=race, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for context in contexts:
        settle(context)
    assert sorted(results, key=lambda r: r is None)[1] is None and len(results) == 2
    assert len(campaigns(db)) == 1
    total = senders(contexts[0]).recipients() + senders(contexts[1]).recipients()
    assert total == {p: 1 for p in people}


def test_nothing_new_means_no_campaign_and_the_period_is_handled(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_subscribers(db, LIST, 3)
    caplog.set_level(logging.INFO)
    when = fired(settings)
    assert jobs.send_digest(LIST, run=Run(job_context(db, settings), when)) is None
    assert campaigns(db) == []
    assert events(caplog, "digest.empty")[0]["list"] == LIST
    assert runs(db) == [(jobs.period_key(LIST, when, "Europe/London"), "nothing-new", None)]


def test_a_digest_nobody_can_receive_keeps_its_articles_for_the_next(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_subscribers(db, LIST, 3, status=SubscriptionStatus.PENDING)
    add_article(db, "harbour-news")
    caplog.set_level(logging.INFO)
    when = fired(settings)
    assert jobs.send_digest(LIST, run=Run(job_context(db, settings), when)) is None
    assert campaigns(db) == []
    assert runs(db)[0][1] == "no-recipients"
    assert events(caplog, "digest.no_recipients")[0]["articles"] == 1
    people = add_subscribers(db, LIST, 2, start=100)  # confirmed later that day
    context = job_context(db, settings)
    assert jobs.send_digest(LIST, run=Run(context, when + timedelta(days=1))) is not None
    settle(context)
    assert senders(context).recipients() == {p: 1 for p in people}


def test_run_due_starts_a_scheduled_one_off_when_its_time_comes(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 12)
    add_article(db, "tide-tables")
    clock = FakeClock(utcnow())
    with db.session() as session:
        at = clock.now + timedelta(minutes=10)
        create_article(session, settings, "tide-tables", LIST, clock.now, Options(at=at))
    context = job_context(db, settings, clock)
    assert jobs.run_due_campaigns(run=Run(context, clock.now)) == 0
    assert campaigns(db) == [(None, "scheduled")]
    clock.now += timedelta(minutes=11)
    assert jobs.run_due_campaigns(run=Run(context, clock.now)) == 1
    settle(context)
    assert campaigns(db) == [(None, "sent")]
    assert senders(context).recipients() == {p: 1 for p in people}


def test_stop_hands_nothing_more_over_and_a_restart_completes_the_send(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 250)
    add_article(db, "harbour-news")
    context = job_context(db, settings)
    first = MemorySender()
    first.before_handover = lambda number: number == 101 and context.stop.set()
    context.engines.sender_factory = lambda _settings: first
    campaign_id = jobs.send_digest(LIST, run=Run(context, fired(settings)))
    settle(context)
    assert len(first.sent) == 100  # the 101st found the process stopping
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == CampaignStatus.SENDING
    restarted = job_context(db, settings)
    assert jobs.run_due_campaigns(run=Run(restarted, utcnow())) == 1
    settle(restarted)
    assert campaigns(db)[0][1] == "sent"
    assert first.recipients() + senders(restarted).recipients() == {p: 1 for p in people}


def test_feeds_are_rebuilt_once_articles_stop_changing(db: Database, settings: Settings) -> None:
    clock = FakeClock(utcnow())
    context = job_context(db, settings, clock)
    check = Run(context, clock.now)
    quiet = timedelta(seconds=settings.scheduler.debounce_seconds)
    assert jobs.watch_articles(run=check) is None  # first look: remembers what it saw
    clock.now += quiet
    assert jobs.watch_articles(run=check) is not None  # never built yet: builds once
    assert jobs.watch_articles(run=check) is None  # nothing changed since
    add_article(db, "late-news")
    assert jobs.watch_articles(run=check) is None  # changed: waits for quiet
    clock.now += quiet / 2
    assert jobs.watch_articles(run=check) is None
    with db.session() as session:  # unpublishing is a change too, restarting the wait
        session.execute(update(Article).values(updated_at=clock.now, status="draft"))
    assert jobs.watch_articles(run=check) is None  # seen now; quiet counts from here
    clock.now += quiet
    assert jobs.watch_articles(run=check) is not None
    feed = (settings.feeds.public_dir / "rss.xml").read_text(encoding="utf-8")
    assert "Late News" not in feed
    families = context.metrics.registry.get_sample_value(
        "dispatch_feed_builds_total", {"trigger": "change"}
    )
    assert families == 2
    with db.session() as session:
        assert session.scalar(select(Article.status)) == "draft"
