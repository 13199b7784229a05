"""`CampaignMessage`: one campaign's `PreparedEmail` plus its list's headers, able to
produce each recipient's complete message (`as_bytes`, through the precomputed
`wire.WireTemplate`) or the parts an API sender personalises server-side
(`substituted` + `substitutions`). `as_email_message` is the slow reference build
(an `EmailMessage` per recipient) the fast path is checked against."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from html import escape

from dispatch.delivery.base import Envelope, Substituted
from dispatch.delivery.mime import (
    ListHeaders,
    Mailbox,
    build_message,
    feedback_value,
    header_text,
    list_id,
)
from dispatch.delivery.wire import WireTemplate
from dispatch.render.prepared import PreparedEmail

_OUR_MESSAGE_ID = re.compile(r"<([0-9a-f]{32})\.([0-9]+)@[^<>@\s]+>")


@dataclass(frozen=True)
class ListIdentity:
    """What the bulk-mail headers say about the list a campaign goes to."""

    slug: str
    name: str
    site_url: str
    unsubscribe_mailto: str | None = None
    # `[delivery] feedback_id` with the list filled in; "{campaign}" is filled per message.
    feedback_id: str = ""


class CampaignMessage:
    """Implements `dispatch.delivery.base.OutgoingMessage` for one campaign."""

    def __init__(
        self,
        prepared: PreparedEmail,
        sender: Mailbox,
        mailing_list: ListIdentity,
        date: datetime,
        reply_to: str | None = None,
    ) -> None:
        self.prepared = prepared
        self.sender = sender
        self.mailing_list = mailing_list
        self.date = date
        self._reply_to = reply_to
        self.wire = WireTemplate(
            prepared,
            sender=sender,
            subject=self.subject,
            date=date,
            list_id=list_id(mailing_list.slug, mailing_list.name, mailing_list.site_url),
            reply_to=reply_to,
            unsubscribe_mailto=mailing_list.unsubscribe_mailto,
            boundary=content_boundary(prepared, date),
            feedback_id=mailing_list.feedback_id,
        )

    @property
    def from_email(self) -> str:
        return self.sender.email

    @property
    def from_name(self) -> str:
        return self.sender.name

    @property
    def reply_to(self) -> str | None:
        return self._reply_to

    @property
    def subject(self) -> str:
        return " ".join(header_text(self.prepared.subject).split())

    def as_bytes(self, envelope: Envelope) -> bytes:
        return self.wire.render(envelope)

    def as_email_message(self, envelope: Envelope) -> EmailMessage:
        """The same message built the slow, obviously correct way (for checks only)."""
        html, text = self.prepared.fill(envelope.recipient)
        recipient = envelope.recipient
        return build_message(
            sender=self.sender,
            to=Mailbox(recipient.email, recipient.name),
            subject=self.prepared.subject,
            html=html,
            text=text,
            headers=self._list_headers(envelope),
            reply_to=self._reply_to,
            date=self.date,
            message_id=envelope.message_id,
        )

    def personal_headers(self, envelope: Envelope) -> Mapping[str, str]:
        headers = self._list_headers(envelope)
        links = [f"<{header_text(envelope.recipient.unsubscribe_url).strip()}>"]
        if headers.unsubscribe_mailto:
            links.append(f"<mailto:{header_text(headers.unsubscribe_mailto).strip()}>")
        found = {
            "List-Id": list_id(headers.list_slug, headers.list_name, headers.site_url),
            "List-Unsubscribe": ", ".join(links),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if headers.feedback_id:
            found["Feedback-ID"] = feedback_value(headers.feedback_id)
        return found

    def substituted(self) -> Substituted:
        count = len(self.prepared.getters)
        return Substituted(
            subject=self.subject,
            html=self.prepared.html.fill([f"-h{i}-" for i in range(count)]),
            text=self.prepared.text.fill([f"-t{i}-" for i in range(count)]),
        )

    def substitutions(self, envelope: Envelope) -> Mapping[str, str]:
        values = [get(envelope.recipient) for get in self.prepared.getters]
        html = {f"-h{i}-": escape(value) for i, value in enumerate(values)}
        return html | {f"-t{i}-": value for i, value in enumerate(values)}

    def _list_headers(self, envelope: Envelope) -> ListHeaders:
        return ListHeaders(
            list_slug=self.mailing_list.slug,
            list_name=self.mailing_list.name,
            site_url=self.mailing_list.site_url,
            unsubscribe_url=envelope.recipient.unsubscribe_url,
            unsubscribe_mailto=self.mailing_list.unsubscribe_mailto,
            feedback_id=self.mailing_list.feedback_id.replace(
                "{campaign}", str(envelope.campaign_id)
            )
            or None,
        )


def content_boundary(prepared: PreparedEmail, date: datetime) -> str:
    """A MIME boundary derived from the content, so that a campaign rebuilt from its
    snapshot after a crash sends byte-identical messages. Quoted-printable bodies never
    contain "==_", so the boundary cannot occur inside them."""
    digest = hashlib.sha256(date.isoformat().encode())
    for piece in (*prepared.html.pieces, "\x00", *prepared.text.pieces):
        digest.update(piece.encode("utf-8", "surrogatepass"))
    return f"==_dispatch_{digest.hexdigest()[:24]}"


def message_id(campaign_key: str, delivery_id: int, domain: str) -> str:
    """The same Message-ID on every attempt of one delivery, so that a duplicate caused
    by a crash can be recognised (and collapsed) by mail clients."""
    return f"<{campaign_key}.{delivery_id}@{domain}>"


def ledger_reference(value: str | None) -> tuple[str, int] | None:
    """(campaign key, delivery id) named by a Message-ID that `message_id` made, else None.

    The key is not secret (archive URLs show it): a match must be confirmed by more."""
    found = _OUR_MESSAGE_ID.fullmatch((value or "").strip())
    if found is None or len(found.group(2)) > 10:
        return None
    return found.group(1), int(found.group(2))
