"""Editors' passwords without the CLI: "Forgot password?" and invitations.

- `GET|POST /admin/forgot`: the answer is the same page whatever the address (known,
  unknown, disabled, malformed, throttled), and the mail goes out after the answer, so
  neither the text nor the time tells whether an account exists. At most
  `RESETS_PER_HOUR` mails per address (in `delivery.limiter_storage`: shared by every
  web process with Redis). The form carries the login form's CSRF token: a foreign
  page cannot make a visitor's browser ask for mail.
- `GET|POST /admin/reset/{token}`, `GET|POST /admin/invite/{token}`: set a password with a
  link from such a mail (`auth.account_links`: signed, expiring, single use). The
  password is set with `auth.editors.set_password`, which also ends the editor's sessions.
- `POST /admin/editors/invite` (admins): create the account with a password nobody knows
  and mail the colleague a link to choose theirs. The mail is sent before the answer:
  if it is not accepted, the page says why and shows the link to hand over (the
  account exists, so it cannot be invited again).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.account_links import AccountLinks
from dispatch.auth.account_mail import send_account_mail
from dispatch.auth.deps import CurrentEditor, require_admin
from dispatch.auth.editors import create_editor, login_key, parse_role, set_password
from dispatch.auth.services import auth_services
from dispatch.config import Settings
from dispatch.errors import AccountError, InvalidAddress, TokenError, TokenExpired
from dispatch.limits_store import app_limits_storage
from dispatch.store.models import Editor
from dispatch.web.admin.common import field, see_other
from dispatch.web.admin_auth import anonymous_form, anonymous_form_valid
from dispatch.web.admin_render import render_admin
from dispatch.web.store import in_store

router = APIRouter(prefix="/admin", include_in_schema=False)
RESETS_PER_HOUR = parse("3/hour")
STALE = "The form had expired or came from another page. Please send it again."
TITLES = {"reset": "Choose a new password", "invite": "Choose your password"}


def links(request: Request) -> AccountLinks:
    state = request.app.state
    found: AccountLinks | None = getattr(state, "account_links", None)
    if found is None:
        security = state.settings.security
        found = AccountLinks(
            state.settings.secret_key,
            reset_max_age=timedelta(minutes=security.reset_link_minutes),
            invite_max_age=timedelta(days=security.invite_link_days),
        )
        state.account_links = found
    return found


def _limiter(request: Request) -> MovingWindowRateLimiter:
    """Reset mails per address, counted where sign-ups and logins are
    (`delivery.limiter_storage`): with Redis, across every web process."""
    state = request.app.state
    found = getattr(state, "reset_limiter", None)
    if found is None:
        found = state.reset_limiter = MovingWindowRateLimiter(app_limits_storage(state))
    return found  # type: ignore[no-any-return]


@router.get("/forgot")
async def forgot_page(request: Request) -> Response:
    return anonymous_form(request, "forgot", 200, sent=False, email="")


@router.post("/forgot")
async def forgot(request: Request, background: BackgroundTasks) -> Response:
    form = await request.form()
    email = field(form, "email")[:320]
    if not anonymous_form_valid(request, form):
        return anonymous_form(request, "forgot", 403, sent=False, email=email, error=STALE)
    key = login_key(email)
    if key and _limiter(request).hit(RESETS_PER_HOUR, "reset", key):
        found = await in_store(request, _reset_token, links(request), key)
        if found is not None:
            address, token = found
            text = _reset_text(request.app.state.settings, token)
            background.add_task(_mail, request, address, "Reset your password", text)
    return render_admin(request, "forgot", editor=None, sent=True, email="")


def _reset_token(session: Session, account_links: AccountLinks, key: str) -> tuple[str, str] | None:
    editor = session.scalar(select(Editor).where(Editor.email == key))
    if editor is None or not editor.active:
        return None
    return editor.email, account_links.issue("reset", editor)


def _mail(request: Request, to: str, subject: str, text: str) -> str | None:
    state = request.app.state
    return send_account_mail(state.settings, to, subject, text, clock=state.clock)


def _url(settings: Settings, path: str) -> str:
    return f"{str(settings.site.base_url).rstrip('/')}{path}"


def _reset_text(settings: Settings, token: str) -> str:
    minutes = settings.security.reset_link_minutes
    return (
        f"Someone asked to reset the password of your {settings.site.title} admin account.\n\n"
        f"Choose a new one here (the link works for {minutes} minutes, and once):\n"
        f"{_url(settings, f'/admin/reset/{token}')}\n\n"
        "If it was not you, ignore this mail: your password stays as it is."
    )


def _invite_text(settings: Settings, token: str, inviter: str, role: str) -> str:
    days = settings.security.invite_link_days
    return (
        f"{inviter} invited you to the {settings.site.title} admin as {role}.\n\n"
        f"Choose your password here (the link works for {days} days, and once):\n"
        f"{_url(settings, f'/admin/invite/{token}')}"
    )


@router.get("/reset/{token}")
async def reset_page(request: Request, token: str) -> Response:
    return await _password_page(request, "reset", token)


@router.post("/reset/{token}")
async def reset(request: Request, token: str) -> Response:
    return await _set_password(request, "reset", token)


@router.get("/invite/{token}")
async def invite_page(request: Request, token: str) -> Response:
    return await _password_page(request, "invite", token)


@router.post("/invite/{token}")
async def accept_invite(request: Request, token: str) -> Response:
    return await _set_password(request, "invite", token)


def _show(request: Request, purpose: str, status: int = 200, **context: object) -> Response:
    context.setdefault("error", None)
    context.setdefault("done", False)
    context.setdefault("email", "")
    title = TITLES[purpose]
    return render_admin(
        request, "set_password", status, editor=None, purpose=purpose, title=title, **context
    )


def _problem(exc: TokenError) -> str:
    if isinstance(exc, TokenExpired):
        return "This link has expired. Ask for a new one."
    if "used already" in str(exc):
        return "This link was used already. Ask for a new one if you need to."
    return "This link is not valid. Ask for a new one."


async def _password_page(request: Request, purpose: str, token: str) -> Response:
    account_links = links(request)

    def work(session: Session) -> str:
        return account_links.editor_for(session, purpose, token).email

    try:
        email = await in_store(request, work)
    except TokenError as exc:
        return _show(request, purpose, 400, error=_problem(exc), dead=True)
    return _show(request, purpose, email=email, token=token, dead=False)


async def _set_password(request: Request, purpose: str, token: str) -> Response:
    form = await request.form()
    password, again = field(form, "password"), field(form, "password_again")
    account_links, passwords = links(request), auth_services(request).passwords

    def work(session: Session) -> str:
        editor = account_links.editor_for(session, purpose, token)
        if password != again:
            raise AccountError("the two passwords differ")
        return set_password(session, passwords, editor.email, password).email

    try:
        email = await in_store(request, work)
    except TokenError as exc:
        return _show(request, purpose, 400, error=_problem(exc), dead=True)
    except AccountError as exc:
        return _show(request, purpose, 400, error=f"Not saved: {exc}.", token=token, dead=False)
    return _show(request, purpose, email=email, done=True, dead=True)


@router.post("/editors/invite")
async def invite(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    form = await request.form()
    email, role = field(form, "email"), field(form, "role") or "editor"
    account_links, passwords = links(request), auth_services(request).passwords
    clock = request.app.state.clock

    def work(session: Session) -> tuple[str, str]:
        created = create_editor(
            session, passwords, email, secrets.token_urlsafe(32), parse_role(role), clock=clock
        )
        return created.email, account_links.issue("invite", created)

    try:
        address, token = await in_store(request, work)
    except (AccountError, InvalidAddress) as exc:
        from dispatch.web.admin_auth import editors_page

        return await editors_page(request, editor, 400, error=str(exc))
    settings = request.app.state.settings
    text = _invite_text(settings, token, editor.email, role)
    subject = f"Your {settings.site.title} admin account"
    problem = await run_in_threadpool(_mail, request, address, subject, text)
    if problem is None:
        return see_other("/admin/editors", "invited")
    # The account exists and cannot be invited twice: the admin must learn the mail did
    # not go, and gets the link to hand over themselves.
    from dispatch.web.admin_auth import editors_page

    link = _url(settings, f"/admin/invite/{token}")
    return await editors_page(
        request,
        editor,
        502,
        error=f"The account for {address} was created, but the invitation mail was not "
        f"sent ({problem}). Give them this link yourself (it works once, for "
        f"{settings.security.invite_link_days} days): {link}",
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
