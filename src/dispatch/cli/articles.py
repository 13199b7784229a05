"""`dispatch articles …`: import files, list, show, publish, unpublish, schedule,
unschedule, delete; settle conflicts between editors' changes and changed sources.

Times are shown in the site's time zone; `--at` without an offset is read in it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from dispatch.cli.context import app_context, console, errors
from dispatch.cli.send import parse_time
from dispatch.ingest import Action, decisions, import_paths, resolve
from dispatch.ingest.articles import (
    delete_article,
    get_article,
    list_articles,
    publish,
    schedule,
    unpublish,
    unschedule,
)
from dispatch.media.importing import copy_images
from dispatch.store.models import Article, ArticleStatus
from dispatch.store.types import utcnow

app = typer.Typer(help="Articles.", no_args_is_help=True)


@app.command("import")
def import_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="Article files (.md, .markdown, .txt, .html, .htm) or folders to search."
    ),
) -> None:
    """Create or update articles from files; unchanged files are left alone.

    Images a Markdown or HTML file references by a relative path are copied into the
    media store (public_dir/media/); a file moved elsewhere stays the same article
    ("moved"); articles an editor changed are not overwritten ("conflict")."""
    context = app_context(ctx)
    settings = context.stored_settings()
    report = import_paths(
        context.database(), settings, paths, prepare=lambda s, root: copy_images(s, root, settings)
    )
    for item in report.imported:
        line = f"{item.action.value:<9} {item.slug}  ({item.path})"
        console.print(line, markup=False, soft_wrap=True)
    for warning in report.warnings:
        errors.print(str(warning), markup=False, soft_wrap=True)
    if report.count(Action.CONFLICT):
        console.print(
            "Conflicts wait for an editor: `dispatch articles conflicts` (or the admin).",
            markup=False,
        )
    for error in report.failed:
        errors.print(str(error), markup=False, soft_wrap=True)
    console.print(report.summary(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: ArticleStatus | None = typer.Option(None, help="Only drafts or only published."),
    section: str | None = typer.Option(None, help="Only articles of this section."),
) -> None:
    """Articles, newest first."""
    context = app_context(ctx)
    zone = ZoneInfo(context.settings().site.timezone)
    with context.database().session() as session:
        rows = list_articles(session, status=status, section=section)
        table = Table(title="Articles")
        table.add_column("slug", overflow="fold")  # never cut: people copy it into commands
        for name in ("title", "section", "status", "published"):
            table.add_column(name)
        for row in rows:
            table.add_row(
                Text(row.slug),
                Text(row.title),
                Text(row.section or ""),
                row.status.value,
                _when(row.published_at, zone),
            )
    console.print(table if rows else "No articles yet: `dispatch articles import PATH`.")


@app.command("show")
def show_command(ctx: typer.Context, slug: str) -> None:
    """An article's fields and its text."""
    context = app_context(ctx)
    zone = ZoneInfo(context.settings().site.timezone)
    with context.database().session() as session:
        article = get_article(session, slug)
        console.print(_fields(article, zone))
        console.print()
        console.print(Text(article.body_text))


@app.command("publish")
def publish_command(ctx: typer.Context, slug: str) -> None:
    """Make an article public (it keeps its first publication date)."""
    context = app_context(ctx)
    zone = ZoneInfo(context.settings().site.timezone)
    with context.database().session() as session:
        article = publish(session, slug)
        console.print(
            f"published {article.slug} ({_when(article.published_at, zone)})", markup=False
        )


@app.command("schedule")
def schedule_command(
    ctx: typer.Context,
    slug: str,
    at: str = typer.Option(
        ..., "--at", metavar="TIME", help="ISO 8601, e.g. 2026-12-01T07:00 (no offset: site zone)."
    ),
) -> None:
    """Publish an article at a later time (scheduling again moves it)."""
    context = app_context(ctx)
    settings = context.settings()
    when = parse_time(at, settings.site.timezone, option="--at")
    with context.database().session() as session:
        article = schedule(session, slug, when, utcnow())
        zone = ZoneInfo(settings.site.timezone)
        console.print(
            f"scheduled {article.slug} for {_when(article.published_at, zone)}", markup=False
        )


@app.command("unschedule")
def unschedule_command(ctx: typer.Context, slug: str) -> None:
    """A scheduled article back to draft."""
    with app_context(ctx).database().session() as session:
        article = unschedule(session, slug, utcnow())
        console.print(f"unscheduled {article.slug} (now a draft)", markup=False)


@app.command("conflicts")
def conflicts_command(ctx: typer.Context) -> None:
    """Changed sources of articles an editor changed or deleted, waiting for a decision."""
    context = app_context(ctx)
    zone = ZoneInfo(context.settings().site.timezone)
    with context.database().session() as session:
        rows = decisions.pending(session)
        table = Table(title="Conflicts")
        for name in ("id", "article", "source", "changed"):
            table.add_column(name, overflow="fold")
        for row in rows:
            article = row.article.slug if row.article is not None else "(deleted)"
            table.add_row(
                str(row.id),
                Text(f"{article}: {row.title}"),
                Text(row.source_path or row.source_id),
                _when(row.detected_at, zone),
            )
    console.print(table if rows else "No conflicts.")


@app.command("accept")
def accept_command(ctx: typer.Context, conflict_id: int) -> None:
    """Take the source's version of a conflict (a deleted article comes back)."""
    with app_context(ctx).database().session() as session:
        article = resolve.accept(session, conflict_id, utcnow())
        console.print(f"accepted: {article.slug} now has its source's version", markup=False)


@app.command("ignore")
def ignore_command(ctx: typer.Context, conflict_id: int) -> None:
    """Keep the article as it is; this version of its source is not offered again."""
    with app_context(ctx).database().session() as session:
        conflict = resolve.ignore(session, conflict_id)
        console.print(f"ignored the new version of {conflict.title}", markup=False)


@app.command("unpublish")
def unpublish_command(ctx: typer.Context, slug: str) -> None:
    """Turn an article back into a draft."""
    with app_context(ctx).database().session() as session:
        article = unpublish(session, slug)
        console.print(f"unpublished {article.slug} (now a draft)", markup=False)


@app.command("delete")
def delete_command(
    ctx: typer.Context,
    slug: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete an article for good."""
    with app_context(ctx).database().session() as session:
        article = get_article(session, slug)
        if not yes:
            typer.confirm(f'Delete "{article.title}" ({article.slug})?', abort=True)
        delete_article(session, slug)
    console.print(f"deleted {slug}", markup=False)


def _fields(article: Article, zone: ZoneInfo) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    values = {
        "title": article.title,
        "slug": article.slug,
        "uid": article.uid,
        "status": article.status.value,
        "published": _when(article.published_at, zone),
        "updated": _when(article.updated_at, zone),
        "section": article.section or "",
        "author": article.author or "",
        "tags": ", ".join(article.tags),
        "summary": article.summary,
        "canonical url": article.canonical_url or "",
        "image": article.image or "",
        "source": f"{article.source}: {article.source_id}",
        "former slugs": ", ".join(sorted(s.slug for s in article.old_slugs)),
    }
    for name, value in values.items():
        grid.add_row(name, Text(value))
    return grid


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"
