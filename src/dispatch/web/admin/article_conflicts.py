"""`/admin/articles/conflicts`: changed sources of articles an editor changed or deleted.

Each shows what the source says now against what the article says (title, summary and
text, line by line), with two buttons: accept (the source's version replaces the
article, or brings back a deleted one) and ignore (keep the article; this version of
the source is not offered again). See `ingest.decisions`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.ingest import decisions, resolve
from dispatch.ingest.fields import ArticleFields
from dispatch.store.models import ArticleConflict
from dispatch.web.admin.common import notice_of, see_other, store
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin/articles/conflicts", include_in_schema=False)
CONTEXT_LINES = 2
ConflictId = Path(ge=1, le=2**31 - 1)


@dataclass(frozen=True)
class ConflictView:
    id: int
    title: str
    slug: str | None  # None: the editor deleted the article
    origin: str
    detected_at: object
    diff: list[str]


def views(session: Session) -> list[ConflictView]:
    return [_view(conflict) for conflict in decisions.pending(session)]


def count(session: Session) -> int:
    return len(decisions.pending(session))


def _view(conflict: ArticleConflict) -> ConflictView:
    theirs = ArticleFields.from_json(conflict.fields)
    article = conflict.article
    ours = _lines(article.title, article.summary, article.body_text) if article else []
    new = _lines(theirs.title, theirs.summary, theirs.body_text)
    diff = list(
        difflib.unified_diff(ours, new, "article now", "source now", n=CONTEXT_LINES, lineterm="")
    )
    return ConflictView(
        conflict.id,
        theirs.title,
        article.slug if article else None,
        conflict.source_path or conflict.source_id,
        conflict.detected_at,
        diff[2:],  # without the ---/+++ header lines
    )


def _lines(title: str, summary: str, text: str) -> list[str]:
    return [f"Title: {title}", f"Summary: {summary}", "", *text.splitlines()]


@router.get("")
async def page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    found = await store(request, views)
    return render_admin(
        request, "article_conflicts", editor=editor, conflicts=found, notice=notice_of(request)
    )


@router.post("/{conflict_id}/accept")
async def accept(
    request: Request,
    conflict_id: int = ConflictId,
    editor: CurrentEditor = Depends(current_editor),
) -> Response:
    article = await store(request, resolve.accept, conflict_id, request.app.state.clock())
    return see_other(f"/admin/articles/{article.slug}/edit", "accepted")


@router.post("/{conflict_id}/ignore")
async def ignore(
    request: Request,
    conflict_id: int = ConflictId,
    editor: CurrentEditor = Depends(current_editor),
) -> Response:
    await store(request, resolve.ignore, conflict_id)
    return see_other("/admin/articles/conflicts", "ignored")
