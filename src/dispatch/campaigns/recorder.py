"""Holds a runner's results until they are in the ledger, and writes the ones nobody else
writes soon, from a thread of its own.

A sending thread's results ride in the transaction of its next hand-over mark
(`take_own`, see `handover.py`): a thread never hands over a message while one of its
earlier results is unwritten. So a crash leaves, per sending thread, at most one message
whose outcome is unknown: the one in flight, or the one just answered and not yet
written. Results nobody takes within `flush_seconds` (a thread waiting on the send rate,
the last ones of a batch) or `flush_every` of them at once, this thread commits. Rows of
lost results are still claimed and marked as handed over, so their claims expire into
"in doubt", never into "not sent". Every `renew_every` the same thread renews the
runner's claims and looks at the campaign's status, so that a pause or a cancel also
ends a long wait for the send rate (`campaign_stopped`).

When the store cannot be written (SQLite locked longer than its busy timeout, a
PostgreSQL connection killed), nothing is lost and nothing is guessed: the results are
kept and retried on a short backoff. A database error is never recorded as a delivery
failure. Only when the store stays away past `give_up` (or past a shutdown's grace)
does it give up (`failure`): the rows it could not write expire into "in doubt".
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from dispatch.campaigns import claims, ledger
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.store.patience import StoreUnavailable, patiently


@dataclass(frozen=True)
class Pending:
    """One result waiting for the ledger: its row values (`outcomes.row_values`), the
    address to suppress with it if any, and the sending thread it came from."""

    values: dict[str, Any]
    suppress: str | None
    thread: int


class Recorder:
    def __init__(
        self,
        db: Database,
        campaign_id: int,
        owner: str,
        clock: Callable[[], datetime],
        claim_ttl: timedelta,
        stop: threading.Event,
        flush_every: int = 50,
        flush_seconds: float = 0.02,
    ) -> None:
        self.db, self.campaign_id, self.owner, self.clock = db, campaign_id, owner, clock
        self.claim_ttl, self.stop = claim_ttl, stop
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.renew_every = max(claim_ttl.total_seconds() / 3, 0.05)
        self.give_up = claim_ttl.total_seconds()
        self.campaign_stopped: str | None = None  # seen at a renewal: paused, cancelled …
        self.failure: str | None = None  # the store could not be written in the end
        self._pending: list[Pending] = []
        self._writing: Counter[int] = Counter()  # threads whose results are being written
        self._first = 0.0
        self._renewed = time.monotonic()
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dispatch-recorder", daemon=True)
        self._thread.start()

    def add(self, values: dict[str, Any], suppress: str | None = None) -> None:
        """Queue one result row (`outcomes.row_values`) and maybe its suppression."""
        item = Pending(values, suppress, threading.get_ident())
        with self._cond:
            if not self._pending:
                self._first = time.monotonic()
            self._pending.append(item)
            if len(self._pending) >= self.flush_every:
                self._cond.notify_all()

    def take_own(self) -> list[Pending]:
        """This thread's unwritten results, for its hand-over's transaction: once none of
        them is still being written elsewhere (so that none can be lost behind its next
        message). The caller writes them, or gives them back."""
        me = threading.get_ident()
        with self._cond:
            while self._writing[me]:
                self._cond.wait()
            own = [item for item in self._pending if item.thread == me]
            if own:
                self._pending = [item for item in self._pending if item.thread != me]
                self._writing.update(item.thread for item in own)
            return own

    def written(self, items: list[Pending]) -> None:
        """`take_own`'s items are in the ledger."""
        with self._cond:
            self._writing.subtract(item.thread for item in items)
            self._cond.notify_all()

    def give_back(self, items: list[Pending]) -> None:
        """`take_own`'s items could not be written with the mark: this thread writes them."""
        with self._cond:
            if not self._pending:
                self._first = time.monotonic()
            self._pending[:0] = items
            self._writing.subtract(item.thread for item in items)
            self._cond.notify_all()

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while (work := self._take()) is not None:
            items, renew = work
            try:
                self._commit(items, renew)
            finally:
                self.written(items)

    def _take(self) -> tuple[list[Pending], bool] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                renew = now - self._renewed >= self.renew_every
                full = len(self._pending) >= self.flush_every
                late = bool(self._pending) and now - self._first >= self.flush_seconds
                if full or late or renew or (self._closing and self._pending):
                    items, self._pending = self._pending, []
                    self._writing.update(item.thread for item in items)
                    return items, renew
                if self._closing:
                    return None
                wait = self.renew_every - (now - self._renewed)
                if self._pending:
                    wait = min(wait, self.flush_seconds - (now - self._first))
                self._cond.wait(max(wait, 0.001))

    def _commit(self, items: list[Pending], renew: bool) -> None:
        results = [item.values for item in items]
        suppress = [item.suppress for item in items if item.suppress]
        try:
            patiently(
                lambda: self._write(results, suppress, renew),
                stop=self.stop,
                give_up=self.give_up,
                campaign_id=self.campaign_id,
                what=f"{len(results)} results",
            )
        except StoreUnavailable as exc:  # their rows stay claimed and handed: in doubt later
            self.failure = f"the ledger could not be written: {exc}"
        except Exception as exc:
            self.failure = f"the ledger could not be written: {type(exc).__name__}: {exc}"
            raise

    def _write(self, results: list[dict[str, Any]], suppress: list[str], renew: bool) -> None:
        with self.db.session() as session:
            if results:
                ledger.record(session, results, suppress)
            if renew:
                claims.renew(session, self.owner, self.clock(), self.claim_ttl)
                status = session.scalar(
                    select(Campaign.status).where(Campaign.id == self.campaign_id)
                )
                if status != CampaignStatus.SENDING:
                    self.campaign_stopped = f"the campaign is {status.value if status else 'gone'}"
        if renew:
            self._renewed = time.monotonic()
