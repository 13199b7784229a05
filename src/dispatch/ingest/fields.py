"""A `Source` plus its final slug → the exact field values stored, and their hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urljoin

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.metadata import is_http_url, to_datetime
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.source import Source
from dispatch.ingest.text import html_to_text, summarise
from dispatch.store.models import ArticleStatus


@dataclass(frozen=True)
class ArticleFields:
    """Everything an import writes to an Article (besides ids and timestamps)."""

    slug: str
    title: str
    summary: str
    body_html: str
    body_text: str
    author: str | None
    section: str | None
    tags: tuple[str, ...]
    image: str | None
    canonical_url: str | None
    status: ArticleStatus
    date: datetime | None  # the source's own date; None means "when first published"

    def content_hash(self) -> str:
        """sha256 of the normalised fields: equal hashes mean nothing to write."""
        data = asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        data["tags"] = list(self.tags)
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def article_url(settings: Settings, slug: str, canonical_url: str | None) -> str:
    """Where the article lives: relative links in its body resolve against this."""
    return canonical_url or f"{settings.site.base_url}/articles/{slug}"


def build_fields(source: Source, slug: str, settings: Settings) -> ArticleFields:
    meta, extracted = source.meta, source.extracted
    canonical = meta.canonical_url or extracted.canonical_url
    url = article_url(settings, slug, canonical)
    body_html = sanitize_html(extracted.html, url)
    body_text = extracted.text if extracted.text is not None else html_to_text(body_html)
    return ArticleFields(
        slug=slug,
        title=source.title,
        summary=meta.summary or summarise(body_text),
        body_html=body_html,
        body_text=body_text,
        author=meta.author or extracted.author,
        section=meta.section,
        tags=tuple(meta.tags),
        image=_image(source, url),
        canonical_url=canonical,
        status=ArticleStatus(meta.status),
        date=_date(source, settings.site.timezone),
    )


def _image(source: Source, url: str) -> str | None:
    image = source.meta.image or source.extracted.image
    if image is None:
        return None
    absolute = urljoin(url, image)
    if not is_http_url(absolute):
        raise IngestError(source.path, f'front matter: image: "{image}" is not an http(s) URL')
    return absolute


def _date(source: Source, timezone: str) -> datetime | None:
    if source.meta.date is not None:
        return to_datetime(source.meta.date, timezone)
    if source.extracted.date:
        try:
            return to_datetime(source.extracted.date, timezone)
        except ValueError:
            return None  # a page's own date is a hint, not a requirement
    return None
