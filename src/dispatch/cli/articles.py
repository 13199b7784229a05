"""`dispatch articles …`: import files, list, show, publish, unpublish, delete."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from dispatch.cli.context import app_context, console, errors
from dispatch.ingest import import_paths
from dispatch.ingest.articles import (
    delete_article,
    get_article,
    list_articles,
    publish,
    unpublish,
)
from dispatch.store.models import Article, ArticleStatus

app = typer.Typer(help="Articles.", no_args_is_help=True)


@app.command("import")
def import_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="Article files (.md, .markdown, .txt, .html, .htm) or folders to search."
    ),
) -> None:
    """Create or update articles from files; unchanged files are left alone."""
    context = app_context(ctx)
    report = import_paths(context.database(), context.settings(), paths)
    for item in report.imported:
        line = f"{item.action.value:<9} {item.slug}  ({item.path})"
        console.print(line, markup=False, soft_wrap=True)
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
    with app_context(ctx).database().session() as session:
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
                _when(row.published_at),
            )
    console.print(table if rows else "No articles yet: `dispatch articles import PATH`.")


@app.command("show")
def show_command(ctx: typer.Context, slug: str) -> None:
    """An article's fields and its text."""
    with app_context(ctx).database().session() as session:
        article = get_article(session, slug)
        console.print(_fields(article))
        console.print()
        console.print(Text(article.body_text))


@app.command("publish")
def publish_command(ctx: typer.Context, slug: str) -> None:
    """Make an article public (it keeps its first publication date)."""
    with app_context(ctx).database().session() as session:
        article = publish(session, slug)
        console.print(f"published {article.slug} ({_when(article.published_at)})", markup=False)


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


def _fields(article: Article) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    values = {
        "title": article.title,
        "slug": article.slug,
        "uid": article.uid,
        "status": article.status.value,
        "published": _when(article.published_at),
        "updated": _when(article.updated_at),
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


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
