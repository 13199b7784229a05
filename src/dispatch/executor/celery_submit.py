"""`CeleryExecutor`: a started campaign becomes batch tasks for `dispatch worker`s."""

from __future__ import annotations

import math

from sqlalchemy import func, select

from dispatch.campaigns.due import due_now
from dispatch.campaigns.progress import Progress
from dispatch.executor.celery_app import SEND_BATCH, make_app
from dispatch.executor.context import EngineContext
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus


class CeleryExecutor:
    kind = "celery"

    def __init__(self, context: EngineContext) -> None:
        self.context = context
        self.app = make_app(context.settings)

    def submit(self, campaign_id: int) -> None:
        """Queue up to `executor.parallel` batch chains (fewer for a small campaign)."""
        executor = self.context.settings.executor
        with self.context.db.session() as session:
            pending = session.scalar(  # claimed rows too: expired claims are work again
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
                )
            )
        chains = max(1, min(executor.parallel, math.ceil((pending or 0) / executor.batch_size)))
        for _ in range(chains):
            self.app.send_task(SEND_BATCH, args=[campaign_id])

    def active(self, campaign_id: int) -> bool:
        """Some worker holds a live claim on the campaign."""
        with self.context.db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status != CampaignStatus.SENDING:
                return False
            return Progress.read(session, campaign, self.context.clock()).running

    def run_due(self) -> list[int]:
        ids = due_now(self.context.db, self.context.settings, self.context.clock)
        for campaign_id in ids:
            self.submit(campaign_id)
        return ids

    def close(self) -> None:
        self.app.close()
