"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), served as `application/feed+json`.

feedgen does not write JSON Feed, and the format is plain JSON: a dict per the spec,
serialised with a fixed key order, UTF-8 (no `\\u` escapes for non-ASCII), two-space
indent and a final newline, so the same data always gives the same bytes.

Items carry `content_html` (full-text feeds) or `content_text` (summary-only feeds),
`summary`, `image`, `date_published` / `date_modified` (RFC 3339), `authors`, `tags`.
The feed lists its WebSub hubs under `hubs`.
"""

from __future__ import annotations

import json
from typing import Any

from dispatch.config import Settings
from dispatch.render.feed_ids import FeedFormat
from dispatch.render.feed_items import FeedData, FeedItem
from dispatch.render.feed_text import clean
from dispatch.urls import Urls

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(settings: Settings, data: FeedData) -> bytes:
    document = json_feed(settings, data)
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def json_feed(settings: Settings, data: FeedData) -> dict[str, Any]:
    """The feed as a JSON-ready dict, keys in the order the spec lists them."""
    target = data.target
    document: dict[str, Any] = {
        "version": VERSION,
        "title": clean(target.title),
        "home_page_url": Urls(settings.site.base_url).home(),
        "feed_url": target.url(settings, FeedFormat.JSON),
        "description": clean(target.description),
        "authors": [{"name": clean(settings.site.title)}],
        "language": settings.site.language,
    }
    if settings.feeds.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in settings.feeds.hubs]
    document["items"] = [_item(item) for item in data.items]
    return document


def _item(item: FeedItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": item.id, "url": item.url, "title": item.title}
    if item.content_html:
        entry["content_html"] = item.content_html
    else:
        entry["content_text"] = item.summary
    if item.summary:
        entry["summary"] = item.summary
    if item.image:
        entry["image"] = item.image
    entry["date_published"] = item.published.isoformat()
    entry["date_modified"] = item.updated.isoformat()
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.tags:
        entry["tags"] = list(item.tags)
    return entry
