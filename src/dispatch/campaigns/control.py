"""What editors do to campaigns: pause, resume, cancel, retry the failed, look inside.

Each is one short transaction on the campaign row. Runners see it before their next
hand-over (the engine checks the campaign's status in the transaction that marks each
message as handed over), in this process or any other, so a pause or a cancel stops
sending before the next message. Cancelling turns every recipient not yet handed over
into `cancelled`; what was sent stays sent.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns import ledger, lifecycle
from dispatch.campaigns.progress import Progress, last_errors
from dispatch.errors import CampaignError
from dispatch.store.models import Campaign, CampaignKind, CampaignStatus

PAUSED_BY_EDITOR = "paused by an editor"


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id} (see `dispatch campaigns list`)")
    return campaign


def pause(session: Session, campaign_id: int, reason: str = PAUSED_BY_EDITOR) -> Campaign:
    """sending → paused until someone resumes it. Pausing a campaign a provider's fault
    had paused makes it wait for an editor too (no automatic resume)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        lifecycle.move(campaign, CampaignStatus.PAUSED)
    campaign.pause_reason = reason
    campaign.auto_resume_at = None
    return campaign


def resume(session: Session, campaign_id: int) -> Campaign:
    """paused → sending; a `sending` campaign (crashed or waiting for retries) stays so.

    The caller then submits it to the executor; resuming a `sent` campaign does nothing."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.PAUSED:
        lifecycle.move(campaign, CampaignStatus.SENDING)
        campaign.pause_reason = campaign.auto_resume_at = None
        campaign.auto_resumes = 0
    elif campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignError(
            f"campaign {campaign_id} is {campaign.status.value}, not started: "
            "`dispatch campaigns run-due` starts scheduled campaigns"
        )
    elif campaign.status == CampaignStatus.CANCELLED:
        raise CampaignError(f"campaign {campaign_id} was cancelled: it cannot be resumed")
    return campaign


def resume_automatically(session: Session, campaign_id: int, now: datetime) -> bool:
    """Resume a campaign a temporary fault paused, if it still waits for that (an editor
    may have paused, resumed or cancelled it meanwhile); whether it now sends."""
    campaign = session.scalar(select(Campaign).where(Campaign.id == campaign_id).with_for_update())
    if campaign is None:
        return False
    if campaign.status == CampaignStatus.SENDING:
        return True
    due = campaign.auto_resume_at is not None and campaign.auto_resume_at <= now
    if campaign.status != CampaignStatus.PAUSED or not due:
        return False
    lifecycle.move(campaign, CampaignStatus.SENDING)
    campaign.pause_reason = campaign.auto_resume_at = None
    return True


def cancel(session: Session, campaign_id: int, now: datetime) -> int:
    """Cancel; returns how many recipients will not get it."""
    campaign = get_campaign(session, campaign_id)
    lifecycle.move(campaign, CampaignStatus.CANCELLED)
    campaign.auto_resume_at = None
    return ledger.cancel_remaining(session, campaign_id, now)


def retry_failed(session: Session, campaign_id: int, now: datetime) -> int:
    """Give the failed, non-suppressed recipients of a started campaign one more round
    (a fixed sender identity, a server that was down): they become pending again and a
    sent campaign sends again. How many; the caller submits it to the executor."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignError(f"campaign {campaign_id} is {campaign.status.value}: not sent yet")
    if campaign.status == CampaignStatus.CANCELLED:
        raise CampaignError(f"campaign {campaign_id} was cancelled: it cannot be re-sent")
    count = ledger.retry_failed(session, campaign_id, now)
    if count and campaign.status == CampaignStatus.SENT:
        campaign.status = CampaignStatus.SENDING  # the one way back: a deliberate re-send
        campaign.finished_at, campaign.updated_at = None, now
    return count


def recent(
    session: Session, limit: int = 50, without: Collection[CampaignKind] = ()
) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    if without:
        query = query.where(Campaign.kind.not_in(list(without)))
    return list(session.scalars(query))


@dataclass(frozen=True)
class CampaignDetails:
    campaign: Campaign
    progress: Progress
    errors: list[tuple[str, str]]

    @property
    def running(self) -> bool:
        """A live runner holds some of its rows now."""
        return self.progress.running


def details(session: Session, campaign_id: int, now: datetime) -> CampaignDetails:
    campaign = get_campaign(session, campaign_id)
    return CampaignDetails(
        campaign, Progress.read(session, campaign, now), last_errors(session, campaign_id)
    )
