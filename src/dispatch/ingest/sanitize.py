"""The one gate every article body passes: nh3 (ammonia) with absolute URLs, after
`preclean` turned embeds into links and took out tracking pixels and subscribe prompts.

Allowed: ammonia's default formatting tags and attributes. Removed with their
content: script, style, iframe, svg and other embedding or form elements. Links
may only be http(s) or mailto; relative href/src/cite values are made absolute
against the article's URL (feeds and emails must never carry relative links).
Footnote anchors (`id="fn1"`, `id="fnref1"` on links and list items, as Markdown
footnotes make them) are kept so that their links work on the article's page; no
other `id` is. Characters XML forbids are dropped.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import nh3

from dispatch.ingest.preclean import preclean

URL_SCHEMES = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "svg",
        "math",
        "noscript",
        "template",
        "form",
        "textarea",
        "select",
        "button",
        "title",
    }
)
# Layout containers that trafilatura or pasted pages may bring along; their text stays.
REMOVED_TAGS = frozenset({"nav", "header", "footer", "aside", "center"})
TAGS = frozenset(nh3.ALLOWED_TAGS) - DROP_WITH_CONTENT - REMOVED_TAGS
# Characters XML forbids (C0 controls but tab, LF, CR; U+FFFE, U+FFFF): lxml refuses
# them and feeds must never carry them, so no stored body holds one.
FOOTNOTE_ID = re.compile(r"fn(?:ref)?\d{1,4}(?::\d{1,4})?")
ATTRIBUTES = {
    name: set(values) | ({"id"} if name in ("a", "li") else set())
    for name, values in {**nh3.ALLOWED_ATTRIBUTES, "li": set()}.items()
}
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def sanitize_html(html: str, base_url: str) -> str:
    """Safe HTML for feeds, emails and pages; links absolute against `base_url`."""

    def absolutise(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "id":
            return value if FOOTNOTE_ID.fullmatch(value) else None
        if attribute not in URL_ATTRIBUTES:
            return value
        absolute = urljoin(base_url, value.strip())
        return absolute if urlsplit(absolute).scheme in URL_SCHEMES else None

    cleaned = nh3.clean(
        preclean(html),
        tags=set(TAGS),
        attributes=ATTRIBUTES,
        clean_content_tags=set(DROP_WITH_CONTENT),
        url_schemes=set(URL_SCHEMES),
        attribute_filter=absolutise,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
    return XML_FORBIDDEN.sub("", cleaned).strip()
