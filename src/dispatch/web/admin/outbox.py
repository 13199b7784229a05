"""Outbox: the messages the `outbox` sender wrote, opened as a subscriber would see them.

`OutboxSender` writes `<delivery.outbox.dir>/<campaign id>/<delivery id>.eml`. The
browse pages follow the ledger (who was sent what, paged), linking each row whose file
exists; a message page shows its headers, its HTML part in a sandboxed frame (no
scripts, no same-origin access; links open in a new tab) and its text part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns import control
from dispatch.store.models import Campaign, Delivery
from dispatch.web.admin.common import AdminProblem, Paging, find_campaign, store
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin/outbox", include_in_schema=False)


def message_path(folder: Path, campaign_id: int, delivery_id: int) -> Path:
    """Where `OutboxSender` writes a delivery's message (its `path()` layout)."""
    return folder / str(campaign_id) / f"{delivery_id}.eml"


@dataclass(frozen=True)
class Row:
    delivery_id: int
    email: str
    status: str
    sent_at: datetime | None
    on_disk: bool


@router.get("")
async def outbox_page(
    request: Request, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    settings = request.app.state.settings
    folder = settings.delivery.outbox.dir
    campaigns: list[Campaign] = await store(request, _recent)
    shown = [c for c in campaigns if (folder / str(c.id)).is_dir()]
    return render_admin(
        request,
        "outbox",
        editor=editor,
        campaigns=shown,
        backend=settings.delivery.backend,
        folder=folder,
    )


def _recent(session: Session) -> list[Campaign]:
    found = control.recent(session, 200)
    for campaign in found:
        _ = campaign.mailing_list
    return found


def _rows(session: Session, campaign_id: int, folder: Path, offset: int, limit: int) -> list[Row]:
    query = (
        select(Delivery.id, Delivery.email, Delivery.status, Delivery.sent_at)
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
        .offset(offset)
        .limit(limit)
    )
    return [
        Row(i, e, str(s), t, message_path(folder, campaign_id, i).is_file())
        for i, e, s, t in session.execute(query)
    ]


def _count(session: Session, campaign_id: int) -> int:
    query = select(func.count()).where(Delivery.campaign_id == campaign_id)
    return int(session.scalar(query) or 0)


@router.get("/{campaign_id}")
async def campaign_outbox(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    folder = request.app.state.settings.delivery.outbox.dir
    campaign = await store(request, find_campaign, campaign_id)
    paging = Paging.of(request, await store(request, _count, campaign_id))
    rows = await store(request, _rows, campaign_id, folder, paging.offset, paging.size)
    return render_admin(
        request, "outbox_campaign", editor=editor, campaign=campaign, rows=rows, paging=paging
    )


@dataclass(frozen=True)
class Opened:
    headers: list[tuple[str, str]]
    html: str | None
    text: str | None
    size: int


def open_message(path: Path) -> Opened:
    data = path.read_bytes()
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return Opened(
        [(name, str(value)) for name, value in message.items()],
        _part(message, "html"),
        _part(message, "plain"),
        len(data),
    )


def _part(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body(preferencelist=(kind,))
    if part is None or part.get_content_subtype() != kind:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


@router.get("/{campaign_id}/{delivery_id}")
async def message_page(
    request: Request,
    campaign_id: int,
    delivery_id: int,
    editor: CurrentEditor = Depends(current_editor),
) -> Response:
    folder = request.app.state.settings.delivery.outbox.dir
    campaign = await store(request, find_campaign, campaign_id)
    path = message_path(folder, campaign_id, delivery_id)
    if not path.is_file():
        raise AdminProblem(404, f"no message {delivery_id} of campaign {campaign_id} in the outbox")
    opened = await run_in_threadpool(open_message, path)
    return render_admin(
        request,
        "outbox_message",
        editor=editor,
        campaign=campaign,
        delivery_id=delivery_id,
        opened=opened,
        path=path,
    )
