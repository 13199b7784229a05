"""`run_due`: start scheduled campaigns whose time has come and resume interrupted ones
(a `sending` campaign nobody is running: crashed, or left waiting for retries). The
scheduler calls this function; `dispatch campaigns run-due` is the same by hand."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from dispatch.campaigns import lease
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.runner import CampaignRunner
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus


def start_due(db: Database, settings: Settings, runner: CampaignRunner) -> list[int]:
    """Start every scheduled campaign whose time has come; returns their ids."""
    now = runner.clock()
    with db.session() as session:
        ids = list(
            session.scalars(
                select(Campaign.id)
                .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= now)
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
        )
    for campaign_id in ids:
        with db.session() as session:
            campaign = session.get(Campaign, campaign_id, populate_existing=True)
            if campaign is not None and campaign.status == CampaignStatus.SCHEDULED:
                start_campaign(session, campaign, settings, now)
    return ids


def run_due(
    db: Database,
    settings: Settings,
    runner: CampaignRunner,
    on_campaign: Callable[[int], None] = lambda campaign_id: None,
) -> list[Progress]:
    """Start what is due, then run every `sending` campaign no live process holds."""
    start_due(db, settings, runner)
    now = runner.clock()
    with db.session() as session:
        sending = list(
            session.scalars(
                select(Campaign)
                .where(Campaign.status == CampaignStatus.SENDING)
                .order_by(Campaign.id)
            )
        )
        idle = [c.id for c in sending if not lease.holder_alive(c, now, runner.options.stale_after)]
    reports = []
    for campaign_id in idle:
        on_campaign(campaign_id)
        reports.append(runner.run(campaign_id))
    return reports
