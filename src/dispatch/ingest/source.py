"""One input file → a `Source`: checked bytes, front matter, and the parsed body.

Plain-text files carry metadata without front matter too: a trailing `id: …` line
gives the permanent id, and a sidecar `<name>.yml` beside `<name>.txt` may set any
front-matter key (front matter in the file itself wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.controls import scrub
from dispatch.ingest.document import Extracted, IngestWarning
from dispatch.ingest.files import Kind, kind_of, read_text
from dispatch.ingest.html import parse_html
from dispatch.ingest.markdown import parse_markdown
from dispatch.ingest.metadata import FrontMatter, load_sidecar, split
from dispatch.ingest.plaintext import parse_plaintext

TRAILING_ID = re.compile(r"\n[ \t]*id:[ \t]*(\S[^\n]{0,199}?)[ \t]*\s*\Z")
SIDECAR_SUFFIX = ".yml"


@dataclass(frozen=True)
class Source:
    """A parsed input: front matter wins over what the body itself says."""

    path: Path
    meta: FrontMatter
    extracted: Extracted
    warnings: tuple[IngestWarning, ...] = field(default=(), compare=False)

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
    decoded = read_text(path, settings.ingest.max_file_bytes)
    defaults = _sidecar(path, settings) if kind is Kind.PLAINTEXT else None
    source = parse_source(path, kind, decoded.text, settings, defaults)
    return Source(source.path, source.meta, source.extracted, decoded.warnings + source.warnings)


def parse_source(
    path: Path,
    kind: Kind,
    text: str,
    settings: Settings,
    defaults: dict[str, object] | None = None,
) -> Source:
    """Parse text already read (also for pasted or uploaded content named by `path`)."""
    text, warnings = scrub(path, text)
    parts = split(path, text, defaults)
    body, meta = parts.body, parts.meta
    if kind is Kind.PLAINTEXT:
        body, meta = _trailing_id(body, meta)
    if not body.strip():
        raise IngestError(path, "the article has no body", text.count("\n") + 1)
    extracted = _extract(path, kind, body, meta, settings)
    if not (meta.title or extracted.title):
        where = "the first line" if kind is Kind.PLAINTEXT else "an opening heading"
        raise IngestError(path, f"no title: set `title:` in the front matter or give {where}")
    if not extracted.html.strip():
        raise IngestError(path, "the article has no body besides its title")
    return Source(path=path, meta=meta, extracted=extracted, warnings=warnings)


def _trailing_id(body: str, meta: FrontMatter) -> tuple[str, FrontMatter]:
    """A last line `id: …` is the permanent id (unless front matter gave one) and no text."""
    match = TRAILING_ID.search("\n" + body.rstrip())
    if match is None:
        return body, meta
    rest = ("\n" + body.rstrip())[: match.start()].lstrip("\n")
    if meta.id is not None:
        return rest, meta
    return rest, meta.model_copy(update={"id": match.group(1)})


def _sidecar(path: Path, settings: Settings) -> dict[str, object] | None:
    sidecar = path.with_suffix(SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return None
    decoded = read_text(sidecar, settings.ingest.max_file_bytes)
    return load_sidecar(sidecar, scrub(sidecar, decoded.text)[0])


def _extract(path: Path, kind: Kind, body: str, meta: FrontMatter, settings: Settings) -> Extracted:
    if kind is Kind.MARKDOWN:
        return parse_markdown(body)
    if kind is Kind.PLAINTEXT:
        return parse_plaintext(body, settings.ingest.chrome_lines, has_title=bool(meta.title))
    return parse_html(path, body, meta.canonical_url)
