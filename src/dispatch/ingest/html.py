"""HTML sources: fragments as written, whole web pages through trafilatura (with their
figure captions and publication time put back: `page_details`)."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.metadata import extract_metadata

from dispatch.errors import IngestError
from dispatch.fragments import parse_fragment
from dispatch.ingest.document import Extracted
from dispatch.ingest.metadata import is_http_url
from dispatch.ingest.page_details import captions, published_time, with_captions

WHOLE_PAGE = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]", re.IGNORECASE)


def is_whole_page(html: str) -> bool:
    """A saved web page (doctype, <html> or <body>) rather than an article fragment."""
    return WHOLE_PAGE.search(html) is not None


def parse_html(path: Path, html: str, url: str | None) -> Extracted:
    if is_whole_page(html):
        return parse_page(path, html, url)
    title, body = split_leading_h1(html)
    return Extracted(title=title, html=body)


def parse_page(path: Path, html: str, url: str | None) -> Extracted:
    """The main content and metadata of a whole page; navigation, ads and footers go."""
    meta = extract_metadata(html, default_url=url)
    page_url = url or (meta.url if meta.url and is_http_url(meta.url) else None)
    body = trafilatura.extract(
        html,
        url=page_url,
        output_format="html",
        include_comments=False,
        include_tables=True,
        include_images=True,
        include_links=True,
        include_formatting=True,
    )
    if not body:
        raise IngestError(path, "no article text found in the page")
    heading, body = split_leading_h1(_inner_body(body))
    document = lxml.html.document_fromstring(html)
    return Extracted(
        title=meta.title or heading,
        html=with_captions(body, captions(document)),
        author=meta.author,
        date=_precise(meta.date, published_time(document)),
        canonical_url=page_url,
        image=meta.image if meta.image and is_http_url(meta.image) else None,
    )


def _precise(day: str | None, timestamp: str | None) -> str | None:
    """The page's full timestamp when it agrees with trafilatura's date (or there is none)."""
    if timestamp and (not day or timestamp.startswith(day)):
        return timestamp
    return day


def _inner_body(document: str) -> str:
    """trafilatura wraps its HTML output in <html><body>; keep what is inside."""
    root = lxml.html.document_fromstring(document)
    body = root.find("body")
    container = body if body is not None else root
    return _serialise_children(container, skip=0)


def split_leading_h1(html: str) -> tuple[str | None, str]:
    """The text of an <h1> that opens the fragment, and the fragment without it.

    The title is shown above the body everywhere, so an opening <h1> repeating it
    would appear twice; without one, the HTML is returned unchanged.
    """
    if "<h1" not in html.lower():
        return None, html
    root = parse_fragment(html)
    first = root[0] if len(root) else None
    if (root.text or "").strip() or first is None or first.tag != "h1":
        return None, html
    title = " ".join(first.text_content().split()) or None
    return title, _serialise_children(root, skip=1).strip()


def _serialise_children(parent: etree._Element, skip: int) -> str:
    head = "" if skip else (parent.text or "")
    tail = (parent[skip - 1].tail or "") if skip else ""
    parts = [lxml.html.tostring(child, encoding="unicode") for child in parent[skip:]]
    return head + tail + "".join(parts)
