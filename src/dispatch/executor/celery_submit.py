"""`CeleryExecutor`: a started campaign becomes batch tasks for `dispatch worker`s."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from dispatch.campaigns.due import start_due
from dispatch.executor.celery_app import SEND_BATCH, make_app
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus

if TYPE_CHECKING:
    from dispatch.jobs import JobContext


class CeleryExecutor:
    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.app = make_app(context.settings)

    def submit(self, campaign_id: int) -> None:
        """Queue up to `executor.parallel` batch chains (fewer for a small campaign)."""
        executor = self.context.settings.executor
        with self.context.db.session() as session:
            pending = session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.PENDING
                )
            )
        chains = max(1, min(executor.parallel, math.ceil((pending or 0) / executor.batch_size)))
        for _ in range(chains):
            self.app.send_task(SEND_BATCH, args=[campaign_id])

    def run_due(self) -> int:
        """Start due campaigns and queue them; queue `sending` ones nobody touched lately."""
        ctx = self.context
        with ctx.runner() as runner:
            started = start_due(ctx.db, ctx.settings, runner)
        idle = self._idle(set(started))
        for campaign_id in [*started, *idle]:
            self.submit(campaign_id)
        return len(started) + len(idle)

    def _idle(self, skip: set[int]) -> list[int]:
        """Sending campaigns whose ledger no worker wrote within `claim_timeout_seconds`."""
        quiet = self.context.clock() - timedelta(
            seconds=self.context.settings.executor.claim_timeout_seconds
        )
        last = (
            select(func.max(Delivery.updated_at))
            .where(Delivery.campaign_id == Campaign.id)
            .scalar_subquery()
        )
        with self.context.db.session() as session:
            ids = session.scalars(
                select(Campaign.id).where(
                    Campaign.status == CampaignStatus.SENDING,
                    Campaign.runner.is_(None),
                    (last.is_(None)) | (last < quiet),
                )
            )
            return [i for i in ids if i not in skip]

    def close(self) -> None:
        self.app.close()
