"""`MemorySender`: keeps every message it is given, for tests and dry runs.

It can be told to refuse chosen addresses, permanently (`fail`, like an SMTP 550 that
suppresses the address) or a number of times (`fail_temporarily`, like a 451), so that
the campaign runner's retry and suppression paths can be exercised without a server.
With `keep=False` it only counts, so a dry run of a huge campaign stays small.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dispatch.delivery.base import Envelope, Outcome, OutgoingMessage, SendResult


@dataclass(frozen=True, slots=True)
class Sent:
    """One accepted message: its envelope and the exact bytes a subscriber would get."""

    envelope: Envelope
    data: bytes


@dataclass(frozen=True, slots=True)
class _Refusal:
    error: str
    suppress: bool


class MemorySender:
    """Implements `dispatch.delivery.base.Sender` in memory; thread-safe."""

    name = "memory"

    def __init__(self, max_batch: int = 1000, keep: bool = True) -> None:
        self.max_batch = max_batch
        self.keep = keep
        self.sent: list[Sent] = []
        self.accepted = 0  # messages accepted, kept or not
        self.batches: list[int] = []  # the size of every batch it was given
        self.closed = False
        self._permanent: dict[str, _Refusal] = {}
        self._temporary: Counter[str] = Counter()
        self._temporary_error: dict[str, str] = {}
        self._lock = threading.Lock()

    def fail(
        self, address: str, error: str = "550 5.1.1 No such user", suppress: bool = True
    ) -> None:
        """Refuse `address` for good."""
        with self._lock:
            self._permanent[address.lower()] = _Refusal(error, suppress)

    def fail_temporarily(
        self, address: str, times: int = 1, error: str = "451 4.3.0 Try again later"
    ) -> None:
        """Refuse `address` the next `times` times, then accept it."""
        with self._lock:
            self._temporary[address.lower()] += times
            self._temporary_error[address.lower()] = error

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        if self.closed:
            raise RuntimeError("memory sender: send() after close()")
        if len(batch) > self.max_batch:
            raise ValueError(f"memory sender: batch of {len(batch)} > max_batch {self.max_batch}")
        with self._lock:
            self.batches.append(len(batch))
        for envelope in batch:
            yield self._one(message, envelope)

    def _one(self, message: OutgoingMessage, envelope: Envelope) -> SendResult:
        address = envelope.recipient.email.lower()
        with self._lock:
            refusal = self._permanent.get(address)
            if refusal is not None:
                return SendResult(
                    envelope.delivery_id,
                    Outcome.PERMANENT,
                    error=refusal.error,
                    suppress=refusal.suppress,
                )
            if self._temporary[address] > 0:
                self._temporary[address] -= 1
                error = self._temporary_error[address]
                return SendResult(envelope.delivery_id, Outcome.TEMPORARY, error=error)
        data = message.as_bytes(envelope)
        with self._lock:
            self.accepted += 1
            number = self.accepted
            if self.keep:
                self.sent.append(Sent(envelope, data))
        return SendResult(
            envelope.delivery_id, Outcome.SENT, provider_message_id=f"memory-{number}"
        )

    def recipients(self) -> Counter[str]:
        """How many times each address was accepted (kept messages only)."""
        with self._lock:
            return Counter(item.envelope.recipient.email for item in self.sent)

    def close(self) -> None:
        self.closed = True
