"""Rate limits on sign-ups: per client IP and per email address, with the `limits` library.

Each is a list of moving windows from config (`web.subscribe_rate_per_ip`,
`web.subscribe_rate_per_address`, e.g. "10/minute;60/hour"); a request is allowed when
every window has room, and then counts in all of them. The windows live in the app's
`limits` storage (`limits_store`, the `delivery.limiter_storage` the sending rate uses):
process memory by default; with Redis every web process counts in the same windows.
Addresses are counted in their stored form (`normalise_address`): `Ann@Bücher.example`
and `ann@xn--bcher-kva.example` are one mailbox, and one limit.

The client IP is the socket peer (`request.client.host`). `dispatch serve` runs uvicorn,
which trusts X-Forwarded-For from the addresses in FORWARDED_ALLOW_IPS (loopback by
default): set it to the proxy's address so that the IP is the reader's (docs/deploy.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dispatch.config import WebSettings
from dispatch.errors import InvalidAddress
from dispatch.subscribers.addresses import normalise_address


def address_key(email: str) -> str:
    """What an address is counted as: its stored form (else, when it is none, as typed)."""
    try:
        return normalise_address(email)
    except InvalidAddress:
        return email.strip().lower()[:320]


@dataclass(frozen=True)
class Refusal:
    """A request over its limit: which limit, and in how many seconds to try again."""

    scope: str  # "ip" | "address"
    limit: str  # e.g. "10 per 1 minute"
    retry_after: int  # seconds, at least 1


class SubscribeLimits:
    """`check_ip(ip)` / `check_address(email)`: None when allowed (and counted), else a Refusal."""

    def __init__(
        self,
        per_ip: str,
        per_address: str,
        *,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage or storage_from_string("memory://")
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_ip: list[RateLimitItem] = parse_many(per_ip)
        self.per_address: list[RateLimitItem] = parse_many(per_address)
        self.clock = clock

    @classmethod
    def from_settings(cls, web: WebSettings, storage: Storage | None = None) -> SubscribeLimits:
        return cls(web.subscribe_rate_per_ip, web.subscribe_rate_per_address, storage=storage)

    def check_ip(self, ip: str) -> Refusal | None:
        return self._check("ip", self.per_ip, ip)

    def check_address(self, email: str) -> Refusal | None:
        # The stored form: the limit is about one mailbox however its address is spelled.
        return self._check("address", self.per_address, address_key(email))

    def _check(self, scope: str, windows: list[RateLimitItem], key: str) -> Refusal | None:
        namespace = f"subscribe-{scope}"
        for window in windows:
            if not self.limiter.test(window, namespace, key):
                return self._refusal(scope, window, namespace, key)
        for window in windows:
            if not self.limiter.hit(window, namespace, key):  # raced another request
                return self._refusal(scope, window, namespace, key)
        return None

    def _refusal(self, scope: str, window: RateLimitItem, namespace: str, key: str) -> Refusal:
        reset = self.limiter.get_window_stats(window, namespace, key).reset_time
        wait = max(1, math.ceil(reset - self.clock()))
        return Refusal(scope, str(window), wait)
