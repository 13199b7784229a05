"""One feedparser entry → a `FeedEntry` (the whole feed is read in `upstream_read`).

feedparser handles the RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 variants, CDATA, entities,
content:encoded and xml:base; its own URI resolution and sanitising are off because
ours differ: relative links in an entry's content resolve against the xml:base in
effect when the feed declares one, else against the entry's own link (the page the
content was written for), and the HTML then passes our one sanitiser (nh3).

An entry's identity is its guid/id, else its link; entries with neither are skipped,
and a repeated identity in one document keeps its first occurrence only.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from dispatch.ingest.document import Extracted
from dispatch.ingest.metadata import FrontMatter, is_http_url
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.source import Source
from dispatch.ingest.text import html_to_text, trim

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TITLE_CHARS = 200
AVATAR_HOSTS = frozenset(
    {
        "avatars.githubusercontent.com",
        "gravatar.com",
        "www.gravatar.com",
        "secure.gravatar.com",
        "0.gravatar.com",
        "1.gravatar.com",
        "2.gravatar.com",
    }
)
MIN_LEAD_PIXELS = 200  # a declared width or height under this is an icon, not a picture


@dataclass(frozen=True)
class FeedEntry:
    """One entry, normalised: absolute link, plain-text title, sanitised HTML body."""

    ident: str  # guid/id, else link: unique within the feed
    link: str | None
    title: str
    html: str
    author: str | None
    tags: tuple[str, ...]
    image: str | None
    date: datetime | None  # published, else updated; None when the feed gives neither


def to_entry(raw: Any, feed_url: str, plain_summary: bool = False) -> FeedEntry | None:
    """`plain_summary`: the entry's only text is a `media:description` (YouTube), which is
    plain text even though feedparser labels it HTML: its line breaks are kept."""
    link = _link(raw, feed_url)
    ident = (raw.get("id") or "").strip() or link
    if not ident:
        return None
    body = _body(raw, feed_url, link, plain_summary)
    return FeedEntry(
        ident=ident,
        link=link,
        title=_title(raw, body, link or ident),
        html=body,
        author=_author(raw),
        tags=tuple(t["term"].strip() for t in raw.get("tags", []) if (t.get("term") or "").strip()),
        image=_image(raw, link or feed_url),
        date=_date(raw.get("published_parsed") or raw.get("updated_parsed")),
    )


def _link(raw: Any, feed_url: str) -> str | None:
    href = (raw.get("link") or "").strip()
    return urljoin(feed_url, href) if href else None


def _body(raw: Any, feed_url: str, link: str | None, plain_summary: bool = False) -> str:
    """Full content, else the summary, else a link to the original; sanitised, absolute."""
    details = [
        *raw.get("content", []),
        *([raw["summary_detail"]] if "summary_detail" in raw else []),
    ]
    for detail in details:
        value = (detail.get("value") or "").strip()
        if not value:
            continue
        base = urljoin(feed_url, detail["base"]) if detail.get("base") else (link or feed_url)
        is_html = detail.get("type") in HTML_TYPES and not plain_summary
        fragment = value if is_html else paragraphs(value)
        cleaned = sanitize_html(fragment, base)
        if html_to_text(cleaned).strip() or "<img" in cleaned:
            return cleaned
    if link is None:
        return ""
    return sanitize_html(f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>', link)


def paragraphs(text: str) -> str:
    """Plain text as HTML: blank lines part paragraphs, single line breaks stay breaks."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        "<p>" + html.escape(block).replace("\n", "<br>\n") + "</p>" for block in blocks if block
    )


def _title(raw: Any, body: str, fallback: str) -> str:
    """Plain text: HTML titles are reduced to their text; an untitled entry gets its opening."""
    title = raw.get("title") or ""
    if raw.get("title_detail", {}).get("type") in HTML_TYPES and title.strip():
        title = _text_of(title)
    title = "".join(ch for ch in title if unicodedata.category(ch) != "Cc" or ch.isspace())
    title = " ".join(title.split())
    if title:
        return title
    opening = " ".join(html_to_text(body).split())
    return trim(opening, 80) if opening else fallback


def _text_of(fragment: str) -> str:
    try:
        return lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()
    except (etree.ParserError, ValueError):
        return fragment


def _author(raw: Any) -> str | None:
    """The author's name; entities left encoded inside CDATA (a common slip) are decoded."""
    name = html.unescape(raw.get("author_detail", {}).get("name") or raw.get("author") or "")
    return " ".join(name.split())[:TITLE_CHARS] or None


def _image(raw: Any, base: str) -> str | None:
    """A thumbnail or image enclosure big enough to lead with, as an absolute http(s) URL
    (an author's avatar, such as GitHub's 30 px one, is not a lead image)."""
    candidates = list(raw.get("media_thumbnail", []))
    candidates += [m for m in raw.get("media_content", []) if m.get("medium") == "image"]
    candidates += [
        {"url": e.get("href"), "width": e.get("width"), "height": e.get("height")}
        for e in raw.get("enclosures", [])
        if (e.get("type") or "").startswith("image/")
    ]
    for candidate in candidates:
        url = (candidate.get("url") or "").strip()
        absolute = urljoin(base, url)
        if url and is_http_url(absolute) and not is_avatar(absolute, candidate):
            return absolute
    return None


def is_avatar(url: str, sizes: Any) -> bool:
    """A known avatar host, or an image declared smaller than a lead image can be."""
    if urlsplit(url).hostname in AVATAR_HOSTS:
        return True
    for name in ("width", "height"):
        value = str(sizes.get(name) or "").strip()
        if value.isdigit() and int(value) < MIN_LEAD_PIXELS:
            return True
    return False


def _date(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time → an aware datetime (None if absent or impossible)."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def as_source(entry: FeedEntry, section: str, date: datetime | None) -> Source:
    """The entry as an importable `Source` of `section`, dated `date`."""
    canonical = entry.link if entry.link and is_http_url(entry.link) else None
    meta = FrontMatter(
        title=entry.title,
        author=entry.author,
        date=date,
        section=section,
        tags=list(entry.tags),
        image=entry.image,
        canonical_url=canonical,
    )
    return Source(path=Path(entry.ident), meta=meta, extracted=Extracted(entry.title, entry.html))
