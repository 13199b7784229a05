"""Text and HTML made safe for feeds: XML-legal characters, absolute links, media types.

Every string that reaches a feed passes through `clean()`: XML 1.0 forbids the C0
controls except tab, LF and CR (and lxml refuses them outright), lone surrogates and
U+FFFE/U+FFFF. Feed readers resolve relative links against the feed's URL, not the
article's, so `absolute_html()` rewrites every `href`, `src` and `srcset` in article
HTML against the article's own URL (no `xml:base` is needed then).
"""

from __future__ import annotations

import html
import mimetypes
import re
import textwrap
from urllib.parse import urljoin, urlsplit

from dispatch.fragments import inner_html, parse_fragment

# XML 1.0 `Char` excludes these; U+0009, U+000A and U+000D are allowed.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SRCSET_ELEMENTS = ("img", "source")
# Python's built-in table only (no /etc/mime.types): the same answer on every machine.
_MIME = mimetypes.MimeTypes(filenames=())
DEFAULT_MEDIA_TYPE = "application/octet-stream"
SUMMARY_WIDTH = 300


def clean(text: str | None) -> str:
    """`text` without the characters XML forbids; None becomes ""."""
    return _XML_FORBIDDEN.sub("", text or "")


def absolute_html(fragment: str, base_url: str) -> str:
    """An HTML fragment with every link and image URL made absolute against `base_url`."""
    fragment = clean(fragment).strip()
    if not fragment:
        return ""
    wrapper = parse_fragment(fragment)
    wrapper.make_links_absolute(base_url, resolve_base_href=False, handle_failures="ignore")
    for element in wrapper.iter(*_SRCSET_ELEMENTS):
        srcset = element.get("srcset")
        if srcset:
            element.set("srcset", _absolute_srcset(srcset, base_url))
    return inner_html(wrapper)


def _absolute_srcset(srcset: str, base_url: str) -> str:
    """`a.jpg 1x, b.jpg 2x` with each URL made absolute (descriptors kept)."""
    candidates = []
    for candidate in srcset.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        if url:
            candidates.append(f"{urljoin(base_url, url)} {descriptor.strip()}".strip())
    return ", ".join(candidates)


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs (blank lines separate paragraphs)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", clean(text)) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def shorten(text: str, width: int = SUMMARY_WIDTH) -> str:
    """The first `width` characters of `text`, cut at a word, whitespace collapsed."""
    return textwrap.shorten(clean(text), width=width, placeholder=" …")


def media_type(url: str) -> str:
    """The media type for a URL's file extension (query and fragment ignored)."""
    guessed, _ = _MIME.guess_type(urlsplit(url).path, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE
