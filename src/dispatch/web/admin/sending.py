"""Sending from the admin: started campaigns run in background threads of the web process.

One `Sending` per app (`app.state.sending`, built on first use): a small thread pool
whose jobs run the very `CampaignRunner` the CLI and the scheduler run, built the same
way (`jobs.JobContext.runner`: a fresh sender per run, closed afterwards, progress
counted in the app's metrics). Nothing here sends or records anything itself.

A run returns when the campaign is sent, paused or cancelled, or when only retries that
are not due yet remain; the scheduler's `campaigns:run-due` (or `dispatch campaigns
run-due`) carries those on. Each campaign holds a lease while it runs, so a scheduler in
the same or another process never sends it twice. With `executor.kind = "celery"` a
campaign (not a test send) is queued for `dispatch worker`s instead. At shutdown `stop` is set: runs
return between batches and a later resume carries on from the ledger.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from fastapi import FastAPI, Request

from dispatch.campaigns import Progress
from dispatch.executor import make_executor
from dispatch.jobs import JobContext
from dispatch.logs import event
from dispatch.store.models import Campaign, CampaignStatus

log = logging.getLogger(__name__)
WORKERS = 2  # campaigns sending at once from one web process


class Sending:
    def __init__(self, context: JobContext, workers: int = WORKERS) -> None:
        self.context = context
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="admin-send")
        self._runs: dict[int, Future[Progress]] = {}
        self._lock = threading.Lock()

    def submit(self, campaign_id: int) -> Future[Progress]:
        """Run the campaign in the background (once: a second call joins the first run)."""
        with self._lock:
            current = self._runs.get(campaign_id)
            if current is not None and not current.done():
                return current
            future = self._pool.submit(self._run, campaign_id)
            self._runs[campaign_id] = future
            return future

    def running(self, campaign_id: int) -> bool:
        with self._lock:
            current = self._runs.get(campaign_id)
            return current is not None and not current.done()

    def wait(self, campaign_id: int, timeout: float | None = None) -> Progress | None:
        """The outcome of the campaign's latest run here (None if it never ran here)."""
        with self._lock:
            current = self._runs.get(campaign_id)
        return current.result(timeout) if current is not None else None

    def _run(self, campaign_id: int) -> Progress:
        try:
            if self._queued(campaign_id):
                return Progress(campaign_id, status=CampaignStatus.SENDING.value)
            with self.context.runner() as runner:
                return runner.run(campaign_id)
        except Exception as exc:
            event(
                log,
                "campaign.run_failed",
                logging.ERROR,
                campaign=campaign_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise

    def _queued(self, campaign_id: int) -> bool:
        """With `executor.kind = "celery"`, hand a campaign (not a test send, which the
        editor waits for) to the workers; True when it was queued."""
        if self.context.settings.executor.kind != "celery":
            return False
        with self.context.db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.test_to is not None:
                return False
        executor = make_executor(self.context)
        try:
            executor.submit(campaign_id)
        finally:
            executor.close()
        return True

    def shutdown(self) -> None:
        """Stop between batches and wait for the batches in flight."""
        self.context.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def sending_of(request: Request) -> Sending:
    return sending_for(request.app)


def sending_for(app: FastAPI) -> Sending:
    state = app.state
    found: Sending | None = getattr(state, "sending", None)
    if found is None:
        context = JobContext(state.database, state.settings, state.metrics, clock=state.clock)
        found = state.sending = Sending(context)
    return found


def shutdown(app: FastAPI) -> None:
    found: Sending | None = getattr(app.state, "sending", None)
    if found is not None:
        found.shutdown()
