"""Segments of a list in the admin: the list of them with their counts now, creating one,
editing one (a parse error is shown with the expression as typed and its column), trying
an expression without saving it, deleting one. The work is `segments.saved`, as for
`dispatch segments` and `/api/segments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns.recipients import count_audience
from dispatch.errors import NotFound, SegmentError
from dispatch.lists import get_list
from dispatch.segments.saved import (
    count_segment,
    create_segment,
    delete_segment,
    list_segments,
    update_segment,
)
from dispatch.store.models import Segment
from dispatch.web.admin.common import field, notice_of, see_other, store
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin", include_in_schema=False)


@dataclass
class Draft:
    """The form as typed, and what became of it (an error with its column, or a count)."""

    name: str = ""
    expression: str = ""
    error: str | None = None
    column: int | None = None
    count: int | None = None


@dataclass
class SegmentsPage:
    slug: str
    list_name: str
    rows: list[tuple[Segment, int]] = dataclass_field(default_factory=list)


def _segments(session: Session, slug: str, now: datetime) -> SegmentsPage:
    mailing_list = get_list(session, slug)
    rows = [(row, count_segment(session, row, now)) for row in list_segments(session, slug)]
    return SegmentsPage(slug, mailing_list.name, rows)


def _find(session: Session, segment_id: int) -> Segment:
    row = session.get(Segment, segment_id)
    if row is None:
        raise NotFound(f"no segment {segment_id}")
    _ = row.mailing_list
    return row


def _failed(draft: Draft, exc: SegmentError) -> Draft:
    draft.error, draft.column = str(exc), exc.column
    return draft


@router.get("/lists/{slug}/segments")
async def segments_page(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    page = await store(request, _segments, slug, request.app.state.clock())
    return render_admin(
        request, "segments", editor=editor, page=page, draft=Draft(), notice=notice_of(request)
    )


@router.post("/lists/{slug}/segments")
async def create(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    """Save a new segment, or (button "count") only count the expression."""
    form = await request.form()
    draft = Draft(field(form, "name"), field(form, "expression"))
    now = request.app.state.clock()

    def work(session: Session) -> Draft | None:
        try:
            if field(form, "action") == "count":
                draft.count = count_audience(
                    session, get_list(session, slug).id, draft.expression, now
                )
                return draft
            create_segment(session, slug, draft.name, draft.expression, now)
        except SegmentError as exc:
            return _failed(draft, exc)
        return None

    shown = await store(request, work)
    if shown is None:
        return see_other(f"/admin/lists/{slug}/segments", "saved")
    page = await store(request, _segments, slug, now)
    status = 400 if shown.error else 200
    return render_admin(
        request, "segments", status, editor=editor, page=page, draft=shown, notice=None
    )


@router.get("/segments/{segment_id}")
async def edit_page(
    request: Request, segment_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    now = request.app.state.clock()

    def work(session: Session) -> tuple[Segment, Draft]:
        row = _find(session, segment_id)
        return row, Draft(row.name, row.expression, count=count_segment(session, row, now))

    row, draft = await store(request, work)
    return render_admin(
        request, "segment", editor=editor, row=row, draft=draft, notice=notice_of(request)
    )


@router.post("/segments/{segment_id}")
async def save(
    request: Request, segment_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    form = await request.form()
    draft = Draft(field(form, "name"), field(form, "expression"))
    now = request.app.state.clock()

    def work(session: Session) -> tuple[Segment, Draft | None]:
        row = _find(session, segment_id)
        try:
            if field(form, "action") == "count":
                draft.count = count_audience(session, row.list_id, draft.expression, now)
                return row, draft
            update_segment(session, row, now, name=draft.name, expression=draft.expression)
        except SegmentError as exc:
            return row, _failed(draft, exc)
        return row, None

    row, shown = await store(request, work)
    if shown is None:
        return see_other(f"/admin/segments/{segment_id}", "saved")
    status = 400 if shown.error else 200
    return render_admin(
        request, "segment", status, editor=editor, row=row, draft=shown, notice=None
    )


@router.post("/segments/{segment_id}/delete")
async def delete(
    request: Request, segment_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    def work(session: Session) -> str:
        row = _find(session, segment_id)
        slug = row.mailing_list.slug
        delete_segment(session, row)
        return slug

    slug = await store(request, work)
    return see_other(f"/admin/lists/{slug}/segments", "deleted")
