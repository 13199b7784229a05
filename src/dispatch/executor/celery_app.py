"""The Celery application of `executor.kind = "celery"`, built from the settings.

Broker: `executor.broker_url`, or `$DISPATCH_BROKER_URL` when set (Redis or RabbitMQ).
Batch tasks are acknowledged late (after their batch is recorded) and given back to the
broker when their worker dies; each worker process takes one task at a time, so a kill
strands at most the batches it was running. No result backend: the ledger is the result.
"""

from __future__ import annotations

import os

from celery import Celery

from dispatch.config import Settings
from dispatch.errors import ConfigError

BROKER_ENV = "DISPATCH_BROKER_URL"
QUEUE = "dispatch"
SEND_BATCH = "dispatch.send_batch"


def broker_url(settings: Settings) -> str:
    return os.environ.get(BROKER_ENV) or settings.executor.broker_url


def require_postgresql(settings: Settings) -> None:
    """Celery workers claim rows concurrently: only PostgreSQL can lock them for that."""
    if not settings.database.url.startswith("postgresql"):
        raise ConfigError(
            f'{settings.path.name}: executor.kind = "celery" needs a PostgreSQL database '
            f"(database.url is {settings.database.url.split(':', 1)[0]}): use "
            '`kind = "inline"` with SQLite, or move the store with `dispatch db copy`'
        )


def make_app(settings: Settings, *, worker_pool: str | None = None) -> Celery:
    """The app; a worker (`worker_pool` given) also registers the tasks and builds each
    worker process's engine."""
    require_postgresql(settings)
    app = Celery("dispatch", broker=broker_url(settings), set_as_current=False)
    visibility = max(60, int(settings.executor.claim_timeout_seconds * 2))
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility},
        task_serializer="json",
        accept_content=["json"],
    )
    if worker_pool is not None:
        from dispatch.executor.tasks import register

        register(app, settings, prefork=worker_pool == "prefork")
    return app
