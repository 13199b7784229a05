from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import time_machine

from dispatch.delivery.base import Outcome, Sender
from dispatch.delivery.memory import MemorySender
from dispatch.delivery.throttle import Throttled, per_second
from support.outgoing import campaign_message, envelopes

START = 1_800_000_000.0


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as frozen:
        yield frozen


class Paced:
    """Records when (in travelled time) each slice reached the wrapped sender."""

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self.sleeps: list[float] = []
        self._traveller = traveller

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self._traveller.shift(seconds)


def throttled(
    traveller: time_machine.Traveller, rate: float = 0, hourly: int = 0
) -> tuple[Throttled, MemorySender, Paced]:
    inner, paced = MemorySender(), Paced(traveller)
    return Throttled(inner, rate, hourly, sleep=paced.sleep), inner, paced


def test_rate_per_second_paces_slices(traveller: time_machine.Traveller) -> None:
    sender, inner, paced = throttled(traveller, rate=10)
    results = list(sender.send(campaign_message(), envelopes(35)))
    assert [r.delivery_id for r in results] == list(range(1, 36))
    assert inner.batches == [10, 10, 10, 5]
    assert [round(s, 2) for s in paced.sleeps] == [1.0, 1.0, 1.0]
    assert time.time() == pytest.approx(START + 3, abs=0.01)


def test_fractional_rate(traveller: time_machine.Traveller) -> None:
    sender, inner, paced = throttled(traveller, rate=0.5)
    list(sender.send(campaign_message(), envelopes(3)))
    assert inner.batches == [1, 1, 1]
    assert [round(s, 2) for s in paced.sleeps] == [2.0, 2.0]


def test_hourly_window_slides(traveller: time_machine.Traveller) -> None:
    sender, inner, paced = throttled(traveller, hourly=5)
    list(sender.send(campaign_message(), envelopes(3)))
    traveller.shift(1800)
    list(sender.send(campaign_message(), envelopes(9, start=4)))
    # 2 more fit the first hour; the first 3 go out again at 3600 s, 2 at 5400 s, 2 at 7200 s
    assert inner.batches == [3, 2, 3, 2, 2]
    assert [round(s) for s in paced.sleeps] == [1800, 1800, 1800]
    assert inner.accepted == 12


def test_both_limits_together(traveller: time_machine.Traveller) -> None:
    sender, inner, paced = throttled(traveller, rate=2, hourly=5)
    list(sender.send(campaign_message(), envelopes(7)))
    assert inner.batches == [2, 2, 1, 2]
    assert [round(s, 2) for s in paced.sleeps] == [1.0, 1.0, 3598.0]


def test_results_and_failures_pass_through_unchanged(traveller: time_machine.Traveller) -> None:
    sender, inner, _ = throttled(traveller, rate=100)
    inner.fail("reader2@example.com")
    results = {r.delivery_id: r for r in sender.send(campaign_message(), envelopes(3))}
    assert isinstance(sender, Sender)
    assert (sender.name, sender.max_batch) == ("memory", 1000)
    assert results[2].outcome is Outcome.PERMANENT and results[2].suppress
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    sender.close()
    assert inner.closed


def test_real_clock_really_waits() -> None:
    inner = MemorySender()
    sender = Throttled(inner, rate_per_second=40)
    began = time.monotonic()
    list(sender.send(campaign_message(), envelopes(41)))
    assert 0.9 <= time.monotonic() - began < 5
    assert inner.batches == [40, 1]


@pytest.mark.parametrize(
    ("rate", "amount", "seconds"),
    [(1000, 1000, 1), (2.5, 5, 2), (0.5, 1, 2), (0.01, 1, 100), (math.pi, 19, 6)],
)
def test_rates_become_small_windows(rate: float, amount: int, seconds: int) -> None:
    window = per_second(rate)
    assert (window.amount, window.multiples) == (amount, seconds)


def test_no_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        per_second(0)
