"""CSV uploads imported in the background, with a page that follows them, and the
"send confirmation to pending" button of a list.

`POST /admin/lists/<slug>/import` copies the upload to a private folder, starts an
`import_jobs` job and answers 303 to `/admin/imports/<id>`, which refreshes itself every
two seconds (`<meta http-equiv="refresh">`: no script, so it works under a CSP without
inline script and with JavaScript off) until the job has finished, then shows the
summary and the rejected lines; `POST /admin/imports/<id>/cancel` stops it after the
batch it is writing. `POST /admin/lists/<slug>/confirm-pending` sends a
confirmation mail to each pending person of the list who never got one, in the
background, paced by the delivery rate (`subscribers.reconfirm`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import ImportJob
from dispatch.store.types import utcnow
from dispatch.subscribers.import_jobs import JobView, Upload, cancel_import, start_import
from dispatch.subscribers.import_services import CHOICES
from dispatch.subscribers.reconfirm import send_pending_confirmations
from dispatch.web.admin.common import NOTICES, AdminProblem, field, see_other, store
from dispatch.web.admin.subscriber_files import upload_name
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin", include_in_schema=False)
log = logging.getLogger(__name__)
NOTICES["confirmations-started"] = (
    "Confirmation mails are on their way to the pending people who never got one "
    "(at the delivery rate; nobody gets two)."
)


@router.post("/lists/{slug}/import")
async def upload(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise AdminProblem(400, "choose a CSV file to upload")
    source = field(form, "source") or "auto"
    try:
        if source not in CHOICES:
            choices = ", ".join(CHOICES)
            raise AdminProblem(400, f"unknown source {source!r}: choose one of {choices}")
        await store(request, get_list, slug)
        path = await run_in_threadpool(_keep, file)
    finally:
        await file.close()
    found = Upload(path, path.name, slug, field(form, "confirmed") == "1", source)
    job_id = await run_in_threadpool(start_import, request.app.state.database, found, editor.id)
    return see_other(f"/admin/imports/{job_id}")


def _keep(file: UploadFile) -> Path:
    """The upload copied to a private folder (the job removes it when it ends)."""
    folder = Path(tempfile.mkdtemp(prefix="dispatch-upload-"))
    path = folder / upload_name(file.filename)
    with path.open("wb") as out:
        shutil.copyfileobj(file.file, out)
    return path


@router.get("/imports/{job_id}")
async def job_page(
    request: Request, job_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    job = await store(request, _job, job_id)
    view = JobView(job, utcnow())
    return render_admin(request, "import_job", editor=editor, view=view, job=job)


@router.post("/imports/{job_id}/cancel")
async def cancel_job(
    request: Request, job_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await store(request, _job, job_id)
    await run_in_threadpool(cancel_import, request.app.state.database, job_id)
    return see_other(f"/admin/imports/{job_id}")


def _job(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise AdminProblem(404, f"no import {job_id}")
    session.expunge(job)
    return job


@router.post("/lists/{slug}/confirm-pending")
async def confirm_pending(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await store(request, get_list, slug)
    state = request.app.state
    thread = threading.Thread(
        target=_send_confirmations,
        args=(state.database, state.settings, slug),
        name=f"confirm-pending-{slug}",
        daemon=True,
    )
    thread.start()
    return see_other(f"/admin/lists/{slug}", "confirmations-started")


def _send_confirmations(database: Database, settings: object, slug: str) -> None:
    try:
        report = send_pending_confirmations(database, settings, slug, only_new=True)  # type: ignore[arg-type]
    except Exception:
        log.exception("confirmation mails for the pending people of %s stopped", slug)
        return
    log.info("confirmations for %s: %s", slug, report)
