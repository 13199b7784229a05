"""A store that goes away for 2 s, on cue: SQLite's write lock held by another
connection (the site's busy_timeout is 300 ms), or PostgreSQL terminating every
connection of the site (found by their `application_name`), new ones too."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database

OUTAGE_SECONDS = 2.0


@dataclass
class Outage:
    """The store out of reach from `began` until `ended` (set by `thread` when it is over)."""

    began: float
    thread: threading.Thread
    ended: list[float] = field(default_factory=list)

    def span(self) -> tuple[float, float]:
        self.thread.join(30)
        return self.began, self.ended[0]


def fault_site(tmp_path: Path, database_url: str, name: str) -> tuple[Settings, Database]:
    """Settings and a migrated store with busy_timeout_ms = 300 and, on PostgreSQL, an
    `application_name` of its own (`name`-…) so that `outage` finds its connections."""
    url = database_url
    if url.startswith("postgresql"):
        unique = f"{name}-{uuid.uuid4().hex[:12]}"
        url = make_url(url).update_query_dict({"application_name": unique})
        url = url.render_as_string(hide_password=False)
    path = write_config(tmp_path, url, {r"^busy_timeout_ms = .*$": "busy_timeout_ms = 300"})
    settings = config.load(path)
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    return settings, db


def outage(settings: Settings) -> Outage:
    """Start the outage that suits the site's store; it ends by itself."""
    if settings.database.url.startswith("sqlite"):
        return hold_the_lock(settings)
    return kill_connections(settings)


def hold_the_lock(settings: Settings) -> Outage:
    """Another process takes SQLite's write lock and keeps it for 2 s (busy_timeout: 0.3 s)."""
    path = settings.database.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(OUTAGE_SECONDS)
        found.ended.append(time.monotonic())
        holder.execute("COMMIT")
        holder.close()

    found = Outage(time.monotonic(), threading.Thread(target=release))
    found.thread.start()
    return found


def kill_connections(settings: Settings) -> Outage:
    """The server terminates every connection of the site, new ones too, for 2 s."""
    url = make_url(settings.database.url)
    name = url.query["application_name"]
    admin = psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        dbname=url.database,
        autocommit=True,
    )

    def keep_killing() -> None:
        while time.monotonic() - found.began < OUTAGE_SECONDS:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(0.02)
        found.ended.append(time.monotonic())
        admin.close()

    found = Outage(time.monotonic(), threading.Thread(target=keep_killing))
    found.thread.start()
    return found
