"""Routes: subscribe, confirm, unsubscribe, preferences. Thin: the rules live in
`dispatch.subscribers.optin`; mail goes out after the response (`Mailer.deliver` as a
background task), so a page never waits for the mail server. A sign-up answers before
any of its work (the lookup, the writes and the mail all run after the response,
`sign_up_later`), so its timing does not tell whether an address was new, already
subscribed or suppressed. Rate limits count in the shared `limits` storage.

- `GET /subscribe[?list=slug…]` → the form; `POST /subscribe` → the same "check your
  inbox" page for every address (new, subscribed, suppressed, or a bot that filled the
  honeypot), 400 with the form for bad input, 429 over the rate limits.
- `GET /confirm/<token>` shows one button; only its `POST` confirms, because mail
  scanners open links in mail (a GET that confirmed would let them opt people in). One
  token may name several lists (one sign-up, one mail). A link already used says so
  ("You already confirmed…") instead of offering the button again.
- `GET /unsubscribe/<token>` shows one button (or "You are already unsubscribed…");
  `POST` (that button, or a mail client's RFC 8058 `List-Unsubscribe=One-Click`)
  unsubscribes at once: 200, no redirect.
- `GET|POST /preferences/<token>`: lists, name, "unsubscribe from everything".
- A forged, altered, expired or wrong-purpose token: a 400 page, nothing changed.
Pages with a token send `Cache-Control: no-store` and `Referrer-Policy: no-referrer`;
no route sets a cookie. Form posts go back to the page's own URL (no JavaScript).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from dispatch.config import Settings
from dispatch.errors import InvalidAddress, NotFound, TokenError, TokenExpired
from dispatch.limits_store import app_limits_storage
from dispatch.store.database import Database
from dispatch.store.patience import patiently
from dispatch.subscribers import optin
from dispatch.subscribers.addresses import normalise_address
from dispatch.subscribers.tag_choices import load_tag_choices, save_tag_choices
from dispatch.subscribers.transactional import Mail, Mailer
from dispatch.tokens import ListClaim, PersonClaim, Tokens
from dispatch.web.ratelimit import Refusal, SubscribeLimits
from dispatch.web.store import in_store

log = logging.getLogger(__name__)
router = APIRouter(tags=["subscribe"])
HONEYPOT = "website"
SIGN_UP_PATIENCE = 60.0  # seconds a sign-up's work waits for a locked or unreachable store
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass
class Services:
    """Built once per app on first use (in the event loop, so never twice)."""

    mailer: Mailer
    limits: SubscribeLimits
    tokens: Tokens
    # SQLite has one writer at a time: sign-ups done after their answers queue here, in
    # this process, rather than on the busy timeout (a flood of hundreds at once).
    writes: AbstractContextManager[Any] = field(default_factory=nullcontext)


def services(request: Request) -> Services:
    state = request.app.state
    found: Services | None = getattr(state, "optin", None)
    if found is None:
        settings: Settings = state.settings
        limits = SubscribeLimits.from_settings(settings.web, app_limits_storage(state))
        found = Services(Mailer(settings, clock=state.clock), limits, Tokens(settings.secret_key))
        if state.database.engine.dialect.name == "sqlite":
            found.writes = threading.Lock()
        state.optin = found
    return found


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response: HTMLResponse = request.app.state.pages.render(template, status, **context)
    response.headers.update(PRIVATE)
    return response


def send_later(request: Request, background: BackgroundTasks, mails: list[Mail]) -> None:
    if mails:
        background.add_task(services(request).mailer.deliver, request.app.state.database, mails)


@router.get("/subscribe", response_class=HTMLResponse)
async def subscribe_form(request: Request, lists: list[str] = Query([], alias="list")):
    known = {item.slug for item in request.app.state.settings.lists}
    unknown = [slug for slug in lists if slug not in known]
    errors = [f'There is no list called "{slug}". Choose from the lists below.' for slug in unknown]
    chosen = [slug for slug in lists if slug in known]
    return form_page(request, 404 if unknown else 200, chosen, errors=errors, fixed=not errors)


def form_page(
    request: Request,
    status: int,
    chosen: list[str],
    *,
    errors: Sequence[str] = (),
    email: str = "",
    name: str = "",
    fixed: bool = False,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    single = settings.list(chosen[0]) if fixed and len(chosen) == 1 else None
    return page(
        request,
        "subscribe",
        status,
        lists=settings.lists,
        chosen=set(chosen),
        single=single,
        errors=list(errors),
        entered={"email": email, "name": name},  # `name` is taken by Pages.render
    )


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request, background: BackgroundTasks):
    limits = services(request).limits
    ip = request.client.host if request.client else "unknown"
    refused = await run_in_threadpool(limits.check_ip, ip)  # Redis, when shared
    form = await request.form()
    email, name = str(form.get("email", "")).strip(), str(form.get("name", "")).strip()
    chosen = [str(value) for value in form.getlist("list")]
    if refused:
        return too_many(request, refused, chosen, email, name)
    settings: Settings = request.app.state.settings
    known = {item.slug: item for item in settings.lists}
    if str(form.get(HONEYPOT, "")).strip():  # a bot: look pleased, store nothing
        return done(request, email, [known[s] for s in dict.fromkeys(chosen) if s in known])
    errors = form_errors(email, name, chosen, known)
    if errors:
        return form_page(request, 400, chosen, errors=errors, email=email, name=name)
    refused = await run_in_threadpool(limits.check_address, email)
    if refused:
        return too_many(request, refused, chosen, email, name)
    now = request.app.state.clock()
    found = services(request)
    work = (email, name, chosen, now)
    background.add_task(sign_up_later, request.app.state.database, found, *work)
    return done(request, email, [known[s] for s in dict.fromkeys(chosen)])


def sign_up_later(
    database: Database,
    found: Services,
    email: str,
    name: str,
    chosen: list[str],
    now: datetime,
) -> None:
    """The sign-up's work, after the answer went out: its timing says nothing about the
    address (new, confirmed, unsubscribed or suppressed all answer alike). The person was
    told to expect a mail, so a store locked past its busy timeout or a cut connection
    is waited out (up to `SIGN_UP_PATIENCE`), the transaction run again, not dropped."""

    def store() -> list[Mail]:
        with found.writes, database.session() as session:
            return optin.sign_up(session, email, name, chosen, now)

    try:
        what = f"the sign-up of {email}"
        mails = patiently(
            store, stop=threading.Event(), give_up=SIGN_UP_PATIENCE, campaign_id=None, what=what
        )
    except Exception:  # nobody waits for it: say what was lost where an operator looks
        log.exception("sign-up of %s to %s not stored", email, ", ".join(chosen))
        return
    found.mailer.deliver(database, mails)


def form_errors(email: str, name: str, chosen: list[str], known: dict[str, Any]) -> list[str]:
    errors = []
    try:
        normalise_address(email)
    except InvalidAddress as exc:
        errors.append(address_error(email, exc))
    if len(name) > optin.NAME_MAX:
        errors.append(f"Please shorten your name to {optin.NAME_MAX} characters or fewer.")
    if not chosen:
        errors.append("Please choose at least one list.")
    elif any(slug not in known for slug in chosen):
        errors.append("One of the chosen lists does not exist any more; please choose again.")
    return errors


def address_error(email: str, exc: InvalidAddress) -> str:
    """What is wrong with the typed address, in words a subscriber can act on."""
    if not email.strip():
        return "Please enter your email address, such as name@example.com."
    reason = exc.reason.rstrip(".")
    return f"This email address cannot be used: {reason[:1].lower()}{reason[1:]}."


def too_many(
    request: Request, refused: Refusal, chosen: list[str], email: str, name: str
) -> HTMLResponse:
    minutes = max(1, round(refused.retry_after / 60))
    message = (
        f"Too many sign-ups from {'your network' if refused.scope == 'ip' else 'this address'}"
        f" in a short time. Please try again in {minutes} minute{'s' if minutes > 1 else ''}."
    )
    response = form_page(request, 429, chosen, errors=[message], email=email, name=name)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


def done(request: Request, email: str, chosen: list[Any]) -> HTMLResponse:
    """The one answer to every accepted sign-up, whatever the address's past."""
    with suppress(InvalidAddress):  # a bot's honeypot post: echo what it typed
        email = normalise_address(email)
    return page(request, "subscribe_done", email=email, chosen=chosen)


