"""Admin sign-in: `GET|POST /admin/login`, `POST /admin/logout`, and `GET /admin/editors`
(admins only). The dashboard and the other pages are in `web.admin`.

- A successful login sets the signed session cookie and sends the editor (303) to `next`
  (only ever a path under /admin, never another site). A failed one shows the login
  form again with one generic message, 400; a locked one says when to try again, 429
  with `Retry-After`. Failures are answered after the growing delay of `lockout`.
- Logout (a form with the CSRF token) clears the cookie; `everywhere=1` also ends the
  editor's sessions on every other device.
- `install(app)` mounts the router and turns the auth dependencies' refusals into admin
  pages: the login redirect, and 403 pages for "admins only" and a bad CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from dispatch.auth.deps import (
    AdminOnly,
    CsrfRejected,
    CurrentEditor,
    LoginRequired,
    current_editor,
    require_admin,
)
from dispatch.auth.editors import end_sessions, list_editors
from dispatch.auth.services import auth_services
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin
from dispatch.web.store import in_store

router = APIRouter(prefix="/admin", tags=["admin"], include_in_schema=False)
HOME = "/admin"


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
        return render_admin(request, "login", editor=None, next=safe_next(next), email="")
    return _redirect(safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    email, password = _text(form.get("email")), _text(form.get("password"))
    target = safe_next(form.get("next"))
    services = auth_services(request)
    ip = request.client.host if request.client else "unknown"
    outcome = await in_store(request, services.authenticator.attempt, email, password, ip)
    if outcome.delay:
        await services.sleep(outcome.delay)
    if not outcome.ok:
        status = 429 if outcome.retry_after else 400
        response = render_admin(
            request, "login", status, editor=None, next=target, email=email, error=outcome.error
        )
        if outcome.retry_after:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    value, _claim = services.sessions.issue(outcome.editor_id, outcome.session_version)
    response = _redirect(target)
    services.sessions.set_on(response, value)
    return response


@router.post("/logout")
async def logout(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    if form.get("everywhere"):
        await in_store(request, end_sessions, editor.id)
    response = _redirect(f"{HOME}/login")
    auth_services(request).sessions.clear_on(response)
    return response


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
