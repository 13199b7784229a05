"""HEAD on every GET route (RFC 9110 §9.3.2): answered as the GET would be, without a body.

FastAPI's routes answer HEAD with 405 unless it is listed; monitors, link checkers and
caches use it. This middleware runs a HEAD as a GET for routes that have no HEAD of
their own, keeps status and headers (Content-Length included) and drops the body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
