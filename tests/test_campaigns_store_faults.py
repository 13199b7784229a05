"""The store fails in the middle of a send: sending stops before the next message, waits,
and carries on when the store answers; nothing is recorded as a delivery failure, nobody
gets it twice, nothing is in doubt.

- SQLite: another connection holds the write lock longer than `busy_timeout`;
- PostgreSQL: every connection of the send is terminated by the server, again and again
  for 2 s (a message whose mark got through on a fresh connection in between may go).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.delivery.base import Admit, Envelope, OutgoingMessage, SendResult
from dispatch.delivery.memory import MemorySender
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from support.campaigns import (
    FakeClock,
    add_subscribers,
    engine_context,
    ledger,
    run,
    started_article,
)

LIST = "morning-briefing"
PEOPLE = 300


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "store-faults-secret")


class Timed(MemorySender):
    """Notes when each message was really handed over (after its mark was committed)."""

    def __init__(self) -> None:
        super().__init__(concurrency=2)
        self.handed: list[float] = []

    def deliver(
        self, message: OutgoingMessage, envelopes: Sequence[Envelope], admit: Admit
    ) -> list[SendResult]:
        def timed(unit: Sequence[Envelope]) -> None:
            admit(unit)
            self.handed.append(time.monotonic())

        return super().deliver(message, envelopes, timed)


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[Settings, Database]]:
    url = database_url
    if url.startswith("postgresql"):  # a name of its own, to find its connections
        url = make_url(url).update_query_dict({"application_name": f"dt-{uuid.uuid4().hex[:12]}"})
        url = url.render_as_string(hide_password=False)
    path = write_config(tmp_path, url, {r"^busy_timeout_ms = .*$": "busy_timeout_ms = 300"})
    settings = config.load(path)
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    yield settings, db
    db.dispose()


@dataclass
class Outage:
    """The store out of reach from `began` until `ended` (set by `thread` when it is over)."""

    began: float
    thread: threading.Thread
    ended: list[float] = field(default_factory=list)

    def span(self) -> tuple[float, float]:
        self.thread.join(30)
        return self.began, self.ended[0]


def test_a_store_that_stops_answering_mid_send_delays_it_and_loses_nothing(
    site: tuple[Settings, Database],
) -> None:
    settings, db = site
    clock = FakeClock()
    people = add_subscribers(db, LIST, PEOPLE)
    campaign_id = started_article(db, settings, clock)
    sender = Timed()
    outages: list[Outage] = []
    fault = _hold_the_lock if db.engine.dialect.name == "sqlite" else _kill_connections

    def strike(number: int) -> None:
        if number == 100:
            outages.append(fault(settings))

    sender.before_handover = strike
    done = run(engine_context(db, settings, clock, batch_size=100), sender, campaign_id)

    assert done.status == "sent" and done.sent == PEOPLE and done.failed == 0
    assert done.in_doubt == 0 and sender.recipients() == Counter(people)  # nobody twice
    rows = ledger(db, campaign_id).values()
    assert not [row.last_error for row in rows if row.last_error]  # no error recorded
    began, ended = outages[0].span()
    if db.engine.dialect.name == "sqlite":  # locked throughout: not a single mark could pass
        during = [t for t in sender.handed if began + 0.05 < t < ended - 0.05]
        assert during == []  # nothing went out while the store could not be written
    assert any(t >= ended for t in sender.handed)  # and it carried on afterwards


def _hold_the_lock(settings: Settings) -> Outage:
    """Another process takes SQLite's write lock and keeps it for 2 s (busy_timeout: 0.3 s)."""
    path = settings.database.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(2.0)
        outage.ended.append(time.monotonic())
        holder.execute("COMMIT")
        holder.close()

    outage = Outage(time.monotonic(), threading.Thread(target=release))
    outage.thread.start()
    return outage


def _kill_connections(settings: Settings) -> Outage:
    """The server terminates every connection of the send, new ones too, for 2 s."""
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
        while time.monotonic() - outage.began < 2.0:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(0.02)
        outage.ended.append(time.monotonic())
        admin.close()

    outage = Outage(time.monotonic(), threading.Thread(target=keep_killing))
    outage.thread.start()
    return outage
