"""The send loop: batches of the ledger through a `Sender`, progress recorded AFTER the
provider accepted (listmonk's lesson), so that a crash never skips anybody.

Per batch: re-read the campaign (a pause or cancel from another process takes effect
here), claim the next due pending rows (marked `sending`, committed), hand their
envelopes to the sender, and write each result as it is yielded (`Recorder`). Rows a
dead runner left in `sending` are "in doubt": counted in `campaign.in_doubt`, then sent
again. The runner never imports a provider, only `delivery.base`; the store, the sender
and the clock are injected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.campaigns import lease, ledger, lifecycle
from dispatch.campaigns.envelopes import EnvelopeMaker, RecipientLinks
from dispatch.campaigns.ledger import Claimed
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.recorder import Recorder
from dispatch.campaigns.snapshot import thaw
from dispatch.config import DeliverySettings
from dispatch.delivery.base import Outcome, OutgoingMessage, Sender, SendResult
from dispatch.errors import CampaignError
from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.store.types import utcnow

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    batch_size: int = 100
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_consecutive_errors: int = 20
    wait_for_retries: bool = False  # False: return when only not-yet-due retries remain
    stale_after: timedelta = lease.STALE_AFTER
    flush_every: int = 50
    flush_seconds: float = 0.02

    @classmethod
    def from_settings(
        cls, delivery: DeliverySettings, wait_for_retries: bool = False
    ) -> RunOptions:
        return cls(
            batch_size=delivery.batch_size,
            policy=RetryPolicy(delivery.max_attempts, delivery.retry_backoff_seconds),
            max_consecutive_errors=delivery.max_consecutive_errors,
            wait_for_retries=wait_for_retries,
        )


@dataclass
class Hooks:
    """What a caller may watch: progress after each write, and waits for retries."""

    on_progress: Callable[[Progress], None] = lambda progress: None
    on_wait: Callable[[Progress, datetime], None] = lambda progress, until: None
    sleep: Callable[[float], None] = time.sleep


class CampaignRunner:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        links: RecipientLinks,
        options: RunOptions | None = None,
        clock: Clock = utcnow,
        hooks: Hooks | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.db, self.sender, self.links, self.clock = db, sender, links, clock
        self.stop = stop  # set (SIGTERM): return between batches; a resume carries on
        self.options = options or RunOptions()
        self.hooks = hooks or Hooks()
        self.me = lease.new_runner_id()
        self._current: Recorder | None = None

    def run(self, campaign_id: int) -> Progress:
        """Send what is due of a `sending` campaign; see `Progress` for what happened."""
        begun = self._begin(campaign_id)
        if isinstance(begun, Progress):
            return begun
        progress, message, maker = begun
        self.hooks.on_progress(progress)  # the starting point, before anything is sent
        try:
            self._loop(campaign_id, progress, message, maker)
        finally:
            with self.db.session() as session:
                lease.release(session, campaign_id, self.me)
        if self.stop is not None and self.stop.is_set() and progress.status == "sending":
            _log(progress, "campaign.interrupted", reason="shutting down; resumes at restart")
        return progress

    def _begin(
        self, campaign_id: int
    ) -> Progress | tuple[Progress, OutgoingMessage, EnvelopeMaker]:
        with self.db.session() as session:
            campaign = _get(session, campaign_id)
            progress = Progress.from_ledger(session, campaign_id, campaign.recipients_total)
            progress.status, progress.in_doubt = campaign.status.value, campaign.in_doubt
            progress.pause_reason = campaign.pause_reason
            if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
                raise CampaignError(
                    f"campaign {campaign_id} is {campaign.status.value}: start it first"
                )
            if campaign.status != CampaignStatus.SENDING:
                return progress  # sent, cancelled or paused: nothing to do
            now = self.clock()
            if not lease.acquire(session, campaign, self.me, now, self.options.stale_after):
                progress.busy = True
                return progress
            found = ledger.recover(session, campaign_id, now)
            campaign.in_doubt += found
            progress.in_doubt = campaign.in_doubt
            message = thaw(campaign.snapshot, campaign_id)
            maker = EnvelopeMaker(
                self.links,
                campaign_id,
                campaign.key,
                campaign.mailing_list.slug,
                message.from_email.rpartition("@")[2],
            )
        return progress, message, maker

    def _loop(
        self, campaign_id: int, progress: Progress, message: OutgoingMessage, maker: EnvelopeMaker
    ) -> None:
        limit = max(1, min(self.options.batch_size, self.sender.max_batch))
        while self.stop is None or not self.stop.is_set():
            batch = self._claim(campaign_id, progress, limit)
            if batch is None:
                return
            if batch:
                if not self._send(campaign_id, progress, message, maker.make(batch), batch):
                    return
            elif not self._finish_or_wait(campaign_id, progress):
                return

    def _claim(self, campaign_id: int, progress: Progress, limit: int) -> list[Claimed] | None:
        """The next batch (maybe empty), or None when the run must stop."""
        with self.db.session() as session:
            campaign = _get(session, campaign_id)
            progress.status, progress.pause_reason = campaign.status.value, campaign.pause_reason
            now = self.clock()
            if campaign.status != CampaignStatus.SENDING or not lease.renew(
                session, campaign_id, self.me, now
            ):
                return None
            batch, skipped = ledger.claim(session, campaign, limit, now)
        progress.skipped += skipped
        if skipped:
            self.hooks.on_progress(progress)
        return batch

    def _send(
        self,
        campaign_id: int,
        progress: Progress,
        message: OutgoingMessage,
        envelopes: list,  # type: ignore[type-arg]
        batch: list[Claimed],
    ) -> bool:
        """Send one batch and record it; False when the campaign paused itself."""
        rows = {row.id: row for row in batch}
        recorder = self._recorder(progress)
        try:
            for result in self.sender.send(message, envelopes):
                row = rows.pop(result.delivery_id, None)
                if row is not None:  # a result for a row not in this batch is ignored
                    recorder.add(result, row.attempts, row.email)
            leftover = "the sender returned no result"
        except Exception as exc:  # the whole rest of the batch failed: retry it later
            leftover = f"{type(exc).__name__}: {exc}"
        for row in rows.values():
            recorder.add(
                SendResult(row.id, Outcome.TEMPORARY, error=leftover), row.attempts, row.email
            )
        recorder.flush()
        if recorder.consecutive_failures >= self.options.max_consecutive_errors:
            reason = (
                f"paused after {recorder.consecutive_failures} consecutive failures; "
                f"last: {recorder.last_error}"
            )
            self._pause(campaign_id, progress, reason)
            return False
        return True

    def _recorder(self, progress: Progress) -> Recorder:
        """One per run, so that a streak of failures spans batches."""
        if self._current is None or self._current.progress is not progress:
            self._current = Recorder(
                self.db,
                self.options.policy,
                self.clock,
                progress,
                self.hooks.on_progress,
                self.options.flush_every,
                self.options.flush_seconds,
            )
        return self._current

    def _pause(self, campaign_id: int, progress: Progress, reason: str) -> None:
        with self.db.session() as session:
            campaign = _get(session, campaign_id)
            if campaign.status == CampaignStatus.SENDING:
                lifecycle.move(campaign, CampaignStatus.PAUSED)
                campaign.pause_reason = reason
        progress.status, progress.pause_reason = CampaignStatus.PAUSED.value, reason
        _log(progress, "campaign.paused", reason=reason)

    def _finish_or_wait(self, campaign_id: int, progress: Progress) -> bool:
        """Nothing due now: mark it sent, or wait for retries; False to stop."""
        now = self.clock()
        with self.db.session() as session:
            left, due = ledger.waiting(session, campaign_id, now)
            if not left:
                campaign = _get(session, campaign_id)
                lifecycle.move(campaign, CampaignStatus.SENT)
                campaign.finished_at = now
                progress.status = CampaignStatus.SENT.value
                progress.waiting, progress.next_retry_at = 0, None
                _log(progress, "campaign.finished")
                return False
        assert due is not None
        progress.waiting, progress.next_retry_at = left, due
        if due <= now:
            return True
        if not self.options.wait_for_retries:
            return False
        self.hooks.on_wait(progress, due)
        self.hooks.sleep(min((due - now).total_seconds(), 1.0))
        return True


def _log(progress: Progress, name: str, **fields: object) -> None:
    event(
        log,
        name,
        campaign=progress.campaign_id,
        recipients=progress.total,
        sent=progress.sent,
        failed=progress.failed,
        skipped=progress.skipped,
        in_doubt=progress.in_doubt,
        **fields,
    )


def _get(session, campaign_id: int) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id} (see `dispatch campaigns list`)")
    return campaign
