"""Hand-over marks: `handed_at` committed just before each message goes to the provider,
in one transaction with the sending thread's results not yet written.

This is what makes "in doubt" exact: after any crash, a claimed row with `handed_at` set
and no result was (maybe) handed over — its outcome is unknown; a claimed row without it
was never handed over and is simply sent later. The mark must be durable before the
message leaves, so it is one short statement committed on its own, on a connection held
by the sending thread (no session, no queue): on SQLite in WAL mode a commit is a write
to the log, on PostgreSQL a round trip. The same commit carries the thread's earlier
results (`Recorder.take_own`), so the ledger is never more than one message per thread
behind the provider: after a crash, at most one message per sending thread is in doubt.

On PostgreSQL these connections commit with `synchronous_commit = off`: the mark is
durable against a crash of Dispatch (the server has it) without waiting for the server's
disk, a wait that would otherwise set the pace of the whole send. Only a crash of the
PostgreSQL server itself, within its WAL writer's delay (a fraction of a second), could
lose a mark or the results with it: their rows then count in doubt, never as unsent.

The same statement checks that the campaign still sends and that the row's claim is
still this runner's, so a pause, a cancel or a claim taken over stops the send before
the next message, whatever process did it. When the store cannot be written (locked,
connection lost), the mark is retried on a short backoff and the message waits: sending
stops and resumes with the store, and nothing is recorded as a failure. Only a store
away longer than `give_up` (or than a shutdown's grace) ends the wait with `Halt`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError

from dispatch.campaigns.recorder import Pending, Recorder
from dispatch.delivery.base import Halt
from dispatch.store.database import Database
from dispatch.store.models import Delivery, DeliveryStatus
from dispatch.store.patience import StoreUnavailable, patiently

log = logging.getLogger(__name__)
SENDING = DeliveryStatus.SENDING.value


class _Marks:
    """The mark as the database driver takes it: one UPDATE of the rows that also checks
    the claim and the campaign's status, committed, in about 15 µs of CPU on SQLite where
    the same statement through SQLAlchemy's compiler costs 100 µs — it runs for every
    message. The few rare paths (a refusal, an error) are plain too."""

    def __init__(self, dialect: Dialect) -> None:
        m = self.mark = "?" if dialect.name == "sqlite" else "%s"
        self.when = Delivery.__table__.c.handed_at.type.dialect_impl(dialect).bind_processor(
            dialect
        ) or (lambda value: value)
        self.errors = dialect.loaded_dbapi.Error  # the driver's own: PEP 249's root error
        # `ledger.UPDATE_ROW`, as the driver takes it
        self.result = (
            f"UPDATE deliveries SET status = {m}, attempts = {m}, next_attempt_at = {m}, "
            f"provider_message_id = {m}, sent_at = {m}, last_error = {m}, updated_at = {m}, "
            f"doubts = doubts + {m}, claimed_by = NULL, claim_expires_at = NULL, "
            f"handed_at = NULL WHERE id = {m} AND claimed_by = {m}"
        )
        self.suppress = (
            f"INSERT INTO suppressions (email, reason, created_at) VALUES ({m}, {m}, {m}) "
            "ON CONFLICT (email) DO NOTHING"
        )

    def result_params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        when = self.when
        return (
            values["b_status"].value,
            values["b_attempts"],
            when(values["b_next"]),
            values["b_pmid"],
            when(values["b_sent_at"]),
            values["b_error"],
            when(values["b_updated"]),
            values["b_doubt"],
            values["b_id"],
            values["b_owner"],
        )

    def update(self, count: int) -> str:
        m = self.mark
        rows = ", ".join([m] * count)
        return (
            f"UPDATE deliveries SET handed_at = {m} WHERE id IN ({rows}) "
            f"AND claimed_by = {m} AND status = '{SENDING}' AND EXISTS "
            f"(SELECT 1 FROM campaigns WHERE id = {m} AND status = '{SENDING}')"
        )

    def status(self) -> str:
        return f"SELECT status FROM campaigns WHERE id = {self.mark}"


class Handover:
    """The marks of one runner's batch; each sending thread uses its own connection."""

    def __init__(
        self,
        db: Database,
        campaign_id: int,
        owner: str,
        clock: Callable[[], datetime],
        stop: threading.Event,
        give_up: float,
    ) -> None:
        self.db, self.campaign_id, self.owner, self.clock = db, campaign_id, owner, clock
        self.stop, self.give_up = stop, give_up
        self._local = threading.local()
        self._opened: list[Connection] = []
        self._lock = threading.Lock()
        self._marks = _Marks(db.engine.dialect)

    def mark(self, ids: list[int], recorder: Recorder | None = None) -> None:
        """Commit the rows as handed over now, with this thread's results that `recorder`
        holds, or raise `Halt` saying why they must not go (the results are then left to
        the recorder)."""

        def attempt() -> str | None:
            results = recorder.take_own() if recorder is not None else []
            written = False
            try:
                refused = self._mark(ids, results)
                written = refused is None
                return refused
            finally:
                if results and recorder is not None:
                    (recorder.written if written else recorder.give_back)(results)

        try:
            refused = patiently(
                attempt,
                stop=self.stop,
                give_up=self.give_up,
                campaign_id=self.campaign_id,
                what="the next message",
                on_error=self._discard,
            )
        except StoreUnavailable as exc:
            raise Halt(str(exc)) from exc
        if refused is not None:
            raise Halt(refused)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            if connection.dialect.name == "postgresql":
                try:  # back to the pool as it came
                    connection.exec_driver_sql("RESET synchronous_commit")
                    connection.commit()
                except Exception:  # broken meanwhile: the pool drops it
                    connection.invalidate()
            connection.close()

    def _mark(self, ids: list[int], results: list[Pending]) -> str | None:
        raw = self._connection().connection.dbapi_connection
        assert raw is not None
        marks = self._marks
        now = self.clock()
        sql = marks.update(len(ids))
        params = (marks.when(now), *ids, self.owner, self.campaign_id)
        try:
            cursor = raw.cursor()
            if results:
                sql = marks.result
                cursor.executemany(sql, [marks.result_params(item.values) for item in results])
                suppress = [item.suppress for item in results if item.suppress]
                if suppress:
                    sql = marks.suppress
                    rows = [(email, "bounce", marks.when(now)) for email in suppress]
                    cursor.executemany(sql, rows)
                sql = marks.update(len(ids))
            cursor.execute(sql, params)
            if cursor.rowcount == len(ids):
                raw.commit()
                return None
            raw.rollback()  # none of them goes: not half a SendGrid request
            cursor.execute(marks.status(), (self.campaign_id,))
            found = cursor.fetchone()
            raw.rollback()
        except marks.errors as exc:  # as SQLAlchemy would raise it: `patiently` knows those
            raise DBAPIError.instance(sql, params, exc, marks.errors) from exc
        status = found[0] if found else None
        if status != SENDING:
            return f"the campaign is {status or 'gone'}"
        return "its claim expired and another runner took it over"

    def _connection(self) -> Connection:
        found: Connection | None = getattr(self._local, "connection", None)
        if found is None:
            found = self._local.connection = self.db.engine.connect()
            if found.dialect.name == "postgresql":
                found.exec_driver_sql("SET synchronous_commit TO OFF")
                found.commit()
            with self._lock:
                self._opened.append(found)
        return found

    def _discard(self) -> None:
        """Drop this thread's connection after an error; the next mark opens another."""
        found: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if found is not None:
            with self._lock:
                if found in self._opened:
                    self._opened.remove(found)
            try:
                found.invalidate()
            except Exception:  # already gone with the server
                log.debug("closing a broken connection failed", exc_info=True)
