"""A report message in (SMTP/LMTP, IMAP, or a test) → neutral events → the one policy.

`BounceIntake.handle(bytes, envelope recipients)` parses the message (`report`), finds
the delivery it is about, and records one event per finding in one transaction:

- a VERP address among the envelope recipients or the report's return paths, whose MAC
  verifies, names the delivery; whatever address the report shows, that delivery's
  address is the one acted on;
- otherwise the original's Message-ID (ours) together with the reported recipient must
  both point at the same ledger row (`events.matching`);
- otherwise the event is kept as `unmatched`, logged, and changes nothing.

Auto-replies and messages that are not bounces record nothing. A failure to store
raises (the SMTP server answers 451, the IMAP poll leaves the message in place).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatch.bounces.classify import Kind
from dispatch.bounces.report import Finding, Report, parse_report
from dispatch.bounces.verp import Verp, VerpRef
from dispatch.config import Settings
from dispatch.events import BounceRules, Effect, EventType, ProviderEvent, store_events
from dispatch.logs import event as log_event
from dispatch.store.database import Database
from dispatch.store.types import utcnow

log = logging.getLogger(__name__)
PROVIDER = "bounces"

# (kind, final) → (our event type, effect)
EVENTS: dict[tuple[Kind, bool], tuple[EventType, Effect]] = {
    (Kind.HARD, True): (EventType.BOUNCED, Effect.BOUNCE),
    (Kind.SOFT, True): (EventType.SOFT_BOUNCED, Effect.SOFT_BOUNCE),
    (Kind.SOFT, False): (EventType.DEFERRED, Effect.RECORD),
    (Kind.COMPLAINT, True): (EventType.COMPLAINED, Effect.COMPLAINT),
}


@dataclass(frozen=True)
class Handled:
    report: Report
    stored: int  # events stored (0 for a duplicate, an auto-reply or a non-bounce)
    verp: VerpRef | None


class BounceIntake:
    def __init__(
        self,
        database: Database,
        verp: Verp | None,
        rules: BounceRules | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database, self.verp, self.clock = database, verp, clock
        self.rules = rules or BounceRules()

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> BounceIntake:
        return cls(database, Verp.from_settings(settings), BounceRules.from_settings(settings))

    def verified(self, addresses: Sequence[str]) -> VerpRef | None:
        """The first address that is one of our VERP addresses with a good MAC."""
        if self.verp is None:
            return None
        for address in addresses:
            ref = self.verp.verify(address)
            if ref is not None:
                return ref
        return None

    def handle(self, data: bytes, envelope_to: Sequence[str] = ()) -> Handled:
        report = parse_report(data)
        ref = self.verified([*envelope_to, *report.return_paths])
        events = self.events(report, ref, data)
        now = self.clock()
        stored = store_events(self.database, events, now, self.rules).stored if events else 0
        log_event(
            log,
            "bounces.handled",
            kind=report.kind.value,
            recipients=",".join(report.recipients) or None,
            status=report.status,
            verp=f"{ref.campaign_id}/{ref.delivery_id}" if ref else None,
            stored=stored,
        )
        return Handled(report, stored, ref)

    def events(self, report: Report, ref: VerpRef | None, data: bytes) -> list[ProviderEvent]:
        findings = list(report.findings)
        if report.kind is Kind.COMPLAINT and not findings:  # recipient redacted by the FBL
            findings = [Finding("", Kind.COMPLAINT, None, "feedback report")]
        key = report.message_id or hashlib.sha256(data).hexdigest()
        return [
            self._event(report, finding, ref, key)
            for finding in findings
            if (finding.kind, finding.final) in EVENTS
        ]

    def _event(
        self, report: Report, finding: Finding, ref: VerpRef | None, key: str
    ) -> ProviderEvent:
        kind, effect = EVENTS[(finding.kind, finding.final)]
        return ProviderEvent(
            provider=PROVIDER,
            event_id=hashlib.sha256(f"{key}\n{finding.recipient}".encode()).hexdigest(),
            provider_type=finding.kind.value,
            type=kind,
            effect=effect,
            email=None if ref else (finding.recipient or None),
            occurred_at=report.date or self.clock(),
            campaign_id=ref.campaign_id if ref else None,
            delivery_id=ref.delivery_id if ref else None,
            message_id=None,
            payload={
                "recipient": finding.recipient or None,
                "kind": finding.kind.value,
                "status": finding.status,
                "diagnostic": finding.diagnostic,
                "report_message_id": report.message_id,
                "original_message_id": report.original_message_id,
                "feedback_type": report.feedback_type,
            },
            detail=_detail(finding),
            original_message_id=report.original_message_id,
            needs_match=True,
        )


def _detail(finding: Finding) -> str:
    parts = [finding.status or "", finding.diagnostic or ""]
    text = " ".join(part for part in parts if part) or finding.kind.value
    return text[:1000]
