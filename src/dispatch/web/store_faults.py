"""A store that cannot be used for now answers 503 with `Retry-After`, never a 500.

SQLite locked longer than `busy_timeout_ms` by a long write (an import's batch, a
campaign's ledger), a PostgreSQL connection cut or a server restarting: whatever page
or API call met it gets "try again in a few seconds" (the `unavailable` page, or the
API's JSON error), and the event is logged as `store.unavailable` with the path. Nothing
was changed: the request's transaction was rolled back.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError

from dispatch.logs import event
from dispatch.store.patience import short, store_unavailable
from dispatch.web.api.errors import body, is_api

log = logging.getLogger(__name__)
RETRY_SECONDS = 5
MESSAGE = (
    "the store is busy or unreachable for now; nothing was changed: try again in a few seconds"
)


async def unavailable(request: Request, exc: Exception) -> Response:
    if not store_unavailable(exc):
        raise exc  # another database error: a bug, the 500 it always was
    event(log, "store.unavailable", logging.WARNING, path=request.url.path, error=short(exc))
    headers = {"Retry-After": str(RETRY_SECONDS), "Cache-Control": "no-store"}
    if is_api(request):
        return JSONResponse(body(MESSAGE), 503, headers=headers)
    response: Response = request.app.state.pages.render("unavailable", status_code=503)
    response.headers.update(headers)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(DBAPIError, unavailable)
