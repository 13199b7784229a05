"""`/api/campaigns`: create (digest, article, note) as a draft, preview, test, send now,
schedule, status with progress, pause, resume, cancel, list.

The lifecycle is `campaigns.lifecycle`'s: a change it forbids (pausing a sent campaign,
sending a cancelled one) is 409 with its reason. Sending, resuming and test sends
answer 202 at once; the campaign goes to the app's executor (`web.sending`, shared with
the admin pages) and
`GET /api/campaigns/{id}` shows its progress from the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
from dispatch.campaigns import control
from dispatch.campaigns.create import (
    Created,
    Options,
    create_article,
    create_digest,
    create_note,
    plan_digest,
    schedule,
)
from dispatch.campaigns.lifecycle import move
from dispatch.campaigns.recipients import count_campaign_audience
from dispatch.campaigns.results import campaign_results
from dispatch.campaigns.start import AlreadyStarted, start_campaign
from dispatch.config import Settings
from dispatch.delivery.check import check_sender
from dispatch.errors import CampaignError, ConfigError, NotFound
from dispatch.lists import get_list
from dispatch.segments.saved import find_segment
from dispatch.store.models import Campaign, CampaignStatus, MailingList
from dispatch.web.api import campaign_views as views
from dispatch.web.api.context import in_store, now, settings_of
from dispatch.web.api.errors import ApiProblem, problem, responses
from dispatch.web.api.pagination import Page, PageParams, page_params, paginate
from dispatch.web.api.schemas import (
    NO_NUL,
    Accepted,
    ArticleCampaignCreate,
    CampaignCreate,
    CampaignCreated,
    CampaignDetail,
    CampaignOut,
    Cancelled,
    DigestCreate,
    NoteCreate,
    PreviewOut,
    ScheduleIn,
    TestIn,
)
from dispatch.web.sending import sending_of

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
READ = Depends(api_principal("campaigns:read"))
WRITE = Depends(api_principal("campaigns:write"))
CampaignId = Path(ge=1, le=views.MAX_ID, description="The campaign's id.")
STATE = responses(404, 409)


@router.get("", response_model=Page[CampaignOut], dependencies=[READ])
async def list_campaigns(
    request: Request,
    params: PageParams = Depends(page_params),
    status: CampaignStatus | None = Query(None, description="Only campaigns in this status."),
    list_slug: str | None = Query(
        None, alias="list", max_length=100, pattern=NO_NUL, description="Only this list's."
    ),
) -> Page[CampaignOut]:
    """Campaigns, newest first."""
    query = select(Campaign).order_by(Campaign.id.desc())
    if status is not None:
        query = query.where(Campaign.status == status)
    if list_slug is not None:
        query = query.join(MailingList).where(MailingList.slug == list_slug)
    return await in_store(request, paginate, query, params, views.campaign_out)


@router.post(
    "",
    response_model=CampaignCreated,
    status_code=201,
    dependencies=[WRITE],
    responses=responses(404, 409),
)
async def create(request: Request, payload: CampaignCreate) -> CampaignCreated:
    """A draft: a list's digest (articles since the previous one), one article, or a note."""
    settings, when = settings_of(request), now(request)
    await _sender_ready(settings)

    def work(session: Session) -> CampaignCreated:
        _check_list(session, settings, payload.list)
        created = _create(session, settings, payload, when)
        out = views.campaign_out(created.campaign).model_dump()
        recipients = count_campaign_audience(session, created.campaign, when)
        return CampaignCreated(**out, warnings=list(created.warnings), recipients=recipients)

    return await in_store(request, work)


def _check_list(session: Session, settings: Settings, slug: str) -> None:
    try:
        settings.list(slug)
        get_list(session, slug)
    except (ConfigError, NotFound) as exc:
        raise problem(exc, "body.list") from None


def _create(
    session: Session,
    settings: Settings,
    payload: DigestCreate | ArticleCampaignCreate | NoteCreate,
    when: datetime,
) -> Created:
    options = Options(segment=payload.segment)
    if payload.segment is not None:
        try:
            find_segment(session, payload.segment, payload.list)
        except NotFound as exc:
            raise problem(exc, "body.segment") from None
    if isinstance(payload, DigestCreate):
        plan = plan_digest(
            session, settings, payload.list, when, since=payload.since, include=payload.include
        )
        created = create_digest(session, settings, plan, options)
        if created is None:
            since = plan.since.isoformat(timespec="minutes")
            raise ApiProblem(409, f"nothing new in {payload.list} since {since}", "body.since")
        return created
    if isinstance(payload, ArticleCampaignCreate):
        try:
            return create_article(session, settings, payload.article, payload.list, when, options)
        except NotFound as exc:
            raise problem(exc, "body.article") from None
    return create_note(
        session, settings, payload.list, payload.subject, payload.body_markdown, when, options
    )


@router.get(
    "/{campaign_id}",
    response_model=CampaignDetail,
    dependencies=[READ],
    responses=responses(404),
    name="api_campaign_detail",
)
async def get_one(request: Request, campaign_id: int = CampaignId) -> CampaignDetail:
    """The campaign with its progress: ledger rows per status, and whether it runs now."""
    when = now(request)

    def work(session: Session) -> CampaignDetail:
        campaign = views.get(session, campaign_id)
        found = control.details(session, campaign_id, when)
        return views.detail(found, campaign_results(session, campaign))

    return await in_store(request, work)


@router.get(
    "/{campaign_id}/preview",
    response_model=PreviewOut,
    dependencies=[READ],
    responses=STATE,
)
async def preview(request: Request, campaign_id: int = CampaignId) -> PreviewOut:
    """Subject, HTML and text as a sample recipient would get it if it went out now."""
    settings, when = settings_of(request), now(request)
    return await in_store(
        request, lambda s: views.preview(s, settings, views.get(s, campaign_id), when)
    )


