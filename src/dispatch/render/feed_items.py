"""Collect first: the feeds to build and their entries, read from the store.

Everything here is plain frozen data, already cleaned (no XML-forbidden characters,
absolute URLs), so the RSS, Atom and JSON Feed writers only format it.

Feeds carry the articles live at the build's moment (`dispatch.visibility`: nothing
scheduled for later), newest first by `published_at` with ties broken by `id` (newest
row first), `feeds.items` of them. A feed's `updated` is the latest `updated` of its
entries, never the clock, and no entry date is later than the build's moment; an empty
feed has `updated = None` (writers then use `EPOCH` where a date is required).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.lists import live_settings
from dispatch.media.store import MediaStore
from dispatch.render.feed_ids import (
    FeedTarget,
    entry_id,
    list_targets,
    section_slug,
    section_targets,
    site_target,
)
from dispatch.render.feed_text import absolute_html, clean, media_type, shorten, text_to_html
from dispatch.render.merge_tags import with_defaults
from dispatch.store.models import Article
from dispatch.store.types import utcnow
from dispatch.urls import Urls
from dispatch.visibility import is_live

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedItem:
    id: str
    url: str
    title: str
    author: str
    tags: tuple[str, ...]
    summary: str  # plain text, may be ""
    content_html: str  # full text with absolute URLs; "" in summary-only feeds
    image: str | None
    image_type: str | None
    image_length: int  # bytes of a stored image; 0 (unknown) for an image elsewhere
    published: datetime
    updated: datetime


@dataclass(frozen=True)
class FeedData:
    target: FeedTarget
    items: tuple[FeedItem, ...]

    @property
    def updated(self) -> datetime | None:
        return max((item.updated for item in self.items), default=None)


def collect_feeds(session: Session, settings: Settings, now: datetime) -> list[FeedData]:
    """Every feed with its entries live at `now`: the site, each list, each section."""
    settings = live_settings(session, settings)  # lists created or edited in the admin
    names = _section_names(session, now)
    targets = [
        site_target(settings),
        *list_targets(settings),
        *section_targets(settings, names),
    ]
    return [FeedData(t, _items(session, settings, t, names, now)) for t in targets]


def _published(now: datetime) -> Select[tuple[Article]]:
    return select(Article).where(is_live(now))


def _section_names(session: Session, now: datetime) -> list[str]:
    query = _published(now).with_only_columns(Article.section).where(Article.section.is_not(None))
    return sorted({name for name in session.scalars(query.distinct()) if name})


def _items(
    session: Session, settings: Settings, target: FeedTarget, names: list[str], now: datetime
) -> tuple[FeedItem, ...]:
    query = _published(now)
    if target.sections is not None:
        wanted = [name for name in names if section_slug(name) in target.sections]
        query = query.where(Article.section.in_(wanted))
    query = query.order_by(Article.published_at.desc(), Article.id.desc())
    articles = session.scalars(query.limit(settings.feeds.items))
    return tuple(feed_item(settings, article, now) for article in articles)


def feed_item(settings: Settings, article: Article, now: datetime | None = None) -> FeedItem:
    """One article as a feed entry: cleaned text, absolute URLs, UTC dates to the second
    (never after `now`, default the clock)."""
    now = now or utcnow()
    urls = Urls(settings.site.base_url)
    url = urls.article(article.slug)
    image = urls.absolute(clean(article.image).strip(), url) if article.image else None
    stored = MediaStore.of(settings).info(image) if image else None
    published = _second(article.published_at or article.created_at)
    return FeedItem(
        id=entry_id(settings, article.uid),
        url=url,
        title=clean(article.title).strip() or "Untitled",
        author=clean(article.author).strip(),
        tags=tuple(dict.fromkeys(t for t in (clean(x).strip() for x in article.tags) if t)),
        summary=_summary(article, settings.feeds.full_text),
        content_html=_content(article, url) if settings.feeds.full_text else "",
        image=image,
        image_type=stored.content_type if stored else (media_type(image) if image else None),
        image_length=stored.bytes if stored else 0,
        published=published,
        updated=min(max(published, _second(article.updated_at)), _second(now)),
    )


def _summary(article: Article, full_text: bool) -> str:
    summary = " ".join(clean(with_defaults(article.summary)).split())
    if summary or full_text:
        return summary
    return shorten(article.body_text)  # a summary-only feed needs some text


def _content(article: Article, url: str) -> str:
    if article.body_html.strip():
        return absolute_html(with_defaults(article.body_html), url)
    return text_to_html(article.body_text)


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)
