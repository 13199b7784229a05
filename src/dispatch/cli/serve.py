"""`dispatch serve`: the web app (pages, feeds, subscribe, webhooks) under uvicorn.

One process, one worker, on `web.host`:`web.port` (or `--host` / `--port`). Feeds are
served from `feeds.public_dir` as `dispatch feeds build` wrote them.
"""

from __future__ import annotations

import typer
import uvicorn

from dispatch.cli.context import app_context, console
from dispatch.errors import StoreError
from dispatch.store import migrate
from dispatch.web import create_app


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
) -> None:
    """Serve the public site, the feeds and the webhooks over HTTP."""
    context = app_context(ctx)
    settings = context.settings()
    database = context.database()
    if migrate.current(database.engine) != migrate.head():
        raise StoreError("the database schema is not up to date: run `dispatch init` first")
    host = host or settings.web.host
    port = port or settings.web.port
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Dispatch is serving {settings.site.title} at http://{shown}:{port}/")
    console.print(f"Public URL (site.base_url): {settings.site.base_url}/")
    if no_scheduler:
        console.print("Scheduler: off (--no-scheduler)")
    uvicorn.run(
        create_app(settings, database),
        host=host,
        port=port,
        workers=1,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )
