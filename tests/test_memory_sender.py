from __future__ import annotations

import pytest

from dispatch.delivery.base import Outcome, Sender
from dispatch.delivery.memory import MemorySender
from support.outgoing import campaign_message, envelopes


def test_keeps_every_message_and_its_envelope() -> None:
    sender = MemorySender()
    message = campaign_message()
    batch = envelopes(4)
    results = list(sender.send(message, batch))
    assert isinstance(sender, Sender)
    assert [r.outcome for r in results] == [Outcome.SENT] * 4
    assert len({r.provider_message_id for r in results}) == 4
    assert [item.envelope for item in sender.sent] == batch
    assert sender.sent[2].data == message.as_bytes(batch[2])
    assert sender.batches == [4]


def test_permanent_failure_suppresses_by_default() -> None:
    sender = MemorySender()
    sender.fail("Reader2@example.com")
    sender.fail("reader3@example.com", "554 5.7.1 Rejected as spam", suppress=False)
    results = {r.delivery_id: r for r in sender.send(campaign_message(), envelopes(3))}
    assert results[1].outcome is Outcome.SENT
    assert (results[2].outcome, results[2].suppress) == (Outcome.PERMANENT, True)
    assert results[2].error == "550 5.1.1 No such user"
    assert (results[3].outcome, results[3].suppress) == (Outcome.PERMANENT, False)
    assert sender.recipients() == {"reader1@example.com": 1}


def test_temporary_failure_lasts_the_given_number_of_times() -> None:
    sender = MemorySender()
    sender.fail_temporarily("reader1@example.com", times=2)
    batch = envelopes(1)
    outcomes = [next(iter(sender.send(campaign_message(), batch))).outcome for _ in range(3)]
    assert outcomes == [Outcome.TEMPORARY, Outcome.TEMPORARY, Outcome.SENT]
    assert sender.recipients() == {"reader1@example.com": 1}


def test_without_keeping_it_only_counts() -> None:
    sender = MemorySender(keep=False)
    list(sender.send(campaign_message(), envelopes(50)))
    assert sender.accepted == 50
    assert sender.sent == []


def test_refuses_oversized_batches_and_use_after_close() -> None:
    sender = MemorySender(max_batch=2)
    with pytest.raises(ValueError, match="max_batch 2"):
        list(sender.send(campaign_message(), envelopes(3)))
    sender.close()
    with pytest.raises(RuntimeError, match="after close"):
        list(sender.send(campaign_message(), envelopes(1)))
