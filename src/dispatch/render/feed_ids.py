"""Where each feed lives and what it is called, forever.

URL layout (the web app serves `settings.feeds.public_dir` at `/feeds/`; the files sit
at the same relative paths under `public_dir`)::

    {base_url}/feeds/rss.xml | atom.xml | feed.json                   the whole site
    {base_url}/feeds/lists/{list-slug}/rss.xml | atom.xml | feed.json  one mailing list
    {base_url}/feeds/sections/{section-slug}/rss.xml | …               one section

Permanent ids are tag: URIs (RFC 4151) under `site.tag_authority`, derived from
`Article.uid`, never from a slug, a title or the host, so they survive edits and a
move to another domain::

    tag:{authority}:article:{uid}            an entry (RSS guid, isPermaLink="false")
    tag:{authority}:feed:site                the site feed
    tag:{authority}:feed:list:{slug}         a list feed
    tag:{authority}:feed:section:{slug}      a section feed (the section name's slug)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from slugify import slugify

from dispatch.config import Settings

FEEDS_PATH = "feeds"


class FeedFormat(StrEnum):
    RSS = "rss"
    ATOM = "atom"
    JSON = "json"

    @property
    def filename(self) -> str:
        return _FILENAMES[self]

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_FILENAMES = {FeedFormat.RSS: "rss.xml", FeedFormat.ATOM: "atom.xml", FeedFormat.JSON: "feed.json"}
_MEDIA_TYPES = {
    FeedFormat.RSS: "application/rss+xml",
    FeedFormat.ATOM: "application/atom+xml",
    FeedFormat.JSON: "application/feed+json",
}
FEED_FILENAMES = frozenset(_FILENAMES.values())
# Folders under public_dir that hold one sub-folder per list or section feed.
GROUP_FOLDERS = ("lists", "sections")


@dataclass(frozen=True)
class FeedTarget:
    """One feed to build: its identity, where it lives and which sections it carries."""

    name: str  # "site", "list:{slug}" or "section:{slug}"
    folder: str  # relative to public_dir: "", "lists/{slug}" or "sections/{slug}"
    title: str
    description: str
    # Section slugs whose articles the feed carries; None means every section.
    sections: frozenset[str] | None

    def path(self, fmt: FeedFormat) -> str:
        """The file's path relative to public_dir, with forward slashes."""
        return f"{self.folder}/{fmt.filename}" if self.folder else fmt.filename

    def url(self, settings: Settings, fmt: FeedFormat) -> str:
        """The absolute URL the file is served at (its rel="self" link)."""
        return f"{settings.site.base_url}/{FEEDS_PATH}/{self.path(fmt)}"

    def id(self, settings: Settings) -> str:
        return f"tag:{settings.site.tag_authority}:feed:{self.name}"


def entry_id(settings: Settings, uid: str) -> str:
    """The permanent id of an article in every feed (Atom id, RSS guid, JSON Feed id)."""
    return f"tag:{settings.site.tag_authority}:article:{uid}"


def section_slug(name: str | None) -> str:
    """The URL slug of a section name ("" for none)."""
    return slugify(name or "")


def site_target(settings: Settings) -> FeedTarget:
    title = settings.site.title
    return FeedTarget("site", "", title, f"The latest from {title}.", None)


def list_targets(settings: Settings) -> list[FeedTarget]:
    """One feed per configured list, in config order; empty `sections` means all."""
    targets = []
    for item in settings.lists:
        sections = frozenset(section_slug(s) for s in item.sections) or None
        description = item.description or f"{item.name}, from {settings.site.title}."
        title = f"{settings.site.title}: {item.name}"
        targets.append(
            FeedTarget(f"list:{item.slug}", f"lists/{item.slug}", title, description, sections)
        )
    return targets


def section_targets(settings: Settings, names: list[str]) -> list[FeedTarget]:
    """One feed per distinct section slug among `names`, sorted by slug.

    Names that differ only in case or punctuation ("World", "world") share one feed,
    titled after the first name in sorted order.
    """
    by_slug: dict[str, str] = {}
    for name in sorted(names):
        slug = section_slug(name)
        if slug:
            by_slug.setdefault(slug, name)
    site = settings.site.title
    return [
        FeedTarget(
            f"section:{slug}",
            f"sections/{slug}",
            f"{site}: {name}",
            f"Articles in {name}, from {site}.",
            frozenset({slug}),
        )
        for slug, name in sorted(by_slug.items())
    ]
