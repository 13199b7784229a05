"""The worker side: the `dispatch.send_batch` task, one engine step each.

A task runs `Engine.step` for its campaign and queues what follows: the next batch at
once, a look again later (retries not due yet, other workers' rows in flight), or
nothing (sent, paused, cancelled). Pause and cancel take effect before the next message
of the batch in flight (the engine checks at every hand-over).

Each worker process builds its engine once, where the process starts (after a prefork
pool forked): the database, one sender, the pacer and a stop event that a warm shutdown
sets, so that a task in flight stops before its next message and leaves the rest to the
ledger.
"""

from __future__ import annotations

from dataclasses import replace

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutting_down

from dispatch.campaigns.engine import Engine, EngineOptions, Next
from dispatch.config import Settings
from dispatch.executor.celery_app import SEND_BATCH
from dispatch.executor.context import EngineContext
from dispatch.store.database import Database


class WorkerState:
    """The engine of one worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context: EngineContext | None = None
        self.engine: Engine | None = None

    def start(self, **_: object) -> None:
        options = replace(
            EngineOptions.from_settings(self.settings),
            batch_size=self.settings.executor.batch_size,
        )
        context = EngineContext(Database(self.settings.database), self.settings, options=options)
        self.context = context
        self.sender = context.sender_factory(self.settings)
        self.engine = context.engine(self.sender)

    def stop(self, **_: object) -> None:
        if self.context is not None:
            self.context.stop.set()

    def close(self, **_: object) -> None:
        self.stop()
        if self.engine is not None:
            self.sender.close()
            assert self.context is not None
            self.context.db.dispose()
            self.engine = self.context = None


def register(app: Celery, settings: Settings, prefork: bool) -> WorkerState:
    state = WorkerState(settings)
    if prefork:
        worker_process_init.connect(state.start, weak=False)
        worker_process_shutdown.connect(state.close, weak=False)
    else:
        state.start()
    worker_shutting_down.connect(state.stop, weak=False)

    @app.task(name=SEND_BATCH, bind=True, acks_late=True, reject_on_worker_lost=True)
    def send_batch(task: Task, campaign_id: int) -> str:  # type: ignore[type-arg]
        assert state.engine is not None, "the worker process was not started"
        result = state.engine.step(campaign_id)
        if result.next == Next.MORE:
            task.app.send_task(SEND_BATCH, args=[campaign_id])
        elif result.next == Next.LATER and result.retry_at is not None:
            assert state.context is not None
            wait = (result.retry_at - state.context.clock()).total_seconds()
            task.app.send_task(SEND_BATCH, args=[campaign_id], countdown=max(wait, 0.05))
        return result.next.value

    return state
