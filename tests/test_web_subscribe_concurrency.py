"""200 simultaneous sign-ups against a real uvicorn on the configured store: every one
recorded, no 500, no "database is locked"; and a simultaneous flood for one victim
sends one confirmation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus
from dispatch.web import create_app
from support.live_server import free_port, live_server

LIST = "morning-briefing"
SIGN_UPS = 200


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "concurrency-secret")


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Settings, Database]]:
    port = free_port()
    path = write_config(
        tmp_path,
        database_url,
        {
            r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"',
            r"^subscribe_rate_per_ip = .*$": 'subscribe_rate_per_ip = "10000/minute"',
            r"^subscribe_rate_per_address = .*$": 'subscribe_rate_per_address = "10000/minute"',
        },
    )
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    # log_config=None: uvicorn's errors reach the root logger, where caplog sees them
    with live_server(create_app(settings, database), port, log_config=None) as url:
        yield url, settings, database
    database.dispose()


def post_all(url: str, emails: list[str]) -> list[httpx.Response]:
    """Every sign-up at once, from an event loop of its own thread (Playwright's sync
    API may hold the main thread's loop when browser tests ran first)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _post_all(url, emails)).result()


async def _post_all(url: str, emails: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(emails), max_keepalive_connections=len(emails))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post("/subscribe", data={"email": e, "name": "Crowd", "list": LIST})
                for e in emails
            )
        )


def outbox_count(settings: Settings, expected: int, timeout: float = 30) -> int:
    """Confirmation mails written, once `expected` are there (or the time is up)."""
    folder = settings.delivery.outbox.dir / "0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = len(list(folder.glob("*.eml"))) if folder.exists() else 0
        if found >= expected:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # let a late extra mail show itself
    return len(list(folder.glob("*.eml"))) if folder.exists() else 0


def test_200_simultaneous_sign_ups_are_all_recorded(
    site: tuple[str, Settings, Database], caplog: pytest.LogCaptureFixture
) -> None:
    url, settings, database = site
    emails = [f"crowd{i}@example.com" for i in range(SIGN_UPS)]
    caplog.set_level(logging.WARNING)

    started = time.perf_counter()
    responses = post_all(url, emails)
    elapsed = time.perf_counter() - started

    codes = [r.status_code for r in responses]
    assert codes == [200] * SIGN_UPS, {c: codes.count(c) for c in set(codes)}
    assert all("Check your inbox" in r.text for r in responses)
    # The work runs after each answer (same timing for every address): the mails mark
    # its end.
    assert outbox_count(settings, SIGN_UPS) == SIGN_UPS
    with database.session() as session:
        stored = session.scalar(select(func.count()).select_from(Subscriber))
        pending = session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.status == SubscriptionStatus.PENDING)
        )
    assert stored == SIGN_UPS and pending == SIGN_UPS
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not any("locked" in p for p in problems) and problems == []
    print(f"\n{SIGN_UPS} simultaneous sign-ups: {elapsed:.2f} s, {SIGN_UPS / elapsed:.0f}/s")


def test_a_simultaneous_flood_for_one_victim_sends_one_confirmation(
    site: tuple[str, Settings, Database],
) -> None:
    url, settings, database = site
    spellings = ["victim@example.com", "Victim@example.com", "VICTIM@example.com"]

    responses = post_all(url, [spellings[i % 3] for i in range(60)])

    assert {r.status_code for r in responses} == {200}
    assert (
        len({r.text.replace("Victim", "victim").replace("VICTIM", "victim") for r in responses})
        == 1
    )
    assert outbox_count(settings, 1) == 1  # once the work after the answers is done
    with database.session() as session:
        stored = set(session.scalars(select(Subscriber.email)))
    assert stored == {"victim@example.com"}  # one subscriber, however it was spelt
