"""What the admin routers share: reading forms, redirects with a notice, paging.

A state-changing form answers 303 to a page (Post/Redirect/Get) that names a notice by
key (`?notice=published`); the page shows that key's fixed text, so a crafted link can
never make an admin page say something of its own. Reports too long for a URL (an
import's errors) are rendered straight from the POST instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch.errors import DispatchError, NotFound
from dispatch.store.models import Campaign
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin
from dispatch.web.store import in_store

__all__ = ["NOTICES", "AdminProblem", "Paging", "field", "in_store", "notice_of", "see_other"]

NOTICES = {
    "saved": "Saved.",
    "published": "Published.",
    "unpublished": "Turned back into a draft.",
    "unscheduled": "No longer scheduled: it is a draft again.",
    "accepted": "The source's version replaced the article.",
    "ignored": "Kept the article as it is; that version of its source is not offered again.",
    "deleted": "Deleted.",
    "added": "Added.",
    "suppressed": "The address is suppressed: it will never be mailed again.",
    "already-suppressed": "That address was already suppressed.",
    "erased": "Everything stored about that person was erased.",
    "created": "Draft created: check the preview, send yourself a test, then send it.",
    "started": "Sending started.",
    "already-sending": "It was started already: this is its progress.",
    "scheduled": "Scheduled.",
    "paused": "Paused: no message goes out after this one.",
    "resumed": "Resumed.",
    "cancelled": "Cancelled: nobody else will get it; what was sent stays sent.",
    "retrying": "The failed recipients are queued once more.",
    "nothing-to-retry": "Nobody to retry: no failed recipients that are not suppressed.",
    "test-sent": "Test sent to your address.",
    "rebuilt": "Feeds rebuilt.",
    "revoked": "Token revoked.",
    "list-created": "List created: it is offered on the subscribe page now.",
    "unsuppressed": "The suppression is lifted: the address can be mailed again.",
    "invited": "Invitation sent.",
}
PAGE_SIZE = 50


class AdminProblem(Exception):
    """Something an editor asked for cannot be done: shown as an admin page with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def store(request: Request, work: Callable[..., Any], *args: Any) -> Any:
    """`in_store`, with Dispatch's errors turned into admin pages (404 or 400)."""
    try:
        return await in_store(request, work, *args)
    except NotFound as exc:
        raise AdminProblem(404, str(exc)) from exc
    except DispatchError as exc:
        raise AdminProblem(400, str(exc)) from exc


async def show_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminProblem)
    editor = getattr(request.state, "editor", None)
    return render_admin(request, "problem", exc.status, editor=editor, message=exc.message)


def find_campaign(session: Session, campaign_id: int) -> Campaign:
    """The campaign, fresh from the store; NotFound (a 404 page) when there is none."""
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def field(form: FormData, name: str) -> str:
    """A text field of a form ("" when missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def see_other(path: str, notice: str | None = None, **query: str) -> RedirectResponse:
    if notice is not None:
        if notice not in NOTICES:
            raise KeyError(f"unknown notice {notice!r}")
        query = {"notice": notice, **query}
    location = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(location, status_code=303, headers=ADMIN_HEADERS)


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


@dataclass(frozen=True)
class Paging:
    """Page `number` (from 1) of `total` rows, `size` a page; `base` + "page=N" links one."""

    number: int
    total: int
    size: int = PAGE_SIZE
    base: str = "?"

    @classmethod
    def of(cls, request: Request, total: int) -> Paging:
        raw = request.query_params.get("page", "1")
        number = int(raw) if raw.isdigit() and int(raw) > 0 else 1
        query = {k: v for k, v in request.query_params.items() if k not in ("page", "notice")}
        base = f"?{urlencode(query)}&" if query else "?"
        return cls(min(number, max(1, -(-total // PAGE_SIZE))), total, PAGE_SIZE, base)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))
