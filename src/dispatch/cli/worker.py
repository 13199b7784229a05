"""`dispatch worker`: a Celery worker that sends campaign batches (`executor.kind = "celery"`).

It runs the project's tasks with the project's configuration: the config path goes to
the worker's processes through `$DISPATCH_CONFIG`, the broker is `executor.broker_url`
(or `$DISPATCH_BROKER_URL`). Threads by default (sending waits on the network); any
number of workers, on any hosts, may serve the same database and broker.
"""

from __future__ import annotations

import os

import typer

from dispatch import logs
from dispatch.cli.context import app_context
from dispatch.config import CONFIG_ENV
from dispatch.delivery.check import check_sender

POOLS = ("threads", "prefork", "solo")
QUEUE = "dispatch"  # = celery_app.QUEUE; celery is imported only when a worker starts


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, help="Batches at once."),
    queues: str = typer.Option(QUEUE, "--queues", "-Q", help="Comma-separated queue names."),
    pool: str = typer.Option("threads", "--pool", help=f"Celery pool: {', '.join(POOLS)}."),
    loglevel: str = typer.Option("INFO", "--loglevel", help="Celery's log level."),
) -> None:
    """Run a Celery worker that sends campaign batches until SIGTERM or Ctrl-C."""
    if pool not in POOLS:
        raise typer.BadParameter(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    context = app_context(ctx)
    settings = context.settings()
    logs.configure(settings.logging, None)
    os.environ[CONFIG_ENV] = str(settings.path)  # the worker's child processes read it
    from dispatch.executor.celery_app import make_app

    check_sender(settings)  # a missing key or password is reported now, not per batch
    app = make_app(settings, worker_pool=pool)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
