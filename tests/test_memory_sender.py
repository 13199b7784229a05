"""`MemorySender`: the in-memory backend the engine's tests misbehave with."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from dispatch.delivery.base import (
    Envelope,
    Halt,
    Outcome,
    ProviderUnavailable,
    Sender,
    SendResult,
    Substituted,
    admit_all,
    deliver_one,
)
from dispatch.delivery.memory import MemorySender
from support.outgoing import campaign_message, envelopes


class Admissions:
    def __init__(self, halt: str | None = None) -> None:
        self.calls: list[list[int]] = []
        self.halt = halt

    def __call__(self, batch: Sequence[Envelope]) -> None:
        if self.halt:
            raise Halt(self.halt)
        self.calls.append([e.delivery_id for e in batch])


def send_each(sender: MemorySender, batch: Sequence[Envelope]) -> dict[int, SendResult]:
    message = campaign_message()
    return {r.delivery_id: r for e in batch for r in sender.deliver(message, [e], admit_all)}


def test_keeps_every_message_and_its_envelope() -> None:
    sender = MemorySender(unit=4, concurrency=3)
    message = campaign_message()
    batch = envelopes(4)
    admit = Admissions()
    results = sender.deliver(message, batch, admit)
    assert isinstance(sender, Sender)
    assert (sender.name, sender.unit, sender.concurrency) == ("memory", 4, 3)
    assert [r.outcome for r in results] == [Outcome.SENT] * 4
    assert [r.delivery_id for r in results] == [1, 2, 3, 4]
    assert len({r.provider_message_id for r in results}) == 4
    assert [item.envelope for item in sender.sent] == batch
    assert sender.sent[2].data == message.as_bytes(batch[2])
    assert sender.units == [4]
    assert admit.calls == [[1, 2, 3, 4]]
    assert sender.accepted == 4


def test_defaults_to_one_message_per_unit() -> None:
    sender = MemorySender()
    assert (sender.unit, sender.concurrency) == (1, 1)
    results = send_each(sender, envelopes(3))
    assert sender.units == [1, 1, 1]
    assert {r.outcome for r in results.values()} == {Outcome.SENT}


def test_permanent_failure_suppresses_by_default() -> None:
    sender = MemorySender(unit=3)
    sender.fail("Reader2@example.com")
    sender.fail("reader3@example.com", "554 5.7.1 Rejected as spam", suppress=False)
    results = {
        r.delivery_id: r for r in sender.deliver(campaign_message(), envelopes(3), admit_all)
    }
    assert results[1].outcome is Outcome.SENT
    assert (results[2].outcome, results[2].suppress) == (Outcome.PERMANENT, True)
    assert results[2].error == "550 5.1.1 No such user"
    assert (results[3].outcome, results[3].suppress) == (Outcome.PERMANENT, False)
    assert results[3].error == "554 5.7.1 Rejected as spam"
    assert sender.recipients() == {"reader1@example.com": 1}


def test_temporary_failure_lasts_the_given_number_of_times() -> None:
    sender = MemorySender()
    sender.fail_temporarily("reader1@example.com", times=2)
    sender.fail_temporarily("reader2@example.com", error="452 4.2.2 Mailbox full")
    batch = envelopes(2)
    rounds = [send_each(sender, batch) for _ in range(3)]
    assert [r[1].outcome for r in rounds] == [Outcome.TEMPORARY, Outcome.TEMPORARY, Outcome.SENT]
    assert rounds[0][1].error == "451 4.7.1 Greylisted, try again later"
    assert [r[2].outcome for r in rounds] == [Outcome.TEMPORARY, Outcome.SENT, Outcome.SENT]
    assert rounds[0][2].error == "452 4.2.2 Mailbox full"
    assert sender.recipients() == {"reader1@example.com": 1, "reader2@example.com": 2}


def test_a_lost_answer_is_unknown_though_the_message_was_accepted() -> None:
    sender = MemorySender()
    sender.lose_answer("reader1@example.com")
    first = send_each(sender, envelopes(2))
    again = send_each(sender, envelopes(1))
    assert first[1].outcome is Outcome.UNKNOWN
    assert first[1].error == "no reply after the end of the message"
    assert first[2].outcome is Outcome.SENT
    assert again[1].outcome is Outcome.SENT
    assert sender.recipients() == {"reader1@example.com": 2, "reader2@example.com": 1}


def test_unavailable_refuses_whole_requests_before_admitting() -> None:
    sender = MemorySender(unit=2)
    sender.unavailable("535 5.7.8 Authentication credentials invalid", temporary=False)
    sender.unavailable("connection refused", times=2)
    admit = Admissions()
    reasons = []
    for _ in range(3):
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(2), admit)
        reasons.append((caught.value.reason, caught.value.temporary))
    results = sender.deliver(campaign_message(), envelopes(2), admit)
    assert reasons == [
        ("535 5.7.8 Authentication credentials invalid", False),
        ("connection refused", True),
        ("connection refused", True),
    ]
    assert admit.calls == [[1, 2]]
    assert [r.outcome for r in results] == [Outcome.SENT] * 2
    assert sender.accepted == 2


def test_halt_from_admit_sends_nothing() -> None:
    sender = MemorySender(unit=3)
    with pytest.raises(Halt, match="paused"):
        sender.deliver(campaign_message(), envelopes(3), Admissions(halt="paused"))
    assert sender.sent == [] and sender.accepted == 0 and sender.units == []


def test_before_handover_runs_before_admit_with_the_handover_number() -> None:
    sender = MemorySender()
    admit = Admissions()
    seen: list[tuple[int, int]] = []
    sender.before_handover = lambda number: seen.append((number, len(admit.calls)))
    message = campaign_message()
    for envelope in envelopes(3):
        sender.deliver(message, [envelope], admit)
    assert seen == [(1, 0), (2, 1), (3, 2)]


def test_before_handover_can_stop_the_send_through_admit() -> None:
    """What the engine's tests do: an editor pauses just before the second hand-over."""
    sender = MemorySender()
    admit = Admissions()

    def pause(number: int) -> None:
        if number == 2:
            admit.halt = "paused by an editor"

    sender.before_handover = pause
    message = campaign_message()
    batch = envelopes(3)
    sender.deliver(message, batch[:1], admit)
    with pytest.raises(Halt):
        sender.deliver(message, batch[1:2], admit)
    assert sender.recipients() == {"reader1@example.com": 1}


