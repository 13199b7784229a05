"""A real `CampaignMessage` and its envelopes, for sender tests: `campaign_message()`,
`envelopes(count)` (addresses `reader{i}@example.com`, names with characters that must
be escaped in HTML: `Reader <i> & Co`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from dispatch.delivery.base import Envelope
from dispatch.delivery.message import CampaignMessage, ListIdentity, message_id
from dispatch.delivery.mime import Mailbox
from dispatch.render.prepared import PreparedEmail, Recipient
from dispatch.render.slots import SlotRegistry

WHEN = datetime(2026, 7, 4, 7, 0, tzinfo=UTC)
SITE = "https://news.example"


def campaign_message(subject: str = "Morning Briefing: tides") -> CampaignMessage:
    registry = SlotRegistry()
    name = registry.token(("recipient", "name"))
    city = registry.token(("attribute", "city"))
    unsubscribe = registry.token(("url", "unsubscribe"))
    html = f'<p>Hello {name} in {city}</p><p><a href="{unsubscribe}">Unsubscribe</a></p>'
    text = f"Hello {name} in {city}\n\nUnsubscribe: {unsubscribe}\n"
    prepared = PreparedEmail.build("one-off", subject, "Tides", html, text, registry)
    return CampaignMessage(
        prepared,
        Mailbox("briefing@news.example", "The Dispatch"),
        ListIdentity("morning-briefing", "Morning Briefing", SITE, "unsubscribe@news.example"),
        date=WHEN,
    )


def recipient(index: int, email: str | None = None) -> Recipient:
    return Recipient(
        email=email or f"reader{index}@example.com",
        name=f"Reader <{index}> & Co",
        attributes={"city": f"Port {index}"},
        unsubscribe_url=f"{SITE}/unsubscribe/token{index}",
    )


def envelopes(
    count: int, campaign_id: int = 7, start: int = 1, emails: Sequence[str] = ()
) -> list[Envelope]:
    """`count` envelopes with delivery ids start…; `emails` overrides the first addresses."""
    out = []
    for offset in range(count):
        delivery_id = start + offset
        email = emails[offset] if offset < len(emails) else None
        out.append(
            Envelope(
                delivery_id=delivery_id,
                campaign_id=campaign_id,
                recipient=recipient(delivery_id, email),
                message_id=message_id("c7", delivery_id, "news.example"),
            )
        )
    return out
