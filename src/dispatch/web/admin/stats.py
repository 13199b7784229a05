"""The dashboard's stats: subscriber growth (`?by=day|week&periods=N`) and recent
campaigns as inline SVG charts (`stats.charts`), and the same numbers as CSV at
`/admin/stats/growth.csv` and `/admin/stats/campaigns.csv`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.config import Settings
from dispatch.stats.charts import campaigns_chart, growth_chart
from dispatch.stats.csv_export import campaigns_csv, growth_csv
from dispatch.stats.growth import MAX_PERIODS, By, GrowthRow, growth
from dispatch.stats.recent import CampaignNumbers, recent_campaigns
from dispatch.web.admin.common import AdminProblem, in_store

router = APIRouter(prefix="/admin/stats", include_in_schema=False)
DEFAULT_PERIODS = {"day": 30, "week": 12}
RECENT = 10


@dataclass(frozen=True)
class Stats:
    by: By
    periods: int
    growth: list[GrowthRow]
    campaigns: list[CampaignNumbers]
    growth_svg: Markup
    campaigns_svg: Markup | None


def choice(request: Request) -> tuple[By, int]:
    """`by` and `periods` from the query; AdminProblem 400 naming the bad one."""
    by = request.query_params.get("by", "day")
    if by not in ("day", "week"):
        raise AdminProblem(400, 'by must be "day" or "week"')
    raw = request.query_params.get("periods", "")
    periods = DEFAULT_PERIODS[by] if not raw else int(raw) if raw.isdigit() else 0
    if not 1 <= periods <= MAX_PERIODS:
        raise AdminProblem(400, f"periods must be a whole number from 1 to {MAX_PERIODS}")
    return by, periods  # type: ignore[return-value]


def stats(session: Session, settings: Settings, by: By, periods: int, now: datetime) -> Stats:
    rows = growth(session, now, settings.site.timezone, by, periods)
    recent = recent_campaigns(session, RECENT)
    return Stats(by, periods, rows, recent, growth_chart(rows, by), campaigns_chart(recent))


async def stats_of(request: Request) -> Stats:
    state = request.app.state
    by, periods = choice(request)
    result: Stats = await in_store(request, stats, state.settings, by, periods, state.clock())
    return result


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/growth.csv")
async def growth_export(
    request: Request, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    found = await stats_of(request)
    return _csv(growth_csv(found.growth), f"growth-per-{found.by}.csv")


@router.get("/campaigns.csv")
async def campaigns_export(
    request: Request, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    found = await stats_of(request)
    return _csv(campaigns_csv(found.campaigns), "recent-campaigns.csv")
