"""Fetching one upstream feed: a conditional GET with httpx, bounded in time and size.

Redirects are followed; the chain is kept so that the caller can tell a permanent move
(301/308 from the stored URL: store the new one) from a temporary one (302/307: follow,
keep the URL). Every failure to get an answer (refused connection, DNS, timeout, a body
too large or too slow) is an `UpstreamError`; an HTTP error status is an answer and is
returned for the caller to judge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise

import httpx

from dispatch import __version__
from dispatch.errors import UpstreamError

MAX_FEED_BYTES = 10_000_000
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


@dataclass(frozen=True)
class Validators:
    """What the last answer said about its version, sent back as a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Fetched:
    """The final answer to one fetch (after redirects)."""

    status: int
    url: str  # the URL that gave the final answer
    moved_to: str | None  # the new permanent URL, when the chain began with 301/308
    validators: Validators
    content_type: str | None
    body: bytes  # only for 200; empty otherwise
    retry_after: str | None  # the Retry-After header as sent, if any


def user_agent(site_url: str) -> str:
    return f"Dispatch/{__version__} (+{site_url})"


@contextmanager
def http_client(
    site_url: str, timeout: float, client: httpx.Client | None
) -> Iterator[httpx.Client]:
    """`client` as given (the caller closes it), or a new one closed on exit."""
    if client is not None:
        yield client
        return
    headers = {"User-Agent": user_agent(site_url), "Accept": ACCEPT}
    with httpx.Client(headers=headers, timeout=timeout) as created:
        yield created


def fetch(client: httpx.Client, url: str, validators: Validators, timeout: float) -> Fetched:
    """GET `url` conditionally; the whole fetch, body included, takes at most ~`timeout` s."""
    deadline = time.monotonic() + timeout
    try:
        with client.stream(
            "GET", url, headers=validators.headers(), timeout=timeout, follow_redirects=True
        ) as response:
            body = _read(response, url, deadline, timeout) if response.status_code == 200 else b""
    except httpx.TimeoutException:
        raise UpstreamError(url, f"no answer within {timeout:g} s (timeout)") from None
    except httpx.TooManyRedirects:
        raise UpstreamError(url, "too many redirects") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise UpstreamError(url, f"cannot fetch: {exc or type(exc).__name__}") from None
    return Fetched(
        status=response.status_code,
        url=str(response.url),
        moved_to=permanent_target(response),
        validators=Validators(response.headers.get("ETag"), response.headers.get("Last-Modified")),
        content_type=response.headers.get("Content-Type"),
        body=body,
        retry_after=response.headers.get("Retry-After"),
    )


def permanent_target(response: httpx.Response) -> str | None:
    """Where the unbroken run of 301/308 at the start of the redirect chain leads."""
    hops = [*response.history, response]
    moved_to = None
    for hop, following in pairwise(hops):
        if hop.status_code not in PERMANENT_REDIRECTS:
            break
        moved_to = str(following.url)
    return moved_to


def _read(response: httpx.Response, url: str, deadline: float, timeout: float) -> bytes:
    """The body, refused when larger than MAX_FEED_BYTES or slower than the deadline."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_FEED_BYTES:
            raise UpstreamError(url, f"the feed is larger than {MAX_FEED_BYTES:,} bytes")
        if time.monotonic() > deadline:
            raise UpstreamError(url, f"the feed took longer than {timeout:g} s to arrive")
        chunks.append(chunk)
    return b"".join(chunks)
