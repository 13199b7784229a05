"""HTML → the plain-text part of an email: every link kept as its URL, wrapped at 72.

A link whose words differ from its address becomes `words [1]`, and the numbered
addresses follow the text under "Links:" (the habit of plain-text mail since RFC 1855
days: the prose stays readable and nothing is lost); a link whose words are its
address stays inline. An image becomes `[Image: its alt text]` (nothing when it has
none: a decorative image). Paragraphs are wrapped at 72 columns without breaking
words or URLs; list items hang under their marker, quotes carry `> `, headings are
underlined, preformatted text is kept as it is.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from lxml import etree

from dispatch.fragments import parse_fragment
from dispatch.ingest.text import BLOCKS

WIDTH = 72
BREAK = "\x00"  # stands for <br> while words are joined
SPACES = re.compile(r"[ \t\n\r\f\v]+")
KEEP = "\ue000"  # joins an image's alt text while wrapping (a private-use character)


@dataclass
class _Links:
    urls: list[str] = field(default_factory=list)

    def number(self, url: str) -> int:
        if url not in self.urls:
            self.urls.append(url)
        return self.urls.index(url) + 1


def mail_text(html: str, width: int = WIDTH) -> str:
    """The plain-text rendering of an article or note body (see the module docstring)."""
    if not html.strip():
        return ""
    root = parse_fragment(html)
    links = _Links()
    blocks = _blocks(root, links, width)
    text = "\n\n".join(block for block in blocks if block.strip())
    if links.urls:
        listed = "\n".join(f"[{n}] {url}" for n, url in enumerate(links.urls, start=1))
        text += f"\n\nLinks:\n{listed}"
    return text


def _blocks(element: etree._Element, links: _Links, width: int) -> list[str]:
    out: list[str] = []
    inline: list[str] = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            inline.append(child.tail or "")
            continue
        if child.tag in BLOCKS:
            out.extend(_paragraph("".join(inline), width))
            inline = []
            out.extend(_block(child, links, width))
        else:
            inline.append(_inline(child, links))
        inline.append(child.tail or "")
    out.extend(_paragraph("".join(inline), width))
    return out


def _block(element: etree._Element, links: _Links, width: int) -> list[str]:
    tag = element.tag
    if tag == "pre":
        return [element.text_content().strip("\n")]
    if tag == "hr":
        return ["-" * 20]
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        title = " ".join(_inline(element, links).replace(BREAK, " ").split())
        return (
            [f"{title}\n{('=' if tag == 'h1' else '-') * min(len(title), width)}"] if title else []
        )
    if tag in ("ul", "ol"):
        return ["\n".join(_items(element, links, width))]
    if tag == "blockquote":
        inner = "\n\n".join(_blocks(element, links, width - 2))
        return ["\n".join(f"> {line}".rstrip() for line in inner.split("\n"))]
    if tag == "tr":
        cells = (" ".join(_inline(cell, links).replace(BREAK, " ").split()) for cell in element)
        return [" | ".join(cells)]
    if tag in ("table", "thead", "tbody", "tfoot"):
        return ["\n".join(_blocks(element, links, width))]
    return _blocks(element, links, width)


def _items(element: etree._Element, links: _Links, width: int) -> list[str]:
    lines: list[str] = []
    ordered = element.tag == "ol"
    start = int(element.get("start") or 1) if (element.get("start") or "1").isdigit() else 1
    for number, item in enumerate((c for c in element if c.tag == "li"), start=start):
        marker = f"{number}. " if ordered else "- "
        body = "\n\n".join(_blocks(item, links, width - len(marker)))
        indent = " " * len(marker)
        for index, line in enumerate(body.split("\n")):
            lines.append((marker if index == 0 else indent) + line if line else "")
    return lines


def _inline(element: etree._Element, links: _Links) -> str:
    tag = element.tag
    if tag == "br":
        return BREAK
    if tag == "img":
        alt = KEEP.join((element.get("alt") or "").split())
        return f" [Image:{KEEP}{alt}] " if alt else ""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(_inline(child, links))
        parts.append(child.tail or "")
    text = "".join(parts)
    if tag == "a":
        return _link(text, (element.get("href") or "").strip(), links)
    return text


def _link(text: str, href: str, links: _Links) -> str:
    fragment = href.partition("#")[2]
    if fragment.startswith("fnref"):
        return ""  # a footnote's way back up: the text part has no "up"
    if not href or href.startswith("#") or fragment.startswith("fn"):
        return text  # a footnote mark: its note follows in the text itself
    words = " ".join(text.replace(BREAK, " ").split())
    shown = href.removeprefix("mailto:")
    if not words:
        return f" {shown} "
    if words in (href, shown) or words.rstrip("/") == shown.rstrip("/"):
        return words
    return f"{text} [{links.number(shown)}]"


def _paragraph(text: str, width: int) -> list[str]:
    # ASCII whitespace only: a no-break space (typography, or KEEP) must stay where it is
    lines = (" ".join(SPACES.split(line.strip(" \t\n\r\f\v"))) for line in text.split(BREAK))
    wrapped = [
        textwrap.fill(line, width=width, break_long_words=False, break_on_hyphens=False)
        for line in lines
        if line
    ]
    wrapped = [line.replace(KEEP, " ") for line in wrapped]
    return ["\n".join(wrapped)] if wrapped else []
