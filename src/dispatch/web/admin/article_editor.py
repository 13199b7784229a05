"""Articles written in the admin: a form → the importer's `Source` → `upsert`.

The form's fields become front matter and its Markdown the body of one text, parsed by
`ingest.parse_source` exactly like a `.md` file, so that titles, slugs, sections, tags,
sanitising and summaries follow the same rules whichever way an article arrives. The
Markdown is kept (`Article.body_markdown`) to edit it again as written. An article that
came from a file or a feed has no Markdown: its sanitised HTML is offered instead
(Markdown passes HTML through), and re-importing its source replaces the edit.

Uploads go through the same steps as `dispatch articles import` (`decode`, `kind_of`,
`parse_source`, `upsert`) and give the same report; their identity is the front matter
`id`, else the file's name, so uploading a corrected file updates the same article.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePath

import yaml
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest import (
    Imported,
    ImportReport,
    Origin,
    Source,
    parse_source,
    save_edit,
    upsert,
)
from dispatch.ingest.articles import get_article
from dispatch.ingest.fields import build_fields
from dispatch.ingest.files import Kind, decode, kind_of
from dispatch.ingest.importer import FILE_SOURCE, Sessions
from dispatch.ingest.text import summarise
from dispatch.store.models import Article

ADMIN_SOURCE = "admin"
FORM_PATH = Path("article.md")


@dataclass
class ArticleForm:
    title: str = ""
    slug: str = ""
    section: str = ""
    tags: str = ""  # comma-separated
    author: str = ""
    summary: str = ""
    status: str = "draft"
    body: str = ""  # Markdown
    from_markdown: bool = True  # False: body is an imported article's HTML

    @classmethod
    def of(cls, article: Article) -> ArticleForm:
        automatic = summarise(article.body_text)
        return cls(
            title=article.title,
            slug=article.slug,
            section=article.section or "",
            tags=", ".join(article.tags),
            author=article.author or "",
            summary="" if article.summary == automatic else article.summary,
            status=article.status.value,
            body=article.body_markdown or article.body_html,
            from_markdown=article.body_markdown is not None,
        )

    def text(self) -> str:
        """The form as a Markdown file with front matter."""
        meta: dict[str, object] = {"status": self.status if self.status == "draft" else "published"}
        for key in ("title", "slug", "section", "author", "summary"):
            value = getattr(self, key).strip()
            if value:
                meta[key] = value
        tags = [tag.strip() for tag in self.tags.split(",") if tag.strip()]
        if tags:
            meta["tags"] = tags
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        return f"---\n{front}---\n{self.body}"

    def source(self, settings: Settings) -> Source:
        """The parsed article; IngestError (use `.reason`) when it cannot be one."""
        return parse_source(FORM_PATH, Kind.MARKDOWN, self.text(), settings)


def preview_html(form: ArticleForm, settings: Settings) -> str:
    """The body as it would be stored: rendered and sanitised (safe to show as is)."""
    source = form.source(settings)
    return build_fields(source, form.slug or "preview", settings).body_html


def save_article(
    session: Session, settings: Settings, form: ArticleForm, slug: str | None, now: datetime
) -> Imported:
    """Create (slug None) or update the article `slug` from the form."""
    source = form.source(settings)
    if slug is None:
        origin = Origin(ADMIN_SOURCE, f"{ADMIN_SOURCE}:{uuid.uuid4()}")
        done = upsert(session, settings, source, origin, now)
    else:
        done = save_edit(session, settings, source, get_article(session, slug), now)
    get_article(session, done.slug).body_markdown = form.body
    return done


@dataclass
class Upload:
    name: str
    data: bytes = field(repr=False)


def import_uploads(
    sessions: Sessions, settings: Settings, uploads: list[Upload], now: Callable[[], datetime]
) -> ImportReport:
    """Import uploaded files like `import_paths` imports files; one bad file never stops
    the others. Errors read `name:line: reason`."""
    report = ImportReport()
    for upload in uploads:
        path = Path(PurePath(upload.name.replace("\\", "/")).name or "upload")
        try:
            kind = kind_of(path)
            decoded = decode(path, upload.data, settings.ingest.max_file_bytes)
            source = parse_source(path, kind, decoded.text, settings)
            source = replace(source, warnings=decoded.warnings + source.warnings)
            name = f"upload:{path.name}"
            origin = Origin(FILE_SOURCE, source.source_id or name, name)
            with sessions.session() as session:
                report.imported.append(upsert(session, settings, source, origin, now()))
        except IngestError as exc:
            report.failed.append(exc)
        except SQLAlchemyError as exc:
            reason = f"not saved, database error: {getattr(exc, 'orig', None) or exc}"
            report.failed.append(IngestError(path, reason.splitlines()[0]))
    return report
