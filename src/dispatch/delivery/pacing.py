"""`Pacer`: holds sending to a message rate and an optional hourly window.

Both limits are moving windows kept by the `limits` library: at most `rate_per_second`
messages in any second (a fractional rate such as 0.5 becomes "1 in any 2 seconds") and
at most `hourly_limit` in any hour. The engine asks `wait(n)` just before each hand-over
of n messages; it reserves them as soon as both windows allow, sleeping in short slices
meanwhile so that a pause, a cancel or a shutdown stops the wait at once (`stopping()`).

The windows live in a `limits` storage: in memory by default; give every process the same
Redis storage (`delivery.limiter_storage`) to share one limit between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dispatch.config import Settings

RECHECK = 0.01  # seconds to wait when a reservation raced another process for the window
MARGIN = 0.001  # past a window's reset, so that the expiring entry is surely out of it
SLICE = 0.2  # longest sleep before looking whether to stop waiting


def per_second(rate: float) -> RateLimitItem:
    """`rate` messages a second as "n in any d seconds", d as small as keeps it within 1 %."""
    if rate <= 0:
        raise ValueError(f"rate_per_second must be positive, not {rate}")
    for seconds in range(1, 3601):
        count = round(rate * seconds)
        if count >= 1 and abs(count / seconds - rate) <= rate / 100:
            return RateLimitItemPerSecond(count, seconds)
    return RateLimitItemPerSecond(1, 3600)


class Pacer:
    """No limit at all when neither rate is set (`wait` returns at once)."""

    def __init__(
        self,
        rate_per_second: float = 0,
        hourly_limit: int = 0,
        *,
        storage: Storage | None = None,
        key: str = "dispatch",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows: list[RateLimitItem] = []
        if rate_per_second > 0:
            self.windows.append(per_second(rate_per_second))
        if hourly_limit > 0:
            self.windows.append(RateLimitItemPerHour(hourly_limit))
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._key = key
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, key: str) -> Pacer:
        delivery = settings.delivery
        if delivery.rate_per_second <= 0 and delivery.hourly_limit <= 0:
            return cls()
        storage = storage_from_string(delivery.limiter_storage)  # shared when it is Redis
        return cls(delivery.rate_per_second, delivery.hourly_limit, storage=storage, key=key)

    @property
    def burst(self) -> int | None:
        """The most messages that may ever go at once (None: no limit)."""
        return min(w.amount for w in self.windows) if self.windows else None

    def wait(self, count: int, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Block until `count` messages (≤ `burst`) may go, and reserve them; False when
        `stopping()` became true first (nothing reserved)."""
        burst = self.burst
        if burst is not None and count > burst:  # no window would ever have room: a hang
            raise ValueError(f"{count} messages at once: at most {burst} may ever go together")
        while self.windows:
            if stopping():
                return False
            stats = [self._limiter.get_window_stats(w, self._key) for w in self.windows]
            if all(s.remaining >= count for s in stats):
                if all(self._limiter.hit(w, self._key, cost=count) for w in self.windows):
                    return True
                self._sleep(RECHECK)  # another process took the room first
                continue
            reset = max(s.reset_time for s in stats if s.remaining < count)
            self._sleep(min(max(reset - self._clock(), 0.0) + MARGIN, SLICE))
        return not stopping()
