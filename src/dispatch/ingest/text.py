"""Plain text from sanitised HTML, and summaries from plain text."""

from __future__ import annotations

from lxml import etree

from dispatch.fragments import parse_fragment

BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hgroup", "hr", "li", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
SUBSTANTIAL_WORDS = 25
SUMMARY_CHARS = 300
ELLIPSIS = "…"
BREAK = "\x00"  # stands for <br> while whitespace is collapsed (NUL never reaches here)


def html_to_text(html: str) -> str:
    """Readable text: one paragraph per block element, separated by blank lines."""
    if not html.strip():
        return ""
    root = parse_fragment(html)
    return "\n\n".join(_blocks(root))


def _blocks(element: etree._Element) -> list[str]:
    out: list[str] = []
    inline: list[str] = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):  # comments, processing instructions
            inline.append(child.tail or "")
            continue
        if child.tag in BLOCKS:
            out.extend(_flush(inline, preformatted=element.tag == "pre"))
            inline = []
            out.extend(_prefix(child, _inner(child)))
        else:
            inline.append(_inline(child))
        inline.append(child.tail or "")
    out.extend(_flush(inline, preformatted=element.tag == "pre"))
    return out


def _inner(element: etree._Element) -> list[str]:
    if element.tag == "pre":
        return _flush([element.text_content()], preformatted=True)
    if element.tag == "tr":  # one line per table row, cells separated by " | "
        cells = (_flush([_inline(cell)], preformatted=False) for cell in element)
        return [" | ".join(" ".join(cell) for cell in cells)]
    return _blocks(element)


def _inline(element: etree._Element) -> str:
    if element.tag == "br":
        return BREAK
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _flush(parts: list[str], preformatted: bool) -> list[str]:
    text = "".join(parts)
    if preformatted:
        text = text.replace(BREAK, "\n")
        return [text.strip("\n")] if text.strip() else []
    lines = (" ".join(line.split()) for line in text.split(BREAK))
    joined = "\n".join(line for line in lines if line)
    return [joined] if joined else []


def _prefix(element: etree._Element, blocks: list[str]) -> list[str]:
    if element.tag != "li" or not blocks:
        return blocks
    parent = element.getparent()
    if parent is not None and parent.tag == "ol":
        marker = f"{list(parent).index(element) + 1}."
    else:
        marker = "-"
    return [f"{marker} {blocks[0]}", *blocks[1:]]


def summarise(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first substantial paragraph, cut at a word boundary to at most `limit` chars."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        return ""
    chosen = next((p for p in paragraphs if len(p.split()) >= SUBSTANTIAL_WORDS), paragraphs[0])
    return trim(" ".join(chosen.split()), limit)


def trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[: limit - len(ELLIPSIS)]
    return cut.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS
