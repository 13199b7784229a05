"""What trafilatura drops from a whole web page and readers miss: figure captions and
the publication time of day.

trafilatura keeps a figure's `<img>` but not its `<figcaption>`, and reports the date
without its time (`2026-11-15` for a story published at 09:42). `captions()` reads
each figure's caption from the page so that `with_captions()` can put it back under
the same image in the extracted body; `published_time()` reads the full timestamp from
the page's metadata (`article:published_time`, JSON-LD `datePublished`, a `<time
datetime>` with a time) when one exists.
"""

from __future__ import annotations

import json
import re
from html import escape

import lxml.html
from lxml import etree

from dispatch.fragments import inner_html, parse_fragment

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
META_NAMES = ("article:published_time", "og:published_time", "datePublished", "pubdate")


def captions(document: etree._Element) -> dict[str, str]:
    """Image URL → its figure's caption text, for every captioned figure of the page."""
    found: dict[str, str] = {}
    for figure in document.iter("figure"):
        caption = figure.find(".//figcaption")
        text = " ".join(caption.text_content().split()) if caption is not None else ""
        if not text:
            continue
        for image in figure.iter("img"):
            src = (image.get("src") or "").strip()
            if src:
                found.setdefault(src, text)
    return found


def with_captions(html: str, found: dict[str, str]) -> str:
    """`html` with each captioned image wrapped in a figure with its caption again."""
    if not found or "<img" not in html:
        return html
    root = parse_fragment(html)
    for image in list(root.iter("img")):
        text = found.get((image.get("src") or "").strip())
        parent = image.getparent()
        if text is None or parent is None or parent.tag == "figure":
            continue
        figure = lxml.html.fragment_fromstring(
            f"<figure><figcaption>{escape(text)}</figcaption></figure>"
        )
        figure.tail, image.tail = image.tail, None
        parent.replace(image, figure)
        figure.insert(0, image)
    return inner_html(root)


def published_time(document: etree._Element) -> str | None:
    """The page's publication timestamp with its time of day, if the page gives one."""
    for candidate in (*_meta(document), *_json_ld(document), *_time_elements(document)):
        value = candidate.strip()
        if TIMESTAMP.match(value):
            return value
    return None


def _meta(document: etree._Element) -> list[str]:
    values = []
    for meta in document.iter("meta"):
        name = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        if name in META_NAMES:
            values.append(meta.get("content") or "")
    return values


def _json_ld(document: etree._Element) -> list[str]:
    values = []
    for script in document.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get("datePublished"), str):
                values.append(item["datePublished"])
    return values


def _time_elements(document: etree._Element) -> list[str]:
    return [element.get("datetime") or "" for element in document.iter("time")]
