"""Starting a campaign: render its message once, freeze it and its recipients.

One transaction moves the campaign to `sending`, stores the snapshot (`snapshot.py`)
and inserts every ledger row (`recipients.py`): either all of it happens, or none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from dispatch.campaigns import lifecycle
from dispatch.campaigns.content import CampaignRenderer, render_campaign
from dispatch.campaigns.recipients import freeze_recipients
from dispatch.campaigns.snapshot import Letterhead, freeze
from dispatch.config import Settings
from dispatch.delivery.message import ListIdentity
from dispatch.delivery.mime import Mailbox, feedback_id
from dispatch.logs import event
from dispatch.store.models import Campaign, CampaignStatus

log = logging.getLogger(__name__)


def letterhead(settings: Settings, list_slug: str, date: datetime) -> Letterhead:
    item = settings.list(list_slug)
    identity = ListIdentity(
        slug=item.slug,
        name=item.name,
        site_url=settings.site.base_url,
        unsubscribe_mailto=settings.delivery.unsubscribe_mailto,
        feedback_id=feedback_id(settings.delivery.feedback_id, "{campaign}", item.slug),
    )
    return Letterhead(Mailbox(item.from_email, item.from_name), item.reply_to, identity, date)


def start_campaign(session: Session, campaign: Campaign, settings: Settings, now: datetime) -> int:
    """draft/scheduled → sending: message and recipients frozen; returns recipient count."""
    lifecycle.move(campaign, CampaignStatus.SENDING)
    list_slug = campaign.mailing_list.slug
    prepared = render_campaign(CampaignRenderer(settings), session, campaign, now)
    campaign.snapshot = freeze(
        prepared, letterhead(settings, list_slug, now), list(campaign.article_ids), list_slug
    )
    campaign.subject = prepared.subject
    campaign.preheader = prepared.preheader
    campaign.started_at = now
    campaign.pause_reason = None
    session.flush()
    total = freeze_recipients(session, campaign, now)
    event(
        log,
        "campaign.started",
        campaign=campaign.id,
        list=list_slug,
        kind=str(campaign.kind),
        recipients=total,
        period=campaign.period_key,
    )
    return total
