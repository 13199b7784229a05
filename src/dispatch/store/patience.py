"""Waiting out a store that cannot be written for now.

SQLite locked longer than its busy timeout, a PostgreSQL connection killed or a server
restarting: the engine neither guesses nor records the error as anybody's delivery
failure. Every write of a send (claims, hand-over marks, results, releases), and each
batch of an import (one transaction, written again), goes through
`patiently`, which retries it on a short backoff, logging once when the store goes away
and once when it is back. Meanwhile nothing new is handed over. Only after `give_up`
seconds (the claim lifetime: by then the claims are someone else's to recover), or
`SHUTDOWN_GRACE` once the process is stopping, does it raise `StoreUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from dispatch.errors import StoreError
from dispatch.logs import event

log = logging.getLogger(__name__)
T = TypeVar("T")
SHUTDOWN_GRACE = 10.0  # seconds a stopping process keeps retrying
FIRST_WAIT, LONGEST_WAIT = 0.05, 2.0


class StoreUnavailable(StoreError):
    """The store stayed unreachable longer than the engine waits for it."""


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the store could not be reached or written for now."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def patiently(
    work: Callable[[], T],
    *,
    stop: threading.Event,
    give_up: float,
    campaign_id: int | None,
    what: str,
    on_error: Callable[[], None] = lambda: None,
) -> T:
    """`work()`, retried while the store is unavailable; other errors propagate.
    `on_error` runs after each failed try (to drop a broken connection). `campaign_id`
    names the campaign in the log (None: an import's batch, say)."""
    down_since, wait = 0.0, FIRST_WAIT
    while True:
        try:
            result = work()
        except Exception as exc:
            on_error()
            if not store_unavailable(exc):
                raise
            down_since = down_since or time.monotonic()
            waited = time.monotonic() - down_since
            if waited >= give_up or (stop.is_set() and waited >= SHUTDOWN_GRACE):
                event(
                    log,
                    "store.gave_up",
                    logging.ERROR,
                    campaign=campaign_id,
                    waiting=what,
                    after=round(waited, 1),
                    error=short(exc),
                )
                raise StoreUnavailable(f"the store is unavailable: {short(exc)}") from exc
            if wait == FIRST_WAIT:
                event(
                    log,
                    "store.unavailable",
                    logging.WARNING,
                    campaign=campaign_id,
                    waiting=what,
                    error=short(exc),
                )
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)
            continue
        if down_since:
            after = round(time.monotonic() - down_since, 3)
            event(log, "store.available", campaign=campaign_id, waiting=what, after=after)
        return result


def short(exc: BaseException) -> str:
    """The first line of the driver's message."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
