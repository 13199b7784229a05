"""Campaigns: the list, composing a one-off (from an article, or a subject and Markdown
body), a campaign's page (previews while a draft, live progress once started), the
progress JSON its bar polls, and what each list's digest would be now.

What editors do to a campaign (test, send, schedule, pause…) is in `campaign_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns import Options, control, create_article, create_note
from dispatch.campaigns.progress import last_errors
from dispatch.campaigns.recipients import count_campaign_audience
from dispatch.campaigns.results import Results, campaign_results
from dispatch.config import Settings
from dispatch.delivery.check import check_sender
from dispatch.events.history import CampaignFeedback, campaign_feedback
from dispatch.segments.saved import count_segment, list_segments
from dispatch.store.models import Article, Campaign, CampaignStatus
from dispatch.web.admin.campaign_preview import (
    WIDTHS,
    EmailPreview,
    campaign_preview,
    digest_previews,
)
from dispatch.web.admin.common import (
    AdminProblem,
    field,
    find_campaign,
    notice_of,
    see_other,
    store,
)
from dispatch.web.admin.dashboard import CampaignRow
from dispatch.web.admin.progress_view import ProgressView, progress_of
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin
from dispatch.web.sending import sending_of

router = APIRouter(prefix="/admin/campaigns", include_in_schema=False)
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


@router.get("")
async def list_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    rows = await store(request, _recent)
    return render_admin(request, "campaigns", editor=editor, rows=rows, notice=notice_of(request))


def _recent(session: Session) -> list[CampaignRow]:
    rows = []
    for campaign in control.recent(session, 100):
        _ = campaign.mailing_list
        rows.append(CampaignRow(campaign, progress_of(session, campaign)))
    return rows


@router.get("/new")
async def new_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    articles = await store(request, _articles)
    segments = await store(request, _segments, request.app.state.clock())
    return render_admin(
        request,
        "campaign_new",
        editor=editor,
        lists=request.app.state.settings.lists,
        articles=articles,
        segments=segments,
        chosen=request.query_params.get("article", ""),
    )


def _segments(session: Session, now: datetime) -> list[tuple[str, str, int]]:
    return [
        (row.mailing_list.slug, row.name, count_segment(session, row, now))
        for row in list_segments(session)
    ]


def _articles(session: Session) -> list[tuple[str, str, str]]:
    query = select(Article.slug, Article.title, Article.status).order_by(
        Article.published_at.desc().nulls_last(), Article.id.desc()
    )
    return [(slug, title, str(status)) for slug, title, status in session.execute(query.limit(200))]


@router.post("/new")
async def create(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    list_slug, article = field(form, "list"), field(form, "article")
    segment = _segment_of(field(form, "segment"), list_slug)
    subject, body = field(form, "subject"), field(form, "body").replace("\r\n", "\n")
    if not article and not (subject.strip() and body.strip()):
        raise AdminProblem(400, "choose an article, or write a subject and a body")
    settings, now = request.app.state.settings, request.app.state.clock()
    await run_in_threadpool(check_sender, settings)  # before a campaign exists

    def make(session: Session) -> int:
        options = Options(segment=segment)
        if article:
            made = create_article(session, settings, article, list_slug, now, options)
        else:
            made = create_note(session, settings, list_slug, subject, body, now, options)
        return made.campaign.id

    campaign_id = await store(request, make)
    return see_other(f"/admin/campaigns/{campaign_id}", "created")


def _segment_of(chosen: str, list_slug: str) -> str | None:
    """The segment's name from the form's `LIST/NAME`; it must be of the chosen list."""
    if not chosen:
        return None
    slug, _, name = chosen.partition("/")
    if slug != list_slug:
        raise AdminProblem(400, f'the segment "{name}" is not of the list {list_slug}')
    return name


@dataclass(frozen=True)
class CampaignPage:
    campaign: Campaign
    progress: ProgressView
    audience: int
    preview: EmailPreview | None
    errors: list[tuple[str, str]]
    feedback: CampaignFeedback | None = None  # bounced and complained, once started
    results: Results | None = None  # once started


def campaign_page(
    session: Session, settings: Settings, campaign_id: int, now: datetime
) -> CampaignPage:
    campaign = find_campaign(session, campaign_id)
    _ = campaign.mailing_list, campaign.segment
    preview = None
    if campaign.status in EDITABLE:
        preview = campaign_preview(session, settings, campaign, now)
    audience = count_campaign_audience(session, campaign, now)
    started = campaign.status not in EDITABLE
    errors = last_errors(session, campaign_id) if started else []
    feedback = campaign_feedback(session, campaign_id) if started else None
    progress = progress_of(session, campaign)
    results = campaign_results(session, campaign) if started else None
    return CampaignPage(campaign, progress, audience, preview, errors, feedback, results)


@router.get("/digests")
async def digests(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    state = request.app.state
    found = await store(request, digest_previews, state.settings, state.clock())
    return render_admin(request, "digests", editor=editor, digests=found, widths=WIDTHS)


@router.get("/{campaign_id}")
async def campaign_detail(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    state = request.app.state
    page: CampaignPage = await store(
        request, campaign_page, state.settings, campaign_id, state.clock()
    )
    return render_admin(
        request,
        "campaign",
        editor=editor,
        page=page,
        widths=WIDTHS,
        running_here=sending_of(request).active(campaign_id),
        notice=notice_of(request),
        site_timezone=state.settings.site.timezone,
    )


@router.get("/{campaign_id}/progress.json")
async def progress_json(
    request: Request, campaign_id: int, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    found: ProgressView = await store(
        request, lambda s: progress_of(s, find_campaign(s, campaign_id))
    )
    return JSONResponse(found.as_json(), headers=ADMIN_HEADERS)
