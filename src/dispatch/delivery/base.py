"""The contract between the send engine and every sender backend.

The engine never imports a provider. It hands a `Sender` one campaign's `OutgoingMessage`
(prepared once) and a *unit* of `Envelope`s (one per recipient, each naming its ledger
row): as many as the provider takes in one hand-over (`Sender.unit`: one message over
SMTP, up to 1000 personalizations in one SendGrid request). The engine runs up to
`Sender.concurrency` units at once, each in its own thread, so `deliver` must be
thread-safe. For each unit the sender:

1. builds what it will send (a recipient whose message cannot be built fails alone,
   PERMANENT, with its own reason — nothing else of the unit is affected);
2. calls `admit(envelopes)` immediately before handing them over. `admit` paces the
   send, checks that the campaign may still go on, and commits the hand-over to the
   ledger; it raises `Halt` when the message must not go (paused, cancelled, shutting
   down, the store cannot be written): the sender lets it through without sending;
3. returns one `SendResult` per envelope, as the provider answered:

- `Outcome.SENT`: accepted (250 after the final dot, HTTP 2xx);
- `Outcome.TEMPORARY`: this recipient was refused for now (451 greylisting, 452):
  retried on backoff; also "never handed over" (the connection dropped before the end of
  the message);
- `Outcome.PERMANENT`: this recipient was refused for good (5xx); `suppress=True` when
  the address itself is bad (550 5.1.1);
- `Outcome.UNKNOWN`: handed over and no answer came (no reply after the final dot, the
  connection dropped before the reply, an HTTP timeout after the request was sent):
  the provider may have accepted it. Sent again later, and counted in doubt.

When the fault is the provider's or the configuration's rather than a recipient's (the
server is unreachable, authentication or TLS fails, `MAIL FROM` is refused, the API key
or sender identity is refused), the sender raises `ProviderUnavailable`, which promises
that nothing it names was accepted: those rows go back to pending untouched, and the
engine pauses the campaign with the provider's words.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from dispatch.render.prepared import Recipient

T = TypeVar("T")


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
    UNKNOWN = "unknown"  # handed over, no answer: maybe accepted (in doubt)


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


class Halt(Exception):
    """Raised by `admit`: do not hand this unit over (the reason is the message)."""


class ProviderUnavailable(Exception):
    """The provider refused a request as a whole: none of the envelopes without a result
    in `results` was accepted (they may have been admitted; they go back to pending).

    `temporary`: the fault should pass by itself (unreachable, 421, HTTP 5xx, 429): the
    campaign pauses and resumes on a backoff. Otherwise (authentication, TLS, a refused key
    or sender identity) it stays paused until someone fixes the settings and resumes it.
    `reason` is in the provider's words; `results` are those already known (a SendGrid
    request retried without a refused recipient, then refused as a whole)."""

    def __init__(
        self,
        reason: str,
        temporary: bool,
        retry_after: float | None = None,
        results: Sequence[SendResult] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.retry_after = retry_after
        self.results = list(results)


Admit = Callable[[Sequence[Envelope]], None]


def admit_all(envelopes: Sequence[Envelope]) -> None:
    """An `admit` for mail outside campaigns (confirmations, tests of a sender)."""


@runtime_checkable
class Sender(Protocol):
    """A delivery backend: outbox, smtp, sendgrid, memory."""

    name: str
    unit: int  # envelopes per hand-over (SendGrid: up to 1000; a message elsewhere)
    concurrency: int  # hand-overs in flight at once (SMTP: one connection each)

    def deliver(
        self, message: OutgoingMessage, envelopes: Sequence[Envelope], admit: Admit
    ) -> list[SendResult]:
        """Hand `envelopes` (at most `unit`) over, calling `admit` first; one result per
        envelope (`admit`'s `Halt` propagates instead)."""
        ...

    def close(self) -> None:
        """Release connections; the sender may not be used afterwards."""
        ...


def deliver_one(sender: Sender, message: OutgoingMessage, envelope: Envelope) -> SendResult:
    """One message outside a campaign (a confirmation mail): its result, or the
    provider's refusal of the whole request as a TEMPORARY result."""
    try:
        (result,) = sender.deliver(message, [envelope], admit_all)
    except ProviderUnavailable as exc:
        return SendResult(envelope.delivery_id, Outcome.TEMPORARY, error=exc.reason)
    return result


def build_or_fail(envelope: Envelope, build: Callable[[Envelope], T]) -> T | SendResult:
    """`build(envelope)`, or this recipient's PERMANENT failure saying why it could not be
    built (an address no header can carry, a value the template cannot take): one odd
    recipient never stops the others."""
    try:
        return build(envelope)
    except (ValueError, TypeError, LookupError, UnicodeError) as exc:
        reason = f"message for {envelope.recipient.email!r} cannot be built: {exc}"
        return SendResult(envelope.delivery_id, Outcome.PERMANENT, error=reason)
