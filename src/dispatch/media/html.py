"""`<img>` elements that show a stored image get its sizes and its 2x rendition.

Run on sanitised article HTML: an image whose `src` is a media URL gets `width` and
`height` (of the 600 px rendition, so that mail clients which ignore CSS, Outlook
first, never show it wider than the email) and `srcset="… 1x, … 2x"` for pages.
Other images are left alone.
"""

from __future__ import annotations

from dispatch.fragments import inner_html, parse_fragment
from dispatch.media.store import MediaStore


def with_sizes(html: str, store: MediaStore) -> str:
    if store.prefix not in html:
        return html
    root = parse_fragment(html)
    changed = False
    for image in root.iter("img"):
        stored = store.info(image.get("src") or "")
        if stored is None:
            continue
        image.set("src", stored.url)
        image.set("srcset", f"{stored.url} 1x, {stored.url_2x} 2x")
        image.set("width", str(stored.width))
        image.set("height", str(stored.height))
        changed = True
    if not changed:
        return html
    return inner_html(root)
