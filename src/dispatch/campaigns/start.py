"""Starting a campaign: render its message once, freeze it and its recipients.

One transaction moves the campaign to `sending`, stores the snapshot (`snapshot.py`)
and inserts every ledger row (`recipients.py`): either all of it happens, or none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.campaigns import lifecycle
from dispatch.campaigns.content import CampaignRenderer, render_campaign
from dispatch.campaigns.recipients import count_pending, freeze_recipients
from dispatch.campaigns.snapshot import Letterhead, freeze
from dispatch.campaigns.tracking import record_links, track_links
from dispatch.config import Settings
from dispatch.delivery.message import ListIdentity
from dispatch.delivery.mime import Mailbox, feedback_id
from dispatch.errors import CampaignError
from dispatch.lists import live_settings
from dispatch.logs import event
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.tokens import Tokens
from dispatch.urls import Urls

log = logging.getLogger(__name__)


class AlreadyStarted(CampaignError):
    """The campaign was started already (it is sending or sent): nothing to do."""


def _begin(session: Session, campaign: Campaign, now: datetime) -> None:
    """draft/scheduled → sending as one compare-and-set, so that of two starts at once
    exactly one proceeds (the other waits for its lock, then finds it started)."""
    ready = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    moved = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(ready))
        .values(status=CampaignStatus.SENDING, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(campaign)
    if moved:
        return
    if campaign.status in (CampaignStatus.SENDING, CampaignStatus.SENT):
        raise AlreadyStarted(f"campaign {campaign.id} is already {campaign.status.value}")
    if campaign.status == CampaignStatus.PAUSED:
        raise CampaignError(f"campaign {campaign.id} is paused: resume it to go on sending")
    lifecycle.move(campaign, CampaignStatus.SENDING)  # says why it cannot (cancelled)


def empty_audience(session: Session, campaign: Campaign) -> str:
    """Why a campaign to this list would reach nobody, and what to do."""
    pending = count_pending(session, campaign.list_id)
    waiting = f" ({pending:,} still pending confirmation)" if pending else ""
    if campaign.segment_expression:
        return (
            f'nobody in the segment of list "{campaign.mailing_list.slug}" '
            f"({campaign.segment_expression}) can receive it: no confirmed, unsuppressed "
            "subscriber matches; nothing was sent (scripts may pass --allow-empty)"
        )
    return (
        f'nobody on list "{campaign.mailing_list.slug}" can receive it: no confirmed, '
        f"unsuppressed subscribers{waiting}; nothing was sent (scripts may pass --allow-empty)"
    )


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


def _track(session: Session, campaign: Campaign, settings: Settings, list_slug: str) -> None:
    """Links → signed redirects (`tracking`), their targets kept on the campaign."""
    tokens, urls = Tokens(settings.secret_key), Urls(settings.site.base_url)
    assert campaign.snapshot is not None and campaign.id is not None
    campaign_id = campaign.id
    snapshot, links = track_links(
        campaign.snapshot,
        settings.site.base_url,
        lambda n: urls.click(tokens.click(campaign_id, n)),
        settings.list(list_slug).click_tracking_per_person,
    )
    campaign.snapshot = snapshot
    record_links(session, campaign_id, links)


def start_campaign(
    session: Session,
    campaign: Campaign,
    settings: Settings,
    now: datetime,
    *,
    allow_empty: bool = False,
) -> int:
    """draft/scheduled → sending: message and recipients frozen; returns recipient count.

    Nobody to send to is refused (`CampaignError`, nothing changed) unless `allow_empty`:
    a send that reaches nobody is almost always a mistake (the wrong list, an import not
    confirmed yet), and reporting it "sent" would hide that. Starting twice (a double
    click, two requests at once) raises `AlreadyStarted` for all but the first."""
    _begin(session, campaign, now)
    settings = live_settings(session, settings)  # sender and name as stored now
    list_slug = campaign.mailing_list.slug
    prepared = render_campaign(CampaignRenderer(settings), session, campaign, now)
    campaign.snapshot = freeze(
        prepared, letterhead(settings, list_slug, now), list(campaign.article_ids), list_slug
    )
    if settings.list(list_slug).click_tracking and not campaign.test_to:
        _track(session, campaign, settings, list_slug)
    campaign.subject = prepared.subject
    campaign.preheader = prepared.preheader
    campaign.started_at = now
    campaign.pause_reason = None
    session.flush()
    total = freeze_recipients(session, campaign, now)
    if not total and not allow_empty:
        raise CampaignError(empty_audience(session, campaign))
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
