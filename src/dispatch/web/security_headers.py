"""Security headers on every response, set by one middleware (a route may set its own).

- `Content-Security-Policy`: scripts and style elements only from this site or with the
  request's nonce (`csp_nonce()` in templates; no inline script anywhere else); style
  *attributes* are allowed, since the archive shows sent emails, which are styled inline;
  images from anywhere over https (articles embed them); `frame-ancestors 'none'`.
- `X-Frame-Options: DENY` for browsers that predate frame-ancestors. With `[web]
  embeddable_subscribe = true`, `/subscribe` (the form and its answer) may be framed by
  any site and carries neither.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (links in pages with
  a token in their URL never hand it to another site).
- `Strict-Transport-Security` when `site.base_url` is https.

The nonce lives in a context variable for the request, so templates read it without
every route passing it along.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.config import Settings

NONCE: ContextVar[str] = ContextVar("csp_nonce", default="")
EMBEDDABLE = ("/subscribe",)
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """The nonce of the request being answered ("" outside a request)."""
    return NONCE.get()


def policy(nonce: str, origin: str, *, framed: bool) -> str:
    sources = f"'self' {origin}".strip()
    return "; ".join(
        [
            f"default-src {sources}",
            f"script-src {sources} 'nonce-{nonce}'",
            f"style-src {sources} 'nonce-{nonce}'",
            "style-src-attr 'unsafe-inline'",
            f"img-src {sources} data: https:",
            f"font-src {sources} data:",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action {sources}",
            "frame-ancestors *" if framed else "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        parts = urlsplit(settings.site.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.https = parts.scheme == "https"
        self.embeddable = EMBEDDABLE if settings.web.embeddable_subscribe else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        framed = scope["path"].rstrip("/") in self.embeddable

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault(
                    "Content-Security-Policy", policy(nonce, self.origin, framed=framed)
                )
                if not framed:
                    headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        token = NONCE.set(nonce)
        try:
            await self.app(scope, receive, with_headers)
        finally:
            NONCE.reset(token)
