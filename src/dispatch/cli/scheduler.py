"""`dispatch scheduler`: the scheduler alone, in the foreground, until SIGTERM or Ctrl-C.

Run it next to web processes started with `dispatch serve --no-scheduler`. Only one
scheduler may run per database: a second one exits with status 2 naming the first.
On SIGTERM/SIGINT it stops taking work, lets the batch in flight finish (up to
`scheduler.shutdown_timeout_seconds`) and exits; an interrupted send resumes at the
next start.
"""

from __future__ import annotations

import os
import signal
import threading

import typer
from prometheus_client import start_http_server

from dispatch import logs
from dispatch.cli.context import AppContext, app_context, console, errors
from dispatch.delivery.check import check_sender
from dispatch.errors import StoreError
from dispatch.executor import make_executor
from dispatch.executor.context import EngineContext
from dispatch.jobs import JobContext
from dispatch.metrics import Metrics
from dispatch.scheduler import SchedulerService
from dispatch.store import migrate

LOG_JSON_HELP = "Log one JSON object per line (default: [logging] json in config.toml)."


def job_context(context: AppContext, metrics: Metrics) -> JobContext:
    """The process's job context and executor, built once at start: the sender's settings
    are checked here, so that a missing key stops the process now, not the first send."""
    require_schema(context)
    settings = context.settings()
    check_sender(settings)
    engines = EngineContext(context.database(), settings, metrics=metrics)
    return JobContext(engines, make_executor(engines))


def start_service(jobs: JobContext) -> SchedulerService:
    """Start the scheduler of the jobs' database (SchedulerLocked if one runs)."""
    service = SchedulerService(jobs)
    service.start()
    return service


def require_schema(context: AppContext) -> None:
    if migrate.current(context.database().engine) != migrate.head():
        raise StoreError("the database schema is not up to date: run `dispatch init` first")


def stop_service(service: SchedulerService) -> None:
    """Stop; if the sends in flight outlive the timeout, leave now (they resume later)."""
    if not service.stop():
        errors.print("scheduler: the sends in flight did not stop in time; exiting anyway")
        os._exit(1)  # their claims expire: handed-over rows count in doubt, the rest resend


def scheduler(
    ctx: typer.Context,
    log_json: bool | None = typer.Option(None, "--log-json/--log-text", help=LOG_JSON_HELP),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=1, max=65535, help="Serve /metrics on this port too."
    ),
) -> None:
    """Run the scheduler alone: digests, scheduled campaigns, feed refresh, upstream polls."""
    context = app_context(ctx)
    settings = context.settings()
    logs.configure(settings.logging, log_json)
    metrics = Metrics(context.database())
    service = start_service(job_context(context, metrics))
    if metrics_port:
        start_http_server(metrics_port, settings.web.host, registry=metrics.registry)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    console.print(f"Scheduler running ({service.health()['jobs']} jobs); Ctrl-C stops it.")
    while not stop.wait(1.0):
        if service.lost_to is not None:  # another scheduler took the lock: this one yields
            errors.print(f"scheduler: stopped: {service.lost_to}", soft_wrap=True)
            stop_service(service)
            raise typer.Exit(3)
    stop_service(service)
    console.print("Scheduler stopped.")
