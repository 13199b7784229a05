"""API payloads → articles, through the very path article files take.

A payload becomes the text of an article file: its fields as front matter (JSON, which
is YAML too, on one line, so no value can close the front matter early) and its body as
Markdown or HTML. `parse_source` then checks and parses it exactly like a file, and
`importer.upsert` stores it, so the same front matter rules, sanitiser, summaries and
slug rules apply. Articles made here have source "api" and the client's `external_id`
(or a random one) as source id; an update re-imports an existing article under its own
source and id, keeping its slug unless a new one is asked for, and its summary if it was
written by hand. A Markdown body is kept (`Article.body_markdown`, as the admin keeps it)
so that an update without a new body re-imports the Markdown as written.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.articles import get_article
from dispatch.ingest.files import Kind
from dispatch.ingest.importer import Imported, Origin, save_edit, upsert
from dispatch.ingest.source import parse_source
from dispatch.ingest.text import summarise
from dispatch.store.models import Article, ArticleStatus
from dispatch.web.api.errors import ApiProblem
from dispatch.web.api.schemas import ArticleCreate, ArticleFieldsIn, ArticleUpdate

API_SOURCE = "api"
META_FIELDS = (
    "title",
    "slug",
    "author",
    "section",
    "tags",
    "summary",
    "status",
    "date",
    "image",
    "image_alt",
    "image_caption",
    "canonical_url",
    "send_to",
)
KEPT = frozenset({"title", "slug", "tags", "status"})  # null in an update: unchanged


@dataclass(frozen=True)
class Payload:
    """The article file an API request amounts to."""

    meta: dict[str, Any]
    body: str
    kind: Kind
    body_field: str  # the request field the body came from, for errors

    @property
    def markdown(self) -> str | None:
        """What `Article.body_markdown` keeps, to edit the body again as written."""
        return self.body if self.kind is Kind.MARKDOWN else None

    def text(self) -> str:
        front = yaml_safe_json(self.meta)
        body = self.body.replace("\r\n", "\n").replace("\r", "\n")
        return f"---\n{front}\n---\n{body}"


# Characters YAML may not hold raw (C1 controls, U+FFFE/FFFF, lone surrogates): the front
# matter is JSON read as YAML, so they go in as escapes (a lone surrogate as U+FFFD).
YAML_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def yaml_safe_json(value: object) -> str:
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return "\\ufffd" if 0xD800 <= code <= 0xDFFF else f"\\u{code:04x}"

    return YAML_UNPRINTABLE.sub(escape, json.dumps(value, ensure_ascii=False))


def new_payload(request: ArticleCreate) -> Payload:
    meta = _meta(request, request.model_fields_set)
    return _with_body(meta, request, None)


def update_payload(article: Article, request: ArticleUpdate) -> Payload:
    """The article as it is, with the request's fields over it."""
    given = request.model_fields_set
    meta: dict[str, Any] = {
        "title": article.title,
        "slug": article.slug,
        "author": article.author,
        "section": article.section,
        "tags": list(article.tags),
        "status": article.status.value,
        "image": article.image,
        "image_alt": article.image_alt,
        "image_caption": article.image_caption,
        "canonical_url": article.canonical_url,
        "send_to": list(article.send_to or []),
    }
    if article.status is ArticleStatus.SCHEDULED and article.published_at is not None:
        meta["date"] = article.published_at.isoformat()  # its time stays unless a new one is given
    if article.summary != summarise(article.body_text):
        meta["summary"] = article.summary  # written by hand: kept; else made from the body
    meta.update(_meta(request, given))
    return _with_body(meta, request, article)


def save(
    session: Session,
    settings: Settings,
    payload: Payload,
    now: datetime,
    *,
    source_id: str | None = None,
    article: Article | None = None,
) -> Imported:
    """Parse and store the payload as article files are (a new article, or new content
    for the one given `external_id`), or as an editor's edit of `article`; ApiProblem
    names the bad field."""
    source = article.source if article is not None else API_SOURCE
    source_id = article.source_id if article is not None else (source_id or uuid.uuid4().hex)
    text = payload.text()
    limit = settings.ingest.max_file_bytes
    if len(text.encode()) > limit:
        raise ApiProblem(413, f"the article is over the {limit:,}-byte limit", payload.body_field)
    path = Path(f"{source}/{source_id}.{'md' if payload.kind is Kind.MARKDOWN else 'html'}")
    try:
        parsed = parse_source(path, payload.kind, text, settings)
        if article is not None:
            saved = save_edit(session, settings, parsed, article, now)
        else:
            saved = upsert(session, settings, parsed, Origin(API_SOURCE, source_id), now)
    except IngestError as exc:
        raise ApiProblem(422, exc.reason, _field(exc.reason, payload.body_field)) from None
    get_article(session, saved.slug).body_markdown = payload.markdown
    return saved


def _meta(request: ArticleFieldsIn, given: set[str]) -> dict[str, Any]:
    """The fields the request gives; null clears an optional one, never a KEPT one."""
    values = request.model_dump(mode="json", include=set(META_FIELDS) & given)
    return {k: v for k, v in values.items() if v is not None or k not in KEPT}


def _with_body(meta: dict[str, Any], request: ArticleFieldsIn, stored: Article | None) -> Payload:
    meta = {key: value for key, value in meta.items() if value is not None}
    if request.body_markdown is not None:
        return Payload(meta, request.body_markdown, Kind.MARKDOWN, "body.body_markdown")
    if request.body_html is not None or stored is None:
        return Payload(meta, request.body_html or "", Kind.HTML, "body.body_html")
    if stored.body_markdown is not None:  # written as Markdown: edited as Markdown
        return Payload(meta, stored.body_markdown, Kind.MARKDOWN, "body.body_markdown")
    return Payload(meta, stored.body_html, Kind.HTML, "body.body_html")


def _field(reason: str, body_field: str) -> str:
    """The request field an ingest error is about."""
    if reason.startswith("front matter: "):
        key = reason.removeprefix("front matter: ").split(":", 1)[0]
        if key in META_FIELDS:
            return f"body.{key}"
    if reason.startswith("no title"):
        return "body.title"
    return body_field
