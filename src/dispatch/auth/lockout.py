"""Slowing down and locking out password guessing.

Two counters work together:

- per account, in the database (`editors.failed_logins`, `editors.locked_until`): after
  `max_failures` wrong passwords in a row the account is locked for `lock_minutes`,
  whichever web process answers next;
- per client IP and per email address as typed, in a `limits` moving window (memory
  storage, so per web process): the same threshold, which also covers addresses with
  no account (a lock-out that only real accounts showed would tell which exist) and one
  IP trying many accounts.

Every failure is also answered after a short delay that doubles with each failure
(`first_delay`, capped at `max_delay`). The delay is awaited by the caller, outside
any database transaction, with an injectable sleep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5  # per account and per address: then locked
    max_failures_per_ip: int = 5  # per client IP in the same window
    lock_minutes: int = 15
    first_delay: float = 0.25  # seconds before answering the first failure; then doubles
    max_delay: float = 2.0

    @property
    def lock_for(self) -> timedelta:
        return timedelta(minutes=self.lock_minutes)

    def delay(self, failures: int) -> float:
        """Seconds to wait before answering after the `failures`-th failure in a row."""
        if failures <= 0:
            return 0.0
        return float(min(self.max_delay, self.first_delay * 2 ** (failures - 1)))


class FailureCounter:
    """Recent failed logins per client IP and per email address (moving windows)."""

    def __init__(
        self,
        policy: LockoutPolicy,
        *,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = MovingWindowRateLimiter(storage or storage_from_string("memory://"))
        self.per_address = parse(f"{policy.max_failures} per {policy.lock_minutes} minutes")
        self.per_ip = parse(f"{policy.max_failures_per_ip} per {policy.lock_minutes} minutes")
        self.clock = clock

    def blocked_for(self, ip: str, address: str) -> int | None:
        """Seconds until the IP and the address may try again, or None when both may now."""
        waits = [
            self._wait(window, namespace, key)
            for window, namespace, key in self._keys(ip, address)
            if not self.limiter.test(window, namespace, key)
        ]
        return max(waits) if waits else None

    def record(self, ip: str, address: str) -> int:
        """Count one failure; returns the larger of the two counts now in their windows."""
        counts = []
        for window, namespace, key in self._keys(ip, address):
            self.limiter.hit(window, namespace, key)
            stats = self.limiter.get_window_stats(window, namespace, key)
            counts.append(window.amount - stats.remaining)
        return max(counts)

    def forget(self, address: str) -> None:
        """A successful login clears its address's failures (never the IP's)."""
        self.limiter.clear(self.per_address, "login-address", address)

    def _keys(self, ip: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(self.per_ip, "login-ip", ip), (self.per_address, "login-address", address)]

    def _wait(self, window: RateLimitItem, namespace: str, key: str) -> int:
        reset = self.limiter.get_window_stats(window, namespace, key).reset_time
        return max(1, math.ceil(reset - self.clock()))
