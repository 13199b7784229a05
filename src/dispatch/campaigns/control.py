"""What editors do to campaigns: pause, resume, cancel, list and look inside.

Each is one short transaction on the campaign row; a runner in another process sees
the new status before its next batch. Cancelling turns every remaining pending row
into `skipped` ("cancelled"); rows already sent stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns import lease, ledger, lifecycle
from dispatch.campaigns.progress import last_errors, status_counts
from dispatch.errors import CampaignError
from dispatch.store.models import Campaign, CampaignStatus, DeliveryStatus

PAUSED_BY_EDITOR = "paused by an editor"


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id} (see `dispatch campaigns list`)")
    return campaign


def pause(session: Session, campaign_id: int, reason: str = PAUSED_BY_EDITOR) -> Campaign:
    campaign = get_campaign(session, campaign_id)
    lifecycle.move(campaign, CampaignStatus.PAUSED)
    campaign.pause_reason = reason
    return campaign


def resume(session: Session, campaign_id: int) -> Campaign:
    """paused → sending; a `sending` campaign (crashed or waiting for retries) stays so.

    The caller then runs it; a `sent` campaign is left alone (resuming it does nothing)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.PAUSED:
        lifecycle.move(campaign, CampaignStatus.SENDING)
        campaign.pause_reason = None
    elif campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignError(
            f"campaign {campaign_id} is {campaign.status.value}, not started: "
            "`dispatch campaigns run-due` starts scheduled campaigns"
        )
    elif campaign.status == CampaignStatus.CANCELLED:
        raise CampaignError(f"campaign {campaign_id} was cancelled: it cannot be resumed")
    return campaign


def cancel(session: Session, campaign_id: int, now: datetime) -> int:
    """Cancel; returns how many recipients will not get it."""
    campaign = get_campaign(session, campaign_id)
    lifecycle.move(campaign, CampaignStatus.CANCELLED)
    if not lease.holder_alive(campaign, now):  # nobody will record rows left in `sending`
        campaign.in_doubt += ledger.recover(session, campaign_id, now)
    return ledger.skip_remaining(session, campaign_id, "cancelled", now)


def recent(session: Session, limit: int = 50) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True)
class CampaignDetails:
    campaign: Campaign
    counts: dict[DeliveryStatus, int]
    errors: list[tuple[str, str]]
    running: bool  # a live process is sending it now


def details(session: Session, campaign_id: int, now: datetime) -> CampaignDetails:
    campaign = get_campaign(session, campaign_id)
    return CampaignDetails(
        campaign,
        status_counts(session, campaign_id),
        last_errors(session, campaign_id),
        lease.holder_alive(campaign, now),
    )
