"""Reading the pieces of a report message: its text, the `message/delivery-status` and
`message/feedback-report` fields, and the headers of the original message it returns
(attached as `message/rfc822` or `text/rfc822-headers`, or quoted in a plain body)."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

MAX_TEXT = 200_000  # characters of text searched for codes and quoted headers
QUOTED_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
QUOTED_PATH = re.compile(r"^\s*Return-Path:\s*<([^<>\s]+@[^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


def crlf_to_lf(data: bytes) -> bytes:
    """Old Mac CR-only line ends as LF; LF and CRLF the parser reads as they are."""
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


def header(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def report_type(message: Message) -> str:
    if message.get_content_type() != "multipart/report":
        return ""
    return str(message.get_param("report-type", "") or "").strip().lower()


def text_of(message: Message) -> str:
    """The text parts, not descending into an attached original message."""
    chunks: list[str] = []
    _collect_text(message, chunks)
    return "\n".join(chunks)[:MAX_TEXT]


def _collect_text(part: Message, chunks: list[str]) -> None:
    if part.get_content_type() in ORIGINAL_TYPES:
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                _collect_text(child, chunks)
        return
    if part.get_content_maintype() == "text":
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(raw.decode(charset, "replace"))
            except LookupError:  # an unknown charset name
                chunks.append(raw.decode("utf-8", "replace"))


def original_headers(message: Message) -> Message:
    """The returned original's headers (an empty message when there is none)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind not in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        if isinstance(payload, str):
            return HeaderParser().parsestr(payload.lstrip("\r\n"), headersonly=True)
    return Message()


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a `message/delivery-status` or `…/feedback-report` part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, str):
        return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\n\s*\n", payload.strip())]
    return []


def delivery_status(message: Message) -> dict[str, tuple[str | None, str | None]]:
    """Lower-cased recipient → (Status, Diagnostic-Code) from every DSN block."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _blocks(part):
            status = header(block, "status")
            diagnostic = header(block, "diagnostic-code")
            if diagnostic and ";" in diagnostic[:12]:
                diagnostic = diagnostic.split(";", 1)[1].strip()  # "smtp; 550 …"
            for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
                address = _typed_address(header(block, name))
                if address:
                    found.setdefault(address.lower(), (_code(status), _short(diagnostic)))
    return found


def feedback_fields(message: Message) -> Message:
    """The fields of the `message/feedback-report` part (empty when there is none)."""
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            blocks = _blocks(part)
            if blocks:
                return blocks[0]
    return Message()


def quoted_message_id(text: str) -> str | None:
    found = QUOTED_ID.search(text)
    return found.group(1) if found else None


def quoted_return_paths(text: str) -> list[str]:
    return [found.group(1) for found in QUOTED_PATH.finditer(text)][:5]


def _typed_address(value: str | None) -> str | None:
    """`rfc822; someone@example.com` → the address."""
    if not value:
        return None
    _, _, address = value.rpartition(";")
    found = [a for _, a in getaddresses([address.strip()]) if "@" in a]
    return found[0] if found else None


def _code(status: str | None) -> str | None:
    found = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", status or "")
    return found.group(1) if found else None


def _short(text: str | None) -> str | None:
    return text[:1000] if text else None
