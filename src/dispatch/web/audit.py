"""Records editors' actions in the audit log, for every admin and API route at once.

An ASGI middleware: after a request under /admin or /api that changed something (or
exported data) was answered with a success (< 400), it writes one `audit_log` row naming
the editor of the session (`request.state.editor`) or the API token
(`request.state.api_principal`) the auth dependencies found. Refused and failed
requests are not actions; the login routes record logins and logouts themselves.
A failure to write the entry is logged, never turned into an error for a done action.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.audit import Actor, describe, is_audited, record
from dispatch.store.database import Database

log = logging.getLogger(__name__)
PREFIXES = ("/admin/", "/api/")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope.get("path", ""), scope.get("method", "")
        if scope["type"] != "http" or not path.startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        if not is_audited(method, path):
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        actor = actor_of(scope)
        if actor is not None and 0 < status < 400:
            await run_in_threadpool(_write, scope["app"].state, actor, method, path)


def actor_of(scope: Scope) -> Actor | None:
    state: dict[str, Any] = scope.get("state") or {}
    ip = client_ip(scope)
    editor = state.get("editor")
    if editor is not None:
        return Actor(editor.email, editor.id, ip)
    principal = state.get("api_principal")
    if principal is not None:
        return Actor(f"api:{principal.name}", None, ip)
    return None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _write(state: Any, actor: Actor, method: str, path: str) -> None:
    action = describe(method, path)
    database: Database = state.database
    try:
        with database.session() as session:
            record(session, actor, action.name, state.clock(), target=action.target)
    except Exception:  # the action is done; a lost entry must not turn it into an error
        log.exception("audit entry %s by %s not recorded", action.name, actor.label)
