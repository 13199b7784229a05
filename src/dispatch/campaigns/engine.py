"""The one send engine: claim → send → record, for every way a campaign is sent.

`Engine.step(campaign_id)` is the whole of it: it recovers claims that expired, claims
the next due rows (`claims`), hands them to the `Sender` in units from up to
`sender.concurrency` threads, and writes each result as the provider gives it
(`Recorder`). The inline executor loops over steps (`run`); Celery batch tasks run one
step each; nothing else sends campaign mail.

Before each hand-over, `admit` (called by the sender once the message is built) waits
for the send rate (`Pacer`), refuses when the run must stop, and commits the hand-over
mark: a pause, a cancel (from any process) or a shutdown therefore takes effect before
the next message, and a crash leaves in doubt exactly the messages that were handed over
without a recorded answer.

What happens to a recipient happens to that recipient only: a message that cannot be
built fails its own row; a recipient's "try later" is retried on backoff. When the
provider refuses a request as a whole (`ProviderUnavailable`), its rows go back to
pending untouched and the campaign pauses with the provider's words — resuming by itself
on a bounded backoff when the fault is temporary. A streak of `max_consecutive_errors`
permanent refusals or unanswered messages pauses it too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TypeVar

from dispatch.campaigns import claims, ledger
from dispatch.campaigns.claims import Claimed
from dispatch.campaigns.envelopes import EnvelopeMaker, RecipientLinks
from dispatch.campaigns.handover import Handover
from dispatch.campaigns.outcomes import RetryPolicy, counts_as_failure, row_values
from dispatch.campaigns.pausing import pause_for_fault, pause_for_streak, record_progress
from dispatch.campaigns.recorder import Recorder
from dispatch.campaigns.snapshot import thaw
from dispatch.config import Settings
from dispatch.delivery.base import (
    Envelope,
    Halt,
    Outcome,
    OutgoingMessage,
    ProviderUnavailable,
    Sender,
    SendResult,
)
from dispatch.delivery.pacing import Pacer
from dispatch.errors import CampaignError
from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.store.patience import StoreUnavailable, patiently
from dispatch.store.types import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]
NO_RESULT = "the sender gave no result for it"


class Next(Enum):
    MORE = "more"  # rows were claimed: claim the next ones
    LATER = "later"  # nothing claimable now (retries not due, other runners' rows in flight)
    STOP = "stop"  # sent, paused, cancelled, or this runner must stop


@dataclass(frozen=True)
class StepResult:
    next: Next
    claimed: int = 0
    sent: int = 0
    retry_at: datetime | None = None  # with LATER: when something may be due
    reason: str | None = None  # why a STOP that is not the end (paused, stopping …)


@dataclass(frozen=True)
class EngineOptions:
    batch_size: int = 1000  # rows claimed at a time (and at most one SendGrid request)
    claim_ttl: timedelta = timedelta(minutes=5)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_consecutive_errors: int = 20
    auto_resume_first: timedelta = timedelta(seconds=30)
    auto_resume_max: timedelta = timedelta(minutes=15)
    poll: timedelta = timedelta(seconds=2)  # look again when other runners hold rows
    flush_every: int = 50
    flush_seconds: float = 0.02

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineOptions:
        delivery = settings.delivery
        return cls(
            batch_size=delivery.batch_size,
            claim_ttl=timedelta(seconds=settings.executor.claim_timeout_seconds),
            policy=RetryPolicy(delivery.max_attempts, delivery.retry_backoff_seconds),
            max_consecutive_errors=delivery.max_consecutive_errors,
            auto_resume_first=timedelta(seconds=delivery.auto_resume_seconds),
            auto_resume_max=timedelta(seconds=delivery.auto_resume_max_seconds),
        )


@dataclass(frozen=True)
class _Claim:
    rows: list[Claimed]
    message: OutgoingMessage
    maker: EnvelopeMaker


def new_owner() -> str:
    """A claim owner: this host and process, and a nonce for this step."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Engine:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        links: RecipientLinks,
        *,
        pacer: Pacer | None = None,
        options: EngineOptions | None = None,
        clock: Clock = utcnow,
        stop: threading.Event | None = None,
        on_result: Callable[[SendResult], None] = lambda result: None,
    ) -> None:
        self.db, self.sender, self.links, self.clock = db, sender, links, clock
        self.pacer = pacer or Pacer()
        self.options = options or EngineOptions()
        self.stop = stop or threading.Event()  # set (SIGTERM): stop before the next message
        self.on_result = on_result
        self._messages: dict[int, OutgoingMessage] = {}
        self._lock = threading.Lock()
        self._streaks: dict[int, tuple[int, str]] = {}  # campaign → failures in a row, last

    def step(self, campaign_id: int) -> StepResult:
        """Claim, send and record one batch of a `sending` campaign."""
        if self.stop.is_set():
            return StepResult(Next.STOP, reason="shutting down")
        owner = new_owner()
        try:
            claimed = self.patiently(lambda: self._claim(campaign_id, owner), campaign_id)
            if isinstance(claimed, StepResult):
                return claimed
            if not claimed.rows:
                return self.patiently(lambda: self._after_empty(campaign_id), campaign_id)
        except StoreUnavailable as exc:
            return StepResult(Next.STOP, reason=str(exc))
        batch = _Batch(self, campaign_id, owner, claimed.message, claimed.maker, claimed.rows)
        return batch.send()

    def patiently(self, work: Callable[[], T], campaign_id: int, what: str = "a claim") -> T:
        """`work()`, waiting out a store that cannot be written for now (`patience`)."""
        give_up = self.options.claim_ttl.total_seconds()
        return patiently(work, stop=self.stop, give_up=give_up, campaign_id=campaign_id, what=what)

    def _claim(self, campaign_id: int, owner: str) -> _Claim | StepResult:
        now = self.clock()
        with self.db.session() as session:
            campaign = _get(session, campaign_id)
            if campaign.status != CampaignStatus.SENDING:
                return StepResult(Next.STOP, reason=f"the campaign is {campaign.status.value}")
            recovered, doubtful = claims.recover_expired(session, campaign_id, now)
            rows, _skipped = claims.claim(
                session, campaign, owner, self.options.batch_size, now, self.options.claim_ttl
            )
            message = self._message(campaign)
            maker = EnvelopeMaker(
                self.links,
                campaign_id,
                campaign.key,
                campaign.mailing_list.slug,
                message.from_email.rpartition("@")[2],
            )
        if doubtful:
            event(
                log, "campaign.recovered", campaign=campaign_id, rows=recovered, in_doubt=doubtful
            )
        return _Claim(rows, message, maker)

    def _message(self, campaign: Campaign) -> OutgoingMessage:
        with self._lock:
            found = self._messages.get(campaign.id)
        if found is None:
            found = thaw(campaign.snapshot, campaign.id)
            with self._lock:
                self._messages[campaign.id] = found
        return found

    def _after_empty(self, campaign_id: int) -> StepResult:
        """Nothing claimable: finish the campaign, or say when to look again."""
        now = self.clock()
        with self.db.session() as session:
            left, due = ledger.waiting(session, campaign_id, now)
            held = claims.live_claims(session, campaign_id, now)
            if left or held:
                retry_at = due if left and not held and due is not None else now + self.options.poll
                return StepResult(Next.LATER, retry_at=retry_at)
            campaign = session.get(
                Campaign, campaign_id, with_for_update=True, populate_existing=True
            )
            if campaign is not None and campaign.status == CampaignStatus.SENDING:
                campaign.status = CampaignStatus.SENT
                campaign.finished_at = campaign.updated_at = now
                event(log, "campaign.finished", campaign=campaign_id)
        with self._lock:
            self._messages.pop(campaign_id, None)
        return StepResult(Next.STOP)

    def tally(self, campaign_id: int, results: Sequence[SendResult]) -> str | None:
        """Count one hand-over's results into the campaign's streak (a SendGrid request of
        1,000 counts once, like a message over SMTP); the pause reason once it is too long."""
        failures = [r for r in results if counts_as_failure(r)]
        with self._lock:
            streak, last = self._streaks.get(campaign_id, (0, ""))
            if any(r.outcome == Outcome.SENT for r in results):
                streak = 0
            elif failures:
                streak, last = streak + 1, failures[-1].error or failures[-1].outcome.value
            self._streaks[campaign_id] = (streak, last)
        if streak >= self.options.max_consecutive_errors:
            return f"paused after {streak} consecutive failures; last: {last}"
        return None


