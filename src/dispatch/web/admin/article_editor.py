"""Articles written in the admin: a form → the importer's `Source` → `upsert`.

The form (`article_form`) becomes the text of a `.md` file parsed by
`ingest.parse_source`, so that titles, slugs, sections, tags, dates, sanitising and
summaries follow the same rules whichever way an article arrives. The
Markdown is kept (`Article.body_markdown`) to edit it again as written. An article that
came from a file or a feed has no Markdown: its sanitised HTML is offered instead
(Markdown passes HTML through); saving it is an editor's decision, so later changes of
its source wait as conflicts instead of replacing the edit.

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

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest import (
    Imported,
    ImportReport,
    Origin,
    parse_source,
    save_edit,
    upsert,
)
from dispatch.ingest.articles import get_article
from dispatch.ingest.fields import build_fields
from dispatch.ingest.files import decode, kind_of
from dispatch.ingest.importer import FILE_SOURCE, Sessions
from dispatch.web.admin.article_form import ArticleForm

ADMIN_SOURCE = "admin"


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
