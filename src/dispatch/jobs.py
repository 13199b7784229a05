"""What the scheduler runs; each job calls into campaigns, feeds or ingest.

Stored jobs carry only picklable arguments (a list slug); the scheduler's executor adds
`run=Run(context, scheduled_for)`: the process's `JobContext` and the fire time the
run is for (`scheduler.ContextExecutor`). Tests call jobs the same way.

- `send_digest`: one digest per list and scheduled period. Its idempotency key
  `digest:{list}:{scheduled time, list's zone, ISO 8601}` is `Campaign.period_key`
  (unique): however often the job fires for a period, at most one campaign exists.
- `run_due_campaigns`: start scheduled one-offs whose time came, resume interrupted sends.
- `refresh_feeds` (interval safety net) and `watch_articles` (debounced rebuild).
- `poll_upstream`: upstream RSS/Atom feeds → articles.
- `poll_bounces`: the `[bounces.imap]` mailbox → bounce and complaint events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch.bounces.imap import poll_mailbox
from dispatch.bounces.intake import BounceIntake
from dispatch.campaigns import CampaignRunner, Hooks, Options, RecipientLinks, RunOptions
from dispatch.campaigns.create import create_digest, plan_digest
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.debounce import FeedWatcher, fingerprint
from dispatch.delivery.base import Sender
from dispatch.delivery.factory import make_sender
from dispatch.executor import make_executor
from dispatch.ingest.upstream import poll_all
from dispatch.ingest.upstream_report import PollReport
from dispatch.logs import event
from dispatch.metrics import Metrics
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Campaign
from dispatch.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """Everything a job needs, built once per scheduler process."""

    db: Database
    settings: Settings
    metrics: Metrics
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], datetime] = utcnow
    sender_factory: Callable[[Settings], Sender] = make_sender
    http_client: httpx.Client | None = None  # WebSub pings and upstream polls (tests)
    watcher: FeedWatcher | None = None
    feeds_lock: threading.Lock = field(default_factory=threading.Lock)  # one build at a time

    def __post_init__(self) -> None:
        if self.watcher is None:
            quiet = timedelta(seconds=self.settings.scheduler.debounce_seconds)
            self.watcher = FeedWatcher(quiet)

    @contextmanager
    def runner(self) -> Iterator[CampaignRunner]:
        """A campaign runner on a fresh sender (closed afterwards) that stops on `stop`."""
        sender = self.sender_factory(self.settings)
        backend = self.settings.delivery.backend
        try:
            yield CampaignRunner(
                self.db,
                sender,
                RecipientLinks.from_settings(self.settings),
                RunOptions.from_settings(self.settings.delivery),
                clock=self.clock,
                hooks=Hooks(on_progress=self.metrics.progress_hook(backend)),
                stop=self.stop,
            )
        finally:
            sender.close()


@dataclass(frozen=True)
class Run:
    """One run of a job: the process's context and the fire time it runs for."""

    context: JobContext
    scheduled_for: datetime


def _bound(run: Run | None) -> Run:
    if run is None:
        raise TypeError("a job runs with run=Run(context, scheduled_for) (the executor adds it)")
    return run


def period_key(list_slug: str, scheduled_for: datetime, timezone: str) -> str:
    local = scheduled_for.astimezone(ZoneInfo(timezone))
    return f"digest:{list_slug}:{local.isoformat()}"


def send_digest(list_slug: str, *, run: Run | None = None) -> int | None:
    """Create, start and send the digest of `list_slug` for the period that fired at
    `run.scheduled_for`; the campaign id, or None (nothing new, or already done)."""
    ctx, scheduled_for = _bound(run).context, _bound(run).scheduled_for
    settings = ctx.settings
    key = period_key(list_slug, scheduled_for, settings.list_timezone(settings.list(list_slug)))
    if ctx.stop.is_set():
        return None  # shutting down: a restart sends it while within the grace period
    if _existing(ctx.db, key) is not None:
        event(log, "digest.skipped", list=list_slug, period=key, reason="already created")
        return None
    now = ctx.clock()
    try:
        with ctx.db.session() as session:
            plan = plan_digest(session, settings, list_slug, now)
            created = create_digest(session, settings, plan, Options(period_key=key))
            if created is None:
                event(log, "digest.empty", list=list_slug, period=key, since=plan.since)
                return None
            start_campaign(session, created.campaign, settings, now)
            campaign_id = created.campaign.id
    except IntegrityError:
        if _existing(ctx.db, key) is None:
            raise
        event(log, "digest.skipped", list=list_slug, period=key, reason="created concurrently")
        return None
    executor = make_executor(ctx)  # inline: sends here; celery: queues its batches
    try:
        executor.submit(campaign_id)
    finally:
        executor.close()
    return campaign_id


def _existing(db: Database, key: str) -> int | None:
    with db.session() as session:
        return session.scalar(select(Campaign.id).where(Campaign.period_key == key))


def run_due_campaigns(*, run: Run | None = None) -> int:
    """Start scheduled campaigns whose time came and resume interrupted ones."""
    ctx = _bound(run).context
    if ctx.stop.is_set():
        return 0
    executor = make_executor(ctx)
    try:
        return executor.run_due()
    finally:
        executor.close()


def refresh_feeds(trigger: str = "interval", *, run: Run | None = None) -> int:
    """Rebuild and publish every feed; returns how many files changed."""
    ctx = _bound(run).context
    assert ctx.watcher is not None
    with ctx.feeds_lock:
        with ctx.db.session() as session:
            seen = fingerprint(session)
            files = build_feeds(session, ctx.settings)
        report = publish_feeds(ctx.settings, files, client=ctx.http_client, now=ctx.clock())
        ctx.watcher.mark_built(seen)
    ctx.metrics.feed_builds.labels(trigger).inc()
    ctx.metrics.feed_files_changed.inc(len(report.changed))
    return len(report.changed)


def watch_articles(*, run: Run | None = None) -> int | None:
    """Debounced: rebuild the feeds once articles changed and then stayed quiet."""
    ctx = _bound(run).context
    assert ctx.watcher is not None
    with ctx.db.session() as session:
        current = fingerprint(session)
    if ctx.watcher.observe(current, ctx.clock()):
        return refresh_feeds("change", run=run)
    return None


def poll_upstream(*, run: Run | None = None) -> PollReport:
    """Poll the upstream feeds that are due (conditional GET); new and edited entries
    become articles, and the feeds follow through `watch_articles`."""
    ctx = _bound(run).context
    try:
        report = poll_all(ctx.db, ctx.settings, client=ctx.http_client, now=ctx.clock)
    except Exception:
        ctx.metrics.upstream_polls.labels("error").inc()
        raise
    ctx.metrics.upstream_polls.labels("ok" if not report.failed else "failures").inc()
    if report.results:
        event(
            log,
            "upstream.polled",
            sources=len(report.results),
            new=report.new,
            updated=report.updated,
            failed=len(report.failed),
        )
    return report


def poll_bounces(*, run: Run | None = None) -> int:
    """Record the bounce and complaint mail waiting in `[bounces.imap]`; how many."""
    ctx = _bound(run).context
    if ctx.stop.is_set():
        return 0
    report = poll_mailbox(ctx.settings, BounceIntake.from_settings(ctx.settings, ctx.db))
    return report.handled
