"""An upstream feed's bytes → its distinct entries, and whether the document was damaged.

RSS and Atom go through feedparser; JSON Feed 1.0/1.1 (served as `application/feed+json`
or `application/json`, or any body that starts with `{`) is read here. A repeated
identity in one document keeps its first occurrence only.

feedparser recovers from malformed XML (a feed cut off mid-item and served with 200)
and says so with its `bozo` flag: such a feed is `degraded`, with the parser's
message, and `upstream` then refuses to let any of its entries shorten an article.
Two bozo reasons are about the HTTP headers, not the document (a charset the body
overrides, a text/plain content type) and do not degrade it.

Entries whose only text is a `media:description` (YouTube's feeds) are marked so that
their text is read as text, line breaks and angle brackets included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from dispatch.errors import UpstreamError
from dispatch.ingest.metadata import is_http_url
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.text import html_to_text, trim
from dispatch.ingest.upstream_entries import FeedEntry, paragraphs, to_entry

HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")
MRSS = "http://search.yahoo.com/mrss/"
ATOM = "http://www.w3.org/2005/Atom"
JSON_TYPES = ("application/feed+json", "application/json")
TEXT_ELEMENTS = frozenset(
    {
        f"{{{ATOM}}}content",
        f"{{{ATOM}}}summary",
        "description",
        "{http://purl.org/rss/1.0/modules/content/}encoded",
    }
)


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    degraded: str | None = None  # the parser's message when it had to recover


def parse_feed(body: bytes, content_type: str | None, url: str) -> list[FeedEntry]:
    """The distinct entries of the feed at `url`; UpstreamError when it is not a feed."""
    return read_feed(body, content_type, url).entries


def read_feed(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    if _is_json(body, content_type):
        return ParsedFeed(_distinct(_json_entries(body, url)))
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(
        body, response_headers=headers, resolve_relative_uris=False, sanitize_html=False
    )
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON Feed document found"
        served = f" (served as {content_type})" if content_type else ""
        raise UpstreamError(url, f"not an RSS, Atom or JSON feed{served}: {reason}")
    plain = _plain_text_entries(body)
    entries = [to_entry(raw, url, _ident(raw) in plain) for raw in parsed.entries]
    return ParsedFeed(_distinct(entries), _degraded(parsed))


def _degraded(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    problem = parsed.get("bozo_exception")
    if type(problem).__name__ in HARMLESS_BOZO:
        return None
    return f"malformed feed, read as far as possible: {problem}"


def _distinct(entries: list[FeedEntry | None]) -> list[FeedEntry]:
    found: dict[str, FeedEntry] = {}
    for entry in entries:
        if entry is not None and entry.ident not in found:
            found[entry.ident] = entry
    return list(found.values())


def _ident(raw: Any) -> str:
    return (raw.get("id") or "").strip() or (raw.get("link") or "").strip()


def _plain_text_entries(body: bytes) -> set[str]:
    """Ids (and links) of entries whose only text is a media:description."""
    try:
        root = etree.fromstring(body, etree.XMLParser(recover=True, resolve_entities=False))
    except etree.XMLSyntaxError:
        return set()
    if root is None:
        return set()
    found: set[str] = set()
    for entry in root.iter(f"{{{ATOM}}}entry", "item"):
        names = {child.tag for child in entry.iter() if isinstance(child.tag, str)}
        if f"{{{MRSS}}}description" in names and not names & TEXT_ELEMENTS:
            for tag in (f"{{{ATOM}}}id", "guid", f"{{{ATOM}}}link", "link"):
                element = entry.find(tag)
                if element is not None:
                    found.add((element.text or element.get("href") or "").strip())
    return found


def _is_json(body: bytes, content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in JSON_TYPES or body.lstrip()[:1] == b"{"


def _json_entries(body: bytes, url: str) -> list[FeedEntry | None]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise UpstreamError(url, f"not a JSON Feed: {exc}") from None
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise UpstreamError(url, "not a JSON Feed: no jsonfeed.org version")
    items = document.get("items")
    if not isinstance(items, list):
        raise UpstreamError(url, "not a JSON Feed: no items list")
    return [_json_entry(item, url) for item in items if isinstance(item, dict)]


def _json_entry(item: dict[str, Any], feed_url: str) -> FeedEntry | None:
    link = urljoin(feed_url, _text(item.get("url"))) if item.get("url") else None
    ident = _text(item.get("id")) or link
    if not ident:
        return None
    base = link or feed_url
    if item.get("content_html"):
        body = sanitize_html(_text(item["content_html"]), base)
    else:
        body = sanitize_html(
            paragraphs(_text(item.get("content_text") or item.get("summary"))), base
        )
    image = _text(item.get("image") or item.get("banner_image"))
    title = " ".join(_text(item.get("title")).split()) or trim(
        " ".join(html_to_text(body).split()), 80
    )
    return FeedEntry(
        ident=ident,
        link=link,
        title=title or ident,
        html=body,
        author=_author(item),
        tags=tuple(t.strip() for t in item.get("tags") or [] if isinstance(t, str) and t.strip()),
        image=urljoin(base, image) if image and is_http_url(urljoin(base, image)) else None,
        date=_date(item.get("date_published") or item.get("date_modified")),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
    return " ".join(str(names[0]).split()) if names else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
