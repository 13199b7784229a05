"""Slugs: python-slugify for the text, a numeric suffix for uniqueness, history on change.

A slug is taken when another article uses it now or used it before (its old URL must
keep redirecting there). An article keeps its current slug while that slug is still
the wanted one or a numbered variant of it, so re-importing never reshuffles slugs.
"""

from __future__ import annotations

import re

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.store.models import Article, ArticleSlug

MAX_LENGTH = 80
FALLBACK = "article"


def make_slug(text: str) -> str:
    """Lower-case ASCII words joined by hyphens ("Café au lait!" → "cafe-au-lait").

    A long title keeps its words in order and is cut only at the end, on a word
    boundary. (python-slugify's own `word_boundary` truncation skips a word that does
    not fit and carries on with later, shorter ones, dropping words from the middle.)
    """
    return truncate(slugify(text)) or FALLBACK


def truncate(slug: str, limit: int = MAX_LENGTH) -> str:
    """The longest run of `slug`'s leading words that fits in `limit` characters; a
    first word longer than the limit is cut."""
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1]
    end = cut.rfind("-")
    return cut[:end] if end > 0 else slug[:limit].rstrip("-")


def choose_slug(session: Session, wanted: str, article: Article | None) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`…: the first one no other article holds."""
    own_id = article.id if article is not None else None
    if article is not None and _is_variant(article.slug, wanted):
        return article.slug
    taken = _taken(session, wanted, own_id)
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def _is_variant(slug: str, wanted: str) -> bool:
    return re.fullmatch(rf"{re.escape(wanted)}(-[2-9]|-[1-9]\d+)?", slug) is not None


def _taken(session: Session, wanted: str, own_id: int | None) -> set[str]:
    current = select(Article.slug).where(
        Article.slug.startswith(wanted, autoescape=True), Article.id != (own_id or -1)
    )
    former = select(ArticleSlug.slug).where(
        ArticleSlug.slug.startswith(wanted, autoescape=True),
        ArticleSlug.article_id != (own_id or -1),
    )
    return set(session.scalars(current)) | set(session.scalars(former))


def record_slug_change(session: Session, article: Article, old: str) -> None:
    """Remember `old` for redirects; forget the new slug if it was one of ours before."""
    if old == article.slug:
        return
    reused = session.get(ArticleSlug, article.slug)
    if reused is not None and reused.article_id == article.id:
        session.delete(reused)
    if session.get(ArticleSlug, old) is None:
        session.add(ArticleSlug(slug=old, article_id=article.id))
    session.flush()
