"""A loopback HTTP server for upstream-feed tests: each path answers as the test scripts it.

`FeedServer.serve(path, reply)` sets what a path answers; a reply is a `Reply` or a
function of the request. `feed(...)` answers like a well-behaved feed host: 200 with
ETag and Last-Modified, 304 when the request's If-None-Match or If-Modified-Since
matches. Every request is recorded (path and headers) for assertions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Tue, 03 Mar 2026 09:12:44 GMT"


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-case names


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drip: float = 0.0  # seconds between 100-byte pieces of the body


Responder = Callable[[Request], Reply]


def feed(
    body: bytes,
    content_type: str = "application/rss+xml; charset=UTF-8",
    etag: str | None = '"v1"',
    last_modified: str | None = LAST_MODIFIED,
) -> Responder:
    """A feed host that honours conditional GET."""

    def answer(request: Request) -> Reply:
        headers = {"Content-Type": content_type}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if (etag and request.headers.get("if-none-match") == etag) or (
            not etag and last_modified and request.headers.get("if-modified-since") == last_modified
        ):
            return Reply(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
        return Reply(200, body, headers)

    return answer


def redirect(status: int, location: str) -> Responder:
    return lambda request: Reply(status, b"", {"Location": location})


class FeedServer:
    def __init__(self, server: ThreadingHTTPServer, release: threading.Event) -> None:
        self._server = server
        self.release = release  # set on shutdown: slow replies stop waiting
        self.routes: dict[str, Responder] = {}
        self.requests: list[Request] = []

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def serve(self, path: str, reply: Reply | Responder) -> None:
        self.routes[path] = reply if callable(reply) else (lambda request: reply)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    release = threading.Event()
    holder: list[FeedServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            server = holder[0]
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
            server.requests.append(request)
            responder = server.routes.get(self.path)
            reply = responder(request) if responder else Reply(404, b"not found")
            if reply.delay and release.wait(reply.delay):
                return  # the test is over: answer nothing
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not reply.drip:
                self.wfile.write(reply.body)
                return
            for start in range(0, len(reply.body), 100):
                if release.wait(reply.drip):
                    return
                self.wfile.write(reply.body[start : start + 100])
                self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    holder.append(FeedServer(httpd, release))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
