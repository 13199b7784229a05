"""`dispatch init` and `dispatch db …`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from dispatch.cli import dbcopy
from dispatch.cli.context import app_context, console
from dispatch.lists import sync_lists
from dispatch.setup import initialise, upgrade_database
from dispatch.store import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def init(ctx: typer.Context) -> None:
    """Create config (if missing), secret key, folders and database; sync lists."""
    context = app_context(ctx)
    with migration_notes():
        settings, report = initialise(context.path)
    if report.config_created:
        console.print(f"created {settings.path}")
    if report.secret_created:
        console.print(f"created secret key {settings.security.secret_key_file}")
    console.print(f"database {_safe_url(settings.database.url)} at revision {report.revision}")
    console.print(f"lists: {', '.join(report.lists) or 'none configured'}")
    if report.lists_kept:
        kept = ", ".join(report.lists_kept)
        console.print(f"lists kept as editors changed them (config.toml ignored): {kept}")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration, then sync lists from the config."""
    context = app_context(ctx)
    database = context.database()
    with migration_notes():
        revision = upgrade_database(database)
    with database.session() as session:
        sync_lists(session, context.settings())
    console.print(f"database at revision {revision}")


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the database's migration revision and the newest one available."""
    database = app_context(ctx).database()
    console.print(f"current: {migrate.current(database.engine)}  head: {migrate.head()}")


@contextmanager
def migration_notes() -> Iterator[None]:
    """While migrations run, what they say about the data (0011a: what it merged, which
    rows it left as they were) goes to stderr; these commands configure no logging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("migration: %(message)s"))
    logger = logging.getLogger("dispatch")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


dbcopy.register(db_app)
