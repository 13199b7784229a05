"""Server-rendered pages: the Jinja2 environment for `templates/web/`, with the globals
every page uses (site, branding, urls, the site's feed URLs, static file URLs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment
from markupsafe import Markup

from dispatch.config import Settings
from dispatch.render.environment import builtin_templates, make_environment
from dispatch.render.feed_ids import FeedFormat, site_target
from dispatch.render.merge_tags import with_defaults
from dispatch.urls import Urls
from dispatch.web.security_headers import admin_css, csp_nonce, site_css

STATIC_PREFIX = "/static"
STYLE_OPEN = re.compile(r"<style\b", re.I)


@dataclass(frozen=True)
class FeedLinks:
    rss: str
    atom: str
    json: str


class Pages:
    """Renders `web/<name>.html.j2` into an HTMLResponse."""

    def __init__(self, settings: Settings, env: Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment(settings)
        self.urls = Urls(settings.site.base_url)
        site = site_target(settings)
        self.env.globals.update(
            site=settings.site,
            branding=settings.branding,
            urls=self.urls,
            feed_urls=FeedLinks(*(site.url(settings, fmt) for fmt in FeedFormat)),
            static_url=self.static_url,
            csp_nonce=csp_nonce,  # <style nonce="{{ csp_nonce() }}">: the CSP lets it through
            branding_css=site_css(settings.branding),  # inline, allowed by its hash
            admin_branding_css=admin_css(settings.branding),
        )
        self.env.filters["merge_defaults"] = with_defaults
        self.env.filters["nonced"] = nonced

    def static_url(self, name: str) -> str:
        return f"{self.settings.site.base_url}{STATIC_PREFIX}/{name}"

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(f"web/{name}.html.j2").render(context)
        return HTMLResponse(html, status_code=status_code)


def nonced(html: str) -> Markup:
    """Trusted HTML (an email's own <style> elements) with the request's CSP nonce."""
    return Markup(STYLE_OPEN.sub(f'<style nonce="{csp_nonce()}"', html))


def static_folder() -> str:
    """Built-in static files (CSS) served at /static."""
    return str(builtin_templates() / "web" / "static")
