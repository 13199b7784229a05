"""Click tracking: a campaign's links rewritten to signed `/r/<token>` redirects.

Off unless the list opts in (`click_tracking = true`). When a campaign starts, every
distinct http(s) link of its frozen message (HTML and text part) gets a position and a
`campaign_links` row holding the one URL that position may redirect to; the token names
the campaign and the position, and the reader only where the operator turned on
`click_tracking_per_person` (then each link is a per-recipient slot filled by the
envelope). Links that carry a per-recipient value (a merge tag in a URL) and the
unsubscribe and preferences links are left alone. No open pixel is ever added.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from dispatch.store.models import CampaignLink

HREF = re.compile(r'(<a\b[^>]*?\bhref=")(https?://[^"]+)(")', re.IGNORECASE)
TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+")
MAX_LINKS = 500  # positions per campaign; more is not a newsletter


def track_links(
    snapshot: dict[str, Any],
    site_url: str,
    static_link: Callable[[int], str],
    per_person: bool,
) -> tuple[dict[str, Any], list[str]]:
    """The snapshot with its links rewritten, and the URL of each position."""
    marker = f"zz{snapshot['nonce']}s"
    own = f"{site_url.rstrip('/')}/r/"
    urls: list[str] = []
    index: dict[str, int] = {}

    def position(url: str) -> int | None:
        if marker in url or url.startswith(own):
            return None
        if url not in index:
            if len(urls) >= MAX_LINKS:
                return None
            index[url] = len(urls)
            urls.append(url)
        return index[url]

    slots: list[list[str]] = [list(key) for key in snapshot["slots"]]

    def replacement(n: int) -> str:
        if not per_person:
            return static_link(n)
        key = ["click", str(n)]
        if key not in slots:
            slots.append(key)
        return f"{marker}{slots.index(key)}zz"

    def in_html(found: re.Match[str]) -> str:
        n = position(html.unescape(found.group(2)))
        return found.group(0) if n is None else found.group(1) + replacement(n) + found.group(3)

    def in_text(found: re.Match[str]) -> str:
        url = found.group(0).rstrip(".,;:!?")  # the end of a sentence is not the URL's
        n = position(url)
        return found.group(0) if n is None else replacement(n) + found.group(0)[len(url) :]

    rewritten = dict(snapshot)
    rewritten["html"] = HREF.sub(in_html, snapshot["html"])
    rewritten["text"] = TEXT_URL.sub(in_text, snapshot["text"])
    rewritten["slots"] = slots
    rewritten["tracked_links"] = len(urls)
    return rewritten, urls


def record_links(session: Session, campaign_id: int, urls: list[str]) -> None:
    session.add_all(
        CampaignLink(campaign_id=campaign_id, position=n, url=url, clicks=0)
        for n, url in enumerate(urls)
    )
