"""`POST /admin/media`: an editor's image (dropped into the editor, or chosen with the file
field) with its alt text → the media store. The editor's script gets JSON and inserts
the Markdown at the cursor; without script the page shows the Markdown to copy."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.errors import MediaError
from dispatch.web.admin.common import field
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin
from dispatch.web.media_upload import store_upload

router = APIRouter(prefix="/admin/media", include_in_schema=False)


@router.post("")
async def upload(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    given = form.get("file")
    upload = given if isinstance(given, UploadFile) else None
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        stored = await store_upload(
            request.app.state.settings, upload, field(form, "alt"), alt_required=True
        )
    except MediaError as exc:
        if wants_json:
            return JSONResponse({"error": str(exc)}, 400, headers=ADMIN_HEADERS)
        return render_admin(request, "problem", 400, editor=editor, message=str(exc))
    finally:
        if upload is not None:
            await upload.close()
    if wants_json:
        return JSONResponse(stored.to_json(), 201, headers=ADMIN_HEADERS)
    return render_admin(request, "media_uploaded", 201, editor=editor, uploaded=stored)
