"""A store that cannot be used for now, met by the web app:

- a sign-up (whose work runs after the "check your inbox" answer) waits it out and is
  stored, and its confirmation sent, once the store is back: the lock held, or the
  connections cut, for 2 s;
- a page or API call that needs the store answers 503 with `Retry-After` (nothing was
  changed), never a 500; once the store is back the same call works.

SQLite: another connection holds the write lock past busy_timeout_ms (300 ms).
PostgreSQL: the server terminates the app's connections again and again for 2 s, or
the app's URL names a port nobody listens on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from dispatch.store.database import Database
from dispatch.store.models import Subscriber
from dispatch.web import create_app
from support.api import bearer, token
from support.live_server import free_port
from support.store_faults import Outage, fault_site, outage
from test_web_subscribe import mails

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "web-store-faults-secret")


def stored(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Subscriber.email)))


def test_a_sign_up_met_by_a_store_fault_is_stored_once_the_store_is_back(
    tmp_path: Path, database_url: str
) -> None:
    settings, db = fault_site(tmp_path, database_url, "ws")
    try:
        with TestClient(create_app(settings, db), follow_redirects=False) as client:
            client.get("/subscribe")  # the app's own connections are open
            down: Outage = outage(settings)
            answer = client.post("/subscribe", data={"email": "ann@example.com", "list": LIST})
            assert answer.status_code == 200  # the same answer as ever, before the work
            down.span()
        assert stored(db) == ["ann@example.com"]
        assert [str(m["To"]) for m in mails(settings)] == ["ann@example.com"]
    finally:
        db.dispose()


def test_a_call_that_needs_the_store_answers_503_and_changes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    settings, db = fault_site(tmp_path, database_url, "ws")
    api_token = token(db, "tests", "admin")
    holder = None
    if db.engine.dialect.name == "postgresql":  # the same store behind a dead port
        dead = make_url(settings.database.url).set(port=free_port())
        url = dead.render_as_string(hide_password=False)
        faulty = Database(settings.database.model_copy(update={"url": url}))
    else:
        faulty = db
        holder = sqlite3.connect(settings.database.url.removeprefix("sqlite:///"), timeout=5)
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")
    new = {"email": "bob@example.com", "name": "Bob"}
    try:
        with TestClient(create_app(settings, faulty), follow_redirects=False) as client:
            api = client.post("/api/subscribers", json=new, headers=bearer(api_token))
            assert api.status_code == 503 and api.headers["retry-after"] == "5"
            assert "busy or unreachable" in api.json()["error"]["message"]
            if faulty is not db:  # unreachable: every page that reads it says so
                page = client.get("/")
                assert page.status_code == 503 and "We are busy for a moment" in page.text
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        if faulty is not db:
            faulty.dispose()
    try:
        assert stored(db) == []  # nothing half-written
        with TestClient(create_app(settings, db), follow_redirects=False) as client:
            again = client.post("/api/subscribers", json=new, headers=bearer(api_token))
            assert again.status_code == 201
        assert stored(db) == ["bob@example.com"]
    finally:
        db.dispose()
