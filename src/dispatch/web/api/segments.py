"""`/api/segments`: saved filters over a list — list, create, read (with the count now),
change, delete, and count an unsaved expression.

An expression that does not parse is 422 with the column in the message
(`column 12: unexpected ";"`) and `field` = `body.expression`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
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
from dispatch.web.api.context import in_store, now
from dispatch.web.api.errors import problem, responses
from dispatch.web.api.schemas import (
    NO_NUL,
    SegmentCount,
    SegmentCountIn,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
)

MAX_ID = 2**31 - 1
router = APIRouter(prefix="/segments", tags=["segments"])
READ = Depends(api_principal("subscribers:read"))
WRITE = Depends(api_principal("subscribers:write"))
SegmentId = Path(ge=1, le=MAX_ID, description="The segment's id.")


def segment_out(row: Segment, recipients: int | None = None) -> SegmentOut:
    return SegmentOut(
        id=row.id,
        list=row.mailing_list.slug,
        name=row.name,
        expression=row.expression,
        created_at=row.created_at,
        updated_at=row.updated_at,
        recipients=recipients,
    )


def _find(session: Session, segment_id: int) -> Segment:
    row = session.get(Segment, segment_id)
    if row is None:
        raise NotFound(f"no segment {segment_id}")
    return row


def _field_of(exc: SegmentError) -> str:
    return "body.expression" if exc.column is not None or "expression" in str(exc) else "body.name"


@router.get("", response_model=list[SegmentOut], dependencies=[READ], responses=responses(404))
async def list_all(
    request: Request,
    list_slug: str | None = Query(
        None, alias="list", max_length=100, pattern=NO_NUL, description="Only this list's."
    ),
) -> list[SegmentOut]:
    """Every segment (or one list's), by list and name; counts are on single reads."""
    return await in_store(
        request, lambda s: [segment_out(row) for row in list_segments(s, list_slug)]
    )


@router.post(
    "",
    response_model=SegmentOut,
    status_code=201,
    dependencies=[WRITE],
    responses=responses(404, 422),
)
async def create(request: Request, payload: SegmentIn) -> SegmentOut:
    when = now(request)

    def work(session: Session) -> SegmentOut:
        try:
            get_list(session, payload.list)
        except NotFound as exc:
            raise problem(exc, "body.list") from None
        try:
            row = create_segment(session, payload.list, payload.name, payload.expression, when)
        except SegmentError as exc:
            raise problem(exc, _field_of(exc)) from None
        return segment_out(row, count_segment(session, row, when))

    return await in_store(request, work)


@router.post(
    "/count", response_model=SegmentCount, dependencies=[READ], responses=responses(404, 422)
)
async def count_expression(request: Request, payload: SegmentCountIn) -> SegmentCount:
    """How many of the list's confirmed, unsuppressed subscribers an expression selects."""
    when = now(request)

    def work(session: Session) -> SegmentCount:
        list_id = get_list(session, payload.list).id
        total = count_audience(session, list_id, payload.expression, when)
        return SegmentCount(list=payload.list, expression=payload.expression, recipients=total)

    return await in_store(request, work, field="body.expression")


@router.get(
    "/{segment_id}", response_model=SegmentOut, dependencies=[READ], responses=responses(404)
)
async def get_one(request: Request, segment_id: int = SegmentId) -> SegmentOut:
    """One segment with the number of subscribers it selects now."""
    when = now(request)

    def work(session: Session) -> SegmentOut:
        row = _find(session, segment_id)
        return segment_out(row, count_segment(session, row, when))

    return await in_store(request, work)


@router.patch(
    "/{segment_id}",
    response_model=SegmentOut,
    dependencies=[WRITE],
    responses=responses(404, 422),
)
async def update(
    request: Request, payload: SegmentUpdate, segment_id: int = SegmentId
) -> SegmentOut:
    """Rename it and/or change its expression (campaigns created before keep theirs)."""
    when = now(request)

    def work(session: Session) -> SegmentOut:
        row = _find(session, segment_id)
        try:
            update_segment(session, row, when, name=payload.name, expression=payload.expression)
        except SegmentError as exc:
            raise problem(exc, _field_of(exc)) from None
        return segment_out(row, count_segment(session, row, when))

    return await in_store(request, work)


@router.delete("/{segment_id}", status_code=204, dependencies=[WRITE], responses=responses(404))
async def delete(request: Request, segment_id: int = SegmentId) -> Response:
    """Delete it; campaigns created with it keep their copy of the expression."""
    await in_store(request, lambda s: delete_segment(s, _find(s, segment_id)))
    return Response(status_code=204)
