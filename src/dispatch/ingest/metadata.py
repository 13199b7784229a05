"""Front matter: split it from the body (python-frontmatter), then check its fields.

Every error names the line: YAML syntax errors by the parser's mark, wrong field
types by the line the key is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import frontmatter
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from slugify import slugify

from dispatch.errors import IngestError
from dispatch.ingest.dates import parse_date, to_datetime

__all__ = ["FrontMatter", "Split", "is_http_url", "split", "to_datetime"]

HANDLER = frontmatter.YAMLHandler()


class FrontMatter(BaseModel):
    """The keys an article file may set; other keys (layout, permalink…) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | int | None = None
    title: str | None = None
    slug: str | None = None
    author: str | None = None
    date: datetime | date | None = None
    section: str | None = None
    tags: list[str] = []
    summary: str | None = None
    image: str | None = None
    image_alt: str | None = None
    image_caption: str | None = None
    canonical_url: str | None = None
    status: Literal["draft", "published", "scheduled"] = "published"
    send_to: list[str] = []  # lists that get it as a one-off when it is published

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        """YAML reads ISO dates itself; other written forms arrive as text."""
        return parse_date(value) if isinstance(value, str) else value

    @field_validator(
        "title",
        "slug",
        "author",
        "section",
        "summary",
        "image",
        "image_alt",
        "image_caption",
        "canonical_url",
    )
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("section")
    @classmethod
    def _section_key(cls, value: str | None) -> str | None:
        """Sections are keys ("World News" → "world-news"), matched against list sections."""
        return slugify(value) or None if value is not None else None

    @field_validator("tags", "send_to")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))

    @field_validator("canonical_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError(f'"{value}" is not an absolute http(s) URL')
        return value


@dataclass(frozen=True)
class Split:
    meta: FrontMatter
    body: str
    has_front_matter: bool


def split(path: Path, text: str, defaults: dict[str, Any] | None = None) -> Split:
    """Separate and validate the front matter (if the text starts with `---`); keys in
    `defaults` (a sidecar file's) apply where the front matter does not set them."""
    if not HANDLER.detect(text):
        return Split(_validate(path, dict(defaults or {}), ""), text, has_front_matter=False)
    try:
        raw_meta, body = HANDLER.split(text)
    except ValueError:
        raise IngestError(path, "front matter opened with --- is never closed", 1) from None
    raw = {**(defaults or {}), **_load_yaml(path, raw_meta)}
    return Split(_validate(path, raw, raw_meta), body, has_front_matter=True)


def load_sidecar(path: Path, text: str) -> dict[str, Any]:
    """A sidecar file's keys (YAML, as front matter without the `---` lines), checked."""
    raw = _load_yaml(path, "\n" + text)
    _validate(path, raw, "\n" + text)
    return raw


def _load_yaml(path: Path, raw_meta: str) -> dict[str, Any]:
    try:
        data = HANDLER.load(raw_meta)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = f"front matter is not valid YAML: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            reason += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise IngestError(path, reason, line) from None
    except ValueError as exc:
        # PyYAML raises a bare ValueError for impossible timestamps such as 2024-13-45.
        reason = f"front matter: impossible date or time ({exc})"
        raise IngestError(path, reason, _bad_line(raw_meta)) from None
    except yaml.reader.ReaderError as exc:
        line = raw_meta.count("\n", 0, exc.position) + 1
        reason = f"front matter is not valid YAML: character U+{exc.character:04X} is not allowed"
        raise IngestError(path, reason, line) from None
    except yaml.YAMLError as exc:
        raise IngestError(path, f"front matter is not valid YAML: {exc}", 1) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise IngestError(path, "front matter must be a mapping of keys to values", 2)
    return data


def _bad_line(raw_meta: str) -> int:
    """The first line that fails on its own with ValueError (line 1 is the opening ---)."""
    for number, line in enumerate(raw_meta.split("\n"), start=1):
        try:
            HANDLER.load(line)
        except ValueError:
            return number
        except yaml.YAMLError:
            continue
    return 1


def _validate(path: Path, raw: dict[str, Any], raw_meta: str) -> FrontMatter:
    try:
        return FrontMatter.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] != "value_error":
            message += f" (got {error.get('input')!r})"
        raise IngestError(
            path, f"front matter: {key}: {message}", _key_line(raw_meta, key)
        ) from None


def _key_line(raw_meta: str, key: str) -> int:
    match = re.search(rf"^{re.escape(key)}\s*:", raw_meta, re.MULTILINE)
    return raw_meta.count("\n", 0, match.start()) + 1 if match else 1


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
