"""APScheduler 3 wiring: which job runs when. The work itself is in `dispatch.jobs`.

One `BackgroundScheduler` per database (`schedlock`), jobs in a `SQLAlchemyJobStore`
on the same database, explicit ids, `replace_existing=True`, `coalesce=True`,
`max_instances=1`:

    digest:{list}       cron of the list in its time zone    persistent, misfire grace
    feeds:refresh       every feed_refresh_minutes           persistent (safety net)
    upstream:poll       every minute (sources that are due)  persistent
    bounces:poll        every [bounces.imap] interval        persistent, when host is set
    campaigns:run-due   every run_due_seconds, and at start  in memory
    feeds:watch         every few seconds (debounce)         in memory

At start the scheduler runs paused while jobs are (re)registered. A job whose trigger
is unchanged keeps the next run time stored by the previous process, so a digest
missed while nothing ran is due at once: run if that fire time is within
`misfire_grace_hours`, otherwise skipped (logged `digest.missed`). The period key in
`jobs.send_digest` makes a second run for the same period a no-op.

`ContextExecutor` passes each job `run=Run(context, fire time)`: stored jobs hold only
picklable arguments (the list slug), and the period key needs the exact fire time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dispatch import jobs, schedlock
from dispatch.cron import cron_trigger
from dispatch.jobs import JobContext
from dispatch.logs import event

log = logging.getLogger(__name__)
WORKERS = 8
UPSTREAM_CHECK_SECONDS = 60  # each source has its own interval and back-off ([upstream])
HOUSEKEEPING_GRACE = 60  # seconds: a late run of an in-memory job is still worth doing


class ContextExecutor(ThreadPoolExecutor):
    """Calls `func(*args, run=Run(context, scheduled_for))`; records how late it started."""

    def __init__(self, context: JobContext, max_workers: int = WORKERS) -> None:
        super().__init__(max_workers)
        self.context = context

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        super()._do_submit_job(_Bound(job, self.context, run_times[-1]), run_times)


class _Bound:
    """The job as `run_job` sees it, with the context and fire time bound to `func`."""

    def __init__(self, job: Job, context: JobContext, scheduled_for: datetime) -> None:
        self._job, self._context, self._scheduled_for = job, context, scheduled_for

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)

    def func(self, *args: Any, **kwargs: Any) -> Any:
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
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=context.db.engine),
                "memory": MemoryJobStore(),
            },
            executors={"default": ContextExecutor(context)},
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
        event(log, "scheduler.started", jobs=len(self.scheduler.get_jobs()), lock=self.lock.holder)

    def _register(self) -> None:
        settings, grace = self.context.settings, int(self.settings.misfire_grace_hours * 3600)
        digests = set()
        for item in settings.lists:
            job_id = f"digest:{item.slug}"
            trigger = cron_trigger(item.schedule, settings.list_timezone(item))
            self._add(job_id, jobs.send_digest, trigger, "default", grace, args=(item.slug,))
            digests.add(job_id)
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
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id.startswith("digest:") and job.id not in digests:
                self.scheduler.remove_job(job.id, jobstore="default")
                event(log, "scheduler.job_removed", job=job.id, reason="list no longer configured")
        now = datetime.now(UTC)
        due = _every(self.settings.run_due_seconds)
        self._add("campaigns:run-due", jobs.run_due_campaigns, due, "memory", next_run_time=now)
        watch = _every(max(1.0, self.settings.debounce_seconds / 2))
        self._add("feeds:watch", jobs.watch_articles, watch, "memory")

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
            name = "digest.missed" if job_event.job_id.startswith("digest:") else "job.missed"
            reason = f"later than the {grace:g} h grace period: skipped"
            event(
                log, name, logging.WARNING, job=job_event.job_id, scheduled_for=when, reason=reason
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

    def health(self) -> dict[str, Any]:
        running = self.scheduler.running
        upcoming = [j.next_run_time for j in self.scheduler.get_jobs() if j.next_run_time]
        return {
            "state": "running" if running and not self.context.stop.is_set() else "stopped",
            "jobs": len(self.scheduler.get_jobs()) if running else 0,
            "next_run": min(upcoming).isoformat() if upcoming and running else None,
            "lock": self.lock.holder if self.lock else None,
        }

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking work, let the batch in flight finish; False if that took too long."""
        self.context.stop.set()
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
