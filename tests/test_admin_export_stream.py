"""The admin's CSV export streams from the store (no temporary file), and stops when the
browser goes away: the ASGI app is driven directly so that the client can leave after
the first piece, as a browser that gave up would."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app
from support.admin import EDITOR, Admin, add_people
from support.campaigns import add_subscribers

LIST = "morning-briefing"
PEOPLE = 3000  # about 150 KB: several pieces of 64 KB


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "export-stream-secret")


def export_scope(cookies: dict[str, str]) -> dict[str, Any]:
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # uvicorn's
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/admin/lists/{LIST}/export.csv",
        "raw_path": f"/admin/lists/{LIST}/export.csv".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def temporary_files() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("dispatch-export-*")}


def test_the_export_streams_and_stops_when_the_client_leaves(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    add_people(db)
    add_subscribers(db, LIST, PEOPLE)
    app = create_app(settings, db)
    before = temporary_files()
    with TestClient(app, follow_redirects=False) as client:
        admin = Admin(client, EDITOR)
        whole = admin.get(f"/admin/lists/{LIST}/export.csv")
        assert whole.status_code == 200 and "content-length" not in whole.headers  # streamed
        assert len(list(csv.reader(io.StringIO(whole.text)))) == PEOPLE + 1
        cookies = dict(client.cookies)
        sent: list[dict[str, Any]] = []

        async def leave_after_first_piece() -> None:
            first_piece = asyncio.Event()

            async def receive() -> dict[str, Any]:
                await first_piece.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)
                if message["type"] == "http.response.body" and message.get("body"):
                    first_piece.set()
                    await asyncio.sleep(0.05)  # a slow network: the browser leaves meanwhile

            await app(export_scope(cookies), receive, send)

        # In a thread of its own: a loop an earlier test left running in this thread
        # (Playwright's sync API) must not matter.
        with (
            caplog.at_level(logging.INFO, logger="dispatch.web.admin"),
            ThreadPoolExecutor(1) as pool,
        ):
            pool.submit(asyncio.run, asyncio.wait_for(leave_after_first_piece(), 30)).result()
    assert sent[0]["status"] == 200
    pieces = [m for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert 1 <= len(pieces) < 3
    stopped = [r.getMessage() for r in caplog.records if "client went away" in r.getMessage()]
    assert stopped, "the export did not notice that the client left"
    rows = int(stopped[0].split("stopped after ")[1].split()[0])
    assert rows < PEOPLE
    assert temporary_files() == before  # nothing written to disk, nothing left behind