def verified(request: Request, purpose: str, token: str) -> Any:
    """The token's claim, or the 400 page to answer with."""
    tokens = services(request).tokens
    verify = {
        "confirm": tokens.verify_confirm,
        "unsubscribe": tokens.verify_unsubscribe,
        "preferences": tokens.verify_preferences,
    }[purpose]
    try:
        return verify(token)
    except TokenExpired:
        return token_error(request, purpose, "expired")
    except TokenError:
        return token_error(request, purpose, "invalid")


async def holder_gone(request: Request, claim: ListClaim) -> bool:
    """Whether the person a genuine link was made for is no longer stored (erased)."""
    key = claim.key
    return await in_store(request, optin.link_claim, claim.subscriber_id, key) is None


def token_error(request: Request, purpose: str, problem: str) -> HTMLResponse:
    return page(request, "token_error", 400, purpose=purpose, problem=problem)


def list_named(request: Request, slug: str) -> Any:
    return next((item for item in request.app.state.settings.lists if item.slug == slug), None)


def lists_named(request: Request, slugs: Sequence[str]) -> list[Any]:
    return [item for slug in dict.fromkeys(slugs) if (item := list_named(request, slug))]


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str):
    claim = verified(request, "confirm", token)
    if isinstance(claim, HTMLResponse):
        return claim
    items = lists_named(request, claim.list_slugs)
    state = await in_store(request, optin.confirm_state, claim) if items else "gone"
    if state == "gone":
        return token_error(request, "confirm", "gone")
    return confirm_response(request, items, state)


