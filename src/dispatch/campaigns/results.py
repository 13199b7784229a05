"""What became of a campaign, for people: recipients, sent, failed, bounced, complained,
unsubscribed from that mail (with times), and clicks per link when tracking was on.

`sent` counts every message the provider accepted, including those that bounced later
(`bounced` says how many of them did); bounces are deliveries marked bounced by the
events policy, complaints are complaint events (`events.history`); an unsubscribe
counts for the campaign whose unsubscribe link was used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.campaigns.progress import status_counts
from dispatch.events.history import campaign_feedback
from dispatch.store.models import Campaign, CampaignLink, DeliveryStatus, LinkClick, Unsubscribe

RECENT_UNSUBSCRIBES = 20


@dataclass(frozen=True)
class LinkResult:
    position: int
    url: str
    clicks: int  # every click
    people: int  # distinct people who clicked (per-person tracking only; else 0)


@dataclass(frozen=True)
class Results:
    recipients: int
    sent: int
    failed: int
    bounced: int
    complained: int
    unsubscribed: int
    unsubscribed_at: list[datetime]  # the newest RECENT_UNSUBSCRIBES, newest first
    tracked: bool  # its links were tracked
    links: list[LinkResult]

    @property
    def clicks(self) -> int:
        return sum(link.clicks for link in self.links)

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["unsubscribed_at"] = [when.isoformat() for when in self.unsubscribed_at]
        found["clicks"] = self.clicks
        return found


def campaign_results(session: Session, campaign: Campaign) -> Results:
    counts = status_counts(session, campaign.id)
    feedback = campaign_feedback(session, campaign.id)
    times = list(
        session.scalars(
            select(Unsubscribe.created_at)
            .where(Unsubscribe.campaign_id == campaign.id)
            .order_by(Unsubscribe.created_at.desc(), Unsubscribe.id.desc())
            .limit(RECENT_UNSUBSCRIBES)
        )
    )
    unsubscribed = session.scalar(
        select(func.count()).where(Unsubscribe.campaign_id == campaign.id)
    )
    links = link_results(session, campaign.id)
    return Results(
        recipients=campaign.recipients_total,
        sent=counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED],
        failed=counts[DeliveryStatus.FAILED],
        bounced=feedback.bounced,
        complained=feedback.complained,
        unsubscribed=int(unsubscribed or 0),
        unsubscribed_at=times,
        tracked=bool(links),
        links=links,
    )


def link_results(session: Session, campaign_id: int) -> list[LinkResult]:
    people = (
        select(LinkClick.link_id, func.count().label("people"))
        .group_by(LinkClick.link_id)
        .subquery()
    )
    rows = session.execute(
        select(CampaignLink.position, CampaignLink.url, CampaignLink.clicks, people.c.people)
        .outerjoin(people, people.c.link_id == CampaignLink.id)
        .where(CampaignLink.campaign_id == campaign_id)
        .order_by(CampaignLink.position)
    )
    return [
        LinkResult(position, url, clicks, int(count or 0)) for position, url, clicks, count in rows
    ]
