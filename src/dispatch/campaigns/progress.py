"""How far a campaign has got, read from the ledger (the only truth there is).

Progress counts only the recipients meant to receive it: those skipped since the start
(unsubscribed, suppressed) and those a cancel reached first are not part of the total.
`in_doubt` is the sum of the rows' `doubts`: messages whose outcome was unknown and that
were sent again, each a possible duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.campaigns import claims, ledger
from dispatch.store.models import Campaign, Delivery, DeliveryStatus, Suppression

ERRORS = (DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.BOUNCED)


def status_counts(session: Session, campaign_id: int) -> dict[DeliveryStatus, int]:
    """Ledger rows per delivery status (every status present, zero when none)."""
    counts = dict.fromkeys(DeliveryStatus, 0)
    for status, count, _doubts in _tally(session, campaign_id):
        counts[DeliveryStatus(status)] = int(count)
    return counts


def in_doubt(session: Session, campaign_id: int) -> int:
    """Messages sent again after an unknown outcome: the possible duplicates."""
    return sum(int(doubts or 0) for _status, _count, doubts in _tally(session, campaign_id))


def last_errors(session: Session, campaign_id: int, limit: int = 5) -> list[tuple[str, str]]:
    """(email, error) of the most recently updated rows that failed or wait for a retry;
    skipped and cancelled recipients are not errors."""
    rows = session.execute(
        select(Delivery.email, Delivery.last_error)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_(ERRORS),
            Delivery.last_error.is_not(None),
        )
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    ).all()
    return [(email, error) for email, error in rows]


@dataclass
class Progress:
    campaign_id: int
    status: str = ""
    total: int = 0  # frozen recipients
    sent: int = 0  # accepted (bounced later included)
    bounced: int = 0  # of those, reported bounced later
    failed: int = 0
    suppressed: int = 0  # of the failed, addresses now suppressed (the mailbox is gone)
    skipped: int = 0  # unsubscribed or suppressed since the start
    cancelled: int = 0
    pending: int = 0  # not sent yet, or waiting for a retry
    sending: int = 0  # claimed by a runner now
    in_doubt: int = 0
    running: bool = False  # a live runner holds some of its rows
    pause_reason: str | None = None
    auto_resume_at: datetime | None = None
    next_retry_at: datetime | None = None

    @property
    def meant(self) -> int:
        """Recipients it is still meant to reach."""
        return self.total - self.skipped - self.cancelled

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @classmethod
    def read(cls, session: Session, campaign: Campaign, now: datetime) -> Progress:
        counts = dict.fromkeys(DeliveryStatus, 0)
        doubts = 0
        for status, count, row_doubts in _tally(session, campaign.id):
            counts[DeliveryStatus(status)] = int(count)
            doubts += int(row_doubts or 0)
        left, due = ledger.waiting(session, campaign.id, now)
        return cls(
            campaign.id,
            status=campaign.status.value,
            total=campaign.recipients_total,
            sent=counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED],
            bounced=counts[DeliveryStatus.BOUNCED],
            failed=counts[DeliveryStatus.FAILED],
            suppressed=_failed_and_suppressed(session, campaign.id),
            skipped=counts[DeliveryStatus.SKIPPED],
            cancelled=counts[DeliveryStatus.CANCELLED],
            pending=left,
            sending=counts[DeliveryStatus.SENDING],
            in_doubt=doubts,
            running=claims.live_claims(session, campaign.id, now) > 0,
            pause_reason=campaign.pause_reason,
            auto_resume_at=campaign.auto_resume_at,
            next_retry_at=due if left else None,
        )


def _failed_and_suppressed(session: Session, campaign_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Delivery)
        .join(Suppression, Suppression.email == Delivery.email)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.FAILED)
    )
    return int(session.scalar(query) or 0)


def _tally(session: Session, campaign_id: int) -> list[tuple[str, int, int | None]]:
    rows = session.execute(
        select(Delivery.status, func.count(), func.sum(Delivery.doubts))
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    ).all()
    return [(status, count, doubts) for status, count, doubts in rows]
