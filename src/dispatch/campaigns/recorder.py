"""Writes a runner's results to the ledger as they arrive, from a thread of its own.

Results are committed in tiny groups: at most `flush_every` a commit, `flush_seconds`
after the first unwritten one. A crash loses at most the group being written — and those
rows are still claimed and marked as handed over, so their claims expire into "in
doubt", never into "not sent". Every `renew_every` the same thread renews the runner's
claims and looks at the campaign's status, so that a pause or a cancel also ends a long
wait for the send rate (`campaign_stopped`).

When the store cannot be written (SQLite locked longer than its busy timeout, a
PostgreSQL connection killed), nothing is lost and nothing is guessed: the results are
kept and retried on a short backoff. A database error is never recorded as a delivery
failure. Only when the store stays away past `give_up` (or past a shutdown's grace)
does it give up (`failure`): the rows it could not write expire into "in doubt".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from dispatch.campaigns import claims, ledger
from dispatch.campaigns.patience import StoreUnavailable, patiently
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus


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
        self._results: list[dict[str, Any]] = []
        self._suppress: list[str] = []
        self._first = 0.0
        self._renewed = time.monotonic()
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dispatch-recorder", daemon=True)
        self._thread.start()

    def add(self, values: dict[str, Any], suppress: str | None = None) -> None:
        """Queue one result row (`outcomes.row_values`) and maybe its suppression."""
        with self._cond:
            if not self._results:
                self._first = time.monotonic()
            self._results.append(values)
            if suppress:
                self._suppress.append(suppress)
            if len(self._results) >= self.flush_every:
                self._cond.notify()

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while (work := self._take()) is not None:
            results, suppress, renew = work
            self._commit(results, suppress, renew)

    def _take(self) -> tuple[list[dict[str, Any]], list[str], bool] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                renew = now - self._renewed >= self.renew_every
                full = len(self._results) >= self.flush_every
                late = bool(self._results) and now - self._first >= self.flush_seconds
                if full or late or renew or (self._closing and self._results):
                    work = (self._results, self._suppress, renew)
                    self._results, self._suppress = [], []
                    return work
                if self._closing:
                    return None
                wait = self.renew_every - (now - self._renewed)
                if self._results:
                    wait = min(wait, self.flush_seconds - (now - self._first))
                self._cond.wait(max(wait, 0.001))

    def _commit(self, results: list[dict[str, Any]], suppress: list[str], renew: bool) -> None:
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
