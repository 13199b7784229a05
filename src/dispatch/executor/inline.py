"""`InlineExecutor`: the engine in background threads of this process (the default).

`submit` starts a run in a small pool (a second submit of a campaign already running
here joins it); a run loops over engine steps until the campaign is sent, paused or
cancelled, or only retries that are not due yet remain (the scheduler's run-due carries
those on). `run` does the same in the calling thread and can wait for retries and for a
temporary fault's automatic resume (`dispatch send` in a terminal). At shutdown the
context's stop event is set: runs end before their next message.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from dispatch.campaigns import control
from dispatch.campaigns.due import due_now
from dispatch.campaigns.engine import Engine, Next
from dispatch.executor.context import EngineContext
from dispatch.logs import event
from dispatch.store.models import CampaignStatus

log = logging.getLogger(__name__)
WORKERS = 2  # campaigns sending at once from one process


class InlineExecutor:
    kind = "inline"

    def __init__(self, context: EngineContext, workers: int = WORKERS) -> None:
        self.context = context
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="campaign")
        self._runs: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, campaign_id: int) -> None:
        self.start(campaign_id)

    def start(self, campaign_id: int, wait_for_retries: bool = False) -> Future[None]:
        """Run the campaign in the background (once: a second call joins the first run)."""
        with self._lock:
            current = self._runs.get(campaign_id)
            if current is not None and not current.done():
                return current
            future = self._pool.submit(self._logged, campaign_id, wait_for_retries)
            self._runs[campaign_id] = future
            return future

    def active(self, campaign_id: int) -> bool:
        with self._lock:
            current = self._runs.get(campaign_id)
            return current is not None and not current.done()

    def drain(self, timeout: float | None = None) -> None:
        """Wait for every run started here to end (tests, and `run-due` from a terminal)."""
        with self._lock:
            runs = list(self._runs.values())
        for future in runs:
            future.result(timeout)

    def run_due(self) -> list[int]:
        ids = due_now(self.context.db, self.context.settings, self.context.clock)
        for campaign_id in ids:
            self.submit(campaign_id)
        return ids

    def close(self) -> None:
        self.context.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, campaign_id: int, wait_for_retries: bool = False) -> None:
        """Send the campaign in this thread until it stops (see the module's docstring)."""
        sender = self.context.sender_factory(self.context.settings)
        try:
            drive(self.context, self.context.engine(sender), campaign_id, wait_for_retries)
        finally:
            sender.close()

    def _logged(self, campaign_id: int, wait_for_retries: bool) -> None:
        try:
            self.run(campaign_id, wait_for_retries)
        except Exception as exc:
            event(
                log,
                "campaign.run_failed",
                logging.ERROR,
                campaign=campaign_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise


def drive(context: EngineContext, engine: Engine, campaign_id: int, wait: bool) -> None:
    """Engine steps until the campaign stops: sent, paused, cancelled, the process stopping,
    or (unless `wait`) only retries and automatic resumes that are not due yet left."""
    while not context.stop.is_set():
        result = engine.step(campaign_id)
        if result.next is Next.MORE:
            continue
        if result.next is Next.LATER and wait and result.retry_at is not None:
            _sleep_until(context, result.retry_at)
            continue
        if result.next is Next.STOP and wait and _resume_later(context, campaign_id):
            continue
        return


def _resume_later(context: EngineContext, campaign_id: int) -> bool:
    """Paused by a temporary fault: wait for its automatic resume, then resume it."""
    with context.db.session() as session:
        campaign = control.get_campaign(session, campaign_id)
        at = campaign.auto_resume_at if campaign.status == CampaignStatus.PAUSED else None
    if at is None or not _sleep_until(context, at):
        return False
    with context.db.session() as session:
        return control.resume_automatically(session, campaign_id, context.clock())


def _sleep_until(context: EngineContext, when: datetime) -> bool:
    """Wait for `when` (False when the process is stopping)."""
    assert context.sleep is not None
    while not context.stop.is_set():
        left = (when - context.clock()).total_seconds()
        if left <= 0:
            return True
        context.sleep(min(left, 0.5))
    return False
