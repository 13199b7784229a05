"""`GET|HEAD /feeds/{path}`: the published feed files, with conditional GET and gzip.

Every answer carries `ETag`, `Last-Modified`, `Cache-Control: public, max-age=300`,
`Vary: Accept-Encoding` and, when `feeds.hubs` is set, WebSub `Link` headers
(`<hub>; rel="hub"` for each hub, `<self URL>; rel="self"`).

Conditional requests follow RFC 9110 §13.2.2: `If-None-Match` is evaluated first
(weak comparison, `*` matches) and, when it is present, `If-Modified-Since` is
ignored; a match answers `304` with no body. The 304 path never touches the database
and never reads the file: one `os.stat` and an in-memory lookup (`feed_cache`).

A missing file, a path outside `feeds.public_dir`, a dotfile or anything that is not
a feed file (`rss.xml`, `atom.xml`, `feed.json`) is a 404.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from dispatch.config import Settings
from dispatch.render.feed_ids import FEEDS_PATH
from dispatch.web.feed_cache import CachedFeed, FeedCache, safe_relative

CACHE_CONTROL = "public, max-age=300"
ENTITY_TAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')

router = APIRouter()


async def serve_feed(request: Request) -> Response:
    path: str = request.path_params["path"]
    parts = safe_relative(path)
    if parts is None:
        raise HTTPException(status_code=404, detail=f"no feed at /{FEEDS_PATH}/{path}")
    cache = feed_cache(request)
    entry, version = cache.lookup(parts)
    if entry is None and version is not None:
        entry = await run_in_threadpool(cache.load, parts)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"no feed at /{FEEDS_PATH}/{path}")
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    headers = response_headers(request.app.state.settings, path, entry, gzipped)
    if not_modified(request, entry):
        return Response(status_code=304, headers=headers)
    body = entry.gzipped if gzipped else entry.content
    headers["content-length"] = str(len(body))
    if request.method == "HEAD":
        body = b""
    return Response(body, headers=headers)


router.add_route(f"/{FEEDS_PATH}/{{path:path}}", serve_feed, methods=["GET"], name="feed")


def feed_cache(request: Request) -> FeedCache:
    """The app's feed cache, made at first use (on the event loop: no race)."""
    cache: FeedCache | None = getattr(request.app.state, "feed_cache", None)
    if cache is None:
        settings: Settings = request.app.state.settings
        cache = request.app.state.feed_cache = FeedCache(settings.feeds.public_dir)
    return cache


def response_headers(
    settings: Settings, path: str, entry: CachedFeed, gzipped: bool
) -> dict[str, str]:
    headers = {
        "content-type": entry.content_type,
        "etag": entry.etag_gzip if gzipped else entry.etag,
        "last-modified": entry.last_modified,
        "cache-control": CACHE_CONTROL,
        "vary": "Accept-Encoding",
    }
    if gzipped:
        headers["content-encoding"] = "gzip"
    if settings.feeds.hubs:
        headers["link"] = websub_links(settings, path)
    return headers


def websub_links(settings: Settings, path: str) -> str:
    links = [f'<{hub}>; rel="hub"' for hub in settings.feeds.hubs]
    links.append(f'<{settings.site.base_url}/{FEEDS_PATH}/{path}>; rel="self"')
    return ", ".join(links)


def not_modified(request: Request, entry: CachedFeed) -> bool:
    """True when the client's validators match (If-None-Match wins over If-Modified-Since)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, (entry.etag, entry.etag_gzip))
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    if moment.tzinfo is None:
        return False  # not an HTTP-date (those are always GMT)
    return entry.modified_at <= moment.timestamp()


def etag_matches(header: str, current: tuple[str, ...]) -> bool:
    """Weak comparison of an If-None-Match list against the current tags."""
    if header.strip() == "*":
        return True
    return any(tag in current for tag in ENTITY_TAG.findall(header))


def accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding allows gzip (`gzip`, `x-gzip` or `*` with q > 0)."""
    wildcard: bool | None = None
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        allowed = _quality(params) > 0
        if coding != "*":
            return allowed
        wildcard = allowed
    return bool(wildcard)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0
