"""Mail to editors (password reset, invitation) through the configured `Sender`, as the
confirmation mails go (`subscribers.transactional`): campaign id 0, no ledger, no list
headers (it is not bulk mail). From `[security] account_from_email`, or else the first
list's sender; the name is the site's title.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from dispatch.config import Settings
from dispatch.delivery.base import Envelope, Outcome, Sender, Substituted, deliver_one
from dispatch.delivery.factory import make_sender
from dispatch.delivery.message import message_id
from dispatch.delivery.mime import WIRE, Mailbox, header_text
from dispatch.render.prepared import Recipient
from dispatch.store.types import utcnow
from dispatch.subscribers.addresses import wire_address

log = logging.getLogger(__name__)
TRANSACTIONAL_CAMPAIGN = 0


class AccountMessage:
    """A plain `OutgoingMessage` for one editor: text and a minimal HTML twin."""

    def __init__(self, sender: Mailbox, subject: str, text: str, date: datetime) -> None:
        self.sender = sender
        self._subject = " ".join(header_text(subject).split())
        self.text = text
        self.html = "<p>" + "</p><p>".join(escape(p) for p in text.split("\n\n")) + "</p>"
        self.date = date

    @property
    def from_email(self) -> str:
        return self.sender.email

    @property
    def from_name(self) -> str:
        return self.sender.name

    @property
    def reply_to(self) -> str | None:
        return None

    @property
    def subject(self) -> str:
        return self._subject

    def as_bytes(self, envelope: Envelope) -> bytes:
        message = EmailMessage()
        message["From"] = self.sender.address()
        message["To"] = Mailbox(envelope.recipient.email).address()
        message["Subject"] = self._subject
        message["Date"] = format_datetime(self.date)
        message["Message-ID"] = envelope.message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(self.text, subtype="plain", charset="utf-8")
        message.add_alternative(self.html, subtype="html", charset="utf-8")
        return message.as_bytes(policy=WIRE)

    def personal_headers(self, envelope: Envelope) -> Mapping[str, str]:
        return {"Auto-Submitted": "auto-generated"}

    def substituted(self) -> Substituted:
        return Substituted(subject=self._subject, html=self.html, text=self.text)

    def substitutions(self, envelope: Envelope) -> Mapping[str, str]:
        return {}


def account_sender(settings: Settings) -> Mailbox | None:
    address = settings.security.account_from_email
    if address is None and settings.lists:
        address = settings.lists[0].from_email
    return Mailbox(address, settings.site.title) if address else None


def send_account_mail(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    *,
    sender: Sender | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> str | None:
    """Hand one account mail to the sender; None once accepted, else why not (also
    logged, never raised)."""
    mailbox = account_sender(settings)
    if mailbox is None:
        problem = "no sender address: set [security] account_from_email"
        log.warning("account mail to %s not sent: %s", to, problem)
        return problem
    backend = sender or make_sender(settings)
    try:
        serial = uuid.uuid4().int >> 66
        domain = wire_address(mailbox.email).address.rpartition("@")[2]
        envelope = Envelope(
            serial,
            TRANSACTIONAL_CAMPAIGN,
            Recipient(email=to),
            message_id("account", serial, domain),
        )
        result = deliver_one(backend, AccountMessage(mailbox, subject, text, clock()), envelope)
    except Exception as exc:  # a broken backend must not break the page that asked
        log.warning("account mail to %s not sent: %s: %s", to, type(exc).__name__, exc)
        return f"{type(exc).__name__}: {exc}"
    finally:
        if sender is None:
            backend.close()
    if result.outcome is Outcome.SENT:
        return None
    log.warning("account mail to %s not accepted: %s", to, result.error)
    return str(result.error or "not accepted")
