"""The scheduler's jobs, called directly: digest idempotency, due campaigns, stopping
between batches, debounced feed rebuilds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from dispatch import jobs
from dispatch.campaigns import Options, create_article
from dispatch.config import Settings
from dispatch.delivery.base import Envelope, OutgoingMessage, SendResult
from dispatch.delivery.memory import MemorySender
from dispatch.jobs import Run
from dispatch.logs import FIELDS
from dispatch.store.database import Database
from dispatch.store.models import Article, Campaign, CampaignStatus
from dispatch.store.types import utcnow
from support.campaigns import FakeClock, add_article, add_subscribers
from support.scheduling import Senders, campaigns, job_context

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "scheduler-test-secret")


def fired(settings: Settings) -> datetime:
    """A plausible fire time of the list's schedule: this morning (or yesterday's)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


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
    assert first is not None and again is None
    key = jobs.period_key(LIST, when, "Europe/London")
    assert campaigns(db) == [(key, "sent")]
    assert context.sender_factory.recipients() == {p: 1 for p in people}  # type: ignore[attr-defined]
    assert events(caplog, "digest.skipped")[0]["reason"] == "already created"
    assert events(caplog, "campaign.started")[0]["recipients"] == 30
    assert events(caplog, "campaign.finished")[0]["sent"] == 30


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
    assert sorted(results, key=lambda r: r is None)[1] is None and len(results) == 2
    assert len(campaigns(db)) == 1
    total = contexts[0].sender_factory.recipients() + contexts[1].sender_factory.recipients()  # type: ignore[attr-defined]
    assert total == {p: 1 for p in people}


def test_nothing_new_means_no_campaign(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_subscribers(db, LIST, 3)
    caplog.set_level(logging.INFO)
    assert jobs.send_digest(LIST, run=Run(job_context(db, settings), fired(settings))) is None
    assert campaigns(db) == []
    assert events(caplog, "digest.empty")[0]["list"] == LIST


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
    assert campaigns(db) == [(None, "sent")]
    assert context.sender_factory.recipients() == {p: 1 for p in people}  # type: ignore[attr-defined]


class StopsAfterOneBatch(MemorySender):
    """Sets the process's stop event (as SIGTERM would) while its first batch is sent."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        self.stop.set()
        yield from super().send(message, batch)


def test_stop_lets_the_batch_in_flight_finish_and_a_restart_completes_the_send(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 250)  # batch_size 100: three batches
    add_article(db, "harbour-news")
    context = job_context(db, settings)
    first = StopsAfterOneBatch(context.stop)
    context.sender_factory = lambda _settings: first
    campaign_id = jobs.send_digest(LIST, run=Run(context, fired(settings)))
    assert len(first.sent) == 100  # the batch in flight finished, no new one began
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.status == CampaignStatus.SENDING and campaign.runner is None
    restarted = job_context(db, settings)
    assert jobs.run_due_campaigns(run=Run(restarted, utcnow())) == 1
    assert campaigns(db)[0][1] == "sent"
    second: Senders = restarted.sender_factory  # type: ignore[assignment]
    assert first.recipients() + second.recipients() == {p: 1 for p in people}


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
