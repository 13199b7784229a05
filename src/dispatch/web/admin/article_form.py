"""The admin's article form, as written and as an article file.

The form's fields become front matter and its Markdown the body of one text, parsed by
`ingest.parse_source` exactly like a `.md` file. The publication time is typed in the
site's time zone (a `datetime-local` field); status "scheduled", or "published" with
a time still to come, schedules the article. A feature image needs its alt text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest import Source, parse_source
from dispatch.ingest.files import Kind
from dispatch.ingest.text import summarise
from dispatch.store.models import Article

FORM_PATH = Path("article.md")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
TEXT_FIELDS = ("title", "slug", "section", "author", "summary", "canonical_url", "image")
TEXT_FIELDS += ("image_alt", "image_caption")
FIELDS = (*TEXT_FIELDS, "tags", "status", "body", "date")


@dataclass
class ArticleForm:
    title: str = ""
    slug: str = ""
    section: str = ""
    tags: str = ""  # comma-separated
    author: str = ""
    summary: str = ""
    status: str = "draft"  # draft | published | scheduled
    body: str = ""  # Markdown
    canonical_url: str = ""
    image: str = ""  # feature image URL (an upload's, or any http(s) image)
    image_alt: str = ""
    image_caption: str = ""
    date: str = ""  # publication time, site's time zone, "YYYY-MM-DDTHH:MM"
    send_to: list[str] = field(default_factory=list)  # lists that get it when published
    from_markdown: bool = True  # False: body is an imported article's HTML

    @classmethod
    def of(cls, article: Article, zone: ZoneInfo) -> ArticleForm:
        automatic = summarise(article.body_text)
        when = article.published_at
        return cls(
            title=article.title,
            slug=article.slug,
            section=article.section or "",
            tags=", ".join(article.tags),
            author=article.author or "",
            summary="" if article.summary == automatic else article.summary,
            status=article.status.value,
            body=article.body_markdown or article.body_html,
            canonical_url=article.canonical_url or "",
            image=article.image or "",
            image_alt=article.image_alt or "",
            image_caption=article.image_caption or "",
            date=when.astimezone(zone).strftime(LOCAL_FORMAT) if when else "",
            send_to=list(article.send_to or []),
            from_markdown=article.body_markdown is not None,
        )

    def text(self, zone: ZoneInfo) -> str:
        """The form as a Markdown file with front matter."""
        status = self.status if self.status in ("draft", "scheduled") else "published"
        meta: dict[str, object] = {"status": status}
        for key in TEXT_FIELDS:
            value = getattr(self, key).strip()
            if value:
                meta[key] = value
        tags = [tag.strip() for tag in self.tags.split(",") if tag.strip()]
        if tags:
            meta["tags"] = tags
        if self.send_to:
            meta["send_to"] = list(self.send_to)
        if self.date.strip():
            meta["date"] = self.local_date(zone).isoformat()
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        return f"---\n{front}---\n{self.body}"

    def local_date(self, zone: ZoneInfo) -> datetime:
        try:
            moment = datetime.strptime(self.date.strip(), LOCAL_FORMAT)
        except ValueError:
            reason = f'publication time "{self.date}" is not a date and time (YYYY-MM-DDTHH:MM)'
            raise IngestError(FORM_PATH, reason) from None
        return moment.replace(tzinfo=zone)

    def source(self, settings: Settings) -> Source:
        """The parsed article; IngestError (use `.reason`) when it cannot be one."""
        if self.image.strip() and not self.image_alt.strip():
            reason = "feature image: alt text is required (describe the image for screen readers)"
            raise IngestError(FORM_PATH, reason)
        zone = ZoneInfo(settings.site.timezone)
        return parse_source(FORM_PATH, Kind.MARKDOWN, self.text(zone), settings)
