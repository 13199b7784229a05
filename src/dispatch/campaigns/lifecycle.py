"""The campaign lifecycle: which status may follow which, enforced in one place.

    draft ──► scheduled ──► sending ──► sent
      │           │           │  ▲
      │           │           ▼  │
      │           │         paused
      ▼           ▼           │
    cancelled ◄───────────────┘   (sending and paused can be cancelled too)

`sent` and `cancelled` are final. A draft may also start sending at once.
"""

from __future__ import annotations

from dispatch.errors import CampaignError
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.store.types import utcnow

S = CampaignStatus
ALLOWED: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.SENDING, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.SENDING, S.CANCELLED}),
    S.SENDING: frozenset({S.PAUSED, S.CANCELLED, S.SENT}),
    S.PAUSED: frozenset({S.SENDING, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.SENT: frozenset(),
}
ACTIVE = frozenset({S.SENDING, S.PAUSED})  # started and not finished


def can_move(current: CampaignStatus, target: CampaignStatus) -> bool:
    return target in ALLOWED[CampaignStatus(current)]


def move(campaign: Campaign, target: CampaignStatus) -> None:
    """Set `campaign.status` to `target`, or raise CampaignError saying why it cannot."""
    current = CampaignStatus(campaign.status)
    if not can_move(current, target):
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "nothing (final)"
        raise CampaignError(
            f"campaign {campaign.id} is {current.value}: it cannot become {target.value} "
            f"(from {current.value} it can become: {allowed})"
        )
    campaign.status = target
    campaign.updated_at = utcnow()
