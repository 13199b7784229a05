"""One message → what it reports: `parse_report(bytes) -> Report`.

- `multipart/report; report-type=feedback-report` (ARF, RFC 5965): a complaint, unless
  the Feedback-Type is `not-spam`.
- anything else goes to `flufl.bounce`, which knows RFC 3464 DSNs and the common
  non-standard formats (qmail, Exim, Yahoo, Microsoft, …) and names the failed
  recipients; the DSN's per-recipient blocks, or else the text, give status and
  diagnostic, and `classify` decides hard or soft.
- a message it finds nothing in is an auto-reply (vacation, challenge) or not a bounce.

Besides findings, a report carries what can tie it to a delivery: the addresses that may
be our VERP return path (the report's own recipients, the original's Return-Path, ARF's
Original-Mail-From) and the original message's Message-ID.
"""

from __future__ import annotations

import email
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from flufl.bounce import all_failures

from dispatch.bounces import parts
from dispatch.bounces.classify import (
    Kind,
    auto_submitted,
    first_reply,
    first_status,
    is_auto_reply,
    kind_of_status,
)

log = logging.getLogger(__name__)
# flufl.bounce logs each detector it runs, and a detector's crash with a traceback; the
# crash is reported here, once, without the noise.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)
ENVELOPE_HEADERS = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
NOT_COMPLAINTS = {"not-spam"}


@dataclass(frozen=True)
class Finding:
    """One recipient the report is about."""

    recipient: str
    kind: Kind
    status: str | None = None
    diagnostic: str | None = None
    final: bool = True  # False: "delayed", the MTA is still trying


@dataclass(frozen=True)
class Report:
    kind: Kind
    findings: tuple[Finding, ...] = ()
    message_id: str | None = None  # of the report itself
    original_message_id: str | None = None
    return_paths: tuple[str, ...] = ()  # addresses that may be our VERP
    date: datetime | None = None
    feedback_type: str | None = None

    @property
    def recipients(self) -> list[str]:
        return [finding.recipient for finding in self.findings]

    @property
    def status(self) -> str | None:
        return next((f.status for f in self.findings if f.status), None)

    @property
    def diagnostic(self) -> str | None:
        return next((f.diagnostic for f in self.findings if f.diagnostic), None)

    def as_json(self, source: str) -> dict[str, Any]:
        return {
            "source": source,
            "kind": self.kind.value,
            "recipients": self.recipients,
            "status": self.status,
            "diagnostic": self.diagnostic,
        }


def parse_report(data: bytes) -> Report:
    """What `data` (one message, any line ends) reports; never raises for bad input."""
    message = email.message_from_bytes(parts.crlf_to_lf(data))
    common = {
        "message_id": parts.header(message, "message-id"),
        "date": _date(parts.header(message, "date")),
    }
    original = parts.original_headers(message)
    text = parts.text_of(message)
    paths = _addresses(message, ENVELOPE_HEADERS) + _addresses(original, ("return-path",))
    original_id = parts.header(original, "message-id") or parts.quoted_message_id(text)
    common |= {"original_message_id": original_id}
    if parts.report_type(message) == "feedback-report":
        return _complaint(message, original, paths, common)
    paths += parts.quoted_return_paths(text)
    findings = _failures(message, text)
    if findings:
        kind = findings[0].kind
        return Report(kind, tuple(findings), return_paths=tuple(paths), **common)
    if is_auto_reply(message) or auto_submitted(message):
        return Report(Kind.AUTO_REPLY, return_paths=tuple(paths), **common)
    return Report(Kind.NOT_BOUNCE, return_paths=tuple(paths), **common)


def _failures(message: Message, text: str) -> list[Finding]:
    if is_auto_reply(message):
        return []  # vacation notices quote enough text to fool the heuristic detectors
    try:
        temporary, permanent = all_failures(message)
    except Exception as exc:  # a detector choking on a malformed message
        log.warning("bounces: a bounce detector failed on this message: %s", exc)
        return []
    details = parts.delivery_status(message)
    found = []
    for raw, final in [(a, True) for a in sorted(permanent)] + [
        (a, False) for a in sorted(temporary)
    ]:
        address = raw.decode("ascii", "replace").strip()
        status, diagnostic = details.get(address.lower(), (None, None))
        status = status or first_status(text)
        diagnostic = diagnostic or first_reply(text)
        kind = kind_of_status(status, permanent=final) if final else Kind.SOFT
        found.append(Finding(address, kind, status, diagnostic, final))
    return found


def _complaint(
    message: Message, original: Message, paths: list[str], common: dict[str, Any]
) -> Report:
    fields = parts.feedback_fields(message)
    feedback_type = (fields.get("feedback-type") or "abuse").strip().lower()
    kind = Kind.NOT_BOUNCE if feedback_type in NOT_COMPLAINTS else Kind.COMPLAINT
    recipients = [a for _, a in getaddresses(fields.get_all("original-rcpt-to") or []) if a]
    if not recipients:
        recipients = [a for _, a in getaddresses(original.get_all("to") or []) if a]
    paths = paths + [a for _, a in getaddresses(fields.get_all("original-mail-from") or []) if a]
    common["date"] = _date(fields.get("arrival-date")) or common["date"]
    detail = f"feedback report: {feedback_type}"
    findings = tuple(Finding(r, kind, None, detail) for r in recipients)
    return Report(kind, findings, return_paths=tuple(paths), feedback_type=feedback_type, **common)


def _addresses(message: Message, names: tuple[str, ...]) -> list[str]:
    values = [str(v) for name in names for v in (message.get_all(name) or [])]
    return [address for _, address in getaddresses(values) if "@" in address]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # -0000: UTC
