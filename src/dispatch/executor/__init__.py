"""Where campaigns are sent: `executor.kind` picks an `Executor`.

- `inline` (default): the campaign runner in a thread of the calling process (the
  scheduler's job thread), with its lease: one runner per campaign.
- `celery`: the campaign is split into batch tasks that `dispatch worker` processes
  run (`tasks.py`); any number of workers share it through the ledger (`batches.py`).

Callers only `submit(campaign_id)` a started campaign and `run_due()` (start scheduled
campaigns whose time came, hand interrupted ones on again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dispatch.jobs import JobContext


class Executor(Protocol):
    def submit(self, campaign_id: int) -> None:
        """Send the (started) campaign: at once (inline) or by queuing its batches."""

    def run_due(self) -> int:
        """Start due campaigns and pass on interrupted ones; how many were handled."""

    def close(self) -> None:
        """Let go of connections (the broker's)."""


def make_executor(context: JobContext) -> Executor:
    """The configured executor for a process's job context."""
    if context.settings.executor.kind == "celery":
        from dispatch.executor.celery_submit import CeleryExecutor

        return CeleryExecutor(context)
    from dispatch.executor.inline import InlineExecutor

    return InlineExecutor(context)
