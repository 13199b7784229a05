"""Pauses the engine decides: a provider's fault, a streak of failures.

A fault that should pass by itself (the server unreachable, a 421, SendGrid 5xx or 429)
pauses the campaign with `auto_resume_at` set: `campaigns.due` resumes it then, each time
waiting twice as long (from `delivery.auto_resume_seconds` up to
`delivery.auto_resume_max_seconds`) until a message gets through again. A fault someone
must fix (authentication, TLS, a refused sender identity or API key) and a streak of
failures pause it until an editor resumes it; so does an editor's own pause.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from dispatch.campaigns import lifecycle
from dispatch.delivery.base import ProviderUnavailable
from dispatch.logs import event
from dispatch.store.models import Campaign, CampaignStatus

if TYPE_CHECKING:
    from dispatch.campaigns.engine import EngineOptions

log = logging.getLogger(__name__)


def pause_for_fault(
    session: Session,
    campaign_id: int,
    fault: ProviderUnavailable,
    options: EngineOptions,
    now: datetime,
) -> None:
    campaign = _sending(session, campaign_id)
    if campaign is None:
        return
    lifecycle.move(campaign, CampaignStatus.PAUSED)
    campaign.pause_reason = fault.reason
    campaign.auto_resume_at = None
    if fault.temporary:
        wait = options.auto_resume_first * 2 ** min(campaign.auto_resumes, 20)
        wait = max(min(wait, options.auto_resume_max), timedelta(seconds=fault.retry_after or 0))
        campaign.auto_resume_at = now + wait
        campaign.auto_resumes += 1
    event(
        log,
        "campaign.paused",
        logging.WARNING,
        campaign=campaign_id,
        reason=fault.reason,
        resumes_at=campaign.auto_resume_at,
    )


def pause_for_streak(session: Session, campaign_id: int, reason: str, now: datetime) -> None:
    campaign = _sending(session, campaign_id)
    if campaign is None:
        return
    lifecycle.move(campaign, CampaignStatus.PAUSED)
    campaign.pause_reason, campaign.auto_resume_at = reason, None
    event(log, "campaign.paused", logging.WARNING, campaign=campaign_id, reason=reason)


def record_progress(session: Session, campaign_id: int) -> None:
    """A message got through: the next temporary fault starts the backoff afresh."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is not None and campaign.auto_resumes:
        campaign.auto_resumes = 0


def _sending(session: Session, campaign_id: int) -> Campaign | None:
    campaign = session.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return None
    return campaign
