"""What readers see of articles: the published ones, page by page, and one by slug.

"Published" means live now (`dispatch.visibility`), as the feeds see it: drafts and
articles scheduled for later are never shown, not even by their slug. An old slug (from
`ArticleSlug`) resolves to the article so the route can redirect to its current URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.config import ListSettings, Settings
from dispatch.media.store import MediaStore, StoredImage
from dispatch.render.feed_ids import (
    FeedFormat,
    FeedTarget,
    list_targets,
    section_slug,
    section_targets,
)
from dispatch.render.merge_tags import with_defaults
from dispatch.store.models import Article, ArticleSlug
from dispatch.visibility import is_live, live

PER_PAGE = 10
FORMAT_NAMES = {FeedFormat.RSS: "RSS", FeedFormat.ATOM: "Atom", FeedFormat.JSON: "JSON Feed"}


@dataclass(frozen=True)
class ArticlePage:
    """One page of the newest published articles."""

    articles: list[Article]
    number: int
    pages: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


@dataclass(frozen=True)
class FeedLink:
    """One `<link rel="alternate">`: a feed in one format."""

    title: str  # "The Dispatch: World (Atom)"
    format: str  # "Atom"
    media_type: str
    href: str


@dataclass(frozen=True)
class FeedGroup:
    """One feed in its three formats."""

    title: str
    links: list[FeedLink]


def recent_articles(
    session: Session, number: int, now: datetime, per_page: int = PER_PAGE
) -> ArticlePage:
    """Page `number` (from 1) of the articles live at `now`, newest first."""
    total = session.scalar(select(func.count()).select_from(Article).where(is_live(now))) or 0
    pages = max(1, -(-total // per_page))
    query = (
        select(Article)
        .where(is_live(now))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    return ArticlePage(list(session.scalars(query)), number, pages)


@dataclass(frozen=True)
class Found:
    article: Article
    current: bool  # False: found by an old slug, redirect to the current one


def find_published(session: Session, slug: str, now: datetime) -> Found | None:
    """The article live at `now` with this slug, current or old; None for drafts,
    articles scheduled for later and unknown slugs."""
    article = session.scalar(select(Article).where(Article.slug == slug, is_live(now)))
    if article is not None:
        return Found(article, current=True)
    old = session.get(ArticleSlug, slug)
    if old is None or not live(old.article, now):
        return None
    return Found(old.article, current=False)


def standfirst(article: Article) -> str:
    """The summary to show above the body: none when it only repeats the body's opening
    (an automatic summary is the first paragraph, which the body shows anyway)."""
    summary = " ".join(with_defaults(article.summary or "").split())
    opening = " ".join(with_defaults(article.body_text or "").split())
    if not summary or opening.startswith(summary.removesuffix("…").rstrip()):
        return ""
    return summary


def feature_image(settings: Settings, article: Article) -> StoredImage | None:
    """The stored image behind the article's feature image (None: not ours, or none)."""
    return MediaStore.of(settings).info(article.image) if article.image else None


def carrying_lists(settings: Settings, article: Article) -> list[ListSettings]:
    """The configured lists whose mail and feeds carry the article (by its section)."""
    slug = section_slug(article.section)
    return [item for item in settings.lists if not item.sections or slug in item.sections]


def article_feeds(settings: Settings, article: Article) -> list[FeedGroup]:
    """The section feed and the feeds of the lists that carry the article's section."""
    targets: list[FeedTarget] = section_targets(settings, [article.section or ""])
    names = {f"list:{item.slug}" for item in carrying_lists(settings, article)}
    targets += [target for target in list_targets(settings) if target.name in names]
    return [FeedGroup(target.title, _links(settings, target)) for target in targets]


def _links(settings: Settings, target: FeedTarget) -> list[FeedLink]:
    return [
        FeedLink(
            f"{target.title} ({FORMAT_NAMES[fmt]})",
            FORMAT_NAMES[fmt],
            fmt.media_type,
            target.url(settings, fmt),
        )
        for fmt in FeedFormat
    ]
