"""One subscriber's page: subscriptions, mails received, bounces and complaints,
suppression, and lifting it with a reason (`subscribers.unsuppress`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.errors import AccountError, NotFound
from dispatch.events.history import for_subscriber
from dispatch.subscribers.history import History, subscriber_history
from dispatch.subscribers.unsuppress import lift_suppression
from dispatch.web.admin.common import AdminProblem, field, in_store, notice_of, see_other, store
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin/subscribers", include_in_schema=False)


def _load(session: Session, subscriber_id: int) -> tuple[History, list[object]]:
    found = subscriber_history(session, subscriber_id)
    return found, list(for_subscriber(session, found.id, found.email))


async def _page(
    request: Request,
    editor: CurrentEditor,
    subscriber_id: int,
    status: int = 200,
    **more: object,
) -> Response:
    person, feedback = await store(request, _load, subscriber_id)
    more.setdefault("error", None)
    more.setdefault("reason", "")
    return render_admin(
        request,
        "subscriber",
        status,
        editor=editor,
        person=person,
        feedback=feedback,
        notice=notice_of(request),
        **more,
    )


@router.get("/{subscriber_id}")
async def subscriber_page(
    request: Request, subscriber_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    return await _page(request, editor, subscriber_id)


@router.post("/{subscriber_id}/unsuppress")
async def unsuppress(
    request: Request, subscriber_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    form = await request.form()
    reason, confirmed = field(form, "reason"), field(form, "confirm_complaint") == "1"
    now = request.app.state.clock()

    def work(session: Session) -> None:
        person = subscriber_history(session, subscriber_id)
        lift_suppression(
            session, person.email, reason, editor.email, now, complaint_confirmed=confirmed
        )

    try:
        await in_store(request, work)
    except AccountError as exc:  # no reason given, or a complaint not confirmed
        return await _page(request, editor, subscriber_id, 400, error=str(exc), reason=reason)
    except NotFound as exc:
        raise AdminProblem(404, str(exc)) from exc
    return see_other(f"/admin/subscribers/{subscriber_id}", "unsuppressed")
