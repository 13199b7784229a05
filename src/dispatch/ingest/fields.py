"""A `Source` plus its final slug → the exact field values stored, and their hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.dates import to_datetime
from dispatch.ingest.metadata import is_http_url
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.source import Source
from dispatch.ingest.text import html_to_text, summarise
from dispatch.media.html import with_sizes
from dispatch.media.store import MediaStore
from dispatch.store.models import ArticleStatus

# Fields added after articles were first stored: left out of the hash while empty, so
# that articles stored before them keep their hash (and are not "updated" for nothing).
LATER_FIELDS = ("image_alt", "image_caption", "send_to")


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
    status: ArticleStatus  # as the source says; `importer` turns a future date into scheduled
    date: datetime | None  # the source's own date; None means "when first published"
    image_alt: str | None = None
    image_caption: str | None = None
    send_to: tuple[str, ...] = ()

    def content_hash(self) -> str:
        """sha256 of the normalised fields: equal hashes mean nothing to write."""
        encoded = json.dumps(
            self.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        data["tags"] = list(self.tags)
        data["send_to"] = list(self.send_to)
        for name in LATER_FIELDS:
            if not data[name]:
                del data[name]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArticleFields:
        """Back from `to_json` (a conflict keeps a source's fields this way)."""
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["date"] = datetime.fromisoformat(data["date"]) if data.get("date") else None
        values["tags"] = tuple(data.get("tags", ()))
        values["send_to"] = tuple(data.get("send_to", ()))
        values["status"] = ArticleStatus(data["status"])
        return cls(**values)

    def with_slug(self, slug: str) -> ArticleFields:
        return replace(self, slug=slug)


def article_url(settings: Settings, slug: str, canonical_url: str | None) -> str:
    """Where the article lives: relative links in its body resolve against this."""
    return canonical_url or f"{settings.site.base_url}/articles/{slug}"


def build_fields(source: Source, slug: str, settings: Settings) -> ArticleFields:
    meta, extracted = source.meta, source.extracted
    canonical = meta.canonical_url or extracted.canonical_url
    url = article_url(settings, slug, canonical)
    body_html = with_sizes(sanitize_html(extracted.html, url), MediaStore.of(settings))
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
        date=source_date(source, settings.site.timezone),
        image_alt=meta.image_alt or extracted.image_alt,
        image_caption=meta.image_caption,
        send_to=tuple(_lists(source, settings)),
    )


def _image(source: Source, url: str) -> str | None:
    image = source.meta.image or source.extracted.image
    if image is None:
        return None
    absolute = urljoin(url, image)
    if not is_http_url(absolute):
        raise IngestError(source.path, f'front matter: image: "{image}" is not an http(s) URL')
    return absolute


def _lists(source: Source, settings: Settings) -> list[str]:
    known = {item.slug for item in settings.lists}
    for slug in source.meta.send_to:
        if slug not in known:
            names = ", ".join(sorted(known)) or "none configured"
            reason = f'front matter: send_to: no list "{slug}" (known: {names})'
            raise IngestError(source.path, reason)
    return list(source.meta.send_to)


def source_date(source: Source, timezone: str) -> datetime | None:
    """The date the source gives: front matter, else the page's own (if it parses)."""
    if source.meta.date is not None:
        return to_datetime(source.meta.date, timezone)
    if source.extracted.date:
        try:
            return to_datetime(source.extracted.date, timezone)
        except ValueError:
            return None  # a page's own date is a hint, not a requirement
    return None
