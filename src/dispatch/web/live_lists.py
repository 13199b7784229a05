"""The web app's `settings.lists` as the store has them (`dispatch.lists.live_settings`).

Lists are edited in the admin (maybe in another web process), so the app re-reads them
at most every `TTL` seconds, before a request, and at once after an edit in this
process (`refresh`). Pages, the subscribe form and the admin keep reading
`request.app.state.settings`; only its `lists` change. If the store cannot be read the
app keeps the lists it has (feeds and pages go on working) and tries again later.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatch.config import Settings
from dispatch.lists import live_settings
from dispatch.logs import event
from dispatch.store.database import Database

log = logging.getLogger(__name__)
TTL = 5.0


def _read(database: Database, settings: Settings) -> Settings:
    with database.session() as session:
        return live_settings(session, settings)


async def refresh(state: Any) -> None:
    """Re-read the lists now; services built from the old settings follow."""
    try:
        fresh = await run_in_threadpool(_read, state.database, state.settings)
    except Exception as exc:  # the store is away: keep what we have
        event(log, "lists.refresh_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
        state.lists_read_at = time.monotonic()
        return
    state.lists_read_at = time.monotonic()
    if fresh.lists == state.settings.lists:
        return
    state.settings = fresh
    optin = getattr(state, "optin", None)
    if optin is not None:
        from dispatch.subscribers.transactional import Mailer

        optin.mailer = Mailer(fresh, clock=state.clock)


class LiveLists:
    """ASGI middleware: refresh the lists before a request when they are older than TTL."""

    def __init__(self, app: ASGIApp, ttl: float = TTL) -> None:
        self.app = app
        self.ttl = ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope["app"].state
            read_at = getattr(state, "lists_read_at", None)
            if read_at is None or time.monotonic() - read_at >= self.ttl:
                await refresh(state)
        await self.app(scope, receive, send)
