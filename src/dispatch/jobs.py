"""What the scheduler runs; each job calls into campaigns, feeds or ingest.

Stored jobs carry only picklable arguments (a list slug); the scheduler's executor adds
`run=Run(context, scheduled_for)`: the process's `JobContext` and the fire time the
run is for (`scheduler.ContextExecutor`). Tests call jobs the same way.

- `send_digest`: one digest per list and scheduled period. Its idempotency key
  `digest:{list}:{scheduled time, list's zone, ISO 8601}` is `DigestRun.period_key` and
  `Campaign.period_key` (both unique): however often the job fires for a period, it is
  handled once, and what became of it (created, nothing new, nobody to send to, missed)
  is kept, so that a period lost to a crash is found at the next start (`scheduler`).
- `run_due_campaigns`: start scheduled one-offs whose time came, resume sends that an
  outage paused, hand interrupted ones to the executor.
- `refresh_feeds` (interval safety net) and `watch_articles` (debounced rebuild).
- `poll_upstream`: upstream RSS/Atom feeds → articles.
- `publish_scheduled`: scheduled articles whose time came are marked published, the
  feeds rebuilt (WebSub pinged) at once, and their one-off sends started.
- `poll_bounces`: the `[bounces.imap]` mailbox → bounce and complaint events.
- `send_welcome`: welcome series steps that came due → one campaign per step and run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.bounces.imap import poll_mailbox
from dispatch.bounces.intake import BounceIntake
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_digest, plan_digest
from dispatch.campaigns.recipients import count_audience
from dispatch.campaigns.start import start_campaign
from dispatch.campaigns.welcome import run_series
from dispatch.config import Settings
from dispatch.debounce import FeedWatcher, fingerprint
from dispatch.executor import Executor
from dispatch.executor.context import EngineContext
from dispatch.ingest.upstream import poll_all
from dispatch.ingest.upstream_report import PollReport
from dispatch.lists import get_list, live_settings
from dispatch.logs import event
from dispatch.metrics import Metrics
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.scheduled import publish_due
from dispatch.store.database import Database
from dispatch.store.models import DigestRun

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """Everything a job needs, built once per scheduler process: the engine context
    (database, settings, metrics, stop event, clock) and the executor every send goes
    through, shared with the web app in `dispatch serve`."""

    engines: EngineContext
    executor: Executor
    http_client: httpx.Client | None = None  # WebSub pings and upstream polls (tests)
    watcher: FeedWatcher | None = None
    feeds_lock: threading.Lock = field(default_factory=threading.Lock)  # one build at a time

    def __post_init__(self) -> None:
        if self.watcher is None:
            quiet = timedelta(seconds=self.settings.scheduler.debounce_seconds)
            self.watcher = FeedWatcher(quiet)

    @property
    def db(self) -> Database:
        return self.engines.db

    @property
    def settings(self) -> Settings:
        return self.engines.settings

    @property
    def metrics(self) -> Metrics:
        assert self.engines.metrics is not None, "a scheduler counts in its metrics"
        return self.engines.metrics

    @property
    def stop(self) -> threading.Event:
        return self.engines.stop

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.engines.clock


@dataclass(frozen=True)
class Run:
    """One run of a job: the process's context and the fire time it runs for."""

    context: JobContext
    scheduled_for: datetime


def _bound(run: Run | None) -> Run:
    if run is None:
        raise TypeError("a job runs with run=Run(context, scheduled_for) (the executor adds it)")
    return run


def period_key(track: str, scheduled_for: datetime, timezone: str) -> str:
    """`track` is the list's slug, or `slug/edition` for a `[[lists.digests]]` edition."""
    local = scheduled_for.astimezone(ZoneInfo(timezone))
    return f"digest:{track}:{local.isoformat()}"


def track_of(list_slug: str, edition: str | None = None) -> str:
    """Whose periods these are: a list's own schedule, or one of its digest editions."""
    return f"{list_slug}/{edition}" if edition else list_slug


