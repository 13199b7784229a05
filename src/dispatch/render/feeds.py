"""Feeds out: RSS 2.0, Atom 1.0 and JSON Feed 1.1, built in memory, byte-stable.

`build_feeds(session, settings)` collects every feed (site, each list, each section
that has published articles) and renders each in the three formats;
`dispatch.publish.publish_feeds()` writes the result under `feeds.public_dir`, which
the web app serves at `/feeds/` (details and permanent ids: `feed_ids`)::

    {base_url}/feeds/rss.xml  atom.xml  feed.json              site
    {base_url}/feeds/lists/{list-slug}/rss.xml  …              one per configured list
    {base_url}/feeds/sections/{section-slug}/rss.xml  …        one per section with articles

Entry ids are `tag:{site.tag_authority}:article:{Article.uid}`; links point to
`{base_url}/articles/{slug}`.

Output rules (from STANDARDS.md "Feeds"):

- No clock: a feed's `updated` / `lastBuildDate` is its newest entry's `updated`.
  An empty feed has Atom `updated` = 1970-01-01T00:00:00+00:00 (Atom requires one)
  and no RSS `lastBuildDate` (optional there). Same data in, same bytes out.
- HTML goes into `type="html"` elements as escaped text (never CDATA); plain text
  (summaries) is HTML-escaped first, because readers treat RSS descriptions as HTML.
- Text is cleaned of XML-forbidden characters and links made absolute in `feed_items`.
- RSS and Atom come from feedgen, its pitfalls handled in `feedgen_ext`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.render.feed_ids import FeedFormat
from dispatch.render.feed_items import FeedData, FeedItem, collect_feeds
from dispatch.render.feed_text import clean
from dispatch.render.feedgen_ext import EXTENSION, new_generator
from dispatch.render.jsonfeed import render_json
from dispatch.store.types import utcnow
from dispatch.urls import Urls

GENERATOR = "Dispatch"  # no version: an upgrade alone must not change every feed


@dataclass(frozen=True)
class FeedFile:
    """One rendered feed file, ready for `publish_feeds`."""

    feed: str  # "site", "list:{slug}", "section:{slug}"
    format: FeedFormat
    path: str  # relative to feeds.public_dir, forward slashes
    url: str  # absolute URL it is served at (rel="self")
    media_type: str
    entries: int
    content: bytes


def build_feeds(
    session: Session, settings: Settings, now: datetime | None = None
) -> list[FeedFile]:
    """Every feed in every format, in a stable order (site, lists, sections), with the
    articles live at `now` (default: the clock)."""
    files = []
    for data in collect_feeds(session, settings, now or utcnow()):
        for fmt in FeedFormat:
            files.append(render_file(settings, data, fmt))
    return files


def render_file(settings: Settings, data: FeedData, fmt: FeedFormat) -> FeedFile:
    renderers = {
        FeedFormat.RSS: render_rss,
        FeedFormat.ATOM: render_atom,
        FeedFormat.JSON: render_json,
    }
    content = renderers[fmt](settings, data)
    return FeedFile(
        feed=data.target.name,
        format=fmt,
        path=data.target.path(fmt),
        url=data.target.url(settings, fmt),
        media_type=fmt.media_type,
        entries=len(data.items),
        content=content,
    )


def render_rss(settings: Settings, data: FeedData) -> bytes:
    generator = _generator(settings, data, FeedFormat.RSS)
    return bytes(generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True))


def render_atom(settings: Settings, data: FeedData) -> bytes:
    generator = _generator(settings, data, FeedFormat.ATOM)
    return bytes(generator.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))


def _generator(settings: Settings, data: FeedData, fmt: FeedFormat) -> FeedGenerator:
    target, site = data.target, settings.site
    generator = new_generator(settings.feeds.hubs, data.updated)
    generator.id(target.id(settings))
    generator.title(clean(target.title))
    generator.description(clean(target.description) or clean(target.title))
    generator.author(name=clean(site.title))  # Atom: a feed author covers every entry
    generator.language(site.language)
    generator.generator(GENERATOR)
    generator.link(href=target.url(settings, fmt), rel="self", type=fmt.media_type)
    if fmt is FeedFormat.ATOM:
        for hub in settings.feeds.hubs:
            generator.link(href=hub, rel="hub")
    home = Urls(site.base_url).home()
    generator.link(href=home, rel="alternate", type="text/html")  # last: RSS <link>
    for item in data.items:
        _entry(generator.add_entry(order="append"), item)
    return generator


def _entry(entry: FeedEntry, item: FeedItem) -> None:
    entry.id(item.id)  # also the RSS guid, isPermaLink="false"
    entry.title(item.title)
    entry.updated(item.updated)
    entry.link(href=item.url, rel="alternate", type="text/html")
    if item.author:
        entry.author(name=item.author)
        entry.dc.dc_creator(item.author)
    for tag in item.tags:
        entry.category(term=tag)
    if item.content_html:
        entry.content(item.content_html, type="html")
    if item.summary:
        entry.summary(html.escape(item.summary, quote=False), type="html")
    if item.image:
        entry.enclosure(item.image, item.image_length, item.image_type)  # RSS: 0 = unknown
    getattr(entry, EXTENSION).configure(item, entry.link())
