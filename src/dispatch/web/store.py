"""One short transaction in the threadpool, for any route: `await in_store(request, work, …)`
runs `work(session, *args)` with the app's database and commits (or rolls back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from dispatch.store.database import Database

Result = TypeVar("Result")


async def in_store(request: Request, work: Callable[..., Result], *args: Any) -> Result:
    """`work(session, *args)` in one transaction, in the threadpool."""
    database: Database = request.app.state.database

    def run() -> Result:
        with database.session() as session:
            return work(session, *args)

    return await run_in_threadpool(run)
