"""What editors do to a campaign: send a test to themselves, send now, schedule, pause,
resume, cancel, delete a draft. Each is the CLI's own call (`campaigns.create`,
`start_campaign`, `control`); sending runs in the background (`sending`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns import Options, control, create_article, create_note, start_campaign
from dispatch.campaigns.content import TEST_PREFIX
from dispatch.campaigns.control import get_campaign
from dispatch.campaigns.create import schedule
from dispatch.campaigns.progress import Progress, last_errors
from dispatch.campaigns.start import AlreadyStarted
from dispatch.config import Settings
from dispatch.delivery.check import check_sender
from dispatch.errors import CampaignError
from dispatch.store.models import Article, Campaign, CampaignStatus
from dispatch.store.types import utcnow
from dispatch.web.admin.common import AdminProblem, field, see_other, store
from dispatch.web.sending import sending_of

router = APIRouter(prefix="/admin/campaigns/{campaign_id}", include_in_schema=False)
TEST_TIMEOUT = 60.0  # seconds a test send may take before the page gives up waiting


def _page(campaign_id: int) -> str:
    return f"/admin/campaigns/{campaign_id}"


def make_test(
    session: Session, settings: Settings, campaign_id: int, to: str, now: datetime
) -> int:
    """A started test campaign with the draft's content, for `to` alone."""
    draft = get_campaign(session, campaign_id)
    slug, options = draft.mailing_list.slug, Options(test_to=to)
    if draft.body_markdown is not None:
        subject = draft.subject.removeprefix(TEST_PREFIX)
        made = create_note(session, settings, slug, subject, draft.body_markdown, now, options)
    elif len(draft.article_ids) == 1 and draft.kind == "one_off":
        article = session.get(Article, draft.article_ids[0])
        if article is None:
            raise CampaignError(f"campaign {campaign_id}: its article no longer exists")
        made = create_article(session, settings, article.slug, slug, now, options)
    else:
        raise CampaignError(f"campaign {campaign_id}: tests are for one-off campaigns")
    start_campaign(session, made.campaign, settings, now)
    return made.campaign.id


@router.post("/test")
async def send_test(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    state = request.app.state
    test_id = await store(
        request, make_test, state.settings, campaign_id, editor.email, state.clock()
    )
    try:
        await sending_of(request).test(test_id, TEST_TIMEOUT)
    except TimeoutError:
        raise AdminProblem(504, f"the test (campaign {test_id}) is still sending") from None
    progress: Progress = await store(request, _progress, test_id)
    if progress.status != CampaignStatus.SENT.value or progress.sent != 1:
        errors = await store(request, last_errors, test_id)
        why = "; ".join(error for _email, error in errors) or progress.pause_reason or "no reason"
        raise AdminProblem(502, f"the test to {editor.email} was not sent: {why}")
    return see_other(_page(campaign_id), "test-sent")


def _progress(session: Session, campaign_id: int) -> Progress:
    return Progress.read(session, get_campaign(session, campaign_id), utcnow())


def _start(session: Session, settings: Settings, campaign_id: int, now: datetime) -> bool:
    """Start it; False when it had been started already (a double click)."""
    try:
        start_campaign(session, get_campaign(session, campaign_id), settings, now)
    except AlreadyStarted:
        return False
    return True


@router.post("/send")
async def send_now(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    state = request.app.state
    await run_in_threadpool(check_sender, state.settings)
    if not await store(request, _start, state.settings, campaign_id, state.clock()):
        return see_other(_page(campaign_id), "already-sending")
    sending_of(request).submit(campaign_id)
    return see_other(_page(campaign_id), "started")


@router.post("/retry-failed")
async def retry_failed(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    count = await store(request, control.retry_failed, campaign_id, request.app.state.clock())
    if count:
        sending_of(request).submit(campaign_id)
    return see_other(_page(campaign_id), "retrying" if count else "nothing-to-retry")


@router.post("/schedule")
async def schedule_send(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    state = request.app.state
    at = field(await request.form(), "at")
    if not at:
        raise AdminProblem(400, "give a date and time to send it at")
    when = _local_time(at, state.settings.site.timezone)

    def work(session: Session) -> None:
        schedule(get_campaign(session, campaign_id), when, state.clock())

    await store(request, work)
    return see_other(_page(campaign_id), "scheduled")


def _local_time(value: str, timezone: str) -> datetime:
    """A `datetime-local` field's value, in the site's time zone unless it names one."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AdminProblem(
            400, f'"{value}" is not a date and time (e.g. 2026-12-01T07:00)'
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(timezone))


@router.post("/pause")
async def pause(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await store(request, control.pause, campaign_id)
    return see_other(_page(campaign_id), "paused")


@router.post("/resume")
async def resume(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await run_in_threadpool(check_sender, request.app.state.settings)
    campaign: Campaign = await store(request, control.resume, campaign_id)
    if campaign.status == CampaignStatus.SENDING:
        sending_of(request).submit(campaign_id)
    return see_other(_page(campaign_id), "resumed")


@router.post("/cancel")
async def cancel(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await store(request, control.cancel, campaign_id, request.app.state.clock())
    return see_other(_page(campaign_id), "cancelled")


@router.post("/delete")
async def delete_draft(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    def work(session: Session) -> None:
        campaign = get_campaign(session, campaign_id)
        if campaign.status != CampaignStatus.DRAFT:
            raise CampaignError(f"campaign {campaign_id} is {campaign.status}: only drafts go")
        session.delete(campaign)

    await store(request, work)
    return see_other("/admin/campaigns", "deleted")
