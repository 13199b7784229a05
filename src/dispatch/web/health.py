"""GET /healthz for load balancers and monitors: ok or not, and nothing else in public.

200 `{"status": "ok"}` when the database answers, 503 `{"status": "unavailable"}` when it
does not. The details (the database, the scheduler's state and lock holder, which names
a host and a process) go only to a request with the metrics token or an admin's session.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dispatch.auth.deps import current_editor
from dispatch.errors import StoreError
from dispatch.store.database import Database, check_connection
from dispatch.web.metrics import has_metrics_token


async def healthz(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    try:
        await run_in_threadpool(check_connection, database.engine)
    except StoreError:
        body: dict[str, Any] = {"status": "unavailable"}
        if await may_see_details(request):
            body["database"] = "unreachable"
        return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
    body = {"status": "ok"}
    scheduler = getattr(request.app.state, "scheduler", None)  # set by `dispatch serve`
    if await may_see_details(request):
        body["database"] = "ok"
        if scheduler is not None:
            body["scheduler"] = scheduler.health()
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def may_see_details(request: Request) -> bool:
    if has_metrics_token(request):
        return True
    if not request.cookies:
        return False
    try:
        editor = await current_editor(request)
    except HTTPException:
        return False
    return editor.is_admin
