"""The fast path: one campaign's complete message as wire bytes with holes.

Once per campaign, `WireTemplate` renders every constant header (From, Subject, Date,
Reply-To, List-Id, Feedback-ID, …; see `wire_headers`), fixes a MIME boundary, and
encodes the literal chunks of the HTML and text bodies as quoted-printable. Per
recipient it only writes To, Message-ID and List-Unsubscribe, encodes the few slot
values, and joins bytes.

Bodies are encoded chunk by chunk: each literal chunk and each value starts on a fresh
line and is followed by a soft line break (`=` CRLF, which decodes to nothing), so a
value's length never pushes a line past 76 characters and decoding gives back exactly
the filled text with CRLF line breaks (what `mime.build_message` sends). The boundary
starts with `==_`, which quoted-printable can never produce (`=` is always `=3D`, `=XX`
or a soft break). A value with a CR, or a template that would split a CRLF, takes the
exact slow route: fill the whole text, then encode it.
"""

from __future__ import annotations

import secrets
from binascii import b2a_qp
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from dispatch.delivery.base import Envelope
from dispatch.delivery.mime import Mailbox, feedback_value, header_text
from dispatch.delivery.wire_headers import (
    list_id_header,
    mailbox,
    unstructured,
    unsubscribe_header,
)
from dispatch.errors import InvalidAddress
from dispatch.render.prepared import PreparedEmail, SlotTemplate, html_values

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"


def canonical(text: str) -> str:
    """`text` with CRLF and lone CR turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def qp(text: str) -> bytes:
    """`text` (LF line breaks) as quoted-printable with CRLF line breaks, lines ≤ 76."""
    encoded = b2a_qp(text.encode("utf-8"), istext=True)
    return encoded.replace(b"\n", CRLF) if b"\n" in encoded else encoded


def qp_body(text: str) -> bytes:
    """A whole body, the slow exact way: canonical line breaks, ending with one."""
    text = canonical(text)
    return qp(text if text.endswith("\n") else text + "\n")


class QpTemplate:
    """A `SlotTemplate` encoded once as quoted-printable, with holes for the values."""

    __slots__ = ("exact", "pieces", "positions", "template")

    def __init__(self, template: SlotTemplate) -> None:
        self.template = template
        literals = template.pieces[0::2]
        last = len(literals) - 1
        # Chunk-wise encoding is exact unless a chunk ends with CR (a value starting
        # with LF would then complete a CRLF) or the text ends with a value.
        self.exact = bool(literals[-1]) and not any(p.endswith("\r") for p in literals[:-1])
        self.pieces: list[bytes] = []
        for number, literal in enumerate(literals):
            text = canonical(literal)
            if number == last and not text.endswith("\n"):
                text += "\n"
            chunk = qp(text)
            if number:
                chunk = SOFT_BREAK + chunk
            if number < last:
                chunk += SOFT_BREAK
            self.pieces.append(chunk)
            if number < last:
                self.pieces.append(b"")
        self.positions = template.positions

    def fill(self, values: Sequence[str]) -> bytes:
        """The encoded body for these values (HTML-escaped already where needed)."""
        if not self.exact or "\r" in "".join(values):
            return qp_body(self.template.fill(values))
        encoded = [qp(v) for v in values]
        pieces = self.pieces.copy()
        for pos, index in self.positions:
            pieces[pos] = encoded[index]
        return b"".join(pieces)


class WireTemplate:
    """Every recipient's complete message (CRLF, lines ≤ 998) for one campaign."""

    def __init__(
        self,
        prepared: PreparedEmail,
        *,
        sender: Mailbox,
        subject: str,
        date: datetime,
        list_id: str,
        reply_to: str | None = None,
        unsubscribe_mailto: str | None = None,
        boundary: str | None = None,
        feedback_id: str = "",
    ) -> None:
        self.getters = prepared.getters
        self.html = QpTemplate(prepared.html)
        self.text = QpTemplate(prepared.text)
        self.boundary = boundary or f"==_dispatch_{secrets.token_hex(12)}"
        self.mailto = header_text(unsubscribe_mailto or "").strip()
        if not self.mailto.isascii():
            raise InvalidAddress(f'unsubscribe mailto "{self.mailto}" must be an ASCII address')
        self._from = f"From: {mailbox(sender.email, sender.name)}\r\n".encode()
        constant = [unstructured("Subject", subject), f"Date: {format_datetime(date)}\r\n"]
        if reply_to:
            constant.append(f"Reply-To: {mailbox(reply_to)}\r\n")
        constant.append(list_id_header(list_id))
        self._middle = b"".join(h if isinstance(h, bytes) else h.encode() for h in constant)
        self._after_headers = self._mime_prelude()
        self._between = b"".join([CRLF, self._delimiter(), part_headers("html")])
        self._end = CRLF + self._delimiter(close=True)
        self._feedback = feedback_value(feedback_id)
        self._feedback_lines: dict[int, bytes] = {}

    def render(self, envelope: Envelope) -> bytes:
        recipient = envelope.recipient
        values = [get(recipient) for get in self.getters]
        return b"".join(
            [
                self._from,
                b"To: ",
                mailbox(recipient.email, recipient.name).encode(),
                CRLF,
                self._middle,
                b"Message-ID: ",
                header_text(envelope.message_id).strip().encode("ascii"),
                CRLF,
                self._feedback_line(envelope.campaign_id),
                unsubscribe_header(recipient.unsubscribe_url, self.mailto),
                self._after_headers,
                self.text.fill(values),
                self._between,
                self.html.fill(html_values(values)),
                self._end,
            ]
        )

    def _feedback_line(self, campaign_id: int) -> bytes:
        """`Feedback-ID: …` for the campaign (made once per campaign), or nothing."""
        if not self._feedback:
            return b""
        line = self._feedback_lines.get(campaign_id)
        if line is None:
            value = self._feedback.replace("{campaign}", str(campaign_id))
            line = self._feedback_lines[campaign_id] = f"Feedback-ID: {value}\r\n".encode("ascii")
        return line

    def _mime_prelude(self) -> bytes:
        return b"".join(
            [
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                b"MIME-Version: 1.0\r\n",
                b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n'
                % self.boundary.encode("ascii"),
                CRLF,
                self._delimiter(),
                part_headers("plain"),
            ]
        )

    def _delimiter(self, close: bool = False) -> bytes:
        return b"--" + self.boundary.encode("ascii") + (b"--" if close else b"") + CRLF


def part_headers(subtype: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")
