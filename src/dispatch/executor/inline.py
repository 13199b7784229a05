"""`InlineExecutor`: the campaign runner in the calling thread (the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dispatch.campaigns.due import run_due

if TYPE_CHECKING:
    from dispatch.jobs import JobContext


class InlineExecutor:
    """Runs the campaign here and now, holding its lease (one runner per campaign)."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def submit(self, campaign_id: int) -> None:
        with self.context.runner() as runner:
            runner.run(campaign_id)

    def run_due(self) -> int:
        ctx = self.context
        with ctx.runner() as runner:
            return len(run_due(ctx.db, ctx.settings, runner))

    def close(self) -> None:
        pass
