"""One input file → a `Source`: checked bytes, front matter, and the parsed body."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.document import Extracted
from dispatch.ingest.files import Kind, kind_of, read_text
from dispatch.ingest.html import parse_html
from dispatch.ingest.markdown import parse_markdown
from dispatch.ingest.metadata import FrontMatter, split
from dispatch.ingest.plaintext import parse_plaintext


@dataclass(frozen=True)
class Source:
    """A parsed input: front matter wins over what the body itself says."""

    path: Path
    meta: FrontMatter
    extracted: Extracted

    @property
    def title(self) -> str:
        title = self.meta.title or self.extracted.title
        assert title, "parse_source refuses sources without a title"
        return title

    @property
    def source_id(self) -> str | None:
        """The permanent id the front matter gives, if any."""
        return None if self.meta.id is None else str(self.meta.id)


def load_file(path: Path, settings: Settings) -> Source:
    """Read and parse one article file; IngestError says `path:line: reason`."""
    kind = kind_of(path)
    return parse_source(path, kind, read_text(path, settings.ingest.max_file_bytes), settings)


def parse_source(path: Path, kind: Kind, text: str, settings: Settings) -> Source:
    """Parse text already read (also for pasted or uploaded content named by `path`)."""
    parts = split(path, text)
    if not parts.body.strip():
        raise IngestError(path, "the article has no body", text.count("\n") + 1)
    extracted = _extract(path, kind, parts.body, parts.meta, settings)
    if not (parts.meta.title or extracted.title):
        where = "the first line" if kind is Kind.PLAINTEXT else "an opening heading"
        raise IngestError(path, f"no title: set `title:` in the front matter or give {where}")
    if not extracted.html.strip():
        raise IngestError(path, "the article has no body besides its title")
    return Source(path=path, meta=parts.meta, extracted=extracted)


def _extract(path: Path, kind: Kind, body: str, meta: FrontMatter, settings: Settings) -> Extracted:
    if kind is Kind.MARKDOWN:
        return parse_markdown(body)
    if kind is Kind.PLAINTEXT:
        return parse_plaintext(body, settings.ingest.chrome_lines, has_title=bool(meta.title))
    return parse_html(path, body, meta.canonical_url)
