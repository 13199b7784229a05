"""Writes results to the ledger as they arrive, in tiny groups committed within
milliseconds: at most `flush_every` results, or `flush_seconds` after the first
unwritten one. A crash loses at most the group being written — and those rows are
still `sending`, so a resume counts them as in doubt and sends them again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dispatch.campaigns import ledger
from dispatch.campaigns.outcomes import RetryPolicy, row_values
from dispatch.campaigns.progress import Progress
from dispatch.delivery.base import Outcome, SendResult
from dispatch.store.database import Database
from dispatch.store.models import DeliveryStatus


class Recorder:
    def __init__(
        self,
        db: Database,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        progress: Progress,
        on_flush: Callable[[Progress], None],
        flush_every: int = 50,
        flush_seconds: float = 0.02,
    ) -> None:
        self.db, self.policy, self.clock = db, policy, clock
        self.progress, self.on_flush = progress, on_flush
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._rows: list[dict[str, Any]] = []
        self._suppress: list[str] = []
        self._first = 0.0

    def add(self, result: SendResult, attempts_before: int, email: str) -> None:
        now = self.clock()
        values = row_values(result, attempts_before, self.policy, now)
        if not self._rows:
            self._first = time.monotonic()
        self._rows.append(values)
        self._tally(result, values["b_status"], email)
        if (
            len(self._rows) >= self.flush_every
            or time.monotonic() - self._first >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        with self.db.session() as session:
            ledger.record(session, self._rows, self._suppress)
        self._rows, self._suppress = [], []
        self.on_flush(self.progress)

    def _tally(self, result: SendResult, status: DeliveryStatus, email: str) -> None:
        if result.outcome == Outcome.SENT:
            self.progress.sent += 1
            self.consecutive_failures = 0
            return
        self.consecutive_failures += 1
        self.last_error = f"{email}: {result.error or result.outcome.value}"
        if status == DeliveryStatus.FAILED:
            self.progress.failed += 1
        else:
            self.progress.retrying += 1
        if result.suppress and result.outcome == Outcome.PERMANENT:
            self._suppress.append(email)
            self.progress.suppressed += 1