class _Batch:
    """One claimed batch going out: units handed to the sender from worker threads."""

    def __init__(
        self,
        engine: Engine,
        campaign_id: int,
        owner: str,
        message: OutgoingMessage,
        maker: EnvelopeMaker,
        rows: list[Claimed],
    ) -> None:
        self.engine, self.campaign_id, self.owner = engine, campaign_id, owner
        self.message, self.maker = message, maker
        self.rows = {row.id: row for row in rows}
        # Units of claimed rows: their envelopes (signed links) are made by the thread that
        # sends them, while the others wait on the network.
        self.units: queue.SimpleQueue[list[Claimed]] = queue.SimpleQueue()
        size = max(min(engine.sender.unit, engine.pacer.burst or engine.sender.unit), 1)
        for start in range(0, len(rows), size):
            self.units.put(rows[start : start + size])
        self.workers = min(engine.sender.concurrency, -(-len(rows) // size))
        self.recorder = _recorder(engine, campaign_id, owner)
        self.handover = Handover(
            engine.db,
            campaign_id,
            owner,
            engine.clock,
            engine.stop,
            engine.options.claim_ttl.total_seconds(),
        )
        self.answered: set[int] = set()
        self.admitted: set[int] = set()
        self.halted: str | None = None
        self.fault: ProviderUnavailable | None = None
        self.streak: str | None = None
        self.sent = 0
        self._lock = threading.Lock()

    def send(self) -> StepResult:
        threads = [
            threading.Thread(target=self._work, name=f"dispatch-send-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.handover.close()
        self.recorder.close()
        return self._settle()

    def _work(self) -> None:
        while not self._stopping():
            try:
                unit = self.units.get_nowait()
            except queue.Empty:
                return
            self._deliver(unit)

    def _stopping(self) -> bool:
        return bool(
            self.halted
            or self.engine.stop.is_set()
            or self.recorder.campaign_stopped
            or self.recorder.failure
        )

    def _admit(self, envelopes: Sequence[Envelope]) -> None:
        if self._stopping():
            raise Halt(self._why())
        if not self.engine.pacer.wait(len(envelopes), self._stopping):
            raise Halt(self._why())
        ids = [e.delivery_id for e in envelopes]
        try:
            self.handover.mark(ids, self.recorder)
        except Halt as exc:
            self._halt(str(exc))
            raise
        with self._lock:
            self.admitted.update(ids)

    def _deliver(self, rows: list[Claimed]) -> None:
        unit = self._envelopes(rows)
        if not unit:
            return
        try:
            results = self.engine.sender.deliver(self.message, unit, self._admit)
        except Halt as exc:
            self._halt(str(exc))
            return
        except ProviderUnavailable as exc:
            self._unavailable(exc)
            return
        except Exception as exc:  # a fault the sender did not map: never a silent guess
            log.exception(
                "sender %s failed on campaign %s", self.engine.sender.name, self.campaign_id
            )
            results = [self._unmapped(e, exc) for e in unit]
            results = [r for r in results if r is not None]
        for envelope in unit:  # admitted, yet no answer came back: in doubt
            answered = {r.delivery_id for r in results}
            if envelope.delivery_id in self.admitted and envelope.delivery_id not in answered:
                results.append(SendResult(envelope.delivery_id, Outcome.UNKNOWN, error=NO_RESULT))
        for result in results:
            self._record(result)
        self._tally(results)

    def _envelopes(self, rows: list[Claimed]) -> list[Envelope]:
        """The rows' envelopes; a row whose links cannot be made fails alone."""
        made = []
        for row in rows:
            try:
                made.append(self.maker.one(row))
            except (ValueError, TypeError, LookupError, UnicodeError) as exc:
                error = f"the links for {row.email!r} cannot be made: {exc}"
                failed = SendResult(row.id, Outcome.PERMANENT, error=error)
                self._record(failed)
                self._tally([failed])
        return made

    def _unmapped(self, envelope: Envelope, exc: Exception) -> SendResult | None:
        error = f"{self.engine.sender.name} failed: {type(exc).__name__}: {exc}"
        if envelope.delivery_id in self.admitted:
            return SendResult(envelope.delivery_id, Outcome.UNKNOWN, error=error)
        return SendResult(envelope.delivery_id, Outcome.TEMPORARY, error=error)

    def _record(self, result: SendResult) -> None:
        row = self.rows.get(result.delivery_id)
        with self._lock:
            if row is None or result.delivery_id in self.answered:
                return  # not this batch's, or answered already
            self.answered.add(result.delivery_id)
            if result.outcome == Outcome.SENT:
                self.sent += 1
        values = row_values(
            result, row.attempts, self.engine.options.policy, self.engine.clock(), self.owner
        )
        suppress = row.email if result.suppress and result.outcome == Outcome.PERMANENT else None
        self.recorder.add(values, suppress)
        self.engine.on_result(result)

    def _tally(self, results: Sequence[SendResult]) -> None:
        reason = self.engine.tally(self.campaign_id, results)
        if reason is not None:
            with self._lock:
                self.streak = self.streak or reason
            self._halt(reason)

    def _unavailable(self, exc: ProviderUnavailable) -> None:
        for result in exc.results:
            self._record(result)
        with self._lock:
            self.fault = self.fault or exc
        self._halt(exc.reason)

    def _halt(self, reason: str) -> None:
        with self._lock:
            self.halted = self.halted or reason

    def _why(self) -> str:
        if self.engine.stop.is_set():
            return "shutting down"
        return self.halted or self.recorder.campaign_stopped or self.recorder.failure or "stopped"

    def _settle(self) -> StepResult:
        """Give back what was not handed over; pause the campaign if a fault says so."""
        leftover = [i for i in self.rows if i not in self.answered]
        with contextlib.suppress(StoreUnavailable):  # else its claims expire: recovered later
            self.engine.patiently(lambda: self._release(leftover), self.campaign_id, "a release")
        if self.halted or self.recorder.failure:
            return StepResult(Next.STOP, len(self.rows), self.sent, reason=self._why())
        return StepResult(Next.MORE, len(self.rows), self.sent)

    def _release(self, leftover: list[int]) -> None:
        now = self.engine.clock()
        with self.engine.db.session() as session:
            claims.release(session, self.campaign_id, self.owner, leftover, now)
            if self.fault is not None:
                pause_for_fault(session, self.campaign_id, self.fault, self.engine.options, now)
            elif self.streak is not None:
                pause_for_streak(session, self.campaign_id, self.streak, now)
            elif self.sent:
                record_progress(session, self.campaign_id)


def _recorder(engine: Engine, campaign_id: int, owner: str) -> Recorder:
    options = engine.options
    return Recorder(
        engine.db,
        campaign_id,
        owner,
        engine.clock,
        options.claim_ttl,
        engine.stop,
        flush_every=options.flush_every,
        flush_seconds=options.flush_seconds,
    )


def _get(session, campaign_id: int) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id} (see `dispatch campaigns list`)")
    return campaign
