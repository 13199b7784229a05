"""`GET /admin`: the dashboard — lists and their people, recent and running campaigns
with their progress, the last feed build, the next scheduled digests, and what
`dispatch doctor` found (`doctor_view`).

Next digests come from the scheduler of this process when it runs one (`dispatch
serve`); otherwise they are computed from each list's cron schedule in its time zone
(the same trigger the scheduler uses), and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.campaigns import control
from dispatch.campaigns.lifecycle import ACTIVE
from dispatch.config import Settings
from dispatch.cron import cron_trigger
from dispatch.lists import ListCounts, list_counts
from dispatch.store.models import Campaign, CampaignKind
from dispatch.web.admin.common import in_store
from dispatch.web.admin.doctor_view import DoctorView
from dispatch.web.admin.feeds import last_build
from dispatch.web.admin.progress_view import ProgressView, progress_of
from dispatch.web.admin.stats import stats_of
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin", include_in_schema=False)
RECENT = 8


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    progress: ProgressView


@dataclass(frozen=True)
class NextDigest:
    list_slug: str
    list_name: str
    schedule: str
    timezone: str
    at: datetime | None


@dataclass(frozen=True)
class Overview:
    lists: list[ListCounts]
    running: list[CampaignRow]  # sending or paused, however old
    recent: list[CampaignRow]


def overview(session: Session) -> Overview:
    active = select(Campaign).where(Campaign.status.in_(ACTIVE)).order_by(Campaign.id.desc())
    running = [_row(session, c) for c in session.scalars(active)]
    # Welcome series steps (one campaign per sign-up at times) are on the lists' pages.
    latest = control.recent(session, RECENT, without=[CampaignKind.WELCOME])
    recent = [_row(session, c) for c in latest]
    return Overview(list_counts(session), running, recent)


def _row(session: Session, campaign: Campaign) -> CampaignRow:
    _ = campaign.mailing_list  # loaded while the session is open
    return CampaignRow(campaign, progress_of(session, campaign))


def next_digests(settings: Settings, scheduler: object | None, now: datetime) -> list[NextDigest]:
    found = []
    for item in settings.lists:
        zone = settings.list_timezone(item)
        at = _from_scheduler(scheduler, item.slug)
        if at is None:
            at = cron_trigger(item.schedule, zone).get_next_fire_time(None, now)
        local = at.astimezone(ZoneInfo(zone)) if at is not None else None
        found.append(NextDigest(item.slug, item.name, item.schedule, zone, local))
    return found


def _from_scheduler(scheduler: object | None, list_slug: str) -> datetime | None:
    if not _live(scheduler):
        return None
    job = scheduler.scheduler.get_job(f"digest:{list_slug}")  # type: ignore[union-attr]
    return job.next_run_time if job is not None else None


@router.get("")
async def dashboard(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    state = request.app.state
    found: Overview = await in_store(request, overview)
    charts = await stats_of(request)
    scheduler = getattr(state, "scheduler", None)
    return render_admin(
        request,
        "dashboard",
        editor=editor,
        overview=found,
        feeds_built=last_build(state.settings),
        digests=next_digests(state.settings, scheduler, state.clock()),
        scheduler_live=_live(scheduler),
        doctor=doctor_of(request),
        stats=charts,
    )


def doctor_of(request: Request) -> DoctorView:
    """This app's doctor view, made on first use; `?recheck=1` asks for a new diagnosis."""
    state = request.app.state
    view = getattr(state, "doctor", None)
    if view is None:
        view = state.doctor = DoctorView(state.settings, state.database)
    view.current(recheck=request.query_params.get("recheck") == "1")
    return view


def _live(scheduler: object | None) -> bool:
    service = getattr(scheduler, "scheduler", None)
    return bool(service is not None and service.running)