def confirm_response(request: Request, items: list[Any], outcome: str | None) -> HTMLResponse:
    names = " and ".join(filter(None, [", ".join(i.name for i in items[:-1]), items[-1].name]))
    return page(request, "confirm", item=items[0], items=items, names=names, outcome=outcome)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, background: BackgroundTasks):
    claim = verified(request, "confirm", token)
    if isinstance(claim, HTMLResponse):
        return claim
    items = lists_named(request, claim.list_slugs)
    now = request.app.state.clock()
    result = await in_store(request, optin.confirm, claim, now) if items else None
    if result is None or result.outcome == "gone":
        return token_error(request, "confirm", "gone")
    send_later(request, background, [result.mail] if result.mail else [])
    return confirm_response(request, items, result.outcome)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str):
    claim = verified(request, "unsubscribe", token)
    if isinstance(claim, HTMLResponse):
        return claim
    holder = await in_store(request, optin.link_claim, claim.subscriber_id, claim.key)
    if holder is None:
        return token_error(request, "unsubscribe", "gone")
    item = list_named(request, claim.list_slug)
    if await in_store(request, optin.unsubscribe_state, claim) == "already":
        return unsubscribed_page(request, holder, item, "already")
    return page(request, "unsubscribe", item=item)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str):
    """The button, and RFC 8058 one-click: whatever the body, unsubscribe now."""
    claim = verified(request, "unsubscribe", token)
    if isinstance(claim, HTMLResponse):
        return claim
    now = request.app.state.clock()
    holder, outcome = await in_store(request, optin.unsubscribe_by_link, claim, now)
    if holder is None:  # erased since the mail was sent: nothing to do, nobody else's
        return token_error(request, "unsubscribe", "gone")
    return unsubscribed_page(request, holder, list_named(request, claim.list_slug), outcome)


def unsubscribed_page(
    request: Request, holder: PersonClaim, item: Any, outcome: str
) -> HTMLResponse:
    links = services(request).mailer
    preferences = links.urls.preferences(links.tokens.preferences(*astuple(holder)))
    already = outcome == "already"
    return page(request, "unsubscribed", item=item, preferences_url=preferences, already=already)


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str):
    return await preferences_response(request, token)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences(request: Request, token: str, background: BackgroundTasks):
    return await preferences_response(request, token, await request.form(), background)


async def preferences_response(
    request: Request,
    token: str,
    form: FormData | None = None,
    background: BackgroundTasks | None = None,
) -> HTMLResponse:
    claim = verified(request, "preferences", token)
    if isinstance(claim, HTMLResponse):
        return claim
    offered = [item.slug for item in request.app.state.settings.lists]
    tag_offers = {item.slug: item.preference_tags for item in request.app.state.settings.lists}
    now = request.app.state.clock()
    saved = None
    try:
        if form is not None and form.get("action") == "leave":
            saved = "left"
            await in_store(request, optin.leave_all, claim, now)
        elif form is not None and background is not None:
            saved = "saved"
            chosen = {str(value) for value in form.getlist("list")}
            name = str(form.get("name", ""))[: optin.NAME_MAX]
            args = (claim, name, chosen, offered, now)
            send_later(request, background, await in_store(request, optin.save_preferences, *args))
            ticked = {str(value) for value in form.getlist("tag")}
            await in_store(request, save_tag_choices, claim.subscriber_id, tag_offers, ticked)
        found = await in_store(request, optin.load_preferences, claim, offered)
        tags = await in_store(request, load_tag_choices, claim.subscriber_id, tag_offers)
    except NotFound:
        return token_error(request, "preferences", "gone")
    lists = request.app.state.settings.lists
    tracked = {
        "links": [item.name for item in lists if item.click_tracking],
        "people": [item.name for item in lists if item.click_tracking_per_person],
    }
    return page(request, "preferences", prefs=found, saved=saved, tag_choices=tags, tracked=tracked)
