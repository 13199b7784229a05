"""Where campaigns are sent: `executor.kind` picks an `Executor`, built once where the
process starts (`make_executor(EngineContext(...))`) and used by every entry point:
`dispatch send`, `dispatch campaigns resume|run-due|retry-failed`, the scheduler's jobs,
the admin and the API.

- `inline` (default): the engine in background threads of this process (`inline.py`).
- `celery`: batch tasks for `dispatch worker` processes, each task one engine step
  (`celery_submit.py`, `tasks.py`); any number of workers share a campaign through the
  ledger's claims.

Both send through the same `campaigns.engine.Engine`; they differ only in where its
steps run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dispatch.executor.context import EngineContext


class Executor(Protocol):
    kind: str

    def submit(self, campaign_id: int) -> None:
        """Send a `sending` campaign; returns at once (the work goes on elsewhere)."""

    def active(self, campaign_id: int) -> bool:
        """Whether this executor is sending the campaign right now."""

    def run_due(self) -> list[int]:
        """Start and resume what is due and submit every campaign needing a runner."""

    def close(self) -> None:
        """Stop (inline runs end before their next message) and let go of connections."""


def make_executor(context: EngineContext) -> Executor:
    """The configured executor for a process."""
    if context.settings.executor.kind == "celery":
        from dispatch.executor.celery_submit import CeleryExecutor

        return CeleryExecutor(context)
    from dispatch.executor.inline import InlineExecutor

    return InlineExecutor(context)
