"""WebSub publisher pings: tell each hub that a feed changed.

For every changed feed URL and every configured hub (`feeds.hubs`) we POST the form
`hub.mode=publish&hub.url=<feed self URL>` (the de-facto publish request the public
hubs accept; WebSub itself leaves publishing to the hub). A ping is best effort: a
refusal, a timeout or a dead hub is logged and reported, never raised, so a broken
hub cannot stop a feed from being published.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds, per request


@dataclass(frozen=True)
class PingResult:
    hub: str
    url: str
    status: int | None = None  # the hub's HTTP status; None when no answer came
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def ping_hubs(
    hubs: Iterable[str],
    urls: Iterable[str],
    *,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[PingResult]:
    """Ping every hub about every URL; one result per (hub, url), failures included."""
    hubs, urls = list(hubs), list(urls)
    if not hubs or not urls:
        return []
    if client is not None:
        return [ping(client, hub, url) for hub in hubs for url in urls]
    with httpx.Client(timeout=timeout, follow_redirects=False) as own:
        return [ping(own, hub, url) for hub in hubs for url in urls]


def ping(client: httpx.Client, hub: str, url: str) -> PingResult:
    """One publish ping; a 2xx answer is success, anything else is logged."""
    form = {"hub.mode": "publish", "hub.url": url}
    try:
        response = client.post(hub, data=form)
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("WebSub hub %s: ping for %s failed: %s", hub, url, reason)
        return PingResult(hub, url, error=reason)
    if response.is_success:
        return PingResult(hub, url, status=response.status_code)
    reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    log.warning("WebSub hub %s refused the ping for %s: %s", hub, url, reason)
    return PingResult(hub, url, status=response.status_code, error=reason)
