"""Every public URL Dispatch puts in an email or a page, built from `site.base_url`.

The web app serves these paths; emails and feeds only ever link to them, so this
module is the single place where their shape is decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urljoin


@dataclass(frozen=True)
class Urls:
    """Absolute URLs under one base (no trailing slash, as config validation leaves it)."""

    base_url: str

    def home(self) -> str:
        return f"{self.base_url}/"

    def article(self, slug: str) -> str:
        return f"{self.base_url}/articles/{_segment(slug)}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.base_url}/unsubscribe/{_segment(token)}"

    def preferences(self, token: str) -> str:
        return f"{self.base_url}/preferences/{_segment(token)}"

    def confirm(self, token: str) -> str:
        return f"{self.base_url}/confirm/{_segment(token)}"

    def click(self, token: str) -> str:
        """A tracked link: `/r/<token>` redirects to the campaign's link the token names."""
        return f"{self.base_url}/r/{_segment(token)}"

    def archive_list(self, list_slug: str) -> str:
        """A list's archive: its sent campaigns, newest first."""
        return f"{self.base_url}/archive/{_segment(list_slug)}"

    def archive(self, list_slug: str, campaign_key: str) -> str:
        """The "view in browser" copy of one campaign of one list."""
        return f"{self.base_url}/archive/{_segment(list_slug)}/{_segment(campaign_key)}"

    def absolute(self, url: str, relative_to: str | None = None) -> str:
        """`url` made absolute against `relative_to` (default: the site root)."""
        return urljoin(relative_to or self.home(), url)


def _segment(value: str) -> str:
    return quote(value, safe="-._~")
