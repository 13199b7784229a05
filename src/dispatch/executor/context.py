"""`EngineContext`: what every executor and engine is built from, and nothing else.

Neutral on purpose: the CLI, `dispatch serve` (scheduler and web app share one), the
scheduler alone and Celery workers all build one where the process starts, from the
settings and the database, and hand it on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dispatch.campaigns.engine import Engine, EngineOptions
from dispatch.campaigns.envelopes import RecipientLinks
from dispatch.config import Settings
from dispatch.delivery.base import Outcome, Sender, SendResult
from dispatch.delivery.factory import make_sender
from dispatch.delivery.pacing import Pacer
from dispatch.metrics import Metrics
from dispatch.store.database import Database
from dispatch.store.types import utcnow


@dataclass
class EngineContext:
    db: Database
    settings: Settings
    sender_factory: Callable[[Settings], Sender] = make_sender
    metrics: Metrics | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], datetime] = utcnow
    options: EngineOptions | None = None  # default: from the settings
    pacer: Pacer | None = None  # built here: one rate per process (shared through Redis)
    sleep: Callable[[float], None] | None = None  # waits for retries; default: `stop.wait`
    observers: list[Callable[[SendResult], None]] = field(default_factory=list)  # each result

    def __post_init__(self) -> None:
        if self.sleep is None:
            self.sleep = self.stop.wait
        if self.options is None:
            self.options = EngineOptions.from_settings(self.settings)
        if self.pacer is None:
            key = f"dispatch:{self.settings.delivery.backend}"
            self.pacer = Pacer.from_settings(self.settings, key)

    def engine(self, sender: Sender) -> Engine:
        """An engine sending through `sender` (the caller closes it)."""
        return Engine(
            self.db,
            sender,
            RecipientLinks.from_settings(self.settings),
            pacer=self.pacer,
            options=self.options,
            clock=self.clock,
            stop=self.stop,
            on_result=self._count(sender.name),
        )

    def _count(self, sender: str) -> Callable[[SendResult], None]:
        metrics, observers = self.metrics, self.observers

        def count(result: SendResult) -> None:
            if metrics is not None and result.outcome == Outcome.SENT:
                metrics.sent.labels(sender).inc()
            elif metrics is not None and result.outcome == Outcome.PERMANENT:
                metrics.failed.labels(sender).inc()
            for observe in observers:
                observe(result)

        return count
