"""SIGTERM is not held up by a download: `dispatch serve` with an export stalled on a
client that stopped reading exits within `[web] shutdown_timeout_seconds` (plus start-up
slack): uvicorn cancels the stalled response, and the export's generator is closed with
it (no temporary file exists to be left behind)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
from sqlalchemy import update

from conftest import write_config
from dispatch import config
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Subscriber
from support.auth import PASSWORD, add_editor, cheap_hasher, post_login
from support.campaigns import add_subscribers
from support.live_server import free_port
from support.serve import dispatch_serve

LIST = "morning-briefing"
PEOPLE = 6_000  # with long names about 12 MB of CSV: more than the sockets can hold


def test_sigterm_is_not_held_up_by_a_stalled_export(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'dispatch.db'}",
        {r"^shutdown_timeout_seconds = .*$": "shutdown_timeout_seconds = 2"},
    )
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    add_subscribers(database, LIST, PEOPLE)
    with database.session() as session:
        session.execute(update(Subscriber).values(name="N" * 2000))
    add_editor(database, "ed@example.com", hasher=cheap_hasher())  # argon2 costs: tiny
    database.dispose()
    port = free_port()
    with dispatch_serve(path, port) as process:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            login = post_login(browser, "ed@example.com", PASSWORD)  # with the form's token
            assert login.status_code == 303, login.text
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                f"GET /admin/lists/{LIST}/export.csv HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Cookie: {cookie}\r\n\r\n".encode()
            )
            sock.settimeout(30)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # then it stops reading
            time.sleep(1.0)  # the server fills its buffers and waits on this client
            os.kill(process.pid, signal.SIGTERM)
            start = time.monotonic()
            process.wait(timeout=30)
            took = time.monotonic() - start
    print(f"\nSIGTERM with a stalled export: exited in {took:.1f} s")
    assert took < 2 + 6
    log = (tmp_path / "serve.log").read_text()
    assert "timeout graceful shutdown exceeded" in log, log[-2000:]  # cut, not waited on
