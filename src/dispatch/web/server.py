"""How `dispatch serve` (and the tests' live servers) run uvicorn: the header limits.

uvicorn's default HTTP parser (httptools) accepts headers of any size, so `dispatch
serve` uses h11, which stops buffering a request head at `[web] max_header_bytes`.
uvicorn answers that with a generic 400; `LimitedH11Protocol` says 431 (Request Header
Fields Too Large) and why. Header *count* is checked by `dispatch.web.limits`.
Graceful shutdown is bounded (`[web] shutdown_timeout_seconds`): a long export or a
slow client cannot hold SIGTERM up.
"""

from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from dispatch.config import Settings

HEADERS_TOO_LARGE = 431


class _Connection(h11.Connection):
    """h11's connection, remembering the status its last protocol error suggested."""

    error_hint: int | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error_hint = exc.error_status_hint
            raise


class LimitedH11Protocol(H11Protocol):
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.conn = _Connection(h11.SERVER, config.h11_max_incomplete_event_size)
        self.header_limit = config.h11_max_incomplete_event_size

    def send_400_response(self, msg: str) -> None:
        hint = getattr(self.conn, "error_hint", None)
        if hint != HEADERS_TOO_LARGE:
            super().send_400_response(msg)
            return
        body = f"request headers too large: over the {self.header_limit:,}-byte limit\n"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + body.encode()
        )
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that every server uses."""
    return {
        "http": LimitedH11Protocol,
        "h11_max_incomplete_event_size": settings.web.max_header_bytes,
        "timeout_graceful_shutdown": settings.web.shutdown_timeout_seconds,
        "server_header": False,
    }
