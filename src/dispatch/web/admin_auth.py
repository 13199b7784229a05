"""Admin sign-in: `GET|POST /admin/login`, `POST /admin/logout`, and `GET /admin/editors`
(admins only). The dashboard and the other pages are in `web.admin`.

- The login form carries a CSRF token bound to a short-lived random cookie (login CSRF:
  a foreign page cannot log the browser in to someone else's account); a post without
  it gets the form again, 403.
- A successful login records a server-side session (`session_store`), sets the signed
  session cookie and sends the editor (303) to `next` (only ever a path under /admin,
  never another site). A failed one shows the login form again with one generic
  message, 400; a blocked one says when to try again, 429 with `Retry-After`. Failures
  are answered after the growing delay of `lockout`.
- Logout (a form with the CSRF token) ends the session's record, so the cookie is dead
  at once even if copied; `everywhere=1` ends every session of the editor.
- Logins, failed logins and logouts go to the audit log.
- `install(app)` mounts the router and turns the auth dependencies' refusals into admin
  pages: the login redirect, and 403 pages for "admins only" and a bad CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch.audit import Actor, record
from dispatch.auth.csrf import FIELD
from dispatch.auth.deps import (
    AdminOnly,
    CsrfRejected,
    CurrentEditor,
    LoginRequired,
    current_editor,
    require_admin,
)
from dispatch.auth.editors import end_sessions, list_editors, login_key
from dispatch.auth.services import auth_services
from dispatch.auth.session_store import end_session, open_session, purge_expired
from dispatch.auth.sessions import SessionClaim
from dispatch.store.models import Editor
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin
from dispatch.web.store import in_store

router = APIRouter(prefix="/admin", tags=["admin"], include_in_schema=False)
HOME = "/admin"
LOGIN_COOKIE = "dispatch_login"  # the random value the login form's CSRF token is bound to
LOGIN_COOKIE_AGE = 2 * 60 * 60  # seconds: a login form left open longer is reloaded
NONCE_BYTES = 24
NONCE_CHARS = 32  # token_urlsafe(24)
STALE_FORM = "The login form had expired or came from another page. Please log in again."


def safe_next(value: object) -> str:
    """Where to go after login: a path under /admin, else the dashboard."""
    if not isinstance(value, str) or "\\" in value or ".." in value or value.startswith("//"):
        return HOME
    if value == HOME or value.startswith((f"{HOME}/", f"{HOME}?")):
        return value
    return HOME


@router.get("/login")
async def login_page(request: Request, next: str = HOME) -> Response:
    try:
        await current_editor(request)
    except HTTPException:
        return login_form(request, 200, next=safe_next(next), email="")
    return _redirect(safe_next(next))


def login_form(request: Request, status: int, **context: object) -> Response:
    """The login page with its CSRF token (and the cookie it is bound to, when new)."""
    return anonymous_form(request, "login", status, **context)


def anonymous_form(request: Request, page: str, status: int, **context: object) -> Response:
    """An admin page whose form is posted by someone not logged in (log in, forgot
    password), with a CSRF token bound to a random cookie (set when new): a foreign
    page cannot post it in the visitor's name."""
    services = auth_services(request)
    cookie = login_cookie(services.sessions.secure)
    nonce = request.cookies.get(cookie) or ""
    fresh = len(nonce) != NONCE_CHARS
    if fresh:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
    token = services.csrf.login_token(nonce)
    response = render_admin(request, page, status, editor=None, login_csrf=token, **context)
    if fresh:
        response.set_cookie(
            cookie,
            nonce,
            max_age=LOGIN_COOKIE_AGE,
            path="/",  # the __Host- prefix (https) requires it
            secure=services.sessions.secure,
            httponly=True,
            samesite="strict",
        )
    return response


def anonymous_form_valid(request: Request, form: object) -> bool:
    """Whether a posted `anonymous_form` carries the token of this browser's cookie."""
    services = auth_services(request)
    nonce = request.cookies.get(login_cookie(services.sessions.secure))
    return services.csrf.login_valid(nonce, _text(form.get(FIELD)))  # type: ignore[attr-defined]


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    email, password = _text(form.get("email")), _text(form.get("password"))
    target = safe_next(form.get("next"))
    services = auth_services(request)
    if not anonymous_form_valid(request, form):
        return login_form(request, 403, next=target, email=email, error=STALE_FORM)
    ip = request.client.host if request.client else "unknown"
    outcome = await in_store(request, services.authenticator.attempt, email, password, ip)
    if outcome.delay:
        await services.sleep(outcome.delay)
    if not outcome.ok:
        if outcome.delay:  # a counted failure (not one refused unheard: no log flooding)
            failed = Actor(login_key(email), None, ip)
            await in_store(request, _failed, failed, _now(request), outcome.error or "")
        status = 429 if outcome.retry_after else 400
        response = login_form(request, status, next=target, email=email, error=outcome.error)
        if outcome.retry_after:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    assert outcome.editor_id is not None
    value, claim = services.sessions.issue(outcome.editor_id, outcome.session_version)
    agent = request.headers.get("user-agent", "")
    await in_store(request, _opened, claim, services.sessions.max_age, ip, agent, _now(request))
    response = _redirect(target)
    services.sessions.set_on(response, value)
    return response


def _opened(
    session: Session,
    claim: SessionClaim,
    max_age: timedelta,
    ip: str,
    agent: str,
    now: datetime,
) -> None:
    purge_expired(session, now)  # rows past their expiry open nothing: keep the table small
    open_session(session, claim.editor_id, claim.session_id, now, max_age, ip=ip, user_agent=agent)
    editor = session.get(Editor, claim.editor_id)
    actor = Actor(editor.email if editor else "", claim.editor_id, ip)
    record(session, actor, "login", now)


@router.post("/logout")
async def logout(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    everywhere = bool(form.get("everywhere"))
    await in_store(request, _closed, editor, everywhere, _ip(request), _now(request))
    response = _redirect(f"{HOME}/login")
    auth_services(request).sessions.clear_on(response)
    return response


def _closed(
    session: Session, editor: CurrentEditor, everywhere: bool, ip: str, now: datetime
) -> None:
    if everywhere:
        end_sessions(session, editor.id)
    else:
        end_session(session, editor.session_id)
    action = "logout.everywhere" if everywhere else "logout"
    record(session, Actor(editor.email, editor.id, ip), action, now)


def _failed(session: Session, actor: Actor, now: datetime, why: str) -> None:
    record(session, actor, "login.failed", now, detail=why)


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_cookie(secure: bool) -> str:
    return f"__Host-{LOGIN_COOKIE}" if secure else LOGIN_COOKIE


@router.get("/editors")
async def editors(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    return await editors_page(request, editor)


async def editors_page(
    request: Request, editor: CurrentEditor, status: int = 200, error: str | None = None
) -> Response:
    """The editors, with the invitation form (`web.admin_account`)."""
    from dispatch.web.admin.common import notice_of

    rows = await in_store(request, list_editors)
    return render_admin(
        request,
        "editors",
        status,
        editor=editor,
        editors=rows,
        error=error,
        notice=notice_of(request),
    )


def install(app: FastAPI) -> None:
    from dispatch.web import admin_account

    app.include_router(router)
    admin_account.install(app)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(AdminOnly, _refused)
    app.add_exception_handler(CsrfRejected, _refused)


async def _to_login(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return _redirect((exc.headers or {})["Location"])


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    editor = getattr(request.state, "editor", None)
    return render_admin(request, "refused", exc.status_code, editor=editor, message=exc.detail)


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=ADMIN_HEADERS)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
