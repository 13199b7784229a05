"""Helpers for scheduler tests: a JobContext on memory senders, waiting for conditions."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.jobs import JobContext
from dispatch.metrics import Metrics
from dispatch.store.database import Database
from dispatch.store.models import Campaign
from dispatch.store.types import utcnow


class Senders:
    """A sender factory for `JobContext`: a new MemorySender per run, all kept."""

    def __init__(self) -> None:
        self.made: list[MemorySender] = []

    def __call__(self, settings: Settings) -> MemorySender:
        sender = MemorySender()
        self.made.append(sender)
        return sender

    def recipients(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for sender in self.made:
            total.update(sender.recipients())
        return total


def job_context(
    db: Database, settings: Settings, clock: Callable[[], datetime] | None = None
) -> JobContext:
    """A job context whose inline executor sends through new `MemorySender`s (`senders`)."""
    engines = EngineContext(
        db, settings, sender_factory=Senders(), metrics=Metrics(db), clock=clock or utcnow
    )
    return JobContext(engines, InlineExecutor(engines))


def senders(context: JobContext) -> Senders:
    found = context.engines.sender_factory
    assert isinstance(found, Senders)
    return found


def settle(context: JobContext, timeout: float = 60.0) -> None:
    """Wait until the campaigns the context's executor started have stopped."""
    executor = context.executor
    assert isinstance(executor, InlineExecutor)
    executor.drain(timeout)


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def campaigns(db: Database) -> list[tuple[str | None, str]]:
    """(period_key, status) of every campaign, oldest first."""
    with db.session() as session:
        rows = session.execute(select(Campaign.period_key, Campaign.status).order_by(Campaign.id))
        return [(key, str(status)) for key, status in rows]
