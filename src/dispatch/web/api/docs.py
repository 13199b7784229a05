"""`/api/docs` (Swagger UI) and `/api/redoc` (ReDoc), with their scripts served from here.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank on a
machine without the internet (and leak every visit to the CDN). The assets come from
the `fastapi-offline` package instead, served under `/api/docs/assets/`; ReDoc's
Google Fonts are off too.
"""

from __future__ import annotations

import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from dispatch.web.security_headers import csp_nonce

DOCS_URL = "/api/docs"
REDOC_URL = "/api/redoc"
ASSETS_URL = "/api/docs/assets"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
INLINE = re.compile(r"<(script|style)>")
REDOC_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)


def install(app: FastAPI, openapi_url: str) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="api-docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.ico",
        )
        return with_nonce(page)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/favicon.ico",
            with_google_fonts=False,
        )
        # ReDoc writes its styles as <style> elements at run time (styled-components),
        # and reads the spec in a blob: worker: its page alone allows both.
        page.headers["Content-Security-Policy"] = REDOC_POLICY
        return with_nonce(page)


def with_nonce(page: HTMLResponse) -> HTMLResponse:
    """FastAPI's page with the request's CSP nonce on its inline <script>/<style>."""
    html = INLINE.sub(lambda m: f'<{m.group(1)} nonce="{csp_nonce()}">', page.body.decode())
    return HTMLResponse(
        html,
        headers={k: v for k, v in page.headers.items() if k.lower() == "content-security-policy"},
    )
