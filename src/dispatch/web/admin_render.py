"""Admin pages: `templates/admin/<name>.html.j2` rendered with what every admin page uses.

The context always has `editor` (a `CurrentEditor`, or None on the login page),
`csrf_token` and `csrf_input` (the hidden form field, ready to drop into any form that
changes something), `nav` (the menu, with the current entry marked) and the globals of
the public pages (`site`, `branding`, `urls`, `static_url`). Responses are private, not
cached and may not be framed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from dispatch.auth.csrf import FIELD
from dispatch.auth.deps import CurrentEditor
from dispatch.web.pages import Pages

ADMIN_HEADERS = {  # CSP, framing and nosniff: `dispatch.web.security_headers`, on every response
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    admin_only: bool = False


NAV = (
    NavItem("Dashboard", "/admin"),
    NavItem("Articles", "/admin/articles"),
    NavItem("Lists & subscribers", "/admin/lists"),
    NavItem("Campaigns", "/admin/campaigns"),
    NavItem("Outbox", "/admin/outbox"),
    NavItem("Feeds", "/admin/feeds"),
    NavItem("Editors", "/admin/editors", admin_only=True),
    NavItem("Tokens", "/admin/tokens", admin_only=True),
    NavItem("Audit", "/admin/audit", admin_only=True),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    current: bool


def nav_for(editor: CurrentEditor | None, path: str) -> list[NavLink]:
    if editor is None:
        return []
    items = [item for item in NAV if editor.is_admin or not item.admin_only]
    best = max((i for i in items if _under(path, i.path)), key=lambda i: len(i.path), default=None)
    return [NavLink(i.label, i.path, i is best) for i in items]


def render_admin(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    editor: CurrentEditor | None,
    **context: Any,
) -> HTMLResponse:
    pages: Pages = request.app.state.pages
    token = editor.csrf_token if editor is not None else ""
    html = pages.env.get_template(f"admin/{name}.html.j2").render(
        editor=editor,
        csrf_token=token,
        csrf_input=Markup(f'<input type="hidden" name="{FIELD}" value="{escape(token)}">'),
        nav=nav_for(editor, request.url.path),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(ADMIN_HEADERS)
    return response


def _under(path: str, prefix: str) -> bool:
    """`path` is the entry's page or below it (the dashboard only matches itself)."""
    if path.rstrip("/") == prefix:
        return True
    return prefix != "/admin" and path.startswith(prefix + "/")
