"""Amazon SES notifications (bounce, complaint, delivery) → `ProviderEvent`s.

One notification may name several recipients: each gets an event, keyed by SES's
`feedbackId` (or the SNS message id) and the address. The delivery is found through
the VERP return path SES reports as `mail.source` (when its MAC verifies), else
through our Message-ID in `mail.commonHeaders.messageId` and the address:

    Bounce / Permanent                 bounced       suppress; the delivery is `bounced`
    Bounce / Transient, Undetermined   soft_bounced  suppress after [bounces] soft_limit
    Complaint                          complained    unsubscribe and suppress
    Complaint / not-spam               complained    recorded only
    Delivery                           delivered     recorded only
    anything else                      unknown       recorded only
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatch.bounces.verp import Verp
from dispatch.events.types import Effect, EventType, ProviderEvent, text

TYPES: dict[tuple[str, str], tuple[EventType, Effect]] = {
    ("bounce", "permanent"): (EventType.BOUNCED, Effect.BOUNCE),
    ("bounce", "transient"): (EventType.SOFT_BOUNCED, Effect.SOFT_BOUNCE),
    ("bounce", "undetermined"): (EventType.SOFT_BOUNCED, Effect.SOFT_BOUNCE),
    ("complaint", ""): (EventType.COMPLAINED, Effect.COMPLAINT),
    ("complaint", "not-spam"): (EventType.COMPLAINED, Effect.RECORD),
    ("delivery", ""): (EventType.DELIVERED, Effect.RECORD),
}
UNKNOWN = (EventType.UNKNOWN, Effect.RECORD)
RECIPIENTS = {"bounce": "bouncedRecipients", "complaint": "complainedRecipients"}


def ses_events(notification: Any, sns_id: str, verp: Verp | None) -> list[ProviderEvent]:
    """The events of one SES notification (the JSON inside an SNS `Message`)."""
    if not isinstance(notification, dict):
        return []
    kind = (
        text(notification.get("notificationType")) or text(notification.get("eventType")) or ""
    ).lower()
    body = notification.get(kind) if isinstance(notification.get(kind), dict) else {}
    mail = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    subtype = _subtype(kind, body)
    found = TYPES.get((kind, subtype)) or TYPES.get((kind, ""), UNKNOWN)
    ref = verp.verify(text(mail.get("source")) or "") if verp is not None else None
    headers = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    key = text(body.get("feedbackId")) or sns_id
    return [
        ProviderEvent(
            provider="ses",
            event_id=f"{key}:{address}"[:255],
            provider_type=f"{kind}:{subtype}".strip(":")[:50] or "unknown",
            type=found[0],
            effect=found[1],
            email=address,
            occurred_at=_time(text(body.get("timestamp")) or text(mail.get("timestamp"))),
            campaign_id=ref.campaign_id if ref else None,
            delivery_id=ref.delivery_id if ref else None,
            message_id=text(mail.get("messageId")),
            payload={"notification": notification, "recipient": recipient},
            detail=_detail(kind, subtype, recipient),
            original_message_id=text(headers.get("messageId")),
        )
        for address, recipient in _recipients(kind, body, mail)
    ]


def _subtype(kind: str, body: dict[str, Any]) -> str:
    if kind == "bounce":
        return (text(body.get("bounceType")) or "undetermined").lower()
    if kind == "complaint":
        return "not-spam" if text(body.get("complaintFeedbackType")) == "not-spam" else ""
    return ""


def _recipients(
    kind: str, body: dict[str, Any], mail: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    if kind in RECIPIENTS:
        items = body.get(RECIPIENTS[kind])
        listed = [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []
        found = [(text(r.get("emailAddress")) or "", r) for r in listed]
    else:
        destination = body.get("recipients") or mail.get("destination") or []
        found = [(text(r) or "", {}) for r in destination] if isinstance(destination, list) else []
    return [(address.strip()[:320], r) for address, r in found if address.strip()]


def _detail(kind: str, subtype: str, recipient: dict[str, Any]) -> str:
    parts = [text(recipient.get("status")), text(recipient.get("diagnosticCode"))]
    said = " ".join(p for p in parts if p)
    return (said or f"SES {kind} {subtype}".strip())[:1000]


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
