"""The attacks of issue 15 sent to a real `dispatch serve` (uvicorn, h11) over raw sockets,
with the server process's memory (RSS, psutil) watched while they run:

- 8 concurrent 30 MB JSON bodies (declared, then chunked) without a token → 413, quickly,
  and the RSS grows by less than 50 MB;
- a 100 MB JSON POST /api/articles without a token → 413 after a few bytes;
- 8 x 30 MB headers → 431 after `max_header_bytes`, memory bounded;
- a 200 MB image upload (chunked) → 413 once `max_body_upload` bytes have arrived.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest

from conftest import write_config
from dispatch import config
from dispatch.store import migrate
from dispatch.store.database import Database
from support.live_server import free_port
from support.serve import dispatch_serve

MB = 1_000_000
PIECE = b"x" * 65536
ALLOWED_GROWTH = 50 * MB


@dataclass
class Outcome:
    status: int = 0
    sent: int = 0  # bytes the client got out before the server answered or closed
    seconds: float = 0.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, psutil.Process]]:
    """One server for the module (on SQLite: the store plays no part in these refusals)."""
    folder = tmp_path_factory.mktemp("attacks")
    path = write_config(folder, f"sqlite:///{folder / 'dispatch.db'}")
    database = Database(config.load(path).database)
    migrate.upgrade(database.engine)
    database.dispose()
    port = free_port()
    with dispatch_serve(path, port) as process:
        yield port, psutil.Process(process.pid)


def attack(port: int, head: bytes, body: Callable[[], Iterator[bytes]]) -> Outcome:
    """Send `head`, then `body`, as fast as the server reads, until it answers or hangs up;
    then read the status of its answer."""
    outcome = Outcome()
    start = time.monotonic()
    parts = itertools.chain([head], body())
    pending: bytes | None = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setblocking(False)
        while time.monotonic() - start < 60:
            writers = [sock] if pending is not None else []
            readable, writable, _ = select.select([sock], writers, [], 1)
            if readable:
                break  # an answer, or the connection closed
            if not writable:
                continue
            if not pending:
                pending = next(parts, None)
                continue
            try:
                sent = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            outcome.sent += sent
            pending = pending[sent:]
        sock.setblocking(True)
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            reply = sock.recv(200)
            outcome.status = int(reply.split(b" ", 2)[1]) if reply else 0
    outcome.seconds = time.monotonic() - start
    return outcome


def pieces(total: int, chunked: bool = False) -> Callable[[], Iterator[bytes]]:
    def body() -> Iterator[bytes]:
        for _ in range(total // len(PIECE)):
            yield b"10000\r\n" + PIECE + b"\r\n" if chunked else PIECE

    return body


def together(count: int, run: Callable[[], Outcome], process: psutil.Process) -> list[Outcome]:
    """`count` attacks at once; also the peak RSS growth of the server while they ran."""
    before = process.memory_info().rss
    results: list[Outcome] = []
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=lambda: results.append(run())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done.set()
    watcher.join()
    growth = peak[0] - before
    print(f"\n{count} attacks: peak RSS growth {growth / MB:.1f} MB")
    assert growth < ALLOWED_GROWTH, f"server RSS grew by {growth / MB:.0f} MB"
    assert len(results) == count
    return results


def post(path: str, headers: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode()


def test_huge_json_bodies_are_refused_before_they_are_read(
    server: tuple[int, psutil.Process],
) -> None:
    port, process = server
    declared = post(
        "/api/articles", "Content-Type: application/json\r\nContent-Length: 100000000\r\n"
    )
    single = attack(port, declared, pieces(100 * MB))
    assert single.status == 413 and single.seconds < 5
    assert single.sent < 20 * MB  # the socket buffers, not the body

    head = post("/api/articles", "Content-Type: application/json\r\nContent-Length: 30000000\r\n")
    for outcome in together(8, lambda: attack(port, head, pieces(30 * MB)), process):
        assert outcome.status == 413 and outcome.seconds < 10

    chunked = post(
        "/api/articles", "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    )
    for outcome in together(8, lambda: attack(port, chunked, pieces(30 * MB, True)), process):
        assert outcome.status == 413 and outcome.seconds < 20
        assert outcome.sent < 4 * MB + 20 * MB  # max_body_json, plus what the buffers held


def test_huge_headers_are_refused(server: tuple[int, psutil.Process]) -> None:
    port, process = server
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "

    for outcome in together(8, lambda: attack(port, head, pieces(30 * MB)), process):
        assert outcome.status == 431
        assert outcome.sent < 20 * MB
    many = "".join(f"X-Field-{n}: 1\r\n" for n in range(150))
    assert (
        attack(port, f"GET /healthz HTTP/1.1\r\nHost: a\r\n{many}\r\n".encode(), pieces(0)).status
        == 431
    )
    assert attack(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", pieces(0)).status == 200


def test_a_200_mb_upload_is_refused_while_it_streams(server: tuple[int, psutil.Process]) -> None:
    port, process = server
    boundary = "b0undary"
    head = post(
        "/api/media",
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n",
    )
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield f"{len(start):x}\r\n".encode() + start + b"\r\n"
        yield from pieces(200 * MB, chunked=True)()

    [outcome] = together(1, lambda: attack(port, head, body), process)
    assert outcome.status == 413
    assert 50 * MB <= outcome.sent < 80 * MB  # max_body_upload arrived, then the refusal
