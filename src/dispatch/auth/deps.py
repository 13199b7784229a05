"""FastAPI dependencies: who is asking, and may they.

- `current_editor`: the editor of the session cookie. Without a valid session, a page
  request (GET/HEAD, or one that accepts HTML) is sent to `/admin/login?next=…` (303);
  anything else gets 401. For POST, PUT, PATCH and DELETE it also checks the CSRF token
  (403 when missing or wrong), so a route that needs an editor is CSRF-safe by default.
- `require_admin`: the same, and 403 unless the editor is an admin.
- `api_principal(*scopes)`: the API token of `Authorization: Bearer …`; 401 with
  `WWW-Authenticate: Bearer` when missing, unknown or revoked, 403 when it lacks a scope.
  Cookies never authenticate `/api`, so the API needs no CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dispatch.auth.csrf import SAFE_METHODS, presented_token
from dispatch.auth.services import auth_services
from dispatch.auth.session_store import is_open
from dispatch.auth.sessions import SessionClaim
from dispatch.auth.tokens import SCOPES, ApiPrincipal, authenticate_token
from dispatch.errors import AuthError
from dispatch.store.models import Editor, EditorRole

LOGIN_PATH = "/admin/login"
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token made with `dispatch tokens create` (dispatch_<prefix>_<secret>).",
)


@dataclass(frozen=True)
class CurrentEditor:
    id: int
    email: str
    role: EditorRole
    session_id: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role is EditorRole.ADMIN


class LoginRequired(HTTPException):
    """No valid session on a page request: 303 to the login page, back here afterwards."""

    def __init__(self, next_path: str) -> None:
        location = f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"
        super().__init__(303, "login required", headers={"Location": location})


class AdminOnly(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "only an admin may do this")


class CsrfRejected(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "the form's CSRF token is missing or wrong: reload the page")


async def current_editor(request: Request) -> CurrentEditor:
    services = auth_services(request)
    claim = _claim(request)
    editor = await run_in_threadpool(_load, request, claim) if claim else None
    if claim is None or editor is None:
        raise _login_required(request)
    unsafe = request.method not in SAFE_METHODS
    if unsafe and not services.csrf.valid(claim.session_id, await presented_token(request)):
        raise CsrfRejected()
    found = CurrentEditor(
        editor.id,
        editor.email,
        editor.role,
        claim.session_id,
        services.csrf.token(claim.session_id),
    )
    request.state.editor = found
    return found


async def require_admin(editor: CurrentEditor = Depends(current_editor)) -> CurrentEditor:
    if not editor.is_admin:
        raise AdminOnly()
    return editor


def api_principal(*scopes: str) -> Callable[..., Awaitable[ApiPrincipal]]:
    """A dependency: the request's API token, which must allow every one of `scopes`."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown API scope(s): {', '.join(sorted(unknown))}")

    async def principal(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> ApiPrincipal:
        if credentials is None:
            raise _unauthorized("an API token is required: Authorization: Bearer <token>")
        clock = request.app.state.clock
        try:
            found = await run_in_threadpool(_token, request, credentials.credentials, clock)
        except AuthError as exc:
            raise _unauthorized(str(exc), "invalid_token") from None
        missing = [scope for scope in scopes if not found.allows(scope)]
        if missing:
            challenge = f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}"'
            raise HTTPException(
                403,
                f"this token lacks the scope {', '.join(missing)}",
                headers={"WWW-Authenticate": challenge},
            )
        request.state.api_principal = found
        return found

    return principal


def _claim(request: Request) -> SessionClaim | None:
    sessions = auth_services(request).sessions
    value = request.cookies.get(sessions.name)
    if not value:
        return None
    try:
        return sessions.read(value)
    except AuthError:
        return None


def _load(request: Request, claim: SessionClaim) -> Editor | None:
    now = request.app.state.clock()
    with request.app.state.database.session() as session:
        editor = session.get(Editor, claim.editor_id)
        if editor is None or not editor.active or editor.session_version != claim.version:
            return None
        if not is_open(session, editor.id, claim.session_id, now):
            return None  # logged out (here or everywhere), or a new password since
        return editor


def _token(request: Request, presented: str, clock: Callable[[], datetime]) -> ApiPrincipal:
    with request.app.state.database.session() as session:
        return authenticate_token(session, presented, clock=clock)


def _login_required(request: Request) -> HTTPException:
    wants_page = request.method in ("GET", "HEAD") or "text/html" in request.headers.get(
        "accept", ""
    )
    if not wants_page:
        return HTTPException(401, "login required")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return LoginRequired(target)


def _unauthorized(message: str, error: str | None = None) -> HTTPException:
    challenge = 'Bearer realm="dispatch"' + (f', error="{error}"' if error else "")
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})
