"""Request limits enforced before any route runs: body size per route class, header count.

The outermost middleware of the app. A body is refused with 413 when its Content-Length
says it is too large (nothing is read, no login or token is looked at), or as soon as the
bytes counted while they arrive pass the limit (a chunked body): the 413 goes out at
once with `Connection: close`, and the route sees the client as gone, so whatever it was
doing with the body stops. Each route class has its own limit (`[web] max_body_*`):

- `upload`: multipart file uploads on the routes that take files (images, article files,
  CSV imports); Starlette spools their parts to disk, so memory stays small;
- `json`: JSON and other bodies (the API, webhooks), and the admin article editor,
  whose form carries a whole article;
- `form`: every other form, and bodies on routes that take none.

Headers: more than `[web] max_headers` fields, or more than `max_header_bytes` in all,
get 431. Under `dispatch serve` the server itself stops reading at `max_header_bytes`
(`dispatch.web.server`), so oversized headers never reach memory whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.config import WebSettings

UPLOAD_ROUTES = re.compile(
    r"^/(?:admin/media|admin/articles/import|admin/lists/[^/]+/import|api/media)/?$"
)
ARTICLE_FORMS = re.compile(r"^/admin/articles/(?:new|preview|[^/]+/edit)/?$")
LINGER_SECONDS = 2.0  # how long a refused body is still read (and dropped)
HINTS = {
    "upload": "upload fewer or smaller files",
    "json": "send a smaller body",
    "form": "send a smaller form",
}


@dataclass(frozen=True)
class BodyLimits:
    form: int
    json: int
    upload: int
    max_headers: int
    max_header_bytes: int

    @classmethod
    def of(cls, web: WebSettings) -> BodyLimits:
        return cls(
            web.max_body_form,
            web.max_body_json,
            web.max_body_upload,
            web.max_headers,
            web.max_header_bytes,
        )

    def route_class(self, path: str, content_type: str) -> str:
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind == "multipart/form-data" and UPLOAD_ROUTES.match(path):
            return "upload"
        if ARTICLE_FORMS.match(path):
            return "json"
        if not kind or kind in ("multipart/form-data", FORM):
            return "form"
        return "json"

    def limit(self, route_class: str) -> int:
        return {"upload": self.upload, "json": self.json, "form": self.form}[route_class]


FORM = "application/x-www-form-urlencoded"


class RequestLimits:
    """ASGI middleware: 413 for bodies over their route's limit, 431 for too many headers."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if len(headers) > self.limits.max_headers or size > self.limits.max_header_bytes:
            why = (
                f"{len(headers)} header fields, over the limit of {self.limits.max_headers}"
                if len(headers) > self.limits.max_headers
                else f"{size:,} bytes of headers, over the limit of "
                f"{self.limits.max_header_bytes:,}"
            )
            await refuse(send, 431, f"request headers too large: {why}")
            return
        content_type = _header(headers, b"content-type")
        route_class = self.limits.route_class(scope["path"], content_type)
        limit = self.limits.limit(route_class)
        declared = _header(headers, b"content-length")
        if declared and not declared.isdigit():
            await refuse(send, 400, f"Content-Length is not a number: {declared[:40]!r}")
            return
        if declared and int(declared) > limit:
            await refuse(send, 413, too_large(route_class, limit, int(declared)), receive)
            return
        await Counted(self.app, route_class, limit)(scope, receive, send)


class Counted:
    """One request whose body bytes are counted as the route reads them."""

    def __init__(self, app: ASGIApp, route_class: str, limit: int) -> None:
        self.app, self.route_class, self.limit = app, route_class, limit
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit and message.get("more_body", False):
                    await self._refuse(send, receive)
                    return {"type": "http.disconnect"}  # the route stops reading
                if self.received > self.limit:
                    await self._refuse(send, None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if self.refused:
                return  # the 413 has been answered; the route's late answer is dropped
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse(self, send: Send, receive: Receive | None) -> None:
        if self.started:
            self.refused = True
            return
        self.refused = True
        await refuse(send, 413, too_large(self.route_class, self.limit, None), receive)


def too_large(route_class: str, limit: int, declared: int | None) -> str:
    size = f"{declared:,} bytes" if declared is not None else "the body"
    return (
        f"request body too large: {size} is over the {limit:,}-byte limit for "
        f"{route_class} requests; {HINTS[route_class]}"
    )


async def refuse(send: Send, status: int, detail: str, receive: Receive | None = None) -> None:
    """A JSON answer in the API's error shape that closes the connection.

    With `receive`, what the client is still sending is read and dropped for up to
    `LINGER_SECONDS` between the status line and the end of the answer (as nginx's
    lingering close): closing on unread bytes resets the connection, and a proxy in front
    that is still writing the body would turn our 413 into its 502."""
    field = "headers" if status == 431 else "body"
    body = json.dumps({"error": {"message": detail, "field": field}, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    if receive is not None:
        await linger(receive)
    await send({"type": "http.response.body", "body": body})


async def linger(receive: Receive) -> None:
    """Read and drop the rest of the body, for a bounded time (memory stays flat)."""
    with anyio.move_on_after(LINGER_SECONDS):
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""
