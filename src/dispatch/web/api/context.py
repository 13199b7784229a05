"""What every API route needs: the app's settings and clock, and one short transaction
in the threadpool whose domain errors become JSON problems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request

from dispatch.config import Settings
from dispatch.errors import DispatchError
from dispatch.store.database import Database
from dispatch.web.api.errors import problem
from dispatch.web.store import in_store as run_in_store

Result = TypeVar("Result")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def database_of(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def now(request: Request) -> datetime:
    return request.app.state.clock()  # type: ignore[no-any-return]


async def in_store(
    request: Request,
    work: Callable[..., Result],
    *args: Any,
    field: str | None = None,
) -> Result:
    """`work(session, *args)` in one transaction (rolled back on error), in the threadpool.

    A `DispatchError` becomes an `ApiProblem` (its status from the error's kind), naming
    `field` when the caller knows which request field the error is about."""
    try:
        return await run_in_store(request, work, *args)
    except DispatchError as exc:
        raise problem(exc, field) from None
