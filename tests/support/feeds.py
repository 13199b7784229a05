"""Feed test helpers: an article factory, a loopback WebSub hub, and checkers that
assert the STANDARDS.md "Feeds" rules on RSS, Atom and JSON Feed output."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import lxml.html
from lxml import etree
from sqlalchemy.orm import Session

from dispatch.store.models import Article, ArticleStatus

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (GMT|\+0000)$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def at(day: int, hour: int = 7) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def add_article(session: Session, slug: str, published: datetime | None, **fields: Any) -> Article:
    """A published article (unless `status` says otherwise) with sensible defaults."""
    values: dict[str, Any] = {
        "title": f"Title of {slug}",
        "summary": f"Summary of {slug}.",
        "body_html": f"<p>Body of {slug}.</p>",
        "body_text": f"Body of {slug}.",
        "author": "Ada Writer",
        "section": "world",
        "tags": ["news"],
        "status": ArticleStatus.PUBLISHED,
        "updated_at": published or at(1),
        "source": "test",
        "source_id": slug,
        "content_hash": slug,
    }
    values.update(fields)
    article = Article(slug=slug, published_at=published, **values)
    session.add(article)
    session.flush()
    return article


# --- checkers --------------------------------------------------------------------------


def assert_absolute_links(fragment: str) -> None:
    """No relative href/src/srcset inside HTML content."""
    if not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for _element, attribute, link, _pos in root.iterlinks():
        parts = urlsplit(link)
        assert parts.scheme, f"relative {attribute}={link!r} in content"
        if parts.scheme in ("http", "https"):
            assert parts.netloc, f"host-less {attribute}={link!r} in content"
    for element in root.iter("img", "source"):
        for candidate in (element.get("srcset") or "").split(","):
            url = candidate.strip().split(" ")[0]
            assert not url or urlsplit(url).netloc, f"relative srcset {url!r}"


def assert_feedparser_reads(content: bytes) -> Any:
    parsed = feedparser.parse(content)
    assert not parsed.bozo, f"feedparser: {parsed.get('bozo_exception')!r}"
    return parsed


def _no_forbidden(content: bytes) -> None:
    assert not XML_FORBIDDEN.search(content.decode("utf-8")), "XML-forbidden character"
    assert b"<![CDATA[" not in content, "CDATA in feed"


def assert_valid_rss(content: bytes, self_url: str, hubs: int = 0) -> etree._Element:
    _no_forbidden(content)
    root = etree.fromstring(content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert len(channel.findall(name)) == 1 and channel.findtext(name), f"channel {name}"
    links = channel.findall(f"{ATOM}link")
    selves = [x for x in links if x.get("rel") == "self"]
    assert len(selves) == 1 and selves[0].get("type") == "application/rss+xml"
    assert selves[0].get("href") == self_url
    assert len([x for x in links if x.get("rel") == "hub"]) == hubs
    for date in channel.iter("pubDate", "lastBuildDate"):
        assert RFC822.match(date.text or ""), f"RFC 822 date: {date.text!r}"
        assert parsedate_to_datetime(date.text).tzinfo is not None
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description"), "item without text"
        for guid in item.findall("guid"):
            absolute = bool(urlsplit(guid.text or "").netloc)
            assert absolute or guid.get("isPermaLink") == "false", f"guid {guid.text!r}"
        for html_element in (*item.findall("description"), *item.findall(CONTENT)):
            assert len(html_element) == 0, "HTML in RSS must be escaped text"
            assert_absolute_links(html_element.text or "")
        for enclosure in item.findall("enclosure"):
            assert enclosure.get("url") and enclosure.get("length") and enclosure.get("type")
    assert_feedparser_reads(content)
    return root


def assert_valid_atom(content: bytes, self_url: str, hubs: int = 0) -> etree._Element:
    _no_forbidden(content)
    root = etree.fromstring(content)
    assert root.tag == f"{ATOM}feed"
    _assert_atom_common(root)
    selves = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "self"]
    assert len(selves) == 1 and selves[0].get("href") == self_url
    assert len([x for x in root.findall(f"{ATOM}link") if x.get("rel") == "hub"]) == hubs
    entries = root.findall(f"{ATOM}entry")
    if root.find(f"{ATOM}author") is None:
        assert all(e.find(f"{ATOM}author") is not None for e in entries), "author missing"
    for entry in entries:
        _assert_atom_common(entry)
        links = entry.findall(f"{ATOM}link")
        alternates = [x for x in links if x.get("rel", "alternate") == "alternate"]
        kinds = [(x.get("type"), x.get("hreflang")) for x in alternates]
        assert len(kinds) == len(set(kinds)), "two alternate links of one type"
        if entry.find(f"{ATOM}content") is None:
            assert alternates, "entry without content needs rel=alternate"
    for element in root.iter(f"{ATOM}content", f"{ATOM}summary", f"{ATOM}title"):
        assert element.get("type") in (None, "text", "html"), element.get("type")
        if element.get("type") == "html":
            assert len(element) == 0, "type=html must be escaped text"
            assert_absolute_links(element.text or "")
    assert_feedparser_reads(content)
    return root


def _assert_atom_common(element: etree._Element) -> None:
    for name in ("id", "title", "updated"):
        assert len(element.findall(f"{ATOM}{name}")) == 1, f"exactly one {name}"
    for name in ("updated", "published"):
        for date in element.findall(f"{ATOM}{name}"):
            assert RFC3339.match(date.text or ""), f"RFC 3339 date: {date.text!r}"


def assert_valid_json_feed(content: bytes, self_url: str) -> dict[str, Any]:
    _no_forbidden(content)
    document = json.loads(content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    assert document["feed_url"] == self_url
    assert isinstance(document["items"], list)
    for hub in document.get("hubs", []):
        assert set(hub) == {"type", "url"}
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        contents = [item.get("content_html"), item.get("content_text")]
        assert any(isinstance(c, str) for c in contents), "item without content"
        assert_absolute_links(item.get("content_html") or "")
        for name in ("date_published", "date_modified"):
            if name in item:
                assert RFC3339.match(item[name]), f"RFC 3339 date: {item[name]!r}"
    return document


# --- a WebSub hub on loopback ------------------------------------------------------------


@dataclass
class Hub:
    url: str
    status: int = 204
    delay: float = 0.0
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)


@contextmanager
def hub_server() -> Iterator[Hub]:
    """A real HTTP server on 127.0.0.1 recording publish pings (form bodies)."""
    hub = Hub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hub.content_types.append(self.headers.get("Content-Type", ""))
            hub.pings.append(parse_qs(body.decode("ascii"), strict_parsing=True))
            time.sleep(hub.delay)
            self.send_response(hub.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}/hub"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
