"""WebSub publisher pings: tell each hub that a feed changed, and retry the failures.

For every changed feed URL and every configured hub (`feeds.hubs`) we POST the form
`hub.mode=publish&hub.url=<feed self URL>` (the de-facto publish request the public
hubs accept; WebSub itself leaves publishing to the hub). A ping is best effort: a
refusal, a timeout or a dead hub is logged and reported, never raised, so a broken
hub cannot stop a feed from being published.

A failed ping is not forgotten: `publish.publish_feeds` keeps it as a `PendingPing` in
`PENDING_FILE` under `feeds.public_dir` and tries it again at the next build, whether
or not that feed changed again. It is dropped, with a log line, once the hub accepts
it, after `MAX_ATTEMPTS` failures or `MAX_AGE` after the first one, or when its hub
or feed is no longer configured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds, per request
PENDING_FILE = ".websub-pending.json"
MAX_ATTEMPTS = 10
MAX_AGE = timedelta(days=1)


@dataclass(frozen=True)
class PingResult:
    hub: str
    url: str
    status: int | None = None  # the hub's HTTP status; None when no answer came
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class PendingPing:
    """A ping that failed and waits for the next build."""

    hub: str
    url: str
    attempts: int  # failed attempts so far
    first_failed: datetime
    last_error: str


def ping_hubs(
    hubs: Iterable[str],
    urls: Iterable[str],
    *,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[PingResult]:
    """Ping every hub about every URL; one result per (hub, url), failures included."""
    urls = list(urls)
    return ping_pairs([(hub, url) for hub in hubs for url in urls], client=client, timeout=timeout)


def ping_pairs(
    pairs: Iterable[tuple[str, str]],
    *,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[PingResult]:
    """One result per (hub, url) pair, in order; failures included.

    A hub that cannot be reached (no answer, a timeout) is not tried again in the same
    call: its remaining pairs fail at once with the same reason, so a dead hub costs
    one timeout per build, not one per feed.
    """
    pairs = list(pairs)
    if not pairs:
        return []
    if client is not None:
        return _ping_all(client, pairs)
    with httpx.Client(timeout=timeout, follow_redirects=False) as own:
        return _ping_all(own, pairs)


def _ping_all(client: httpx.Client, pairs: list[tuple[str, str]]) -> list[PingResult]:
    unreachable: dict[str, str] = {}
    results = []
    for hub, url in pairs:
        if hub in unreachable:
            results.append(PingResult(hub, url, error=f"not tried: {unreachable[hub]}"))
            continue
        result = ping(client, hub, url)
        if result.status is None:
            unreachable[hub] = result.error or "no answer"
        results.append(result)
    return results


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


def still_wanted(
    pending: Iterable[PendingPing], hubs: Iterable[str], urls: Iterable[str]
) -> list[PendingPing]:
    """The pending pings whose hub is still configured and whose feed still exists."""
    hubs, urls = set(hubs), set(urls)
    kept = []
    for item in pending:
        if item.hub in hubs and item.url in urls:
            kept.append(item)
        else:
            log.warning(
                "WebSub: dropping the pending ping of %s for %s: %s",
                item.hub,
                item.url,
                "hub no longer configured" if item.hub not in hubs else "feed no longer exists",
            )
    return kept


def still_failing(
    previous: Iterable[PendingPing], results: Iterable[PingResult], now: datetime
) -> list[PendingPing]:
    """Pings to try again next time: this round's failures, minus those given up on."""
    before = {(item.hub, item.url): item for item in previous}
    pending = []
    for result in results:
        earlier = before.get((result.hub, result.url))
        if result.ok:
            if earlier is not None:
                log.info("WebSub hub %s accepted the retried ping for %s", result.hub, result.url)
            continue
        attempts = (earlier.attempts if earlier else 0) + 1
        first = earlier.first_failed if earlier else now
        if attempts >= MAX_ATTEMPTS or now - first >= MAX_AGE:
            log.error(
                "WebSub hub %s: giving up on the ping for %s after %d attempts since %s: %s",
                *(result.hub, result.url, attempts, first.isoformat(), result.error),
            )
            continue
        error = result.error or ""
        pending.append(PendingPing(result.hub, result.url, attempts, first, error))
    return sorted(pending, key=lambda item: (item.hub, item.url))


def pending_to_json(pending: Iterable[PendingPing]) -> bytes:
    rows = [
        {
            "hub": item.hub,
            "url": item.url,
            "attempts": item.attempts,
            "first_failed": item.first_failed.isoformat(),
            "last_error": item.last_error,
        }
        for item in pending
    ]
    return (json.dumps({"pending": rows}, ensure_ascii=False, indent=2) + "\n").encode()


def pending_from_json(content: bytes, where: str) -> list[PendingPing]:
    """The pending pings stored in `content`; [] (logged) when it cannot be read."""
    try:
        rows = json.loads(content)["pending"]
        pending = [
            PendingPing(
                hub=str(row["hub"]),
                url=str(row["url"]),
                attempts=int(row["attempts"]),
                first_failed=datetime.fromisoformat(row["first_failed"]),
                last_error=str(row.get("last_error", "")),
            )
            for row in rows
        ]
        if any(item.first_failed.tzinfo is None for item in pending):
            raise ValueError("first_failed without a time zone")
        return pending
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("WebSub: %s is unreadable, forgetting its pending pings: %s", where, exc)
        return []
