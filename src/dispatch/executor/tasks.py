"""The worker side: the `dispatch.send_batch` task and what each worker process keeps.

A task sends one batch of a campaign (`campaigns.batches.send_one_batch`) and queues
what follows: the next batch at once, or a look again later (retries not due yet,
another worker's rows still in flight or stranded). The chain ends when the campaign is
sent, paused or cancelled, so pause and cancel take effect between batches.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from celery import Celery, Task

from dispatch.campaigns.batches import BatchOptions, Next, send_one_batch
from dispatch.campaigns.envelopes import RecipientLinks
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.config import Settings
from dispatch.delivery.base import Sender
from dispatch.delivery.factory import make_sender
from dispatch.executor.celery_app import SEND_BATCH
from dispatch.store.database import Database


class WorkerState:
    """Built once per worker process: the store, and one sender per pool thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links = RecipientLinks.from_settings(settings)
        executor, delivery = settings.executor, settings.delivery
        self.options = BatchOptions(
            batch_size=executor.batch_size,
            claim_timeout=timedelta(seconds=executor.claim_timeout_seconds),
            policy=RetryPolicy(delivery.max_attempts, delivery.retry_backoff_seconds),
            max_consecutive_errors=delivery.max_consecutive_errors,
            poll_seconds=min(2.0, executor.claim_timeout_seconds / 4),
        )
        self._db: Database | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def db(self) -> Database:
        with self._lock:  # built lazily: after a prefork pool forked
            if self._db is None:
                self._db = Database(self.settings.database)
            return self._db

    def sender(self) -> Sender:
        found: Sender | None = getattr(self._local, "sender", None)
        if found is None:
            found = self._local.sender = make_sender(self.settings)
        return found


def register(app: Celery, settings: Settings) -> None:
    state = WorkerState(settings)

    @app.task(name=SEND_BATCH, bind=True, acks_late=True, reject_on_worker_lost=True)
    def send_batch(task: Task, campaign_id: int) -> str:  # type: ignore[type-arg]
        result = send_one_batch(state.db, state.sender(), state.links, campaign_id, state.options)
        if result.next == Next.MORE:
            task.app.send_task(SEND_BATCH, args=[campaign_id])
        elif result.next == Next.LATER:
            task.app.send_task(SEND_BATCH, args=[campaign_id], countdown=result.retry_in)
        return result.next.value
