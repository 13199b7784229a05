"""A list's settings in the admin: create a list, change one (admins only). The work is
`dispatch.list_editing`; after a save this process re-reads the lists at once
(`web.live_lists.refresh`), other processes within a few seconds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch.auth.deps import CurrentEditor, require_admin
from dispatch.errors import ListError
from dispatch.list_editing import EDITABLE, create_list, edit_list
from dispatch.lists import as_settings, get_list
from dispatch.web.admin.common import field, in_store, notice_of, see_other, store
from dispatch.web.admin_render import render_admin
from dispatch.web.live_lists import refresh

router = APIRouter(prefix="/admin/lists", include_in_schema=False)
BLANK = {"schedule": "0 7 * * *", "double_opt_in": True, "sections": ()}


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {key: field(form, key) for key in EDITABLE if key != "double_opt_in"}
    values["double_opt_in"] = field(form, "double_opt_in") == "1"
    return values


def _page(
    request: Request, editor: CurrentEditor, values: dict[str, Any], status: int = 200, **more: Any
) -> Response:
    more.setdefault("error", None)
    more.setdefault("slug", None)
    more.setdefault("notice", None)
    shown = dict(values)
    if not isinstance(shown.get("sections", ""), str):
        shown["sections"] = ", ".join(shown.get("sections") or ())
    return render_admin(request, "list_settings", status, editor=editor, values=shown, **more)


@router.get("/new")
async def new_page(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    return _page(request, editor, dict(BLANK))


@router.post("/new")
async def create(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    form = await request.form()
    values = _values(form) | {"slug": field(form, "slug")}
    now = request.app.state.clock()
    settings = request.app.state.settings

    def work(session: Session) -> str:
        return create_list(session, settings, values, now).slug

    try:
        slug = await in_store(request, work)
    except ListError as exc:
        return _page(request, editor, values, 400, error=str(exc))
    await refresh(request.app.state)
    return see_other(f"/admin/lists/{slug}/settings", "list-created")


@router.get("/{slug}/settings")
async def settings_page(
    request: Request, slug: str, editor: CurrentEditor = Depends(require_admin)
) -> Response:
    row = await store(request, lambda session: as_settings(get_list(session, slug)))
    values = row.model_dump()
    return _page(request, editor, values, slug=slug, notice=notice_of(request))


@router.post("/{slug}/settings")
async def save(
    request: Request, slug: str, editor: CurrentEditor = Depends(require_admin)
) -> Response:
    values = _values(await request.form())
    now = request.app.state.clock()
    settings = request.app.state.settings
    await store(request, get_list, slug)  # 404 for an unknown list

    def work(session: Session) -> None:
        edit_list(session, settings, slug, values, now)

    try:
        await in_store(request, work)
    except ListError as exc:
        return _page(request, editor, values | {"slug": slug}, 400, error=str(exc), slug=slug)
    await refresh(request.app.state)
    return see_other(f"/admin/lists/{slug}/settings", "saved")
