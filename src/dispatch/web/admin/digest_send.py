""" "Send now" for a list's digest, from the digest previews page.

Two steps, both forms with the CSRF token: the button on the previews page asks for a
confirmation page (what goes to whom: articles, recipients), whose form carries a fresh
random `key`; confirming creates the digest campaign with the period key
`admin-digest:<list>:<key>` and starts it through the one start path
(`start_campaign`, then the app's executor). The period key is unique in the store, so
a double click, a resubmitted form or two requests at once make one campaign: the later
ones land on its page ("already sending"). The next scheduled digest carries only what
is newer (`plan_digest` starts after the previous digest on its way).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_digest, plan_digest
from dispatch.campaigns.recipients import count_audience
from dispatch.campaigns.start import AlreadyStarted, start_campaign
from dispatch.config import Settings
from dispatch.delivery.check import check_sender
from dispatch.errors import CampaignError, DispatchError, NotFound
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import Campaign
from dispatch.web.admin.common import AdminProblem, field, see_other, store
from dispatch.web.admin_render import render_admin
from dispatch.web.sending import sending_of

router = APIRouter(prefix="/admin/campaigns/digests", include_in_schema=False)
KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Pending:
    list_slug: str
    list_name: str
    articles: list[str]
    audience: int


def _pending(session: Session, settings: Settings, slug: str, now: datetime) -> Pending:
    mailing_list = get_list(session, slug)
    plan = plan_digest(session, settings, slug, now)
    titles = [article.title for article in plan.articles]
    return Pending(slug, mailing_list.name, titles, count_audience(session, mailing_list.id))


@router.post("/{slug}/send")
async def send_digest_now(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    form = await request.form()
    state = request.app.state
    if field(form, "confirmed") != "1":
        pending: Pending = await store(request, _pending, state.settings, slug, state.clock())
        key = secrets.token_hex(16)
        return render_admin(request, "digest_send", editor=editor, pending=pending, key=key)
    key = field(form, "key")
    if not KEY.match(key):
        raise AdminProblem(400, "this confirmation form is not valid: open the previews again")
    await run_in_threadpool(check_sender, state.settings)
    args = (state.database, state.settings, slug, f"admin-digest:{slug}:{key}", state.clock())
    try:
        campaign_id, fresh = await run_in_threadpool(confirm_digest, *args)
    except NotFound as exc:
        raise AdminProblem(404, str(exc)) from exc
    except DispatchError as exc:
        raise AdminProblem(400, str(exc)) from exc
    if not fresh:
        return see_other(f"/admin/campaigns/{campaign_id}", "already-sending")
    sending_of(request).submit(campaign_id)
    return see_other(f"/admin/campaigns/{campaign_id}", "started")


def confirm_digest(
    database: Database, settings: Settings, slug: str, period: str, now: datetime
) -> tuple[int, bool]:
    """`_create_and_start` in a transaction of its own. SQLite refuses a write in a
    transaction that read before another writer committed ("database is locked"): the
    second try then finds the campaign that writer made."""
    for attempt in (1, 2):
        try:
            with database.session() as session:
                return _create_and_start(session, settings, slug, period, now)
        except OperationalError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write_first(session: Session) -> None:
    """On SQLite, take the write lock before reading (an UPDATE of no row does): a
    transaction that read first cannot write once another writer has committed."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Campaign).where(Campaign.id == 0).values(status=Campaign.status))


def _existing(session: Session, period: str) -> int | None:
    return session.scalar(select(Campaign.id).where(Campaign.period_key == period))


def _create_and_start(
    session: Session, settings: Settings, slug: str, period: str, now: datetime
) -> tuple[int, bool]:
    """(campaign id, True) when this request made and started it; (id, False) when an
    earlier one with the same key did."""
    _write_first(session)
    found = _existing(session, period)
    if found is not None:
        return found, False
    plan = plan_digest(session, settings, slug, now)
    try:
        with session.begin_nested():
            created = create_digest(session, settings, plan, Options(period_key=period))
    except IntegrityError:  # the same key, committed by a request at the same moment
        again = _existing(session, period)
        if again is None:
            raise
        return again, False
    if created is None:
        raise CampaignError(f'nothing new in "{slug}" since {plan.since:%Y-%m-%d %H:%M}: not sent')
    try:
        start_campaign(session, created.campaign, settings, now)
    except AlreadyStarted:
        return created.campaign.id, False
    return created.campaign.id, True
