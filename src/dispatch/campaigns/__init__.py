"""Campaigns: one send to one list, from creation to the last recorded delivery.

- `create`: digests (articles since the previous digest), one-off articles and notes,
  test sends, scheduling;
- `start`: message and recipients frozen when sending begins (`snapshot`, `recipients`);
- `runner`: the send loop over the `deliveries` ledger (`ledger`, `recorder`,
  `outcomes`, `envelopes`), resumable after any crash (`lease`);
- `control`: pause, resume, cancel, list, details; `due`: what the scheduler runs.

Delivery statuses: pending → sending → sent | failed (permanent, or retries exhausted);
`skipped` = never handed over (unsubscribed or suppressed after freezing, or cancelled;
the reason is in `last_error`); `bounced` is set later by provider events.
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
from dispatch.campaigns.due import run_due
from dispatch.campaigns.envelopes import RecipientLinks
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.runner import CampaignRunner, Hooks, RunOptions
from dispatch.campaigns.start import start_campaign

__all__ = [
    "CampaignRunner",
    "Hooks",
    "Options",
    "Progress",
    "RecipientLinks",
    "RunOptions",
    "cancel",
    "create_article",
    "create_digest",
    "create_note",
    "details",
    "pause",
    "plan_digest",
    "resume",
    "run_due",
    "start_campaign",
]
