"""`MemorySender`: keeps every message it is given, for tests and dry runs.

It can be told to misbehave the way real providers do, so that the engine's paths can
be exercised without a server: refuse chosen addresses for good (`fail`, like an SMTP
550 that suppresses the address) or a number of times (`fail_temporarily`, like a 451),
accept a message without answering (`lose_answer`: in doubt), or refuse whole requests
(`unavailable`: like an unreachable server or a refused API key). `before_handover` runs
a callable (an editor pausing, a lock taken elsewhere) just before a chosen hand-over.
With `keep=False` it only counts, so a dry run of a huge campaign stays small.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dispatch.delivery.base import (
    Admit,
    Envelope,
    Outcome,
    OutgoingMessage,
    ProviderUnavailable,
    SendResult,
    build_or_fail,
)


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

    def __init__(self, unit: int = 1, concurrency: int = 1, keep: bool = True) -> None:
        self.unit = unit
        self.concurrency = concurrency
        self.keep = keep
        self.sent: list[Sent] = []
        self.accepted = 0  # messages accepted, kept or not
        self.units: list[int] = []  # the size of every unit handed over
        self.closed = False
        self.before_handover: Callable[[int], None] = lambda number: None
        self._permanent: dict[str, _Refusal] = {}
        self._temporary: Counter[str] = Counter()
        self._temporary_error: dict[str, str] = {}
        self._silent: Counter[str] = Counter()
        self._unavailable: list[ProviderUnavailable] = []
        self._handovers = 0
        self._lock = threading.Lock()

    def fail(
        self, address: str, error: str = "550 5.1.1 No such user", suppress: bool = True
    ) -> None:
        """Refuse `address` for good."""
        with self._lock:
            self._permanent[address.lower()] = _Refusal(error, suppress)

    def fail_temporarily(
        self, address: str, times: int = 1, error: str = "451 4.7.1 Greylisted, try again later"
    ) -> None:
        """Refuse `address` the next `times` times, then accept it."""
        with self._lock:
            self._temporary[address.lower()] += times
            self._temporary_error[address.lower()] = error

    def lose_answer(self, address: str, times: int = 1) -> None:
        """Accept `address`'s message the next `times` times but give no answer (in doubt)."""
        with self._lock:
            self._silent[address.lower()] += times

    def unavailable(self, reason: str, temporary: bool = True, times: int = 1) -> None:
        """Refuse the next `times` requests as a whole (`ProviderUnavailable`)."""
        with self._lock:
            self._unavailable.extend([ProviderUnavailable(reason, temporary)] * times)

    def deliver(
        self, message: OutgoingMessage, envelopes: Sequence[Envelope], admit: Admit
    ) -> list[SendResult]:
        if self.closed:
            raise RuntimeError("memory sender: deliver() after close()")
        if len(envelopes) > self.unit:
            raise ValueError(f"memory sender: {len(envelopes)} envelopes > unit {self.unit}")
        with self._lock:
            if self._unavailable:
                raise self._unavailable.pop(0)
        built = [(e, build_or_fail(e, message.as_bytes)) for e in envelopes]
        results = [data for _, data in built if isinstance(data, SendResult)]
        ready = [(e, data) for e, data in built if isinstance(data, bytes)]
        if not ready:
            return results
        with self._lock:
            self._handovers += 1
            number = self._handovers
        self.before_handover(number)
        admit([e for e, _ in ready])
        with self._lock:
            self.units.append(len(ready))
        return results + [self._one(e, data) for e, data in ready]

    def _one(self, envelope: Envelope, data: bytes) -> SendResult:
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
            self.accepted += 1
            number = self.accepted
            if self.keep:
                self.sent.append(Sent(envelope, data))
            if self._silent[address] > 0:
                self._silent[address] -= 1
                error = "no reply after the end of the message"
                return SendResult(envelope.delivery_id, Outcome.UNKNOWN, error=error)
        return SendResult(
            envelope.delivery_id, Outcome.SENT, provider_message_id=f"memory-{number}"
        )

    def recipients(self) -> Counter[str]:
        """How many times each address was accepted (kept messages only)."""
        with self._lock:
            return Counter(item.envelope.recipient.email for item in self.sent)

    def close(self) -> None:
        self.closed = True
