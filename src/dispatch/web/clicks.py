"""`GET /r/<token>`: a tracked link (`campaigns.clicks`). 302 to the link the campaign
recorded for that position; a forged, altered or unknown token gets a 404 page and
never a redirect. No cookie, no referrer passed on, nothing cached.

The redirect waits only for a read. The click is counted after the answer, in a
transaction of its own that waits at most `database.busy_timeout_ms` for a lock (SQLite's
busy timeout, PostgreSQL's `lock_timeout`): a store busy with a long write, or gone,
costs that click's count (logged, and
`dispatch_clicks_not_counted_total`), never the reader's way to the article. A store
that cannot even be read answers 503 with `Retry-After`, not a 500.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dispatch.campaigns.clicks import Link, count_click, find_link
from dispatch.config import Settings
from dispatch.errors import TokenError
from dispatch.logs import event
from dispatch.metrics import Metrics
from dispatch.store.database import Database
from dispatch.store.patience import short
from dispatch.tokens import ClickClaim, Tokens
from dispatch.web.store import in_store

log = logging.getLogger(__name__)
router = APIRouter(tags=["clicks"])
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
RETRY_SECONDS = 5


@router.get("/r/{token}", include_in_schema=False)
async def click(request: Request, token: str, background: BackgroundTasks) -> Response:
    state = request.app.state
    try:
        claim = Tokens(state.settings.secret_key).verify_click(token)
    except TokenError:
        return _page(request, "not_found", 404)
    try:
        link = await in_store(request, find_link, claim)
    except DBAPIError as exc:
        event(log, "click.store_unavailable", logging.WARNING, error=short(exc))
        response = _page(request, "unavailable", 503)
        response.headers["Retry-After"] = str(RETRY_SECONDS)
        return response
    if link is None:
        return _page(request, "not_found", 404)
    now = state.clock()
    background.add_task(_count, state.database, state.settings, state.metrics, claim, link, now)
    return RedirectResponse(link.url, status_code=302, headers=HEADERS)


def _count(
    database: Database,
    settings: Settings,
    metrics: Metrics,
    claim: ClickClaim,
    link: Link,
    now: datetime,
) -> None:
    try:
        with database.session() as session:
            if session.get_bind().dialect.name == "postgresql":  # SQLite: busy_timeout
                wait = int(settings.database.busy_timeout_ms)
                session.execute(text(f"SET LOCAL lock_timeout = {wait}"))
            count_click(session, settings, claim, link, now)
    except DBAPIError as exc:
        metrics.clicks_not_counted.inc()
        event(log, "click.not_counted", logging.WARNING, link=link.id, error=short(exc))


def _page(request: Request, name: str, status: int) -> HTMLResponse:
    response: HTMLResponse = request.app.state.pages.render(name, status_code=status)
    response.headers.update(HEADERS)
    return response
