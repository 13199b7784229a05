"""Which kind of report a message is, from its status codes and its headers.

Status codes (RFC 3463) decide between hard and soft: a permanent failure about the
address or its domain is hard; a full mailbox, a policy or spam block, a message too
big, or any 4.x.x is soft (the address works; suppressing it would lose a reader).
Auto-replies (RFC 3834 and the common vendor headers), vacation notices and
challenge-response mails are told apart before any bounce heuristics run.
"""

from __future__ import annotations

import enum
import re
from email.message import Message

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_REPLY = re.compile(r"(?<!\d)([45]\d\d)[ :-](?:[245]\.\d{1,3}\.\d{1,3}\s)?.{3,}")
# Permanent codes whose fault is not the address: soft (x.2.2 mailbox full, x.3 mail
# system, x.5 protocol, x.6 content, x.7 policy/spam blocks).
SOFT_PERMANENT = re.compile(r"^5\.(?:2\.2|3\.\d+|5\.\d+|6\.\d+|7\.\d+)$")
AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ _-]?(?:reply|response|antwort)|out of (?:the )?office|"
    r"autoreply|vacation|abwesenheit|absence|away from|r[ée]ponse automatique)",
    re.IGNORECASE,
)
CHALLENGE_SUBJECT = re.compile(
    r"(?:please confirm|verify (?:that )?you are|confirm your (?:message|email)|"
    r"challenge|spam protection|sender verification)",
    re.IGNORECASE,
)
AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress-reply")
CHALLENGE_HEADERS = ("x-challenge", "x-boxbe-status", "x-tmda-confirm")


class Kind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto-reply"
    NOT_BOUNCE = "not-bounce"


def kind_of_status(status: str | None, permanent: bool) -> Kind:
    """Hard or soft for a failed recipient with this RFC 3463 status (maybe unknown)."""
    if status is None:
        return Kind.HARD if permanent else Kind.SOFT
    if status.startswith("4"):
        return Kind.SOFT
    if status.startswith("5"):
        return Kind.SOFT if SOFT_PERMANENT.match(status) else Kind.HARD
    return Kind.HARD if permanent else Kind.SOFT


def first_status(text: str) -> str | None:
    found = STATUS.search(text)
    return ".".join(found.groups()) if found else None


def first_reply(text: str) -> str | None:
    """The first line that reads like an SMTP error reply ("550 5.1.1 …")."""
    for line in text.splitlines():
        found = SMTP_REPLY.search(line.strip())
        if found is not None:
            return " ".join(found.group(0).split())[:1000]
    return None


def is_auto_reply(message: Message) -> bool:
    """Strong signs of an auto-reply or a challenge; DSNs never carry these."""
    if any(message.get(name) for name in AUTO_HEADERS + CHALLENGE_HEADERS):
        return True
    if str(message.get("precedence", "")).strip().lower() == "auto_reply":
        return True
    subject = str(message.get("subject", ""))
    return bool(AUTO_SUBJECT.match(subject) or CHALLENGE_SUBJECT.search(subject))


def auto_submitted(message: Message) -> bool:
    """RFC 3834: anything but `no` marks a message sent by a machine."""
    value = str(message.get("auto-submitted", "")).strip().lower()
    return bool(value) and not value.startswith("no")
