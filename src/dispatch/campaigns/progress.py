"""How far a campaign has got: ledger rows per status, and a running tally for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.store.models import Delivery, DeliveryStatus


def status_counts(session: Session, campaign_id: int) -> dict[DeliveryStatus, int]:
    """Ledger rows per delivery status (every status present, zero when none)."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    ).all()
    counts = dict.fromkeys(DeliveryStatus, 0)
    for status, count in rows:
        counts[DeliveryStatus(status)] = int(count)
    return counts


def last_errors(session: Session, campaign_id: int, limit: int = 5) -> list[tuple[str, str]]:
    """(email, error) of the most recently updated rows that carry an error."""
    rows = session.execute(
        select(Delivery.email, Delivery.last_error)
        .where(Delivery.campaign_id == campaign_id, Delivery.last_error.is_not(None))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    ).all()
    return [(email, error) for email, error in rows]


@dataclass
class Progress:
    """A runner's tally: what the ledger held when it began, plus what it did since."""

    campaign_id: int
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0  # temporary failures put back for a later attempt in this run
    suppressed: int = 0  # addresses this run added to the suppression list
    in_doubt: int = 0  # rows a crash had left in `sending` (the campaign's running total)
    status: str = ""
    pause_reason: str | None = None
    waiting: int = 0  # pending rows waiting for a retry when the run returned
    next_retry_at: datetime | None = None
    busy: bool = False  # another live process holds the campaign

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @classmethod
    def from_ledger(cls, session: Session, campaign_id: int, total: int) -> Progress:
        counts = status_counts(session, campaign_id)
        return cls(
            campaign_id,
            total=total,
            sent=counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED],
            failed=counts[DeliveryStatus.FAILED],
            skipped=counts[DeliveryStatus.SKIPPED],
        )
