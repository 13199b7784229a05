"""What a parser hands on: the body and whatever metadata the source itself carried."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IngestWarning:
    """Something an import fixed or guessed on its own: the file still imports, and the
    report says what was done so that an editor can check it (`path:line: warning: …`)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: warning: {self.message}"


@dataclass(frozen=True)
class Extracted:
    """One source file's content, before front matter is applied and before sanitising.

    `text` is set only when the source is plain text, whose characters must reach
    `body_text` exactly as written; otherwise the text is derived from the HTML.
    """

    title: str | None
    html: str
    text: str | None = None
    author: str | None = None
    date: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    image_alt: str | None = None
