"""feedgen 1.0.0, with its pitfalls worked around through its own extension hooks.

What feedgen gets wrong and what this module does about it:

- It formats RSS dates with `formatRFC2822`, which calls `locale.setlocale` (process-wide,
  not thread-safe). We never hand feedgen an RSS date: `pubDate` and `lastBuildDate`
  are written here with `email.utils.format_datetime(usegmt=True)` (English names,
  `GMT`, 4-digit year). `updated()` also sets the channel's `lastBuildDate` (and the
  constructor defaults it to now()): `new_generator()` clears it after setting
  `updated` (a private attribute: feedgen has no public way to omit it).
- Its feed and entry `updated` default to now(): callers always set them.
- It drops `rel`, `type` and `length` from Atom entry links (1.0.0 reuses the loop
  variable; upstream issue lkiesow/python-feedgen#135, a one-line fix that belongs
  upstream). `EntryFixes` puts back the attributes of the links feedgen was given, in
  order (an unknown length, "0", is left out in Atom; RSS requires it and keeps it).
  Atom `published` is written here too, so feedgen never sees an RSS `pubDate`.
- In RSS it writes only `atom:link rel="self"`; the `rel="hub"` links are added here.
- The RSS channel `<link>` is the last `link()` call: callers add `rel="self"` and the
  hubs first and `rel="alternate"` last.

Element names: feedgen builds Atom elements without a namespace and writes the Atom
namespace as a plain `xmlns` attribute, so Atom elements added here have none either.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from dispatch.render.feed_items import EPOCH, FeedItem

ATOM_NS = "http://www.w3.org/2005/Atom"
_LINK_ATTRIBUTES = ("rel", "type", "hreflang", "title", "length")
EXTENSION = "dispatch"


def new_generator(hubs: tuple[str, ...], updated: datetime | None) -> FeedGenerator:
    """A FeedGenerator with the Dispatch fixes registered and no clock in its output.

    `updated` is the feed's Atom `updated` and RSS `lastBuildDate`; None (an empty
    feed) gives Atom `EPOCH` and no `lastBuildDate`.
    """
    generator = FeedGenerator()
    generator.register_extension(EXTENSION, FeedFixes, EntryFixes)
    generator.load_extension("dc", atom=False, rss=True)  # RSS <dc:creator> for authors
    getattr(generator, EXTENSION).configure(hubs, updated)
    generator.updated(updated or EPOCH)  # sets Atom updated and RSS lastBuildDate …
    # … and feedgen would format the latter with locale.setlocale: we write it ourselves.
    generator._FeedGenerator__rss_lastBuildDate = None  # type: ignore[attr-defined]
    return generator


def rfc822(moment: datetime) -> str:
    """`Fri, 02 Jan 2026 07:00:00 GMT`, whatever the process locale."""
    return format_datetime(moment, usegmt=True)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat()


class FeedFixes(BaseExtension):  # type: ignore[misc]
    """Channel-level: WebSub hub links and lastBuildDate in RSS."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()
        self.last_build: datetime | None = None

    def configure(self, hubs: tuple[str, ...], last_build: datetime | None) -> None:
        self.hubs = hubs
        self.last_build = last_build

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        assert channel is not None, "feedgen writes <channel> before extensions run"
        for hub in self.hubs:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        if self.last_build is not None:
            etree.SubElement(channel, "lastBuildDate").text = rfc822(self.last_build)
        return feed


class EntryFixes(BaseEntryExtension):  # type: ignore[misc]
    """Entry-level: pubDate (RSS); published and the attributes of links (Atom)."""

    def __init__(self) -> None:
        self.item: FeedItem | None = None
        self.links: list[dict[str, str]] = []

    def configure(self, item: FeedItem, links: list[dict[str, str]] | None) -> None:
        """Call last, with `entry.link()`: the links feedgen will write without attributes."""
        self.item = item
        self.links = list(links or [])

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        item = self._item()
        etree.SubElement(entry, "pubDate").text = rfc822(item.published)
        return entry

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        item = self._item()
        written = entry.findall("link")
        assert len(written) == len(self.links), "feedgen writes one <link> per link() dict"
        for element, given in zip(written, self.links, strict=True):
            for name in _LINK_ATTRIBUTES:
                value = given.get(name)
                if value and not (name == "length" and value == "0"):
                    element.set(name, value)
        etree.SubElement(entry, "published").text = rfc3339(item.published)
        return entry

    def _item(self) -> FeedItem:
        assert self.item is not None, "EntryFixes.configure() is called for every entry"
        return self.item