@router.post(
    "/{campaign_id}/test",
    response_model=Accepted,
    status_code=202,
    dependencies=[WRITE],
    responses=STATE,
)
async def test(request: Request, payload: TestIn, campaign_id: int = CampaignId) -> Accepted:
    """Send its content to one address as a new test campaign ("[TEST] " subject)."""
    settings, when = settings_of(request), now(request)

    def work(session: Session) -> tuple[int, int]:
        original = views.get(session, campaign_id)
        created = _with_field(
            "body.to", views.test_copy, session, settings, original, payload.to, when
        )
        total = start_campaign(session, created.campaign, settings, when)
        return created.campaign.id, total

    test_id, total = await in_store(request, work)
    return _accepted(request, test_id, total)


def _with_field(field: str, work: Callable[..., Created], *args: object) -> Created:
    try:
        return work(*args)
    except ValueError as exc:  # InvalidAddress
        raise ApiProblem(422, str(exc), field) from None


@router.post(
    "/{campaign_id}/send",
    response_model=Accepted,
    status_code=202,
    dependencies=[WRITE],
    responses=STATE,
)
async def send(request: Request, campaign_id: int = CampaignId) -> Accepted:
    """Start sending now (a draft or scheduled campaign); progress at its status URL.
    Idempotent: for a campaign that is sending or sent already it answers the same 202."""
    settings, when = settings_of(request), now(request)
    await _sender_ready(settings)

    def work(session: Session) -> tuple[int, CampaignStatus]:
        campaign = views.get(session, campaign_id)
        try:
            return start_campaign(session, campaign, settings, when), CampaignStatus.SENDING
        except AlreadyStarted:
            return campaign.recipients_total, campaign.status

    total, status = await in_store(request, work)
    return _accepted(request, campaign_id, total, status)


@router.post(
    "/{campaign_id}/retry-failed",
    response_model=Accepted,
    status_code=202,
    dependencies=[WRITE],
    responses=STATE,
)
async def retry_failed(request: Request, campaign_id: int = CampaignId) -> Accepted:
    """Send once more to the recipients that failed (never to suppressed addresses)."""
    when = now(request)

    def work(session: Session) -> tuple[int, CampaignStatus]:
        views.get(session, campaign_id)
        control.retry_failed(session, campaign_id, when)
        campaign = views.get(session, campaign_id)
        return campaign.recipients_total, campaign.status

    total, status = await in_store(request, work)
    return _accepted(request, campaign_id, total, status)


async def _sender_ready(settings: Settings) -> None:
    try:
        await run_in_threadpool(check_sender, settings)
    except ConfigError as exc:
        raise ApiProblem(409, f"the sender cannot send: {exc}", None) from None


def _accepted(
    request: Request,
    campaign_id: int,
    total: int,
    status: CampaignStatus = CampaignStatus.SENDING,
) -> Accepted:
    if status == CampaignStatus.SENDING:
        sending_of(request).submit(campaign_id)
    url = request.url_for("api_campaign_detail", campaign_id=campaign_id)
    return Accepted(id=campaign_id, status=status, recipients=total, status_url=str(url))


@router.post(
    "/{campaign_id}/schedule",
    response_model=CampaignOut,
    dependencies=[WRITE],
    responses=STATE,
)
async def schedule_one(
    request: Request, payload: ScheduleIn, campaign_id: int = CampaignId
) -> CampaignOut:
    """Send at a set time (the scheduler starts it); a scheduled campaign is moved."""
    when = now(request)
    if payload.at <= when:
        raise ApiProblem(422, f"{payload.at.isoformat()} is in the past", "body.at")

    def work(session: Session) -> CampaignOut:
        campaign = views.get(session, campaign_id)
        if campaign.status == CampaignStatus.SCHEDULED:
            move(campaign, CampaignStatus.DRAFT)
        schedule(campaign, payload.at, when)
        return views.campaign_out(campaign)

    return await in_store(request, work)


@router.post(
    "/{campaign_id}/pause",
    response_model=CampaignOut,
    dependencies=[WRITE],
    responses=STATE,
)
async def pause(request: Request, campaign_id: int = CampaignId) -> CampaignOut:
    """Stop sending before the next message; resume carries on where it stopped."""

    def work(session: Session) -> CampaignOut:
        views.get(session, campaign_id)
        return views.campaign_out(control.pause(session, campaign_id))

    return await in_store(request, work)


@router.post(
    "/{campaign_id}/resume",
    response_model=Accepted,
    status_code=202,
    dependencies=[WRITE],
    responses=STATE,
)
async def resume(request: Request, campaign_id: int = CampaignId) -> Accepted:
    """Carry on sending a paused (or interrupted) campaign."""
    await _sender_ready(settings_of(request))

    def work(session: Session) -> int:
        campaign = views.get(session, campaign_id)
        if campaign.status == CampaignStatus.SENT:
            raise CampaignError(f"campaign {campaign_id} was sent: there is nothing to resume")
        return control.resume(session, campaign_id).recipients_total

    total = await in_store(request, work)
    return _accepted(request, campaign_id, total)


@router.post(
    "/{campaign_id}/cancel",
    response_model=Cancelled,
    dependencies=[WRITE],
    responses=STATE,
)
async def cancel(request: Request, campaign_id: int = CampaignId) -> Cancelled:
    """Cancel: nobody else gets it; what was sent stays sent."""
    when = now(request)

    def work(session: Session) -> Cancelled:
        views.get(session, campaign_id)
        skipped = control.cancel(session, campaign_id, when)
        return Cancelled(
            campaign=views.campaign_out(views.get(session, campaign_id)), skipped=skipped
        )

    return await in_store(request, work)
