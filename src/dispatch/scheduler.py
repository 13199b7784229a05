"""APScheduler 3 wiring: which job runs when. The work itself is in `dispatch.jobs`.

One `BackgroundScheduler` per database (`schedlock`), jobs in a `SQLAlchemyJobStore`
on the same database, explicit ids, `replace_existing=True`, `coalesce=True`,
`max_instances=1`:

    digest:{list}       cron of the list in its time zone    persistent, misfire grace
    digest:{list}/{ed}  each `[[lists.digests]]` edition (instead of the list's own cron)
    feeds:refresh       every feed_refresh_minutes           persistent (safety net)
    upstream:poll       every minute (sources that are due)  persistent
    bounces:poll        every [bounces.imap] interval        persistent, when host is set
    campaigns:run-due   every run_due_seconds, and at start  in memory
    lists:watch         every run_due_seconds                in memory (lists edited in the admin)
    articles:publish    every run_due_seconds, and at start  in memory (scheduled articles)
    welcome:send        every welcome_seconds, and at start  in memory (welcome series)
    feeds:watch         every few seconds (debounce)         in memory

At start the scheduler runs paused while jobs are (re)registered. A job whose trigger
is unchanged keeps the next run time stored by the previous process, so a digest
missed while nothing ran is due at once: run if that fire time is within
`misfire_grace_hours`, otherwise skipped (logged `digest.missed`). The period key in
`jobs.send_digest` makes a second run for the same period a no-op, and a period whose
run was lost to a crash just after its fire time is found and sent (`digest_periods`).

The one-scheduler lock is checked before every job runs and every few seconds between:
when it is gone (its database connection lost, its lock file removed), the scheduler
stops firing and says so, then takes the lock again and carries on — or, when another
scheduler took it meanwhile, stops for good (`lost_to`), so that two never run at once.

`ContextExecutor` passes each job `run=Run(context, fire time)`: stored jobs hold only
picklable arguments (the list slug), and the period key needs the exact fire time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dispatch import digest_periods, jobs, schedlock
from dispatch.cron import cron_trigger
from dispatch.errors import SchedulerLocked
from dispatch.jobs import JobContext
from dispatch.lists import live_settings
from dispatch.logs import event

log = logging.getLogger(__name__)
LOCK_CHECK_SECONDS = 2.0
WORKERS = 8
UPSTREAM_CHECK_SECONDS = 60  # each source has its own interval and back-off ([upstream])
HOUSEKEEPING_GRACE = 60  # seconds: a late run of an in-memory job is still worth doing


class ContextExecutor(ThreadPoolExecutor):
    """Calls `func(*args, run=Run(context, scheduled_for))` when `gate()` (the lock is
    held); records how late it started."""

    def __init__(
        self,
        context: JobContext,
        gate: Callable[[], bool] = lambda: True,
        max_workers: int = WORKERS,
    ) -> None:
        super().__init__(max_workers)
        self.context = context
        self.gate = gate

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        bound = _Bound(job, self.context, run_times[-1], self.gate)
        super()._do_submit_job(bound, run_times)


class _Bound:
    """The job as `run_job` sees it, with the context and fire time bound to `func`."""

    def __init__(
        self, job: Job, context: JobContext, scheduled_for: datetime, gate: Callable[[], bool]
    ) -> None:
        self._job, self._context, self._scheduled_for = job, context, scheduled_for
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)

    def func(self, *args: Any, **kwargs: Any) -> Any:
        if not self._gate():
            event(
                log,
                "job.skipped",
                logging.WARNING,
                job=self._job.id,
                reason="this process no longer holds the scheduler lock",
            )
            return None
        lag = (datetime.now(UTC) - self._scheduled_for).total_seconds()
        kind = self._job.id.split(":")[0]
        self._context.metrics.scheduler_lag.labels(kind).observe(max(0.0, lag))
        run = jobs.Run(self._context, self._scheduled_for)
        return self._job.func(*args, **kwargs, run=run)


class SchedulerService:
    """The scheduler of one process: `start()` (takes the lock), `health()`, `stop()`."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.settings = context.settings.scheduler
        self.lock: schedlock.SchedulerLock | None = None
        self.lost_to: str | None = None  # another scheduler took the lock: stopped for good
        self._lost = False  # the lock is gone for now: not firing
        self._checking = threading.Lock()
        self._guarding = threading.Event()  # set: the lock guard stops
        self._digest_shape: dict[str, tuple[str, str]] | None = None
        self._zones: dict[str, str] = {}  # list key → time zone, as last registered
        self._guard = threading.Thread(target=self._watch_lock, name="scheduler-lock", daemon=True)
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=context.db.engine),
                "memory": MemoryJobStore(),
            },
            executors={"default": ContextExecutor(context, self.holds_lock)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    def start(self) -> None:
        self.lock = schedlock.acquire(self.context.db.url)
        try:
            self.scheduler.start(paused=True)
            self._register()
            self.scheduler.resume()
        except BaseException:
            self.lock.release()
            self.lock = None
            raise
        self.context.metrics.scheduler_running.set(1)
        self._guard.start()
        event(log, "scheduler.started", jobs=len(self.scheduler.get_jobs()), lock=self.lock.holder)

    def holds_lock(self) -> bool:
        """Checked before every job: the lock is still this process's."""
        lock = self.lock
        return lock is not None and not self._lost and self.lost_to is None and lock.check()

    def _watch_lock(self) -> None:
        while not self._guarding.wait(LOCK_CHECK_SECONDS):
            self.check_lock()

    def check_lock(self) -> None:
        """Stop firing when the lock is gone; take it again, or stop for good when another
        scheduler holds it now."""
        with self._checking:
            self._check_lock()

    def _check_lock(self) -> None:
        if self.lost_to is not None or (self.lock is not None and self.lock.check()):
            return
        if not self._lost:
            self._lost = True
            self.scheduler.pause()
            event(
                log,
                "scheduler.lock_lost",
                logging.ERROR,
                reason="the scheduler lock is gone (its connection or file); not firing",
            )
        try:
            fresh = schedlock.acquire(self.context.db.url)
        except SchedulerLocked as exc:
            self.lost_to = str(exc)
            self._guarding.set()
            self.scheduler.shutdown(wait=False)
            self.context.metrics.scheduler_running.set(0)
            event(log, "scheduler.lock_taken", logging.ERROR, error=self.lost_to)
            return
        except Exception as exc:  # the database is still away: try again at the next check
            event(
                log, "scheduler.lock_retry", logging.WARNING, error=f"{type(exc).__name__}: {exc}"
            )
            return
        old, self.lock = self.lock, fresh
        if old is not None:
            old.release()
        self._lost = False
        self.scheduler.resume()
        event(log, "scheduler.lock_regained", lock=fresh.holder)

    def _register(self) -> None:
        settings, grace = self.context.settings, int(self.settings.misfire_grace_hours * 3600)
        self._register_digests()
        minutes = self.settings.feed_refresh_minutes
        self._add("feeds:refresh", jobs.refresh_feeds, _every(minutes * 60), "default", grace)
        upstream = _every(UPSTREAM_CHECK_SECONDS)  # poll_all polls the sources that are due
        self._add("upstream:poll", jobs.poll_upstream, upstream, "default", grace)
        imap = settings.bounces.imap
        if imap.host and imap.user:
            every = _every(imap.interval_minutes * 60)
            self._add("bounces:poll", jobs.poll_bounces, every, "default", grace)
        elif self.scheduler.get_job("bounces:poll", jobstore="default") is not None:
            self.scheduler.remove_job("bounces:poll", jobstore="default")
        now = datetime.now(UTC)
        due = _every(self.settings.run_due_seconds)
        self._add("campaigns:run-due", jobs.run_due_campaigns, due, "memory", next_run_time=now)
        self._add("articles:publish", jobs.publish_scheduled, due, "memory", next_run_time=now)
        welcome = _every(self.settings.welcome_seconds)
        self._add("welcome:send", jobs.send_welcome, welcome, "memory", next_run_time=now)
        watch = _every(max(1.0, self.settings.debounce_seconds / 2))
        self._add("feeds:watch", jobs.watch_articles, watch, "memory")
        self._add("lists:watch", self._watch_lists, due, "memory")

    def _watch_lists(self, *, run: jobs.Run | None = None) -> None:
        """Lists edited in the admin: their digest jobs follow (schedule, time zone)."""
        self._register_digests()

    def _register_digests(self) -> None:
        """One digest job per stored list (`lists.live_settings`) or, for a list with
        `[[lists.digests]]` editions, one per edition (they replace the list's own
        schedule); re-registered only when a list's key, schedules or time zone changed."""
        with self.context.db.session() as session:
            settings = live_settings(session, self.context.settings)
        zones = {item.slug: settings.list_timezone(item) for item in settings.lists}
        shape = {
            item.slug: (
                item.schedule,
                tuple((e.name, e.schedule) for e in item.digests),
                zones[item.slug],
            )
            for item in settings.lists
        }
        if shape == self._digest_shape:
            return
        grace, digests = int(self.settings.misfire_grace_hours * 3600), set()
        for item in settings.lists:
            editions = [(e.name, e.schedule) for e in item.digests] or [(None, item.schedule)]
            for edition, cron in editions:
                job_id = f"digest:{jobs.track_of(item.slug, edition)}"
                trigger = cron_trigger(cron, zones[item.slug])
                args = (item.slug, edition) if edition else (item.slug,)
                self._add(job_id, jobs.send_digest, trigger, "default", grace, args=args)
                if item.slug not in self._zones:
                    self._recover(item.slug, job_id, trigger, grace, zones[item.slug], edition)
                digests.add(job_id)
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id.startswith("digest:") and job.id not in digests:
                self.scheduler.remove_job(job.id, jobstore="default")
                event(log, "scheduler.job_removed", job=job.id, reason="list no longer stored")
        self._digest_shape, self._zones = shape, zones

    def _recover(
        self,
        slug: str,
        job_id: str,
        trigger: BaseTrigger,
        grace: int,
        zone: str,
        edition: str | None = None,
    ) -> None:
        """Send the newest digest period a crash lost, if any (`digest_periods`)."""
        track = jobs.track_of(slug, edition)
        stored = self.scheduler.get_job(job_id, jobstore="default")
        lost = digest_periods.find_lost(
            self.context.db,
            track,
            trigger,
            stored.next_run_time if stored is not None else None,
            datetime.now(UTC),
            timedelta(seconds=grace),
            lambda fire: jobs.period_key(track, fire, zone),
        )
        if lost.send is not None:
            self.scheduler.add_job(
                jobs.send_digest,
                DateTrigger(run_date=lost.send, timezone=UTC),
                args=(slug, edition) if edition else (slug,),
                id=f"digest-recovered:{track}",
                name=f"digest-recovered:{track}",
                jobstore="memory",
                replace_existing=True,
                misfire_grace_time=grace,
            )

    def _add(
        self,
        job_id: str,
        func: Callable[..., Any],
        trigger: BaseTrigger,
        store: str,
        grace: int = HOUSEKEEPING_GRACE,
        args: tuple[Any, ...] = (),
        next_run_time: datetime | None = None,
    ) -> None:
        """Register (or replace) one job; an unchanged trigger keeps its stored next run."""
        options: dict[str, Any] = {}
        stored = self.scheduler.get_job(job_id, jobstore=store)
        if next_run_time is not None:
            options["next_run_time"] = next_run_time
        elif stored is not None and stored.next_run_time and same_trigger(stored.trigger, trigger):
            options["next_run_time"] = stored.next_run_time
        self.scheduler.add_job(
            func,
            trigger,
            args=args,
            id=job_id,
            name=job_id,
            jobstore=store,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
            **options,
        )

    def _on_event(self, job_event: JobExecutionEvent) -> None:
        when = job_event.scheduled_run_time
        if job_event.code == EVENT_JOB_MISSED:
            grace = self.settings.misfire_grace_hours
            reason = f"later than the {grace:g} h grace period: skipped"
            track = job_event.job_id.partition(":")[2]
            slug = track.partition("/")[0]
            if job_event.job_id.startswith("digest:") and slug in self._slugs():
                zone = self._zones[slug]
                key = jobs.period_key(track, when, zone)
                digest_periods.record_missed(self.context.db, track, when, key, reason)
                return
            event(
                log,
                "job.missed",
                logging.WARNING,
                job=job_event.job_id,
                scheduled_for=when,
                reason=reason,
            )
        else:
            error = f"{type(job_event.exception).__name__}: {job_event.exception}"
            event(
                log,
                "job.failed",
                logging.ERROR,
                job=job_event.job_id,
                scheduled_for=when,
                error=error,
            )

    def _slugs(self) -> set[str]:
        return set(self._zones)

    def health(self) -> dict[str, Any]:
        running = self.scheduler.running and self.lost_to is None
        upcoming = [j.next_run_time for j in self.scheduler.get_jobs() if j.next_run_time]
        state = "running" if running and not self.context.stop.is_set() else "stopped"
        if self._lost and self.lost_to is None:
            state = "paused: lock lost"
        return {
            "state": state,
            "jobs": len(self.scheduler.get_jobs()) if running else 0,
            "next_run": min(upcoming).isoformat() if upcoming and running else None,
            "lock": self.lock.holder if self.lock else None,
        }

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking work, let the batch in flight finish; False if that took too long."""
        self.context.stop.set()
        self._guarding.set()
        limit = self.settings.shutdown_timeout_seconds if timeout is None else timeout
        clean = True
        if self.scheduler.running:
            closer = threading.Thread(target=self.scheduler.shutdown, daemon=True)
            closer.start()
            closer.join(limit)
            clean = not closer.is_alive()
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.context.metrics.scheduler_running.set(0)
        event(log, "scheduler.stopped", clean=clean)
        return clean


def _every(seconds: float) -> IntervalTrigger:
    return IntervalTrigger(seconds=seconds, timezone=UTC)


def same_trigger(old: BaseTrigger, new: BaseTrigger) -> bool:
    """Whether a stored trigger still fires like the configured one."""
    if isinstance(old, IntervalTrigger) and isinstance(new, IntervalTrigger):
        return old.interval == new.interval
    return repr(old) == repr(new)
