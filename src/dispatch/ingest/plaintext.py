"""Plain text as pasted from a web page.

The first non-empty line is the title, paragraphs are separated by blank lines, and
trailing page chrome ("Leave a comment", "Trending"…, from settings) is dropped. The
characters are kept exactly as written: no quote, dash or hyphen is normalised.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from dispatch.ingest.document import Extracted

BLANK_LINES = re.compile(r"\n[ \t]*\n")


def parse_plaintext(text: str, chrome_lines: Iterable[str], has_title: bool) -> Extracted:
    """Title (unless front matter already gave one), paragraphs as <p> and as text."""
    lines = _without_trailing_chrome(text.split("\n"), chrome_lines)
    title = None
    if not has_title:
        start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
        title = lines[start].strip() if start < len(lines) else None
        lines = lines[start + 1 :]
    paragraphs = paragraphs_of("\n".join(lines))
    return Extracted(
        title=title,
        html="\n".join(_paragraph_html(p) for p in paragraphs),
        text="\n\n".join(paragraphs),
    )


def paragraphs_of(text: str) -> list[str]:
    blocks = (block.strip("\n") for block in BLANK_LINES.split(text.strip("\n")))
    return [
        "\n".join(line.strip() for line in block.split("\n")) for block in blocks if block.strip()
    ]


def _without_trailing_chrome(lines: list[str], chrome_lines: Iterable[str]) -> list[str]:
    chrome = {line.strip().casefold() for line in chrome_lines}
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].strip().casefold() in chrome):
        end -= 1
    return lines[:end]


def _paragraph_html(paragraph: str) -> str:
    return "<p>" + html.escape(paragraph, quote=False).replace("\n", "<br>\n") + "</p>"
