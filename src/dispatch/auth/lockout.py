"""Slowing down password guessing without letting strangers lock an editor out.

Three moving windows (the `limits` library) count failed logins:

- per account *and* source (the typed address, normalised, with the client IP): after
  `max_failures` in `lock_minutes` that pair waits until the window lets one go — the
  guesser is stopped, the editor at another address is not;
- per source (client IP), across accounts: `max_failures_per_ip`, against one address
  trying many accounts;
- per account, from anywhere: never blocks, only slows. Every failure is answered after
  a delay that doubles with the account's (or the IP's) recent failures (`first_delay`,
  capped at `max_delay`), so a crowd of addresses guessing one password gets slower
  answers while the editor's right password is answered at once.

The windows live in the `limits` storage the sending rate uses (`delivery.limiter_storage`):
in memory for one process, or Redis, so that every web process counts the same
failures. Unknown addresses are counted exactly like real ones (a difference would tell
which exist). The delay is awaited by the caller, outside any database transaction.
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

ACCOUNT_COUNT_CAP = 64  # the account window only counts; past the delay's cap, more is moot


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5  # per account and source: then that pair waits
    max_failures_per_ip: int = 20  # per client IP, whatever the accounts
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
    """Recent failed logins per (account, IP), per IP and per account."""

    def __init__(
        self,
        policy: LockoutPolicy,
        *,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = MovingWindowRateLimiter(storage or storage_from_string("memory://"))
        minutes = policy.lock_minutes
        self.per_pair = parse(f"{policy.max_failures} per {minutes} minutes")
        self.per_ip = parse(f"{policy.max_failures_per_ip} per {minutes} minutes")
        self.per_account = parse(f"{ACCOUNT_COUNT_CAP} per {minutes} minutes")
        self.clock = clock

    def blocked_for(self, ip: str, address: str) -> int | None:
        """Seconds until this address may try again from this IP, or None when it may now."""
        waits = [
            self._wait(window, namespace, key)
            for window, namespace, key in self._blocking(ip, address)
            if not self.limiter.test(window, namespace, key)
        ]
        return max(waits) if waits else None

    def record(self, ip: str, address: str) -> int:
        """Count one failure; returns the larger of the account's failures (from any IP)
        and the IP's (on any account) now in their windows: what the delay grows with."""
        counts = []
        for window, namespace, key in [*self._blocking(ip, address), self._account(address)]:
            self.limiter.hit(window, namespace, key)
            stats = self.limiter.get_window_stats(window, namespace, key)
            counts.append(window.amount - stats.remaining)
        return max(counts[0], counts[2])

    def forget(self, ip: str, address: str) -> None:
        """A successful login clears its account's failures (never the IP's)."""
        for window, namespace, key in (self._pair(ip, address), self._account(address)):
            self.limiter.clear(window, namespace, key)

    def _blocking(self, ip: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(self.per_ip, "login-ip", ip), self._pair(ip, address)]

    def _pair(self, ip: str, address: str) -> tuple[RateLimitItem, str, str]:
        return (self.per_pair, "login-pair", f"{address}|{ip}")

    def _account(self, address: str) -> tuple[RateLimitItem, str, str]:
        return (self.per_account, "login-account", address)

    def _wait(self, window: RateLimitItem, namespace: str, key: str) -> int:
        reset = self.limiter.get_window_stats(window, namespace, key).reset_time
        return max(1, math.ceil(reset - self.clock()))
