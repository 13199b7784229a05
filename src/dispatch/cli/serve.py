"""`dispatch serve`: the web app (pages, feeds, subscribe, webhooks) under uvicorn.

One process, one worker, on `web.host`:`web.port` (or `--host` / `--port`). Feeds are
served from `feeds.public_dir` as `dispatch feeds build` wrote them. The scheduler
(digests, scheduled campaigns, feed refresh, upstream polls; `dispatch.scheduler`) runs
in the same process unless `--no-scheduler` or `[scheduler] enabled = false`; only one
per database may run, so extra web processes use `--no-scheduler`. With `[bounces] listen`
set, the bounce receiver (`dispatch bounces serve`) runs in the process too. SIGTERM/SIGINT:
uvicorn stops serving, then the scheduler lets the batch in flight finish.
"""

from __future__ import annotations

import signal

import typer
import uvicorn

from dispatch import logs
from dispatch.bounces.intake import BounceIntake
from dispatch.bounces.server import bounce_server
from dispatch.cli.context import app_context, console
from dispatch.cli.scheduler import LOG_JSON_HELP, job_context, start_service, stop_service
from dispatch.errors import StoreError
from dispatch.metrics import Metrics
from dispatch.store import migrate
from dispatch.web import create_app
from dispatch.web.metrics import serve_separately
from dispatch.web.server import uvicorn_options


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: web.host)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port to listen on (default: web.port)."
    ),
    no_scheduler: bool = typer.Option(
        False, "--no-scheduler", help="Do not run scheduled jobs in this process."
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log each request."),
    log_json: bool | None = typer.Option(None, "--log-json/--log-text", help=LOG_JSON_HELP),
) -> None:
    """Serve the public site, the feeds and the webhooks over HTTP."""
    context = app_context(ctx)
    settings = context.settings()
    database = context.database()
    if migrate.current(database.engine) != migrate.head():
        raise StoreError("the database schema is not up to date: run `dispatch init` first")
    host = host or settings.web.host
    port = port or settings.web.port
    jobs = job_context(context, Metrics(database))  # one executor for the web and the scheduler
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Dispatch is serving {settings.site.title} at http://{shown}:{port}/")
    console.print(f"Public URL (site.base_url): {settings.site.base_url}/")
    logs.configure(settings.logging, log_json)
    app = create_app(settings, database, jobs=jobs)
    service = None
    if no_scheduler or not settings.scheduler.enabled:
        why = "--no-scheduler" if no_scheduler else "[scheduler] enabled = false"
        console.print(f"Scheduler: off ({why})")
    else:
        service = app.state.scheduler = start_service(jobs)
        console.print("Scheduler: on (digests, scheduled campaigns, feeds, upstream polls)")
        for signum in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises it when done
            signal.signal(signum, lambda *_: service.context.stop.set())
    scrapes = serve_separately(settings, jobs.metrics)  # [metrics] listen, if set
    if scrapes is not None:
        console.print(f"Metrics: http://{settings.metrics.listen}/metrics (no token asked there)")
    receiver = None
    if settings.bounces.listen and settings.bounces.domain:
        receiver = bounce_server(settings, BounceIntake.from_settings(settings, database))
        receiver.start()
        console.print(
            f"Bounces: receiving at {settings.bounces.listen} ({settings.bounces.protocol})"
        )
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            workers=1,
            access_log=access_log,
            log_level="info",
            log_config=None,  # uvicorn's lines go through `dispatch.logs` too
            **uvicorn_options(settings),  # h11 with header limits; bounded graceful shutdown
        )
    finally:
        if scrapes is not None:
            scrapes()  # stops the metrics listener
        if receiver is not None:
            receiver.stop()
        if service is not None:
            stop_service(service)
        jobs.executor.close()
