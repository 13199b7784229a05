"""Complete RFC 5322 messages: headers for bulk mail, text then HTML alternatives.

Anything that reaches a header goes through `header_text`, which removes CR, LF and
NUL (a title or a name can never add a header or fold one), and addresses are built
with `email.headerregistry.Address`, which encodes non-ASCII names (RFC 2047).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from dispatch.errors import InvalidAddress

_UNSAFE = re.compile(r"[\r\n\x00]+")
# Bodies are encoded under SMTP's 78-character lines; headers are then written with a
# 998-character limit, so that a long List-Unsubscribe URL stays one plain `<URL>`
# instead of being folded into RFC 2047 encoded-words that mail clients cannot use.
WIRE = SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Mailbox:
    email: str
    name: str = ""

    def address(self) -> Address:
        local, at, domain = header_text(self.email).strip().rpartition("@")
        if not at or not local or not domain:
            raise InvalidAddress(f'"{self.email}" is not an email address')
        return Address(display_name=header_text(self.name).strip(), username=local, domain=domain)


@dataclass(frozen=True)
class ListHeaders:
    """What RFC 2919 and RFC 8058 ask of bulk mail for one list and one recipient."""

    list_slug: str
    list_name: str
    site_url: str  # its host names the List-Id
    unsubscribe_url: str  # HTTPS one-click URL with the recipient's signed token
    unsubscribe_mailto: str | None = None
    feedback_id: str | None = None  # Gmail's Feedback-ID, filled in ("12:morning:dispatch")


def header_text(value: str) -> str:
    """`value` with CR, LF and NUL runs replaced by one space: safe in any header."""
    return _UNSAFE.sub(" ", value)


def list_id(list_slug: str, list_name: str, site_url: str) -> str:
    host = urlsplit(site_url).hostname or "localhost"
    return f"{header_text(list_name).strip()} <{header_text(list_slug)}.{host}>"


def feedback_id(template: str, campaign: int | str, list_slug: str) -> str:
    """`[delivery] feedback_id` filled in for one campaign and list."""
    return template.replace("{list}", list_slug).replace("{campaign}", str(campaign))


def feedback_value(value: str) -> str:
    """A Feedback-ID as it may go on the wire: one line of printable ASCII."""
    return "".join(c for c in header_text(value).strip() if c.isascii() and c.isprintable())


def build_message(
    *,
    sender: Mailbox,
    to: Mailbox,
    subject: str,
    html: str,
    text: str,
    headers: ListHeaders,
    reply_to: str | None = None,
    date: datetime,
    message_id: str | None = None,
) -> EmailMessage:
    """One multipart/alternative message (text/plain first, text/html last), ready to send."""
    sender_address = sender.address()
    message = EmailMessage(policy=SMTP)
    message["From"] = sender_address
    message["To"] = to.address()
    if reply_to:
        message["Reply-To"] = Mailbox(reply_to).address()
    message["Subject"] = " ".join(header_text(subject).split())
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id or make_msgid(domain=sender_address.domain)
    message["List-Id"] = list_id(headers.list_slug, headers.list_name, headers.site_url)
    message["List-Unsubscribe"] = _unsubscribe_header(headers)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if headers.feedback_id:
        message["Feedback-ID"] = feedback_value(headers.feedback_id)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    message.policy = WIRE
    return message


def _unsubscribe_header(headers: ListHeaders) -> str:
    url = header_text(headers.unsubscribe_url).strip()
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"List-Unsubscribe needs an http(s) URL, got {url!r}")
    links = [f"<{url}>"]
    if headers.unsubscribe_mailto:
        links.append(f"<mailto:{header_text(headers.unsubscribe_mailto).strip()}>")
    return ", ".join(links)
