"""The store fails in the middle of a send: sending stops before the next message, waits,
and carries on when the store answers; nothing is recorded as a delivery failure, nobody
gets it twice, nothing is in doubt.

- SQLite: another connection holds the write lock longer than `busy_timeout`;
- PostgreSQL: every connection of the send is terminated by the server, again and again
  for 2 s (a message whose mark got through on a fresh connection in between may go).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from dispatch.config import Settings
from dispatch.delivery.base import Admit, Envelope, OutgoingMessage, SendResult
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from support.campaigns import (
    FakeClock,
    add_subscribers,
    engine_context,
    ledger,
    run,
    started_article,
)
from support.store_faults import Outage, fault_site, outage

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
    settings, db = fault_site(tmp_path, database_url, "dt")
    yield settings, db
    db.dispose()


def test_a_store_that_stops_answering_mid_send_delays_it_and_loses_nothing(
    site: tuple[Settings, Database],
) -> None:
    settings, db = site
    clock = FakeClock()
    people = add_subscribers(db, LIST, PEOPLE)
    campaign_id = started_article(db, settings, clock)
    sender = Timed()
    outages: list[Outage] = []

    def strike(number: int) -> None:
        if number == 100:
            outages.append(outage(settings))

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
