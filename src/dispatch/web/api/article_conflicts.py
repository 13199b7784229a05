"""`/api/articles/conflicts`: changed sources of articles an editor changed or deleted
(`ingest.decisions`), to accept (the source's version wins) or ignore."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
from dispatch.ingest import decisions, resolve
from dispatch.store.models import ArticleConflict
from dispatch.web.api.context import in_store, now
from dispatch.web.api.errors import responses

router = APIRouter(prefix="/articles/conflicts", tags=["articles"])
READ = Depends(api_principal("articles:read"))
WRITE = Depends(api_principal("articles:write"))
ConflictId = Path(ge=1, le=2**31 - 1, description="The conflict's id.")


class ConflictOut(BaseModel):
    id: int
    article_id: int | None
    source: str
    source_id: str
    source_path: str | None
    title: str
    detected_at: datetime
    fields: dict[str, Any]


def _out(conflict: ArticleConflict) -> ConflictOut:
    return ConflictOut.model_validate(conflict, from_attributes=True)


@router.get("", response_model=list[ConflictOut], dependencies=[READ])
async def list_conflicts(request: Request) -> list[ConflictOut]:
    """Every conflict, newest first, with the source's version in `fields`."""
    return await in_store(request, lambda s: [_out(c) for c in decisions.pending(s)])


@router.post(
    "/{conflict_id}/accept", status_code=204, dependencies=[WRITE], responses=responses(404)
)
async def accept(request: Request, conflict_id: int = ConflictId) -> None:
    """The source's version replaces the article (or brings back a deleted one)."""
    when = now(request)

    def work(session: Session) -> None:
        resolve.accept(session, conflict_id, when)

    await in_store(request, work)


@router.post(
    "/{conflict_id}/ignore", status_code=204, dependencies=[WRITE], responses=responses(404)
)
async def ignore(request: Request, conflict_id: int = ConflictId) -> None:
    """Keep the article as it is; this version of its source is not offered again."""
    await in_store(request, lambda s: resolve.ignore(s, conflict_id) and None)
