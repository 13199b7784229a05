"""How far a campaign has got, as the admin shows it (pages and the JSON the bar polls).

The counts come from the ledger (`campaigns.progress.status_counts`), so every page and
every process agrees, whoever is sending.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from dispatch.campaigns.progress import status_counts
from dispatch.store.models import Campaign, CampaignStatus, DeliveryStatus

FINAL = (CampaignStatus.SENT, CampaignStatus.CANCELLED)


@dataclass(frozen=True)
class ProgressView:
    campaign_id: int
    status: str
    total: int
    sent: int
    failed: int
    skipped: int
    pending: int
    pause_reason: str | None

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @property
    def percent(self) -> int:
        """Whole percent done (100 only when nothing is left)."""
        if self.total == 0:
            return 100 if self.status in ("sent", "cancelled") else 0
        share = self.done * 100 // self.total
        return 100 if self.done >= self.total else min(share, 99)

    @property
    def final(self) -> bool:
        return self.status in (s.value for s in FINAL)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "done": self.done, "percent": self.percent, "final": self.final}


def progress_of(session: Session, campaign: Campaign) -> ProgressView:
    counts = status_counts(session, campaign.id)
    return ProgressView(
        campaign_id=campaign.id,
        status=CampaignStatus(campaign.status).value,
        total=campaign.recipients_total,
        sent=counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED],
        failed=counts[DeliveryStatus.FAILED],
        skipped=counts[DeliveryStatus.SKIPPED],
        pending=counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING],
        pause_reason=campaign.pause_reason,
    )
