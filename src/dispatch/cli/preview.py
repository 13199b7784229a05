"""`dispatch preview …`: render one email for a sample recipient into a folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from dispatch.cli.context import app_context, console, errors
from dispatch.config import ListSettings, Settings
from dispatch.errors import ConfigError
from dispatch.ingest.articles import resolve_article
from dispatch.render.digest import default_since, select_articles
from dispatch.render.email import EmailRenderer
from dispatch.render.preview import PreviewFiles, write_preview
from dispatch.store.types import utcnow

app = typer.Typer(
    help="Render an email for a sample recipient into a folder (email.html, email.txt, email.eml).",
    no_args_is_help=True,
)
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


@app.command("digest")
def digest(
    ctx: typer.Context,
    list_slug: str = typer.Option(..., "--list", help="The list whose digest to preview."),
    since: datetime | None = typer.Option(
        None,
        "--since",
        formats=DATE_FORMATS,
        help="Articles published after this (list's time zone). Default: one schedule period back.",
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write the three files into."),
) -> None:
    """The digest a list would send now. Exits 1, writing nothing, when nothing is new."""
    context = app_context(ctx)
    settings = context.stored_settings()
    item = settings.list(list_slug)
    zone = ZoneInfo(settings.list_timezone(item))
    now = utcnow()
    start = since.replace(tzinfo=zone) if since else default_since(item.schedule, zone.key, now)
    with context.database().session() as session:
        articles = select_articles(session, item.sections, start, now)
        if not articles:
            console.print(
                f"Nothing new in {item.name} since {start.astimezone(zone):%Y-%m-%d %H:%M %Z}: "
                "no preview written."
            )
            raise typer.Exit(1)
        key = f"{now.astimezone(zone):%Y-%m-%d}"
        prepared = EmailRenderer(settings).digest(item.slug, articles, key, issue_date=now)
    console.print(f"{len(articles)} articles since {start.astimezone(zone):%Y-%m-%d %H:%M %Z}")
    _report(write_preview(prepared, settings, item, out), prepared.warnings)


@app.command("article")
def article(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The article's slug."),
    list_slug: str | None = typer.Option(
        None, "--list", help="Send as this list (default: the first list carrying its section)."
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write the three files into."),
) -> None:
    """A single article sent on its own."""
    context = app_context(ctx)
    settings = context.stored_settings()
    with context.database().session() as session:
        row = resolve_article(session, slug)
        item = settings.list(list_slug) if list_slug else _list_for(settings, row.section)
        prepared = EmailRenderer(settings).article(row, item.slug, row.slug)
    _report(write_preview(prepared, settings, item, out), prepared.warnings)


def _list_for(settings: Settings, section: str | None) -> ListSettings:
    if not settings.lists:
        raise ConfigError(f"{settings.path.name}: no [[lists]] configured")
    for item in settings.lists:
        if not item.sections or section in item.sections:
            return item
    return settings.lists[0]


def _report(files: PreviewFiles, warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True, soft_wrap=True)
    for path in (files.html, files.text, files.eml):
        console.print(str(path), soft_wrap=True)
    console.print(f"HTML size: {files.html_bytes:,} bytes")
