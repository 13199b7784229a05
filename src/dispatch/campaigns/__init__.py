"""Campaigns: one send to one list, from creation to the last recorded delivery.

- `create`: digests (articles since the previous digest), one-off articles and notes,
  test sends, scheduling;
- `start`: message and recipients frozen when sending begins (`snapshot`, `recipients`);
- `engine`: the one send engine, claim → send → record over the `deliveries` ledger
  (`claims`, `recorder`, `ledger`, `outcomes`, `envelopes`, `pausing`); executors
  (`dispatch.executor`) run its steps inline or on Celery workers;
- `control`: pause, resume, cancel, retry the failed, details; `due`: what is due now.

Delivery statuses: pending → sending (claimed; `handed_at` once handed over) → sent |
failed (permanent, or retries exhausted); `skipped` = never handed over (unsubscribed or
suppressed after freezing); `cancelled` = never handed over, the campaign was cancelled;
`bounced` is set later by provider events. A row's `doubts` counts the times its
outcome was unknown and it was sent again (the campaign's "in doubt").
"""

from __future__ import annotations

from dispatch.campaigns.control import cancel, details, pause, resume
from dispatch.campaigns.create import (
    Options,
    create_article,
    create_digest,
    create_note,
    plan_digest,
)
from dispatch.campaigns.engine import Engine, EngineOptions, Next, StepResult
from dispatch.campaigns.envelopes import RecipientLinks
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.start import start_campaign

__all__ = [
    "Engine",
    "EngineOptions",
    "Next",
    "Options",
    "Progress",
    "RecipientLinks",
    "StepResult",
    "cancel",
    "create_article",
    "create_digest",
    "create_note",
    "details",
    "pause",
    "plan_digest",
    "resume",
    "start_campaign",
]
