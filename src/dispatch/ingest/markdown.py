"""Markdown sources, rendered with markdown-it-py: CommonMark plus tables and strikethrough,
and (mdit-py-plugins) footnotes and definition lists.

Raw HTML inside Markdown is allowed here because every body is sanitised afterwards.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin

from dispatch.ingest.document import Extracted
from dispatch.ingest.html import split_leading_h1


def renderer() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": True, "typographer": False})
        .enable(["table", "strikethrough"])
        .use(footnote_plugin)
        .use(deflist_plugin)
    )


def parse_markdown(body: str) -> Extracted:
    """The rendered body; a leading `# Heading` becomes the title candidate."""
    title, html = split_leading_h1(renderer().render(body))
    return Extracted(title=title, html=html)
