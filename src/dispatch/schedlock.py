"""One scheduler per database: a lock held for the scheduler process's lifetime.

Two schedulers on one job store would run every digest twice, so the second one to
start gets `SchedulerLocked`, naming the holder:

- PostgreSQL: `pg_try_advisory_lock` on a dedicated connection (its own engine, no
  pool) that stays open until `release()`. The key is derived from the database and
  schema, so deployments sharing a server do not block each other. The holder is named
  by its connection's `application_name` ("dispatch-scheduler host:pid").
- SQLite: an exclusive `flock` (the filelock package) on `<database>.scheduler.lock`
  next to the database file; the holder writes "host:pid since …" into it.

Both locks vanish with the process, however it ends (a crash or kill -9 included).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dispatch.errors import SchedulerLocked
from dispatch.store.types import utcnow

APPLICATION = "dispatch-scheduler"


class SchedulerLock(Protocol):
    holder: str

    def check(self) -> bool:
        """Whether this process still holds the lock (False if its connection or file
        is gone, or someone else could now take it)."""
        ...

    def release(self) -> None: ...


def me(now: datetime | None = None) -> str:
    return f"{socket.gethostname()}:{os.getpid()} since {(now or utcnow()):%Y-%m-%dT%H:%M:%SZ}"


def acquire(database_url: str) -> SchedulerLock:
    """Take the scheduler lock of `database_url`, or raise SchedulerLocked."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return FileSchedulerLock(url.database or "")
    return AdvisorySchedulerLock(database_url)


class FileSchedulerLock:
    def __init__(self, database: str) -> None:
        if not database or database == ":memory:":
            raise SchedulerLocked("an in-memory SQLite database cannot be shared by a scheduler")
        self.path = Path(f"{database}.scheduler.lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.path, timeout=0, is_singleton=False, thread_local=False)
        try:
            self._lock.acquire()
        except Timeout:
            raise SchedulerLocked(
                f"another scheduler already runs for {database}: {self._holder()} "
                f"(lock file {self.path}); stop it first, or run `dispatch serve --no-scheduler`"
            ) from None
        self.holder = me()
        self.path.write_text(self.holder + "\n", encoding="utf-8")
        self._inode = self.path.stat().st_ino

    def check(self) -> bool:
        """Held, and the lock file is still the one locked (a file deleted or replaced
        would let a second scheduler lock a new one)."""
        try:
            return self._lock.is_locked and self.path.stat().st_ino == self._inode
        except OSError:
            return False

    def _holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "holder unknown"
        except OSError:
            return "holder unknown"

    def release(self) -> None:
        self._lock.release()


class AdvisorySchedulerLock:
    def __init__(self, database_url: str) -> None:
        self.holder = me()
        self._use = threading.Lock()  # one thread at a time on the lock's connection
        self._engine = create_engine(database_url, poolclass=NullPool)
        self._connection: Connection | None = self._engine.connect()
        try:
            self._take()
        except BaseException:
            self._release()
            raise

    def _take(self) -> None:
        connection = self._connection
        assert connection is not None
        connection.execute(
            text("SELECT set_config('application_name', :name, false)"),
            {"name": f"{APPLICATION} {self.holder}"[:63]},
        )
        where = connection.execute(text("SELECT current_database(), current_schema()")).one()
        self.key = lock_key(*where)
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
        connection.commit()  # autobegun transaction ends; the session-level lock stays
        if not taken.scalar():
            raise SchedulerLocked(
                f"another scheduler already runs for database {where[0]} "
                f"(schema {where[1]}): {self._holder()}; stop it first, or run "
                "`dispatch serve --no-scheduler`"
            )

    def _holder(self) -> str:
        assert self._connection is not None
        row = self._connection.execute(
            text(
                "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
            ),
            {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
        ).first()
        if row is None:
            return "holder unknown"
        name, address, pid = row
        return f"{name or 'unnamed'} (client {address or 'local'}, server pid {pid})"

    def check(self) -> bool:
        """The lock's connection answers and still holds the advisory lock."""
        with self._use:
            return self._held()

    def _held(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = :high AND objid = :low "
                    "AND objsubid = 1"
                ),
                {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
            ).scalar()
            self._connection.commit()
        except Exception:  # the connection is gone: so is the lock
            return False
        return bool(held)

    def release(self) -> None:
        with self._use:
            self._release()

    def _release(self) -> None:
        if self._connection is not None:
            # closing the session releases the advisory lock; a broken connection has
            # lost it already, with the server side of the session
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        self._engine.dispose()


def lock_key(database: str, schema: str) -> int:
    """A signed 64-bit advisory lock key for the scheduler of `database`.`schema`."""
    digest = hashlib.blake2b(f"{APPLICATION}:{database}:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)
