"""Articles as email templates see them: absolute links, a teaser, nothing to look up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from dispatch.fragments import inner_html, parse_fragment
from dispatch.render.environment import trim_words
from dispatch.render.mail_text import mail_text
from dispatch.render.merge_tags import with_defaults
from dispatch.store.models import Article
from dispatch.urls import Urls

TEASER_WORDS = 60


@dataclass(frozen=True)
class ArticleView:
    slug: str
    title: str
    url: str
    teaser: str  # the summary, or the start of the body, at most TEASER_WORDS words
    body_html: Markup  # sanitised at ingest; links made absolute here
    body_text: str
    mail_text: str  # the text part: every link kept as its URL, wrapped at 72
    author: str | None
    section: str | None
    image: str | None
    image_alt: str | None
    image_caption: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, article: Article, urls: Urls) -> ArticleView:
        url = urls.article(article.slug)
        body = absolute_links(article.body_html or "", url)
        return cls(
            slug=article.slug,
            title=article.title,
            url=url,
            teaser=with_defaults(teaser(article.summary, article.body_text)),
            body_html=Markup(body),
            body_text=article.body_text or "",
            mail_text=mail_text(body),
            author=article.author,
            section=article.section,
            image=urls.absolute(article.image, url) if article.image else None,
            image_alt=article.image_alt,
            image_caption=article.image_caption,
            published_at=article.published_at,
        )


def teaser(summary: str | None, body_text: str | None) -> str:
    return trim_words(summary or body_text or "", TEASER_WORDS)


def absolute_links(html: str, base: str) -> str:
    """`html` with every href/src resolved against `base` (email clients have no base URL)."""
    if not html.strip():
        return html
    root = parse_fragment(html)
    root.make_links_absolute(base, resolve_base_href=False)
    return inner_html(root)
