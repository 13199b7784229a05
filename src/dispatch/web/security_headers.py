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

The branding `<style>` of every page (its colours, from `[branding]`) is allowed by its
hash, so pages without other inline code carry no nonce and the same page is the same
bytes on every request. Other inline code asks for the request's nonce (`csp_nonce()`:
the archive's email styles, the API docs); the policy names a nonce only when one was
used. The nonce lives in a context variable for the request, so templates read it
without every route passing it along.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.config import BrandingSettings, Settings

EMBEDDABLE = ("/subscribe",)
HSTS = "max-age=31536000"


@dataclass
class _Nonce:
    value: str
    used: bool = False


NONCE: ContextVar[_Nonce | None] = ContextVar("csp_nonce", default=None)


def csp_nonce() -> str:
    """The nonce of the request being answered ("" outside a request); the response's
    policy then allows it."""
    nonce = NONCE.get()
    if nonce is None:
        return ""
    nonce.used = True
    return nonce.value


def site_css(branding: BrandingSettings) -> str:
    """The public pages' inline `<style>`: the colours from `[branding]`."""
    return (
        f":root {{ --accent: {branding.accent_color}; --text: {branding.text_color}; "
        f"--paper: {branding.background_color}; }}"
    )


def admin_css(branding: BrandingSettings) -> str:
    return f":root {{ --accent: {branding.accent_color}; }}"


def style_hash(css: str) -> str:
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def policy(nonce: str | None, origin: str, styles: str, *, framed: bool) -> str:
    sources = f"'self' {origin}".strip()
    allowed = f" 'nonce-{nonce}'" if nonce else ""
    return "; ".join(
        [
            f"default-src {sources}",
            f"script-src {sources}{allowed}",
            f"style-src {sources} {styles}{allowed}",
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
        branding = settings.branding
        self.styles = f"{style_hash(site_css(branding))} {style_hash(admin_css(branding))}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = _Nonce(secrets.token_urlsafe(18))
        framed = scope["path"].rstrip("/") in self.embeddable

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                used = nonce.value if nonce.used else None
                headers.setdefault(
                    "Content-Security-Policy", policy(used, self.origin, self.styles, framed=framed)
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
