"""The multi-worker send path: one batch of a campaign's ledger per call, any number of
callers at once (Celery batch tasks on several workers).

No lease here: each batch claims the next due pending rows with `SELECT … FOR UPDATE
SKIP LOCKED` (PostgreSQL), so that two workers never claim the same row, marks them
`sending` (the claim time is their `updated_at`) and commits before anything is sent.
Results are recorded as the provider accepts them (`Recorder`), exactly as the single
runner does. Rows left `sending` longer than `claim_timeout` belong to a worker that
died: the next batch turns them back into `pending` and counts them in
`campaign.in_doubt` (the only rows that may reach somebody twice). A redelivered task
thus sends only what the ledger still shows pending.

`send_one_batch` returns what the caller (a task) does next: send another batch, look
again later (retries not due yet, or other workers' rows in flight), or stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch.campaigns import ledger, lifecycle
from dispatch.campaigns.envelopes import EnvelopeMaker, RecipientLinks
from dispatch.campaigns.ledger import Claimed
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.recorder import Recorder
from dispatch.campaigns.snapshot import thaw
from dispatch.delivery.base import Outcome, Sender, SendResult
from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from dispatch.store.types import utcnow

log = logging.getLogger(__name__)


class Next(Enum):
    MORE = "more"  # rows were sent: claim the next batch
    LATER = "later"  # nothing claimable now, but the campaign is not finished
    STOP = "stop"  # sent, paused, cancelled (or gone)


@dataclass(frozen=True)
class BatchResult:
    next: Next
    sent: int = 0
    claimed: int = 0
    recovered: int = 0
    retry_in: float = 0.0  # seconds, with Next.LATER


@dataclass(frozen=True)
class BatchOptions:
    batch_size: int = 500
    claim_timeout: timedelta = timedelta(minutes=5)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_consecutive_errors: int = 20
    poll_seconds: float = 2.0  # longest wait before looking again (LATER)


def send_one_batch(
    db: Database,
    sender: Sender,
    links: RecipientLinks,
    campaign_id: int,
    options: BatchOptions,
    clock: Callable[[], datetime] = utcnow,
) -> BatchResult:
    """Claim, send and record one batch of `campaign_id`; see `Next` for what follows."""
    now = clock()
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id, populate_existing=True)
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            return BatchResult(Next.STOP)
        recovered = recover_stale(session, campaign_id, now, options.claim_timeout)
        limit = max(1, min(options.batch_size, sender.max_batch))
        batch = claim_locked(session, campaign, limit, now)
        message = thaw(campaign.snapshot, campaign_id)
        maker = EnvelopeMaker(
            links,
            campaign_id,
            campaign.key,
            campaign.mailing_list.slug,
            message.from_email.rpartition("@")[2],
        )
    if not batch:
        return _after_empty(db, campaign_id, clock(), options, recovered)
    progress = Progress(campaign_id)
    recorder = Recorder(db, options.policy, clock, progress, lambda p: None)
    rows = {row.id: row for row in batch}
    try:
        for result in sender.send(message, maker.make(batch)):
            row = rows.pop(result.delivery_id, None)
            if row is not None:
                recorder.add(result, row.attempts, row.email)
        leftover = "the sender returned no result"
    except Exception as exc:  # the rest of the batch failed: retried later
        leftover = f"{type(exc).__name__}: {exc}"
    for row in rows.values():
        recorder.add(SendResult(row.id, Outcome.TEMPORARY, error=leftover), row.attempts, row.email)
    recorder.flush()
    if recorder.consecutive_failures >= options.max_consecutive_errors:
        _pause(db, campaign_id, recorder)
        return BatchResult(Next.STOP, progress.sent, len(batch), recovered)
    return BatchResult(Next.MORE, progress.sent, len(batch), recovered)


def claim_locked(session: Session, campaign: Campaign, limit: int, now: datetime) -> list[Claimed]:
    """`ledger.claim` for many claimers at once: rows locked by another claim are skipped."""
    query = ledger._due(campaign, limit, now)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Delivery.__table__)
    batch, skipped = [], {}  # type: ignore[var-annotated]
    for row in session.execute(query).all():
        reason = ledger._skip_reason(row)
        if reason:
            skipped.setdefault(reason, []).append(row.id)
        else:
            attrs = row.attrs or {}
            batch.append(
                Claimed(row.id, row.subscriber_id, row.email, row.name or "", attrs, row.attempts)
            )
    for reason, ids in skipped.items():
        ledger._set_status(session, ids, DeliveryStatus.SKIPPED, now, error=reason)
    ledger._set_status(session, [c.id for c in batch], DeliveryStatus.SENDING, now)
    return batch


def recover_stale(session: Session, campaign_id: int, now: datetime, timeout: timedelta) -> int:
    """Rows `sending` since before `now - timeout` → pending, counted in `in_doubt`."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.updated_at < now - timeout,
        )
        .values(status=DeliveryStatus.PENDING, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    found = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if found:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(in_doubt=Campaign.in_doubt + found)
            .execution_options(synchronize_session=False)
        )
    return found


def _after_empty(
    db: Database, campaign_id: int, now: datetime, options: BatchOptions, recovered: int
) -> BatchResult:
    """Nothing was claimable: finish the campaign, or say when to look again."""
    with db.session() as session:
        left, due = ledger.waiting(session, campaign_id, now)
        in_flight = session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENDING
            )
        )
        if left or in_flight:
            wait = options.poll_seconds
            if left and not in_flight and due is not None:
                wait = min(max((due - now).total_seconds(), 0.05), options.poll_seconds * 30)
            return BatchResult(Next.LATER, recovered=recovered, retry_in=wait)
        campaign = session.scalar(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        )
        if campaign is not None and campaign.status == CampaignStatus.SENDING:
            lifecycle.move(campaign, CampaignStatus.SENT)
            campaign.finished_at = now
            event(log, "campaign.finished", campaign=campaign_id, in_doubt=campaign.in_doubt)
    return BatchResult(Next.STOP, recovered=recovered)


def _pause(db: Database, campaign_id: int, recorder: Recorder) -> None:
    reason = (
        f"paused after {recorder.consecutive_failures} consecutive failures; "
        f"last: {recorder.last_error}"
    )
    with db.session() as session:
        campaign = session.scalar(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        )
        if campaign is not None and campaign.status == CampaignStatus.SENDING:
            lifecycle.move(campaign, CampaignStatus.PAUSED)
            campaign.pause_reason = reason
            event(log, "campaign.paused", campaign=campaign_id, reason=reason)
