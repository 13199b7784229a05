"""The contract between the campaign runner and every sender backend.

The runner never imports a provider. It hands a `Sender` one campaign's
`OutgoingMessage` (prepared once) and a batch of `Envelope`s (one per recipient, each
naming its ledger row), and gets back one `SendResult` per envelope, YIELDED AS EACH
ONE IS KNOWN (in any order), so that the runner records an acceptance the moment it
happens and a crash can leave at most the messages in flight unrecorded:

- `Outcome.SENT`: the provider accepted it (record it now, in the same transaction
  as the status);
- `Outcome.TEMPORARY`: try again later (4xx, timeouts, 429, 5xx from an HTTP API);
- `Outcome.PERMANENT`: never retry (5xx SMTP reply, other 4xx from an HTTP API);
  `suppress=True` when the address itself is bad (550 "no such user").

A sender raises only for failures of the whole batch that it could not map to
per-recipient results (and then nothing of that batch was accepted).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dispatch.render.prepared import Recipient


@dataclass(frozen=True, slots=True)
class Envelope:
    """One recipient's copy: its ledger row, its address and personal values, its ids."""

    delivery_id: int
    campaign_id: int
    recipient: Recipient
    message_id: str  # "<…@…>", the same on every retry of this delivery
    return_path: str | None = None  # envelope sender (VERP, [bounces]); None: the From address


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: int
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None
    suppress: bool = False  # the address is bad: add it to the suppression list
    retry_after: float | None = None  # seconds, when the provider said how long to wait


@dataclass(frozen=True, slots=True)
class Substituted:
    """Content for APIs that personalise server-side (SendGrid `substitutions`).

    `html` and `text` carry keys such as `-h0-` / `-t0-`; `values(envelope)` gives one
    recipient's values for those keys (HTML-escaped for `-h…-` keys, plain for `-t…-`)."""

    subject: str
    html: str
    text: str


@runtime_checkable
class OutgoingMessage(Protocol):
    """One campaign's message, prepared once, able to produce any recipient's copy."""

    @property
    def from_email(self) -> str: ...

    @property
    def from_name(self) -> str: ...

    @property
    def reply_to(self) -> str | None: ...

    @property
    def subject(self) -> str: ...

    def as_bytes(self, envelope: Envelope) -> bytes:
        """The complete RFC 5322 message for this envelope (CRLF line endings)."""
        ...

    def personal_headers(self, envelope: Envelope) -> Mapping[str, str]:
        """Headers that differ per recipient (Message-ID, List-Unsubscribe, …) plus the
        constant bulk headers (List-Id, List-Unsubscribe-Post), for API senders."""
        ...

    def substituted(self) -> Substituted:
        """The content with substitution keys, for API senders; see `Substituted`."""
        ...

    def substitutions(self, envelope: Envelope) -> Mapping[str, str]:
        """This envelope's values for the keys in `substituted()`."""
        ...


@runtime_checkable
class Sender(Protocol):
    """A delivery backend: outbox, smtp, sendgrid, memory."""

    name: str
    max_batch: int  # envelopes per `send` call it can take (SendGrid: 1000)

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        """Hand every envelope of `batch` to the provider; yield one result per envelope
        as soon as it is known."""
        ...

    def close(self) -> None:
        """Release connections; the sender may not be used afterwards."""
        ...
