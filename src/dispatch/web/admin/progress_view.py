"""How far a campaign has got, as the admin shows it (pages and the JSON the bar polls).

Everything comes from the ledger (`campaigns.progress.Progress`), so every page and every
process agrees, whoever is sending. The bar counts only the recipients the campaign is
still meant to reach (skipped and cancelled ones are shown apart, not as progress). A
page keeps following a campaign until its runner has stopped — a pause or a cancel takes
effect before the next message, and the page then says how many went out before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.campaigns.progress import Progress
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.store.types import utcnow

FINAL = (CampaignStatus.SENT.value, CampaignStatus.CANCELLED.value)


@dataclass(frozen=True)
class ProgressView:
    progress: Progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self.progress, name)

    @property
    def total(self) -> int:
        return self.progress.meant

    @property
    def percent(self) -> int:
        """Whole percent done (100 only when nothing is left)."""
        done, total = self.progress.done, self.total
        if total <= 0:
            return 100 if self.final else 0
        return 100 if done >= total else min(done * 100 // total, 99)

    @property
    def final(self) -> bool:
        return self.progress.status in FINAL and not self.progress.running

    @property
    def settled(self) -> bool:
        """Nothing will change without someone acting: finished, or stopped and its runner
        gone (paused or cancelled), so the page may stop following it."""
        status, running = self.progress.status, self.progress.running
        return not running and (status in FINAL or status == CampaignStatus.PAUSED.value)

    @property
    def message(self) -> str:
        p = self.progress
        if p.running and p.status in ("paused", "cancelled"):
            return f"{p.status.capitalize()}: stopping before the next message…"
        if p.status == "paused" and not p.running:
            return f"Paused: {p.sent:,} sent before it stopped, {p.pending:,} not sent yet."
        if p.status == "cancelled" and not p.running:
            return f"Cancelled: {p.sent:,} sent before it stopped; {p.cancelled:,} will not get it."
        return ""

    def as_json(self) -> dict[str, Any]:
        p = self.progress
        return {
            "campaign_id": p.campaign_id,
            "status": p.status,
            "total": self.total,
            "sent": p.sent,
            "failed": p.failed,
            "skipped": p.skipped,
            "cancelled": p.cancelled,
            "pending": p.pending,
            "in_doubt": p.in_doubt,
            "running": p.running,
            "pause_reason": p.pause_reason,
            "auto_resume_at": _iso(p.auto_resume_at),
            "done": p.done,
            "percent": self.percent,
            "final": self.final,
            "settled": self.settled,
            "message": self.message,
        }


def progress_of(session: Session, campaign: Campaign) -> ProgressView:
    return ProgressView(Progress.read(session, campaign, utcnow()))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
