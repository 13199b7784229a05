"""`Throttled`: any `Sender`, held to a message rate and an optional hourly window.

Both limits are moving windows kept by the `limits` library: at most `rate_per_second`
messages in any second (a fractional rate such as 0.5 becomes "1 in any 2 seconds") and
at most `hourly_limit` in any hour. Before handing messages on, it reserves as many as
both windows allow right now (at most the rest of the batch) and passes that slice to
the wrapped sender, which may send it concurrently (the SMTP pool size is the
concurrency); when a window is full it sleeps until its oldest reservation expires.

The windows live in a `limits` storage: in memory by default; give every process the
same Redis storage and `key` to share one limit between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from dispatch.delivery.base import Envelope, OutgoingMessage, Sender, SendResult

RECHECK = 0.01  # seconds to wait when a reservation raced another sender for the window
MARGIN = 0.001  # past a window's reset, so that the expiring entry is surely out of it


def per_second(rate: float) -> RateLimitItem:
    """`rate` messages a second as "n in any d seconds", d as small as keeps it within 1 %."""
    if rate <= 0:
        raise ValueError(f"rate_per_second must be positive, not {rate}")
    for seconds in range(1, 3601):
        count = round(rate * seconds)
        if count >= 1 and abs(count / seconds - rate) <= rate / 100:
            return RateLimitItemPerSecond(count, seconds)
    return RateLimitItemPerSecond(1, 3600)


class Throttled:
    """Implements `dispatch.delivery.base.Sender` by pacing another one."""

    def __init__(
        self,
        sender: Sender,
        rate_per_second: float = 0,
        hourly_limit: int = 0,
        *,
        storage: Storage | None = None,
        key: str = "dispatch",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sender = sender
        self.name = sender.name
        self.max_batch = sender.max_batch
        self.windows: list[RateLimitItem] = []
        if rate_per_second > 0:
            self.windows.append(per_second(rate_per_second))
        if hourly_limit > 0:
            self.windows.append(RateLimitItemPerHour(hourly_limit))
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._ids = (key, sender.name)
        self._clock = clock
        self._sleep = sleep

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        start = 0
        while start < len(batch):
            size = self._reserve(len(batch) - start)
            yield from self.sender.send(message, batch[start : start + size])
            start += size

    def close(self) -> None:
        self.sender.close()

    def _reserve(self, wanted: int) -> int:
        """Wait until at least one message may go; reserve and return how many (≤ wanted)."""
        while True:
            stats = [self._limiter.get_window_stats(w, *self._ids) for w in self.windows]
            size = min([wanted, *(s.remaining for s in stats)])
            if size <= 0:
                reset = max(s.reset_time for s in stats if s.remaining <= 0)
                self._sleep(max(reset - self._clock(), 0.0) + MARGIN)
            elif all(self._limiter.hit(w, *self._ids, cost=size) for w in self.windows):
                return size
            else:  # another sender took the room first; what we did take only slows us
                self._sleep(RECHECK)
