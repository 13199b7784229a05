"""The recent campaigns as numbers: sent, bounced and clicks each (tests and welcome
series steps left out: those are not issues of a list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dispatch.store.models import (
    Campaign,
    CampaignKind,
    CampaignLink,
    Delivery,
    DeliveryStatus,
    MailingList,
)


@dataclass(frozen=True)
class CampaignNumbers:
    id: int
    list_slug: str
    subject: str
    started_at: datetime
    sent: int  # accepted by the provider, bounced later or not
    bounced: int
    clicks: int

    @property
    def label(self) -> str:
        return f"#{self.id} {self.subject}"


def recent_campaigns(session: Session, limit: int = 10) -> list[CampaignNumbers]:
    """The `limit` campaigns started last, oldest first."""
    started = (
        select(Campaign.id, MailingList.slug, Campaign.subject, Campaign.started_at)
        .join(MailingList, MailingList.id == Campaign.list_id)
        .where(
            Campaign.started_at.is_not(None),
            Campaign.test_to.is_(None),
            Campaign.kind != CampaignKind.WELCOME,
        )
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    rows = session.execute(started).all()
    ids = [row.id for row in rows]
    sent, bounced = _deliveries(session, ids)
    clicks = dict(
        session.execute(
            select(CampaignLink.campaign_id, func.sum(CampaignLink.clicks))
            .where(CampaignLink.campaign_id.in_(ids))
            .group_by(CampaignLink.campaign_id)
        ).all()
    )
    found = [
        CampaignNumbers(
            row.id,
            row.slug,
            row.subject,
            row.started_at,
            sent.get(row.id, 0),
            bounced.get(row.id, 0),
            int(clicks.get(row.id) or 0),
        )
        for row in rows
    ]
    return found[::-1]


def _deliveries(session: Session, ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    accepted = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED)
    query = (
        select(
            Delivery.campaign_id,
            func.sum(case((Delivery.status.in_(accepted), 1), else_=0)),
            func.sum(case((Delivery.status == DeliveryStatus.BOUNCED, 1), else_=0)),
        )
        .where(Delivery.campaign_id.in_(ids))
        .group_by(Delivery.campaign_id)
    )
    sent: dict[int, int] = {}
    bounced: dict[int, int] = {}
    for campaign_id, accepted_count, bounced_count in session.execute(query):
        sent[campaign_id], bounced[campaign_id] = int(accepted_count or 0), int(bounced_count or 0)
    return sent, bounced
