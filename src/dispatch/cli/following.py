"""Sending from the terminal: hand a campaign to the configured executor and follow its
progress from the ledger with a Rich bar, the same way whether the engine runs in this
process (inline) or on Celery workers.

Inline, this process is the runner: Ctrl-C stops it before its next message (what was
handed over is recorded) and `dispatch campaigns resume ID` carries on. With Celery the
workers send; `--no-wait` returns once the batches are queued, and Ctrl-C only stops
watching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

from dispatch.campaigns.control import get_campaign
from dispatch.campaigns.progress import Progress
from dispatch.cli.context import AppContext, console
from dispatch.delivery.base import Outcome, SendResult
from dispatch.executor import make_executor
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.store.database import Database
from dispatch.store.types import utcnow

POLL = 0.5  # seconds between two looks at the ledger


def engine_context(context: AppContext) -> EngineContext:
    return EngineContext(context.database(), context.settings())


def send_and_follow(context: AppContext, campaign_id: int, wait: bool) -> Progress:
    """Send (or go on sending) a `sending` campaign; print and return where it stands."""
    engines = engine_context(context)
    executor = make_executor(engines)
    try:
        if isinstance(executor, InlineExecutor):
            tally = Tally(engines.db, campaign_id)
            engines.observers.append(tally.count)
            run = executor.start(campaign_id, wait_for_retries=wait)
            _follow(tally.progress, run.done, engines.stop.set)
            run.result()
        else:
            executor.submit(campaign_id)
            console.print(f"Campaign {campaign_id}: queued for the workers.")
            if wait:
                _follow(
                    lambda: read_progress(engines.db, campaign_id),
                    lambda: _settled(engines.db, campaign_id),
                )
    finally:
        executor.close()
    progress = read_progress(engines.db, campaign_id)
    print_summary(progress, context.settings().site.timezone)
    return progress


def read_progress(db: Database, campaign_id: int) -> Progress:
    with db.session() as session:
        return Progress.read(session, get_campaign(session, campaign_id), utcnow())


def _settled(db: Database, campaign_id: int) -> bool:
    progress = read_progress(db, campaign_id)
    return progress.status != "sending" or (not progress.running and not progress.pending)


class Tally:
    """The progress of an inline send without reading a big ledger twice a second: the
    results this process's engine gives are counted as they come, on top of the ledger as
    it was; only when nothing came for a while (waiting for retries, paused) is the ledger
    read again, for the countdowns."""

    QUIET = 2.0  # seconds without a result before the ledger is read again

    def __init__(self, db: Database, campaign_id: int) -> None:
        self.db, self.campaign_id = db, campaign_id
        self.start = read_progress(db, campaign_id)
        self.sent = self.failed = 0
        self.last = time.monotonic()
        self._lock = threading.Lock()

    def count(self, result: SendResult) -> None:
        with self._lock:
            self.last = time.monotonic()
            if result.outcome == Outcome.SENT:
                self.sent += 1
            elif result.outcome == Outcome.PERMANENT:
                self.failed += 1

    def progress(self) -> Progress:
        if time.monotonic() - self.last > self.QUIET:
            fresh = read_progress(self.db, self.campaign_id)
            with self._lock:
                self.start, self.sent, self.failed = fresh, 0, 0
                self.last = time.monotonic()
        with self._lock:
            sent, failed = self.start.sent + self.sent, self.start.failed + self.failed
        return replace(self.start, sent=sent, failed=failed)


def _follow(
    progress_now: Callable[[], Progress],
    done: Callable[[], bool],
    interrupt: Callable[[], None] = lambda: None,
) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=console, transient=False) as bar:
        task = bar.add_task("campaign", total=None)
        try:
            while True:
                finished = done()
                progress = progress_now()
                bar.update(
                    task,
                    total=progress.meant,
                    completed=progress.done,
                    description=_describe(progress),
                )
                if finished:
                    return
                _sleep(POLL, done)
        except KeyboardInterrupt:
            interrupt()
            console.print("Stopping before the next message…")
            while not done():
                _sleep(POLL, done)


def _sleep(seconds: float, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done():
        time.sleep(0.05)


def _describe(progress: Progress) -> str:
    now = utcnow()
    if progress.status == "paused" and progress.auto_resume_at:
        return f"paused, resumes in {_left(progress.auto_resume_at, now)}"
    waiting = progress.status == "sending" and progress.pending and not progress.sending
    if waiting and progress.next_retry_at and progress.next_retry_at > now:
        return f"{progress.pending:,} retries in {_left(progress.next_retry_at, now)}"
    return f"campaign {progress.campaign_id} {progress.status}"


def _left(when: datetime, now: datetime) -> str:
    left = max(0, int((when - now).total_seconds()))
    return f"{left // 60}:{left % 60:02d}"


def print_summary(progress: Progress, timezone: str) -> None:
    counts = (
        f"Sent {progress.sent:,}, failed {progress.failed:,}, skipped {progress.skipped:,}, "
        f"suppressed {progress.suppressed:,}, cancelled {progress.cancelled:,}, "
        f"in doubt {progress.in_doubt:,}"
    )
    console.print(
        f"Campaign {progress.campaign_id}: {progress.status}. {counts} "
        f"(of {progress.total:,} recipients).",
        soft_wrap=True,
    )
    zone = ZoneInfo(timezone)
    if progress.status == "paused" and progress.pause_reason:
        console.print(f"Paused: {escape(progress.pause_reason)}", soft_wrap=True)
        if progress.auto_resume_at:
            when = progress.auto_resume_at.astimezone(zone)
            console.print(f"It resumes by itself at {when:%Y-%m-%d %H:%M:%S %Z}.")
    if progress.status == "sending" and progress.pending and progress.next_retry_at:
        when = progress.next_retry_at.astimezone(zone)
        console.print(
            f"{progress.pending:,} waiting to be sent or retried (next at "
            f"{when:%Y-%m-%d %H:%M:%S %Z}): `dispatch campaigns resume {progress.campaign_id}` "
            "or the scheduler carries on."
        )
