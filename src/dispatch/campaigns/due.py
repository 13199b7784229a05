"""What needs doing now, for `campaigns:run-due` (the scheduler) and `campaigns run-due`:

- start scheduled campaigns whose time has come;
- resume campaigns a provider's temporary fault paused, once their `auto_resume_at` came;
- find `sending` campaigns no live runner works on that have rows due (or claims that
  expired): crashed runs, retries now due. The executor sends those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exists, or_, select

from dispatch.campaigns import claims, lifecycle
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.errors import DispatchError
from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus

log = logging.getLogger(__name__)
D = Delivery.__table__.c


def start_due(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Start every scheduled campaign whose time has come; the ids started."""
    with db.session() as session:
        ids = list(
            session.scalars(
                select(Campaign.id)
                .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= now)
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
        )
    started = []
    for campaign_id in ids:
        try:
            with db.session() as session:
                campaign = session.get(Campaign, campaign_id, populate_existing=True)
                if campaign is not None and campaign.status == CampaignStatus.SCHEDULED:
                    start_campaign(session, campaign, settings, now, allow_empty=True)
                    started.append(campaign_id)
        except DispatchError as exc:  # this one cannot start; the others still do
            event(log, "campaign.start_failed", logging.ERROR, campaign=campaign_id, error=str(exc))
    return started


def resume_due(db: Database, now: datetime) -> list[int]:
    """Campaigns paused by a temporary fault whose `auto_resume_at` has come → sending."""
    resumed = []
    with db.session() as session:
        for campaign in session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.PAUSED, Campaign.auto_resume_at <= now)
            .with_for_update()
        ):
            lifecycle.move(campaign, CampaignStatus.SENDING)
            event(log, "campaign.resumed", campaign=campaign.id, after=campaign.pause_reason)
            campaign.pause_reason = campaign.auto_resume_at = None
            resumed.append(campaign.id)
    return resumed


def needing_a_runner(db: Database, now: datetime) -> list[int]:
    """Sending campaigns that no live runner holds and that have work due."""
    live = exists().where(
        D.campaign_id == Campaign.id,
        D.status == DeliveryStatus.SENDING,
        D.claim_expires_at >= now,
    )
    due = exists().where(
        D.campaign_id == Campaign.id,
        or_(
            (D.status == DeliveryStatus.PENDING)
            & or_(D.next_attempt_at.is_(None), D.next_attempt_at <= now),
            (D.status == DeliveryStatus.SENDING)
            & or_(D.claim_expires_at.is_(None), D.claim_expires_at < now),
        ),
    )
    finished = ~exists().where(
        D.campaign_id == Campaign.id,
        D.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
    )
    with db.session() as session:
        return list(
            session.scalars(
                select(Campaign.id)
                .where(Campaign.status == CampaignStatus.SENDING, ~live, due | finished)
                .order_by(Campaign.id)
            )
        )


def due_now(db: Database, settings: Settings, clock: Callable[[], datetime]) -> list[int]:
    """Start and resume what is due; the campaigns that now need a runner."""
    start_due(db, settings, clock())
    resume_due(db, clock())
    expire_dead_claims(db, clock())
    return needing_a_runner(db, clock())


def expire_dead_claims(db: Database, now: datetime) -> None:
    """Claims of runners that died on this host expire now (see `claims.owner_alive`)."""
    with db.session() as session:
        sending = session.scalars(
            select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
        )
        for campaign_id in sending.all():
            claims.expire_dead_owners(session, campaign_id, now)