def send_digest(
    list_slug: str, edition: str | None = None, *, run: Run | None = None
) -> int | None:
    """Create, start and send the digest of `list_slug` (of its `edition`, to that
    edition's segment, when given) for the period that fired at `run.scheduled_for`; the
    campaign id, or None (nothing new, nobody to send to, or already handled). What
    became of the period is kept in `digest_runs`, in the same transaction as the
    campaign, so a restart can tell a handled period from a lost one."""
    ctx, scheduled_for = _bound(run).context, _bound(run).scheduled_for
    with ctx.db.session() as session:
        settings = live_settings(session, ctx.settings)
    zone = settings.list_timezone(settings.list(list_slug))
    track = track_of(list_slug, edition)
    key = period_key(track, scheduled_for, zone)
    if ctx.stop.is_set():
        return None  # shutting down: a restart sends it while within the grace period
    if handled(ctx.db, key):
        event(log, "digest.skipped", list=list_slug, period=key, reason="already handled")
        return None
    now = ctx.clock()
    try:
        with ctx.db.session() as session:
            outcome, campaign_id = _digest(session, settings, list_slug, key, now, edition)
            session.add(
                DigestRun(
                    period_key=key,
                    list_slug=track,
                    scheduled_for=scheduled_for,
                    outcome=outcome,
                    campaign_id=campaign_id,
                    created_at=now,
                )
            )
    except IntegrityError:
        if not handled(ctx.db, key):
            raise
        event(log, "digest.skipped", list=list_slug, period=key, reason="handled concurrently")
        return None
    if campaign_id is not None:
        ctx.executor.submit(campaign_id)  # inline: sends in the background; celery: queues
    return campaign_id


def _digest(
    session: Session,
    settings: Settings,
    list_slug: str,
    key: str,
    now: datetime,
    edition: str | None = None,
) -> tuple[str, int | None]:
    plan = plan_digest(session, settings, list_slug, now, edition=edition)
    if not plan.articles:
        event(log, "digest.empty", list=list_slug, period=key, since=plan.since)
        return "nothing-new", None
    segment = settings.list(list_slug).digest(edition).segment if edition else None
    if not count_audience(session, get_list(session, list_slug).id, segment, now):
        event(
            log,
            "digest.no_recipients",
            logging.WARNING,
            list=list_slug,
            period=key,
            articles=len(plan.articles),
            reason="nobody can receive it; the window stays open",
        )
        return "no-recipients", None
    created = create_digest(session, settings, plan, Options(period_key=key, expression=segment))
    assert created is not None
    start_campaign(session, created.campaign, settings, now)
    return "created", created.campaign.id


def handled(db: Database, key: str) -> bool:
    with db.session() as session:
        return session.get(DigestRun, key) is not None


def run_due_campaigns(*, run: Run | None = None) -> int:
    """Start scheduled campaigns whose time came, resume those a provider's outage paused,
    and hand the executor every campaign that needs a runner."""
    ctx = _bound(run).context
    if ctx.stop.is_set():
        return 0
    return len(ctx.executor.run_due())


def send_welcome(*, run: Run | None = None) -> list[int]:
    """Start the welcome series steps that came due (`campaigns.welcome`) and hand each
    step's campaign to the executor; the campaigns started."""
    ctx = _bound(run).context
    if ctx.stop.is_set():
        return []
    started = run_series(ctx.db, ctx.settings, ctx.clock())
    for campaign_id in started:
        ctx.executor.submit(campaign_id)
    return started


def refresh_feeds(trigger: str = "interval", *, run: Run | None = None) -> int:
    """Rebuild and publish every feed; returns how many files changed."""
    ctx = _bound(run).context
    assert ctx.watcher is not None
    with ctx.feeds_lock:
        with ctx.db.session() as session:
            seen = fingerprint(session)
            files = build_feeds(session, ctx.settings, ctx.clock())
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


def publish_scheduled(*, run: Run | None = None) -> list[str]:
    """Publish the scheduled articles whose time came; the slugs published."""
    ctx = _bound(run).context
    if ctx.stop.is_set():
        return []
    with ctx.db.session() as session:
        done = publish_due(session, ctx.settings, ctx.clock())
    if not done.slugs:
        return []
    event(log, "articles.published", articles=",".join(done.slugs), sends=len(done.campaigns))
    refresh_feeds("scheduled", run=run)
    for campaign_id in done.campaigns:
        ctx.executor.submit(campaign_id)
    return done.slugs


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
