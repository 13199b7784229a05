"""Lists and subscribers: each list's people (search, paging), add one, upload a CSV,
export a CSV, suppress an address, erase a person. The work is `dispatch.subscribers`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns.welcome_report import series_summary, steps_given
from dispatch.events.history import for_addresses
from dispatch.lists import get_list, list_counts
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus, Suppression
from dispatch.subscribers import add_subscriber, erase_subscriber, suppress_address
from dispatch.subscribers.addresses import stored_form
from dispatch.subscribers.csv_export import STATUSES
from dispatch.subscribers.tags import split_tags
from dispatch.web.admin.common import AdminProblem, Paging, field, notice_of, see_other, store
from dispatch.web.admin.subscriber_files import ClosingStream, stream_export
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin", include_in_schema=False)


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    name: str
    status: str
    since: datetime
    suppressed: bool


@dataclass(frozen=True)
class People:
    list_name: str
    rows: list[Person]
    total: int


def people(
    session: Session, list_slug: str, q: str, status: str, offset: int, limit: int
) -> People:
    mailing_list = get_list(session, list_slug)
    query = (
        select(
            Subscriber.id,
            Subscriber.email,
            Subscriber.name,
            Subscription.status,
            Subscription.created_at,
            Suppression.email.is_not(None),
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .outerjoin(Suppression, Suppression.email == Subscriber.email)
        .where(Subscription.list_id == mailing_list.id)
    )
    if q:
        query = query.where(_matching(q))
    if status in {s.value for s in SubscriptionStatus}:
        query = query.where(Subscription.status == SubscriptionStatus(status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Subscriber.email).offset(offset).limit(limit)).all()
    found = [Person(i, e, n, SubscriptionStatus(s).value, c, bool(x)) for i, e, n, s, c, x in rows]
    return People(mailing_list.name, found, total)


def _matching(q: str) -> ColumnElement[bool]:
    """A whole address is found by its stored form on the unique index (`Ann@Bücher.example`
    finds `ann@bücher.example`); anything else is a part of an address or a name.
    Stored addresses are lower-case, so neither side of that LIKE needs lower()."""
    address = stored_form(q) if "@" in q else None
    if address is not None:
        return Subscriber.email == address
    pattern = f"%{q.lower()}%"
    return or_(Subscriber.email.like(pattern), func.lower(Subscriber.name).like(pattern))


@router.get("/lists")
async def lists_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    counts = await store(request, list_counts)
    return render_admin(request, "lists", editor=editor, lists=counts, notice=notice_of(request))


@router.get("/lists/{slug}")
async def list_page(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    q = request.query_params.get("q", "").strip()
    status = request.query_params.get("status", "")
    first: People = await store(request, people, slug, q, status, 0, 0)
    paging = Paging.of(request, first.total)
    found: People = await store(request, people, slug, q, status, paging.offset, paging.size)
    emails = [person.email for person in found.rows]
    feedback = await store(request, for_addresses, emails)
    settings = request.app.state.settings
    series = await store(request, series_summary, settings, slug)
    given = await store(request, steps_given, slug, emails)
    return _list(
        request,
        editor,
        slug,
        found,
        paging,
        q=q,
        status=status,
        feedback=feedback,
        series=series,
        given=given,
    )


def _list(
    request: Request,
    editor: CurrentEditor,
    slug: str,
    found: People,
    paging: Paging,
    status_code: int = 200,
    **context: object,
) -> Response:
    context.setdefault("q", "")
    context.setdefault("status", "")
    context.setdefault("upload", None)
    context.setdefault("error", None)
    context.setdefault("feedback", [])
    context.setdefault("series", [])
    context.setdefault("given", {})
    return render_admin(
        request,
        "list",
        status_code,
        editor=editor,
        slug=slug,
        found=found,
        paging=paging,
        statuses=STATUSES,
        notice=notice_of(request),
        **context,
    )


@router.post("/lists/{slug}/add")
async def add(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    form = await request.form()
    email, name = field(form, "email"), field(form, "name")
    confirmed = field(form, "confirmed") == "1"
    tags = field(form, "tags")
    added = await store(request, _add, slug, email, name, confirmed, tags)
    if added.refused:
        raise AdminProblem(409, f"{added.email}: {added.describe()}")
    return see_other(f"/admin/lists/{slug}", "added", q=added.email)


def _add(session: Session, slug: str, email: str, name: str, confirmed: bool, tags: str):  # type: ignore[no-untyped-def]
    chosen = split_tags(tags)  # TagError: a 400 page saying which tag and why
    return add_subscriber(session, slug, email, name=name, confirmed=confirmed, tags=chosen)


@router.get("/lists/{slug}/export.csv")
async def export(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    status = request.query_params.get("status", "all")
    if status not in STATUSES:
        raise AdminProblem(400, f"status must be one of {', '.join(STATUSES)}")
    await store(request, get_list, slug)  # 404 before the download starts
    database = request.app.state.database
    return ClosingStream(
        stream_export(database, slug, status),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{slug}-{status}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/subscribers/suppress")
async def suppress(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    created = await store(request, suppress_address, field(form, "email"), "operator")
    return see_other(_back(form), "suppressed" if created else "already-suppressed")


@router.post("/subscribers/delete")
async def erase(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    await store(request, erase_subscriber, field(form, "email"))
    return see_other(_back(form), "erased")


def _back(form: object) -> str:
    """Back to the list page the form was on (only ever an admin list page)."""
    back = field(form, "back").partition("?")[0]  # type: ignore[arg-type]
    allowed = back.startswith(("/admin/lists", "/admin/subscribers/"))
    return back if allowed and "//" not in back else "/admin/lists"
