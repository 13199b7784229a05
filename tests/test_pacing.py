"""`Pacer`: the engine's send rate (moving windows of the `limits` library), driven by
time-machine so that hours pass in no time."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from limits.storage import MemoryStorage

from conftest import write_config
from dispatch import config
from dispatch.delivery.pacing import SLICE, Pacer, per_second

START = 1_800_000_000.0


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as frozen:
        yield frozen


class Clock:
    """A sleep that moves travelled time on, and what happened when."""

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self.sleeps: list[float] = []
        self._traveller = traveller

    def sleep(self, seconds: float) -> None:
        assert 0 <= seconds <= SLICE  # never asleep longer than a slice: stops are seen
        self.sleeps.append(seconds)
        self._traveller.shift(seconds)

    def now(self) -> float:
        return time.time() - START


def pacer(
    traveller: time_machine.Traveller, rate: float = 0, hourly: int = 0
) -> tuple[Pacer, Clock]:
    clock = Clock(traveller)
    return Pacer(rate, hourly, sleep=clock.sleep), clock


def grants(paced: Pacer, clock: Clock, count: int, each: int = 1) -> list[float]:
    """When (seconds from the start) each of `count` waits for `each` messages returned."""
    out = []
    for _ in range(count):
        assert paced.wait(each)
        out.append(round(clock.now(), 2))
    return out


def test_rate_per_second(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, rate=10)
    assert paced.burst == 10
    when = grants(paced, clock, 35)
    assert [math.floor(t) for t in when] == [0] * 10 + [1] * 10 + [2] * 10 + [3] * 5
    assert max(sum(1 for s in when if t <= s < t + 1) for t in when) == 10
    assert when[-1] == pytest.approx(3, abs=0.05)


def test_units_of_a_burst_go_a_window_apart(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, rate=10)
    assert grants(paced, clock, 3, each=10) == pytest.approx([0, 1, 2], abs=0.05)


def test_fractional_rate(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, rate=0.5)
    assert paced.burst == 1
    assert grants(paced, clock, 3) == pytest.approx([0, 2, 4], abs=0.05)


def test_a_rate_that_is_not_a_whole_number_keeps_its_average(
    traveller: time_machine.Traveller,
) -> None:
    paced, clock = pacer(traveller, rate=2.5)
    assert paced.burst == 5  # 5 in any 2 seconds
    when = grants(paced, clock, 25)
    assert when[-1] == pytest.approx(8, abs=0.05)  # 5 windows of 2 s, the first at 0


def test_hourly_window_slides(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, hourly=5)
    assert paced.burst == 5
    first = grants(paced, clock, 3)
    traveller.shift(1800)
    later = grants(paced, clock, 9)
    # 2 more fit the first hour; 3 go at 3600 s as the first 3 expire, 2 at 5400, 2 at 7200
    assert first == [0, 0, 0]
    expected = [1800] * 2 + [3600] * 3 + [5400] * 2 + [7200] * 2
    assert [round(t / 1800) * 1800 for t in later] == expected
    every = first + later
    assert all(b - a >= 3600 for a, b in zip(every, every[5:], strict=False))  # 5 an hour


def test_both_limits_together(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, rate=2, hourly=5)
    assert paced.burst == 2
    when = grants(paced, clock, 7)
    assert [round(t) for t in when] == [0, 0, 1, 1, 2, 3600, 3600]


def test_no_limit_never_waits(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller)
    assert paced.burst is None and paced.windows == []
    assert grants(paced, clock, 1000, each=1000) == [0] * 1000
    assert clock.sleeps == []
    assert paced.wait(1, stopping=lambda: True) is False


def test_a_stop_ends_a_long_wait_within_a_slice(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, hourly=1)
    assert paced.wait(1)
    stop_at = 5.0  # seconds into an hour's wait, someone pauses the campaign
    assert paced.wait(1, stopping=lambda: clock.now() >= stop_at) is False
    assert stop_at <= clock.now() <= stop_at + SLICE
    assert all(s <= SLICE for s in clock.sleeps)
    # nothing was reserved by the stopped wait: the next one goes when the hour is over
    traveller.shift(3600 - clock.now())
    before = len(clock.sleeps)
    assert paced.wait(1)
    assert clock.now() == pytest.approx(3600, abs=0.05)
    assert len(clock.sleeps) - before <= 1


def test_stopping_before_the_wait_reserves_nothing(traveller: time_machine.Traveller) -> None:
    paced, clock = pacer(traveller, rate=1)
    assert paced.wait(1, stopping=lambda: True) is False
    assert paced.wait(1) and clock.sleeps == []  # the window was still empty


def test_more_than_a_burst_at_once_is_refused(traveller: time_machine.Traveller) -> None:
    paced, _ = pacer(traveller, rate=10)
    with pytest.raises(ValueError, match="11 messages at once: at most 10"):
        paced.wait(11)


def test_pacers_sharing_a_storage_and_key_share_the_rate(
    traveller: time_machine.Traveller,
) -> None:
    storage = MemoryStorage()
    clock = Clock(traveller)
    first = Pacer(10, storage=storage, key="campaigns", sleep=clock.sleep)
    second = Pacer(10, storage=storage, key="campaigns", sleep=clock.sleep)
    other = Pacer(10, storage=storage, key="elsewhere", sleep=clock.sleep)
    assert first.wait(6) and second.wait(4)
    assert other.wait(10) and clock.sleeps == []  # a key of its own
    assert second.wait(1)
    assert clock.now() == pytest.approx(1, abs=0.05)


def test_real_clock_really_waits() -> None:
    paced = Pacer(rate_per_second=40)
    began = time.monotonic()
    for _ in range(41):
        assert paced.wait(1)
    assert time.monotonic() - began >= 0.9


def test_from_settings(tmp_path: Path) -> None:
    def load(**lines: str) -> config.Settings:
        replace = {rf"^{key} = .*$": f"{key} = {value}" for key, value in lines.items()}
        return config.load(write_config(tmp_path, f"sqlite:///{tmp_path}/d.db", replace))

    assert Pacer.from_settings(load(), "dispatch").windows == []
    paced = Pacer.from_settings(load(rate_per_second="20", hourly_limit="5000"), "dispatch")
    assert [(w.amount, w.multiples) for w in paced.windows] == [(20, 1), (5000, 1)]
    assert paced.burst == 20
    hourly = Pacer.from_settings(load(hourly_limit="300"), "dispatch")
    assert [(w.amount, w.multiples) for w in hourly.windows] == [(300, 1)]


@pytest.mark.parametrize(
    ("rate", "amount", "seconds"),
    [(1000, 1000, 1), (2.5, 5, 2), (0.5, 1, 2), (0.01, 1, 100), (math.pi, 19, 6)],
)
def test_rates_become_small_windows(rate: float, amount: int, seconds: int) -> None:
    window = per_second(rate)
    assert (window.amount, window.multiples) == (amount, seconds)


@pytest.mark.parametrize("rate", [0, -1])
def test_no_rate_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        per_second(rate)
