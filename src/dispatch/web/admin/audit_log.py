"""`GET /admin/audit` (admins only): the newest audit log entries, optionally one kind
(`?action=campaign.` for every campaign action) or one actor (`?actor=ada@example.com`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dispatch.audit import recent
from dispatch.auth.deps import CurrentEditor, require_admin
from dispatch.web.admin_render import render_admin
from dispatch.web.store import in_store

router = APIRouter(prefix="/admin", include_in_schema=False)
PAGE = 200


@router.get("/audit")
async def audit_page(
    request: Request,
    action: str = Query("", max_length=50),
    actor: str = Query("", max_length=320),
    editor: CurrentEditor = Depends(require_admin),
) -> Response:
    rows = await in_store(
        request, lambda session: recent(session, limit=PAGE, action=action, actor=actor)
    )
    return render_admin(
        request, "audit", editor=editor, entries=rows, action=action, actor=actor, page=PAGE
    )