class Unbuildable:
    """A campaign message that cannot be built for reader2."""

    def __init__(self) -> None:
        self.inner = campaign_message()

    from_email = property(lambda self: self.inner.from_email)
    from_name = property(lambda self: self.inner.from_name)
    reply_to = property(lambda self: self.inner.reply_to)
    subject = property(lambda self: self.inner.subject)

    def as_bytes(self, envelope: Envelope) -> bytes:
        if envelope.recipient.email == "reader2@example.com":
            raise LookupError("no value for {{ city }}")
        return self.inner.as_bytes(envelope)

    def personal_headers(self, envelope: Envelope) -> Mapping[str, str]:
        return self.inner.personal_headers(envelope)

    def substituted(self) -> Substituted:
        return self.inner.substituted()

    def substitutions(self, envelope: Envelope) -> Mapping[str, str]:
        return self.inner.substitutions(envelope)


def test_a_message_that_cannot_be_built_fails_alone_and_is_not_admitted() -> None:
    sender = MemorySender(unit=3)
    admit = Admissions()
    results = {r.delivery_id: r for r in sender.deliver(Unbuildable(), envelopes(3), admit)}
    assert results[2].outcome is Outcome.PERMANENT
    assert results[2].error == (
        "message for 'reader2@example.com' cannot be built: no value for {{ city }}"
    )
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert admit.calls == [[1, 3]]
    assert sender.units == [2]


def test_nobody_buildable_admits_nothing() -> None:
    sender = MemorySender()
    admit = Admissions()
    [result] = sender.deliver(Unbuildable(), envelopes(1, start=2), admit)
    assert result.outcome is Outcome.PERMANENT
    assert admit.calls == [] and sender.units == []


def test_without_keeping_it_only_counts() -> None:
    sender = MemorySender(keep=False)
    results = send_each(sender, envelopes(50))
    assert sender.accepted == 50
    assert sender.sent == []
    assert {r.outcome for r in results.values()} == {Outcome.SENT}


def test_is_thread_safe() -> None:
    sender = MemorySender(concurrency=4)
    message = campaign_message()
    batch = envelopes(400)
    with ThreadPoolExecutor(max_workers=4) as threads:
        results = list(threads.map(lambda e: sender.deliver(message, [e], admit_all)[0], batch))
    assert sender.accepted == 400
    assert len({r.provider_message_id for r in results}) == 400
    assert sender.recipients() == {e.recipient.email: 1 for e in batch}


def test_deliver_one_turns_a_refused_request_into_a_temporary_result() -> None:
    sender = MemorySender()
    sender.unavailable("connection refused")
    [envelope] = envelopes(1)
    first = deliver_one(sender, campaign_message(), envelope)
    second = deliver_one(sender, campaign_message(), envelope)
    assert first == SendResult(1, Outcome.TEMPORARY, error="connection refused")
    assert second.outcome is Outcome.SENT


def test_refuses_oversized_units_and_use_after_close() -> None:
    sender = MemorySender(unit=2)
    with pytest.raises(ValueError, match="3 envelopes > unit 2"):
        sender.deliver(campaign_message(), envelopes(3), admit_all)
    sender.close()
    assert sender.closed
    with pytest.raises(RuntimeError, match="after close"):
        sender.deliver(campaign_message(), envelopes(1), admit_all)


def test_admit_runs_outside_the_senders_lock() -> None:
    """Four units inside `admit` at once (a pacer waiting): none blocks the others."""
    sender = MemorySender(concurrency=4)
    together = threading.Barrier(4)
    message = campaign_message()
    with ThreadPoolExecutor(max_workers=4) as threads:
        results = list(
            threads.map(
                lambda e: sender.deliver(message, [e], lambda _: together.wait(10))[0],
                envelopes(4),
            )
        )
    assert [r.outcome for r in results] == [Outcome.SENT] * 4
